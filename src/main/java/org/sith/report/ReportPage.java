package org.sith.report;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The report page: inline CSS, the data as one JSON blob, and the inline script that renders it
 * (heat maps as SVG, tables, thumbnails as data: URIs). Nothing is fetched: no link, font or script
 * leaves the file, and a Content-Security-Policy forbids any request but data: images.
 */
public final class ReportPage {
    private ReportPage() {}

    public static String html(String title, String json) {
        String t = escape(title);
        return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                + "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
                + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                + "<title>" + t + "</title>\n<style>\n" + resource("report.css") + "</style>\n</head>\n<body>\n"
                + "<header><h1>" + t + "</h1><p>SITH: attention heads of CLIP's vision transformer explained from its weights</p></header>\n"
                + "<main id=\"report\"><noscript><p>This report is drawn by a script inside the file: enable JavaScript to see it.</p></noscript></main>\n"
                // "<" never appears raw inside the blob, so no "</script>" in a concept or path can end it early
                + "<script id=\"sith-data\" type=\"application/json\">" + json.replace("<", "\\u003c") + "</script>\n"
                + "<script>\n" + resource("report.js") + "</script>\n</body>\n</html>\n";
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static String resource(String name) {
        try (InputStream in = ReportPage.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
