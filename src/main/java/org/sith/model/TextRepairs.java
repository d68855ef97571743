package org.sith.model;

import java.text.Normalizer;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The deterministic repairs of ftfy's {@code fix_text} (ftfy 6.x, its default {@code TextFixerConfig}),
 * which OpenCLIP's and OpenAI's CLIP tokenizers apply before their own two {@code html.unescape}
 * calls. Written from ftfy's documented behaviour and its tables; no ftfy code is used.
 *
 * <p>What {@link #fixText} does, as ftfy does it: the text is cut into segments, each ending after a
 * {@code '\n'} (or after 1,000,000 code points without one). HTML entities are unescaped ("auto") until
 * a segment contains {@code '<'}: from that segment on, to the end of the text, they are left as
 * written. Each segment then goes through, in ftfy's order and repeated until nothing changes:
 * {@link #unescapeHtml} (while allowed), {@link #fixC1Controls}, {@link #fixLatinLigatures},
 * {@link #fixCharacterWidth}, {@link #uncurlQuotes}, {@link #fixLineBreaks}, {@link #fixSurrogates},
 * {@link #removeTerminalEscapes}, {@link #removeControlChars}, then NFC.
 *
 * <p>Not done, on purpose: ftfy's mojibake repair, {@code fix_encoding} with its helpers
 * {@code restore_byte_a0}, {@code replace_lossy_sequences} and {@code decode_inconsistent_utf8}. It is a
 * heuristic (a badness score decides whether text was decoded in the wrong encoding), so text such as
 * {@code "Ã©"} stays as written here while ftfy would turn it into {@code "é"}. ftfy's
 * {@code fix_c1_controls} is a separate fixer of its default list and is applied.
 *
 * <p>Character data (NFC, NFKC for the width table, decimal digits) come from the running JVM's
 * Unicode tables (Unicode 13 on Java 17), Python's from its own.
 */
final class TextRepairs {
    private TextRepairs() {}

    /** ftfy's default max_decode_length: the longest segment, in code points, fixed at once. */
    static final int MAX_SEGMENT = 1_000_000;

    /** ftfy's HTML_ENTITY_RE allows 1 to 24 letters and digits between "&" or "&#" and ";". */
    private static final int MAX_ENTITY_BODY = 24;

    /** "&name;" without the '&' (so "name;") → its replacement, as ftfy's HTML_ENTITIES. */
    private static final Map<String, String> ENTITIES = entities();

    /** ftfy's LIGATURES: Latin ligatures and digraphs, code point → letters. */
    private static final Map<Integer, String> LIGATURES = Map.ofEntries(
            Map.entry(0x132, "IJ"), Map.entry(0x133, "ij"),
            Map.entry(0x149, "\u02bcn"),
            Map.entry(0x1f1, "DZ"), Map.entry(0x1f2, "Dz"), Map.entry(0x1f3, "dz"),
            Map.entry(0x1c4, "D\u017d"), Map.entry(0x1c5, "D\u017e"), Map.entry(0x1c6, "d\u017e"),
            Map.entry(0x1c7, "LJ"), Map.entry(0x1c8, "Lj"), Map.entry(0x1c9, "lj"),
            Map.entry(0x1ca, "NJ"), Map.entry(0x1cb, "Nj"), Map.entry(0x1cc, "nj"),
            Map.entry(0xfb00, "ff"), Map.entry(0xfb01, "fi"), Map.entry(0xfb02, "fl"),
            Map.entry(0xfb03, "ffi"), Map.entry(0xfb04, "ffl"), Map.entry(0xfb05, "\u017ft"), Map.entry(0xfb06, "st"));

    /** ftfy's WIDTH_MAP: U+3000 → space, and U+FF01–U+FFEF → their NFKC form where it differs. Index: c − 0xFF00. */
    private static final String[] WIDTH = widthMap();

    /** ftfy's whole fix_text with the mojibake repair left out (see the class comment). */
    static String fixText(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean unescape = true;
        int pos = 0;
        while (pos < text.length()) {
            int newline = text.indexOf('\n', pos);
            int end = newline < 0 ? text.length() : newline + 1;
            if (text.codePointCount(pos, end) > MAX_SEGMENT) end = text.offsetByCodePoints(pos, MAX_SEGMENT);
            String segment = text.substring(pos, end);
            if (unescape && segment.indexOf('<') >= 0) unescape = false;
            out.append(fixSegment(segment, unescape));
            pos = end;
        }
        return out.toString();
    }

    /** One segment: the fixers in ftfy's order, then NFC, repeated until the text no longer changes. */
    static String fixSegment(String text, boolean unescapeHtml) {
        while (true) {
            String before = text;
            if (unescapeHtml) text = unescapeHtml(text);
            text = fixC1Controls(text);
            text = fixLatinLigatures(text);
            text = fixCharacterWidth(text);
            text = uncurlQuotes(text);
            text = fixLineBreaks(text);
            text = fixSurrogates(text);
            text = removeTerminalEscapes(text);
            text = removeControlChars(text);
            text = Normalizer.normalize(text, Normalizer.Form.NFC);
            if (text.equals(before)) return text;
        }
    }

    /**
     * ftfy's unescape_html: only references of the form "&" or "&#", then 1–24 ASCII letters or
     * digits, then ";" are candidates. A name is replaced if it is an HTML5 name with ';', or the
     * all-capitals form of an all-lowercase one that Python's html.unescape leaves alone (then by the
     * uppercased character: "&EACUTE;" → "É"). A numeric reference is replaced, by Python's numeric
     * rules, only when its digits are all of it and the result is not ';'. Anything else stays.
     */
    static String unescapeHtml(String text) {
        if (text.indexOf('&') < 0) return text;
        StringBuilder out = new StringBuilder(text.length());
        int n = text.length();
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            int end = c == '&' ? referenceEnd(text, i) : -1;
            if (end < 0) {
                out.append(c);
                i++;
            } else {
                out.append(replacement(text.substring(i, end)));
                i = end;
            }
        }
        return out.toString();
    }

    /** Where a candidate reference starting with the '&' at i ends (after its ';'), or -1. */
    private static int referenceEnd(String s, int i) {
        int start = i + 1;
        if (start < s.length() && s.charAt(start) == '#') start++;
        int j = start;
        while (j < s.length() && j - start <= MAX_ENTITY_BODY && asciiAlnum(s.charAt(j))) j++;
        int length = j - start;
        if (length < 1 || length > MAX_ENTITY_BODY || j >= s.length() || s.charAt(j) != ';') return -1;
        return j + 1;
    }

    private static boolean asciiAlnum(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    }

    private static String replacement(String reference) {
        String named = ENTITIES.get(reference.substring(1));
        if (named != null) return named;
        if (!reference.startsWith("&#")) return reference;
        String digits = reference.substring(2, reference.length() - 1);
        int radix = 10;
        if (digits.charAt(0) == 'x' || digits.charAt(0) == 'X') {
            radix = 16;
            digits = digits.substring(1);
        }
        if (digits.isEmpty()) return reference;
        long value = 0; // saturates past U+10FFFF, where Python's big integers give U+FFFD too
        for (int k = 0; k < digits.length(); k++) {
            int d = Character.digit(digits.charAt(k), radix);
            if (d < 0) return reference; // html.unescape would decode only a prefix: ftfy keeps the whole
            value = Math.min(value * radix + d, 0x110000L);
        }
        String decoded = HtmlUnescape.codePoint((int) value);
        return decoded.indexOf(';') >= 0 ? reference : decoded;
    }

    /** ftfy's fix_c1_controls: each U+0080–U+009F as its windows-1252 character (unassigned bytes stay). */
    static String fixC1Controls(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0x80 && c <= 0x9f) {
                if (out == null) out = new StringBuilder(text.length()).append(text, 0, i);
                out.append(HtmlUnescape.windows1252(c));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }

    /** ftfy's fix_latin_ligatures: the LIGATURES table (ﬁ → fi, ĳ → ij, ǆ → dž, ŉ → ʼn, ...). */
    static String fixLatinLigatures(String text) {
        return translate(text, LIGATURES::get);
    }

    /** ftfy's fix_character_width: full-width ASCII and half-width katakana/Hangul to their usual forms, U+3000 to a space. */
    static String fixCharacterWidth(String text) {
        return translate(text, cp -> cp == 0x3000 ? " " : cp >= 0xff01 && cp <= 0xffef ? WIDTH[cp - 0xff00] : null);
    }

    /** ftfy's uncurl_quotes: U+201C–U+201F to '"'; U+02BC and U+2018–U+201B to "'". */
    static String uncurlQuotes(String text) {
        return translate(text, cp -> cp >= 0x201c && cp <= 0x201f ? "\"" : cp == 0x2bc || (cp >= 0x2018 && cp <= 0x201b) ? "'" : null);
    }

    /** ftfy's fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 each to one '\n'. */
    static String fixLineBreaks(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\r') {
                if (i + 1 < text.length() && text.charAt(i + 1) == '\n') i++;
                out.append('\n');
            } else if (c == '\u2028' || c == '\u2029' || c == '\u0085') {
                out.append('\n');
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * ftfy's fix_surrogates. In Python a high surrogate followed by a low one is joined into the
     * character they encode; in a Java string such a pair already is that character. What is left
     * in both is a surrogate without its partner, which becomes U+FFFD.
     */
    static String fixSurrogates(String text) {
        return translate(text, cp -> cp >= 0xd800 && cp <= 0xdfff ? "\ufffd" : null);
    }

    /**
     * ftfy's remove_terminal_escapes: removes each ESC '[' followed by any run of ';' and decimal
     * digits (Python's \d: any Unicode decimal digit) and then one ASCII letter.
     */
    static String removeTerminalEscapes(String text) {
        if (text.indexOf('\u001b') < 0) return text;
        StringBuilder out = new StringBuilder(text.length());
        int n = text.length();
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            if (c == '\u001b' && i + 1 < n && text.charAt(i + 1) == '[') {
                int j = i + 2;
                while (j < n) {
                    int cp = text.codePointAt(j);
                    if (cp != ';' && Character.getType(cp) != Character.DECIMAL_DIGIT_NUMBER) break;
                    j += Character.charCount(cp);
                }
                if (j < n && ((text.charAt(j) >= 'a' && text.charAt(j) <= 'z') || (text.charAt(j) >= 'A' && text.charAt(j) <= 'Z'))) {
                    i = j + 1;
                    continue;
                }
            }
            out.append(c);
            i++;
        }
        return out.toString();
    }

    /**
     * ftfy's remove_control_chars, its CONTROL_CHARS set: U+0000–U+0008, U+000B, U+000E–U+001F,
     * U+007F, U+206A–U+206F, U+FEFF and U+FFF9–U+FFFC. Tab, '\n', form feed and '\r' stay, as do the
     * C1 controls, joiners, bidi controls and tag characters.
     */
    static String removeControlChars(String text) {
        return translate(text, cp -> controlChar(cp) ? "" : null);
    }

    static boolean controlChar(int cp) {
        return cp <= 0x08 || cp == 0x0b || (cp >= 0x0e && cp <= 0x1f) || cp == 0x7f
                || (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffc);
    }

    /** Python's str.translate: each code point that the map gives a string for is replaced by it. */
    private static String translate(String text, IntFunction<String> map) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            String to = map.apply(cp);
            if (to != null && out == null) out = new StringBuilder(text.length()).append(text, 0, i);
            if (out != null) {
                if (to != null) out.append(to);
                else out.appendCodePoint(cp);
            }
            i += Character.charCount(cp);
        }
        return out == null ? text : out.toString();
    }

    private static String[] widthMap() {
        String[] map = new String[0xfff0 - 0xff00];
        for (int cp = 0xff01; cp <= 0xffef; cp++) {
            String c = String.valueOf((char) cp);
            String nfkc = Normalizer.normalize(c, Normalizer.Form.NFKC);
            if (!nfkc.equals(c)) map[cp - 0xff00] = nfkc;
        }
        return map;
    }

    /**
     * ftfy's HTML_ENTITIES: every HTML5 name that ends in ';', plus, for each all-lowercase one, its
     * all-capitals form when Python's html.unescape would leave that form alone (it is no name of
     * its own and starts with no legacy ';'-less name), standing for the uppercased character.
     */
    private static Map<String, String> entities() {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, String> e : HtmlUnescape.names().entrySet()) {
            String name = e.getKey();
            if (!name.endsWith(";")) continue;
            out.put(name, e.getValue());
        }
        for (Map.Entry<String, String> e : HtmlUnescape.names().entrySet()) {
            String name = e.getKey();
            if (!name.endsWith(";") || !name.equals(name.toLowerCase(Locale.ROOT))) continue;
            String upper = name.toUpperCase(Locale.ROOT);
            if (HtmlUnescape.unescape("&" + upper).equals("&" + upper)) out.put(upper, e.getValue().toUpperCase(Locale.ROOT));
        }
        return Map.copyOf(out);
    }

    /** The entity table, for tests: "name;" → replacement. */
    static Map<String, String> entityTable() {
        return ENTITIES;
    }
}
