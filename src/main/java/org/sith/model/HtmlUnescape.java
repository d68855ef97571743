package org.sith.model;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Python's {@code html.unescape}, which CLIP's text cleaning applies twice: the same reference
 * syntax, the same numeric rules (windows-1252 for 0x80–0x9f, U+FFFD for surrogates and values past
 * U+10FFFF, removal of the code points HTML forbids) and the same longest-prefix fallback for the
 * legacy names that may appear without ';'. The named table is all of Python's
 * {@code html.entities.html5} (2,231 names, {@code html_entities.txt}), so HTML5-only names such as
 * {@code &NewLine;} are decoded as Python decodes them.
 */
public final class HtmlUnescape {
    private HtmlUnescape() {}

    /** Longest name Python's pattern accepts before the optional ';'. */
    private static final int MAX_NAME = 32;

    private static final Map<String, String> NAMES = loadNames();

    /** Python's _invalid_charrefs for 0x80–0x9f: the windows-1252 reading, except its five holes. */
    private static final String CP1252 = "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f"
            + "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

    public static String unescape(String s) {
        if (s.indexOf('&') < 0) return s;
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c != '&') {
                out.append(c);
                i++;
                continue;
            }
            int end = i + 1 < n && s.charAt(i + 1) == '#' ? numeric(s, i, out) : named(s, i, out);
            if (end < 0) {
                out.append('&');
                i++;
            } else {
                i = end;
            }
        }
        return out.toString();
    }

    /** A reference "&#…" at i: appends its replacement and returns where it ends, or -1 if none. */
    private static int numeric(String s, int i, StringBuilder out) {
        int n = s.length();
        int j = i + 2;
        boolean hex = j < n && (s.charAt(j) == 'x' || s.charAt(j) == 'X');
        if (hex) j++;
        int digitsStart = j;
        long value = 0; // saturates just past U+10FFFF: Python's big integers end up as U+FFFD too
        int radix = hex ? 16 : 10;
        for (int d; j < n && s.charAt(j) < 0x80 && (d = Character.digit(s.charAt(j), radix)) >= 0; j++) {
            value = Math.min(value * radix + d, 0x110000L);
        }
        if (j == digitsStart) return -1;
        if (j < n && s.charAt(j) == ';') j++;
        out.append(codePoint((int) value));
        return j;
    }

    static String codePoint(int v) {
        if (v == 0) return "\ufffd";
        if (v == 0x0d) return "\r";
        if (v >= 0x80 && v <= 0x9f) return String.valueOf(CP1252.charAt(v - 0x80));
        if ((v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff) return "\ufffd";
        if (forbidden(v)) return "";
        return new String(Character.toChars(v));
    }

    /** Every name of html.entities.html5 (with its ';' where it has one) and its replacement. */
    static Map<String, String> names() {
        return NAMES;
    }

    /**
     * A C1 control character (U+0080–U+009F) read as windows-1252, its five unassigned bytes kept as
     * they are: Python's table for numeric references in that range, and ftfy's "sloppy-windows-1252".
     */
    static char windows1252(char c1) {
        if (c1 < 0x80 || c1 > 0x9f) throw new IllegalArgumentException("not a C1 control: U+" + Integer.toHexString(c1));
        return CP1252.charAt(c1 - 0x80);
    }

    /** Python's _invalid_codepoints (0x80–0x9f are handled by the table before it). */
    private static boolean forbidden(int v) {
        return (v >= 0x1 && v <= 0x8) || v == 0xb || (v >= 0xe && v <= 0x1f) || v == 0x7f
                || (v >= 0xfdd0 && v <= 0xfdef) || (v & 0xfffe) == 0xfffe;
    }

    /** A reference "&name" at i: appends its replacement and returns where it ends, or -1 if none. */
    private static int named(String s, int i, StringBuilder out) {
        int n = s.length();
        int j = i + 1;
        int count = 0;
        while (j < n && count < MAX_NAME && !stopsName(s.charAt(j))) {
            j += Character.charCount(s.codePointAt(j));
            count++;
        }
        if (count == 0) return -1;
        if (j < n && s.charAt(j) == ';') j++;
        String name = s.substring(i + 1, j);
        String exact = NAMES.get(name);
        if (exact != null) {
            out.append(exact);
            return j;
        }
        // Python tries prefixes from one code point shorter down to two; only ';'-less names can match
        for (int x = name.codePointCount(0, name.length()) - 1; x >= 2; x--) {
            int cut = name.offsetByCodePoints(0, x);
            String hit = NAMES.get(name.substring(0, cut));
            if (hit != null) {
                out.append(hit).append(name, cut, name.length());
                return j;
            }
        }
        out.append('&').append(name);
        return j;
    }

    private static boolean stopsName(char c) {
        return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';';
    }

    private static Map<String, String> loadNames() {
        Map<String, String> names = new HashMap<>();
        try (InputStream in = HtmlUnescape.class.getResourceAsStream("html_entities.txt")) {
            if (in == null) throw new IllegalStateException("resource org/sith/model/html_entities.txt is missing from the jar");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (line.isEmpty() || line.startsWith("#")) continue;
                int tab = line.indexOf('\t');
                StringBuilder value = new StringBuilder();
                for (String hex : line.substring(tab + 1).split(" ")) value.appendCodePoint(Integer.parseInt(hex, 16));
                names.put(line.substring(0, tab), value.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.copyOf(names);
    }
}
