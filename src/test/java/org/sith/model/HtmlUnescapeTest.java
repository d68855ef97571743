package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.core.type.TypeReference;

class HtmlUnescapeTest {
    private static final String PY = "import sys, json, html\n"
            + "print(json.dumps([html.unescape(s) for s in json.loads(sys.stdin.buffer.read().decode('utf-8'))]))";

    /** Known answers of Python's html.unescape, so the rules are checked even without python3. */
    @Test
    void knownAnswers() {
        assertEquals("&amp;", HtmlUnescape.unescape("&amp;amp;"));
        assertEquals("<b>", HtmlUnescape.unescape("&lt;b&gt;"));
        assertEquals("'", HtmlUnescape.unescape("&#39;"));
        assertEquals("\ud83d\ude00", HtmlUnescape.unescape("&#x1F600;"));
        assertEquals("é", HtmlUnescape.unescape("&eacute"));
        assertEquals("¬it;", HtmlUnescape.unescape("&notit;"));
        assertEquals("€", HtmlUnescape.unescape("&#128;"));
        assertEquals("\ufffd", HtmlUnescape.unescape("&#0;"));
        assertEquals("\ufffd", HtmlUnescape.unescape("&#xD800;"));
        assertEquals("\ufffd", HtmlUnescape.unescape("&#99999999999;"));
        assertEquals("ab", HtmlUnescape.unescape("a&#11;b"));
        assertEquals("\r", HtmlUnescape.unescape("&#13;"));
        assertEquals("&;", HtmlUnescape.unescape("&;"));
        assertEquals("&#x;", HtmlUnescape.unescape("&#x;"));
        assertEquals("⟨", HtmlUnescape.unescape("&lang;"));
        assertEquals("&", HtmlUnescape.unescape("&AMP;"));
        assertEquals("a\nb", HtmlUnescape.unescape("a&NewLine;b"), "an HTML5-only name");
        assertEquals("\u2233", HtmlUnescape.unescape("&CounterClockwiseContourIntegral;"), "the longest HTML5 name");
        assertEquals("\u2242\u0338", HtmlUnescape.unescape("&nesim;"), "a name for two code points");
    }

    @Test
    void agreesWithPythonOnTrickyStrings() throws Exception {
        PythonOracle.assumeModules("html");
        List<String> cases = new ArrayList<>(List.of(
                "", "plain", "&", "&&", "&;", "&#", "&#;", "&#x", "&#X41", "&#x41", "&#65", "&#065;", "&#0000000065;",
                "&#65a", "&#x41g", "&#xFFFFFFFFFFFFFFFFFFFFFFFF;", "&#99999999999;", "&#1114111;", "&#1114112;",
                "&#x110000;", "&#xD800;", "&#xdfff;", "&#xFDD0;", "&#xFFFE;", "&#x1FFFF;", "&#x10FFFE;", "&#127;",
                "&#128;&#129;&#141;&#143;&#144;&#157;&#159;&#160;", "&#0;", "&#13;", "&#9;&#10;&#11;&#12;",
                "&amp", "&ampx", "&amp;x", "&AMP", "&AMP;", "&Amp;", "&ampamp;", "&amp;amp;", "&notit;", "&notin;",
                "&noti", "&no", "&n", "&lt", "&ltx", "&lt;x", "&gt;&lt;", "&eacute", "&eacute;", "&Eacute;",
                "&hellip", "&hellip;", "&apos;", "&apos", "&quot", "&QUOT;", "&copy2024", "&COPY;", "&reg;&REG",
                "&abcdefghijklmnopqrstuvwxyz0123456789;", "&notabcdefghijklmnopqrstuvwxyz0123456789",
                "&lang;&rang;", "&#x1F600;", "&#128512;", "& amp;", "&\tamp;", "&am\np;", "&a<b", "&a&b", "&a#b",
                "&😀;", "&é;", "&notés", "&amp;lt;", "a&b c", "fish &amp; chips", "&#38;amp;", "&;amp;", "&&amp;"));
        for (int v : new int[] {0, 1, 8, 9, 10, 11, 12, 13, 14, 31, 32, 127, 128, 159, 160, 0xfdcf, 0xfdd0, 0xfdef, 0xfdf0,
                0xfffd, 0xfffe, 0xffff, 0x10000, 0x1fffe, 0x2ffff, 0x10fffd, 0x10ffff, 0x110000}) {
            cases.add("&#" + v + ";");
            cases.add("&#x" + Integer.toHexString(v) + "x");
        }
        for (String name : tableNames()) {
            cases.add("&" + name);
            cases.add("&" + name + "z;");
        }
        List<String> expected = PythonOracle.run(List.of("python3", "-c", PY), cases, new TypeReference<List<String>>() {});
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            String got = HtmlUnescape.unescape(cases.get(i));
            if (!got.equals(expected.get(i))) wrong.add(cases.get(i) + " → " + got + " (python: " + expected.get(i) + ")");
        }
        assertTrue(wrong.isEmpty(), wrong.size() + " differ from Python, e.g. " + wrong.subList(0, Math.min(10, wrong.size())));
    }

    /** Every numeric reference up to U+10FFFF and past it, in decimal and hex. */
    @Test
    void everyCodePointAgreesWithPython() throws Exception {
        PythonOracle.assumeModules("html");
        StringBuilder dec = new StringBuilder();
        StringBuilder hex = new StringBuilder();
        for (int v = 0; v <= 0x110001; v++) {
            dec.append("&#").append(v).append(';');
            hex.append("&#x").append(Integer.toHexString(v)).append(';');
        }
        List<String> cases = List.of(dec.toString(), hex.toString());
        List<String> expected = PythonOracle.run(List.of("python3", "-c", PY), cases, new TypeReference<List<String>>() {});
        for (int i = 0; i < cases.size(); i++) {
            String got = HtmlUnescape.unescape(cases.get(i));
            assertEquals(expected.get(i).length(), got.length(), "length of the unescaped code point table");
            assertTrue(expected.get(i).equals(got), "unescaped code point table differs from Python's");
        }
    }

    private static List<String> tableNames() throws Exception {
        List<String> names = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                HtmlUnescape.class.getResourceAsStream("html_entities.txt"), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (!line.startsWith("#")) names.add(line.substring(0, line.indexOf('\t')));
            }
        }
        return names;
    }
}
