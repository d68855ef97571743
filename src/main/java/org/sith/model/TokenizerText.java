package org.sith.model;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The text side of CLIP's tokenizer before BPE: cleaning, pre-tokenization and the byte-level
 * alphabet. Shared by {@link ClipTokenizer} and the demo's BPE trainer, so both split text alike.
 *
 * <p>Python's definitions are followed where Java's differ: whitespace is {@code str.isspace},
 * lowercasing is {@code str.lower} (its final-sigma rule is not Java's), and the pre-tokenizer
 * reproduces the {@code regex} module's case-insensitive matching of CLIP's pattern. Character
 * categories come from the running JVM's Unicode tables (Unicode 13 on Java 17), so characters
 * assigned or reclassified in later Unicode versions may be split differently than in Python.
 */
public final class TokenizerText {
    private TokenizerText() {}

    public static final String SOT = "<|startoftext|>";
    public static final String EOT = "<|endoftext|>";
    public static final String END_OF_WORD = "</w>";

    /** Byte b's character in the byte-level alphabet (GPT-2's bytes_to_unicode). */
    private static final char[] BYTE_CHAR = new char[256];
    /** The same 256 characters in CLIP's vocabulary order: printable bytes first, then the rest. */
    private static final char[] VOCAB_ORDER = new char[256];
    /** Inverse of BYTE_CHAR (the alphabet ends at U+0143); -1 for other characters. */
    private static final int[] CHAR_BYTE = new int[256 + 68];

    static {
        int k = 0;
        for (int b = 0; b < 256; b++) {
            if (printable(b)) {
                BYTE_CHAR[b] = (char) b;
                VOCAB_ORDER[k++] = (char) b;
            }
        }
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            if (!printable(b)) {
                BYTE_CHAR[b] = (char) (256 + shifted++);
                VOCAB_ORDER[k++] = BYTE_CHAR[b];
            }
        }
        java.util.Arrays.fill(CHAR_BYTE, -1);
        for (int b = 0; b < 256; b++) CHAR_BYTE[BYTE_CHAR[b]] = b;
    }

    private static boolean printable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    }

    /** The 256 byte characters, in the order CLIP's vocabulary lists them (ids 0–255). */
    public static List<String> byteTokens() {
        List<String> out = new ArrayList<>(256);
        for (char c : VOCAB_ORDER) out.add(String.valueOf(c));
        return out;
    }

    /** Byte b's character in the byte-level alphabet. */
    public static char byteChar(int b) {
        return BYTE_CHAR[b];
    }

    /** A pre-token's UTF-8 bytes, each as its byte-level character. */
    public static String byteChars(String pretoken) {
        byte[] utf8 = pretoken.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[utf8.length];
        for (int i = 0; i < utf8.length; i++) out[i] = BYTE_CHAR[utf8[i] & 0xff];
        return new String(out);
    }

    /** Inverse of {@link #byteChars}; an invalid UTF-8 sequence becomes U+FFFD, as Python's errors="replace". */
    public static String fromByteChars(String chars) {
        byte[] bytes = new byte[chars.length()];
        for (int i = 0; i < chars.length(); i++) {
            char c = chars.charAt(i);
            int b = c < CHAR_BYTE.length ? CHAR_BYTE[c] : -1;
            if (b < 0) throw new IllegalArgumentException("not a byte-level character: U+" + Integer.toHexString(c));
            bytes[i] = (byte) b;
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * CLIP's cleaning as OpenCLIP's tokenizer does it: ftfy's {@code fix_text} ({@link TextRepairs#fixText}:
     * HTML entities where the text has no '<', ANSI escapes and control characters removed, C1 controls
     * read as windows-1252, Latin ligatures split, full-width forms and U+3000 to their usual forms,
     * curly quotes straightened, line breaks unified, lone surrogates to U+FFFD, NFC), then Python's
     * {@code html.unescape} twice, whitespace runs to one space and stripped, lowercased as Python does.
     * ftfy's heuristic mojibake repair ({@code fix_encoding} and its helpers) is not done: "Ã©" stays.
     * As in OpenCLIP, nothing is normalized after the two unescapes.
     */
    public static String clean(String text) {
        String s = HtmlUnescape.unescape(HtmlUnescape.unescape(TextRepairs.fixText(text)));
        StringBuilder out = new StringBuilder(s.length());
        boolean pendingSpace = false;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (pythonSpace(cp)) {
                pendingSpace = out.length() > 0;
            } else {
                if (pendingSpace) out.append(' ');
                pendingSpace = false;
                out.appendCodePoint(cp);
            }
        }
        return lower(out.toString());
    }

    /**
     * Python's str.lower. Java's toLowerCase differs only for capital sigma: it picks final ς by word
     * boundaries, Python by Unicode's Final_Sigma context (a cased letter before, none after,
     * case-ignorable characters skipped). Everything else is the simple mapping, plus İ → i̇.
     */
    static String lower(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            if (cp == 0x3a3) {
                out.append(finalSigma(s, i) ? '\u03c2' : '\u03c3');
            } else if (cp == 0x130) {
                out.append("i\u0307");
            } else {
                out.appendCodePoint(Character.toLowerCase(cp));
            }
            i += Character.charCount(cp);
        }
        return out.toString();
    }

    private static boolean finalSigma(String s, int at) {
        int j = at;
        int before = -1;
        while (j > 0) {
            int cp = s.codePointBefore(j);
            j -= Character.charCount(cp);
            if (!caseIgnorable(cp)) {
                before = cp;
                break;
            }
        }
        if (before < 0 || !cased(before)) return false;
        for (j = at + 1; j < s.length(); ) {
            int cp = s.codePointAt(j);
            if (!caseIgnorable(cp)) return !cased(cp);
            j += Character.charCount(cp);
        }
        return true;
    }

    private static boolean cased(int cp) {
        return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
    }

    /** Word_Break MidLetter, MidNumLet and Single_Quote: case-ignorable besides the categories below. */
    private static final int[] WORD_BREAK_IGNORABLE = {0x27, 0x2e, 0x3a, 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024,
        0x2027, 0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a};

    private static boolean caseIgnorable(int cp) {
        int t = Character.getType(cp);
        if (t == Character.NON_SPACING_MARK || t == Character.ENCLOSING_MARK || t == Character.FORMAT
                || t == Character.MODIFIER_LETTER || t == Character.MODIFIER_SYMBOL) {
            return true;
        }
        for (int w : WORD_BREAK_IGNORABLE) {
            if (w == cp) return true;
        }
        return false;
    }

    /** Python's str.isspace (what re's \s matches in str patterns): wider than Java's \s. */
    static boolean pythonSpace(int cp) {
        return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f) || cp == 0x85 || Character.isSpaceChar(cp);
    }

    /** The regex module's \s: Unicode White_Space, which unlike isspace leaves out 0x1c–0x1f. */
    private static boolean regexSpace(int cp) {
        return pythonSpace(cp) && !(cp >= 0x1c && cp <= 0x1f);
    }

    private static boolean letter(int cp) {
        return Character.isLetter(cp);
    }

    private static boolean number(int cp) {
        int t = Character.getType(cp);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }

    /**
     * The last alternative, [^\s\p{L}\p{N}]. Under IGNORECASE the regex module also refuses U+0345
     * (a combining mark whose case folding is the letter ι), so no alternative matches it and it is
     * dropped, as whitespace is.
     */
    private static boolean other(int cp) {
        return !regexSpace(cp) && !letter(cp) && !number(cp) && cp != 0x345;
    }

    /**
     * CLIP's pre-tokenizer, the matches of
     * {@code <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+}
     * (case-insensitive) scanned left to right; text matching none of them is skipped.
     */
    public static List<String> pretokenize(String text) {
        List<String> out = new ArrayList<>();
        int n = text.length();
        int i = 0;
        while (i < n) {
            int cp = text.codePointAt(i);
            int end = literal(text, i, SOT);
            if (end < 0) end = literal(text, i, EOT);
            if (end < 0 && cp == '\'') end = contraction(text, i);
            if (end < 0) {
                if (letter(cp)) {
                    end = run(text, i, true);
                } else if (number(cp)) {
                    end = i + Character.charCount(cp);
                } else if (other(cp)) {
                    end = run(text, i, false);
                } else {
                    i += Character.charCount(cp);
                    continue;
                }
            }
            out.add(text.substring(i, end));
            i = end;
        }
        return out;
    }

    private static int run(String text, int i, boolean letters) {
        int j = i;
        while (j < text.length()) {
            int cp = text.codePointAt(j);
            if (letters ? !letter(cp) : !other(cp)) break;
            j += Character.charCount(cp);
        }
        return j;
    }

    private static final String[] CONTRACTIONS = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};

    private static int contraction(String text, int i) {
        for (String c : CONTRACTIONS) {
            int end = literal(text, i, c);
            if (end >= 0) return end;
        }
        return -1;
    }

    /** End of a case-insensitive match of an ASCII literal at i, or -1. */
    private static int literal(String text, int i, String lit) {
        if (i + lit.length() > text.length()) return -1;
        for (int k = 0; k < lit.length(); k++) {
            if (!sameIgnoringCase(text.charAt(i + k), lit.charAt(k))) return -1;
        }
        return i + lit.length();
    }

    /**
     * Case-insensitive equality as the regex module sees it for the letters of CLIP's literals:
     * ASCII case, plus ſ (long s), whose simple case folding is s. No other character folds to
     * one of these letters.
     */
    private static boolean sameIgnoringCase(char t, char p) {
        if (t == p) return true;
        if (p < 'a' || p > 'z') return false;
        return t == p - ('a' - 'A') || (p == 's' && t == '\u017f');
    }
}
