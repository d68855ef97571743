package org.sith.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.SyntheticInputs;

/**
 * The report's trade-off plot (SPEC §13): `decompose` and `sweep` of the synthetic CLIP under one --out, `report` before and
 * after the sweep, opened in headless Chromium. The plot's lines (one per method), points (one per configuration, ordered by
 * K, labelled with it) and their positions are checked against sweep/'s rows as DuckDB reads them; a report without sweep/
 * has no trade-off section and the rest of the page is the same.
 */
class ReportSweepTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static Path out;
    static String before;
    static String after;
    static String beforeHtml;

    @BeforeAll
    static void outputs() throws Exception {
        Chromium.require();
        SyntheticInputs in = SyntheticInputs.write(tmp.resolve("in"));
        out = tmp.resolve("run");
        List<String> common = List.of("--checkpoint", in.checkpoint().toString(), "--concepts", in.concepts().toString(), "--vocab", in.vocab().toString(),
                "--layers", "3", "--model-name", "synthetic", "--out", out.toString());
        Run d = cli(concat(List.of("decompose"), common));
        assertEquals(0, d.status(), d.stderr());
        Run r0 = cli("report", "--out", out.toString());
        assertEquals(0, r0.status(), r0.stderr());
        beforeHtml = Files.readString(out.resolve("report/index.html"));
        before = Chromium.run(tmp, out.resolve("report/index.html"), "--dump-dom").dom();

        Run s = cli(concat(List.of("sweep"), common, List.of("--methods", "comp,omp,topk", "--ks", "1,3,5")));
        assertEquals(0, s.status(), s.stderr());
        Run r1 = cli("report", "--out", out.toString(), "--overwrite");
        assertEquals(0, r1.status(), r1.stderr());
        Chromium.Page page = Chromium.run(tmp, out.resolve("report/index.html"), "--dump-dom");
        assertEquals(Set.of(), Chromium.foreign(page), "network requests of the page");
        after = page.dom();
        assertTrue(after.contains("data-rendered=\"true\""), "the script ran to its end");
    }

    @SafeVarargs
    static String[] concat(List<String>... parts) {
        List<String> a = new ArrayList<>();
        for (List<String> p : parts) a.addAll(p);
        return a.toArray(new String[0]);
    }

    /** The attributes of every element {@code tag} whose opening tag matches {@code filter}, in document order. */
    static List<Map<String, String>> elements(String html, String tag, String filter) {
        List<Map<String, String>> out = new ArrayList<>();
        Matcher m = Pattern.compile("<" + tag + "\\s([^>]*)>").matcher(html);
        while (m.find()) {
            if (!m.group(1).contains(filter)) continue;
            Map<String, String> a = new LinkedHashMap<>();
            Matcher am = Pattern.compile("([\\w-]+)=\"([^\"]*)\"").matcher(m.group(1));
            while (am.find()) a.put(am.group(1), am.group(2));
            out.add(a);
        }
        return out;
    }

    static double num(Map<String, String> a, String key) {
        assertTrue(a.containsKey(key), key + " in " + a);
        return Double.parseDouble(a.get(key));
    }

    /** sweep/ as DuckDB reads it: "method/k/lambda" → [coherence, fidelity]. */
    static Map<String, double[]> sweepRows() throws Exception {
        Map<String, double[]> rows = new HashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT method, k, \"lambda\", coherence, fidelity FROM read_parquet('" + out + "/sweep/*.parquet')");
            while (r.next()) rows.put(r.getString(1) + "/" + r.getInt(2) + "/" + r.getDouble(3), new double[] {r.getDouble(4), r.getDouble(5)});
        }
        return rows;
    }

    @Test
    void withoutSweepThereIsNoTradeOffAndTheRestIsUnchanged() {
        assertFalse(before.contains("<section id=\"sweep-"), "no trade-off section before the sweep");
        assertEquals(0, ReportKindsTest.count(before, "<svg [^>]*sweep-plot"), "no trade-off plot before the sweep");
        String blob = ReportTest.between(beforeHtml, "<script id=\"sith-data\"", "</script>");
        assertFalse(blob.contains("\"sweep\""), "no sweep key in the data blob");
        assertTrue(ReportTest.between(after.replace("&quot;", "\""), "<script id=\"sith-data\"", "</script>").contains("\"sweep\":"), "the key once sweep/ is there");
        assertTrue(after.contains("<section id=\"sweep-0\""));
        String explBefore = ReportTest.between(before, "<section id=\"expl-0\"", "</section>");
        String explAfter = ReportTest.between(after, "<section id=\"expl-0\"", "</section>");
        assertTrue(explBefore.length() > 1000, "the explanations section is there");
        assertEquals(explBefore, explAfter, "the explanations section is the same with sweep/ beside it");
    }

    /** One line per method, one point per (method, K) at the position of sweep/'s coherence (x) and fidelity (y), ordered by K. */
    @Test
    void linesAndPointsMatchTheParquetValues() throws Exception {
        Map<String, double[]> rows = sweepRows();
        assertEquals(9, rows.size(), "3 methods × 3 Ks");
        String plot = ReportTest.between(after, "<svg class=\"chart sweep-plot\"", "</svg>");
        Map<String, String> svg = elements(plot, "svg", "sweep-plot").get(0);
        assertEquals("coh", svg.get("data-x"));
        assertEquals("fid", svg.get("data-y"));
        double x0 = num(svg, "data-x-min"), x1 = num(svg, "data-x-max"), y0 = num(svg, "data-y-min"), y1 = num(svg, "data-y-max");
        double left = num(svg, "data-plot-left"), top = num(svg, "data-plot-top"), w = num(svg, "data-plot-width"), h = num(svg, "data-plot-height");
        for (double[] v : rows.values()) {
            assertTrue(v[0] >= x0 && v[0] <= x1, "coherence " + v[0] + " inside the x axis [" + x0 + ", " + x1 + "]");
            assertTrue(v[1] >= y0 && v[1] <= y1, "fidelity " + v[1] + " inside the y axis [" + y0 + ", " + y1 + "]");
        }

        List<Map<String, String>> lines = elements(plot, "polyline", "sweep-line");
        assertEquals(3, lines.size(), "one line per method");
        List<Map<String, String>> series = elements(plot, "g", "sweep-series");
        assertEquals(List.of("comp", "omp", "topk"), series.stream().map(a -> a.get("data-method")).toList());
        List<Map<String, String>> points = elements(plot, "circle", "sweep-point");
        assertEquals(9, points.size());
        Set<String> seen = new TreeSet<>();
        Map<String, List<String>> byMethod = new LinkedHashMap<>();
        for (Map<String, String> p : points) {
            String key = p.get("data-method") + "/" + p.get("data-k") + "/" + Double.parseDouble(p.get("data-lambda"));
            double[] v = rows.get(key);
            assertTrue(v != null, "a point of sweep/'s row " + key);
            assertTrue(seen.add(key), "one point per row: " + key);
            assertEquals(left + (v[0] - x0) / (x1 - x0) * w, num(p, "cx"), 1e-6, key + ": x from coherence");
            assertEquals(top + h - (v[1] - y0) / (y1 - y0) * h, num(p, "cy"), 1e-6, key + ": y from fidelity");
            byMethod.computeIfAbsent(p.get("data-method"), k -> new ArrayList<>()).add(p.get("cx") + "," + p.get("cy"));
            assertEquals(p.get("data-method").equals("comp") ? 0.3 : 0.0, Double.parseDouble(p.get("data-lambda")), 0, key);
        }
        for (int i = 0; i < 3; i++) {
            // a line goes through its method's points in order of K (the points are drawn in that order)
            assertEquals(String.join(" ", byMethod.get(series.get(i).get("data-method"))), lines.get(i).get("points"), "line of " + series.get(i));
        }
        List<String> ks = new ArrayList<>();
        for (Map<String, String> p : points) ks.add(p.get("data-k"));
        assertEquals(List.of("1", "3", "5", "1", "3", "5", "1", "3", "5"), ks, "points ordered by K within each line");
        Matcher kl = Pattern.compile("<text [^>]*class=\"sweep-k\"[^>]*>(\\d+)</text>").matcher(plot);
        List<String> labels = new ArrayList<>();
        while (kl.find()) labels.add(kl.group(1));
        assertEquals(ks, labels, "K labelled at each point");
    }

    /** Ticks at their values' positions with their values as labels; axis labels; a legend entry per line. */
    @Test
    void axesTicksAndLegend() {
        String plot = ReportTest.between(after, "<svg class=\"chart sweep-plot\"", "</svg>");
        Map<String, String> svg = elements(plot, "svg", "sweep-plot").get(0);
        double x0 = num(svg, "data-x-min"), x1 = num(svg, "data-x-max"), y0 = num(svg, "data-y-min"), y1 = num(svg, "data-y-max");
        double left = num(svg, "data-plot-left"), top = num(svg, "data-plot-top"), w = num(svg, "data-plot-width"), h = num(svg, "data-plot-height");
        for (String axis : List.of("x", "y")) {
            Matcher m = Pattern.compile("<text ([^>]*class=\"tick-" + axis + "\"[^>]*)>([^<]*)</text>").matcher(plot);
            int n = 0;
            double first = Double.NaN;
            double last = Double.NaN;
            while (m.find()) {
                Map<String, String> a = elements("<text " + m.group(1) + ">", "text", "tick-").get(0);
                double v = num(a, "data-value");
                assertEquals(v, Double.parseDouble(m.group(2)), 1e-9 + Math.abs(v) * 1e-9 + 0.5 * Math.pow(10, -decimals(m.group(2))), "label of tick " + v);
                if (axis.equals("x")) assertEquals(left + (v - x0) / (x1 - x0) * w, num(a, "x"), 1e-6, "x tick " + v);
                else assertEquals(top + h - (v - y0) / (y1 - y0) * h + 3, num(a, "y"), 1e-6, "y tick " + v);
                if (n == 0) first = v;
                last = v;
                n++;
            }
            assertTrue(n >= 2, "ticks on the " + axis + " axis");
            assertEquals(axis.equals("x") ? x0 : y0, first, 1e-9, axis + " axis starts at a tick");
            assertEquals(axis.equals("x") ? x1 : y1, last, 1e-9, axis + " axis ends at a tick");
        }
        assertTrue(plot.matches("(?s).*<text [^>]*class=\"axis-label x-label\"[^>]*>coherence</text>.*"), "x axis label");
        assertTrue(plot.matches("(?s).*<text [^>]*class=\"axis-label y-label\"[^>]*>fidelity</text>.*"), "y axis label");
        Matcher legend = Pattern.compile("<text [^>]*class=\"legend-label\"[^>]*>([^<]*)</text>").matcher(plot);
        List<String> entries = new ArrayList<>();
        while (legend.find()) entries.add(legend.group(1));
        assertEquals(List.of("comp λ=0.3", "omp", "topk"), entries);
        assertFalse(after.contains("sweep-0-judge"), "no judge plot without judge scores");
        assertEquals(9, ReportKindsTest.count(after, "<tr class=\"sweep-row\""), "the table beside the plot");
    }

    static int decimals(String label) {
        int dot = label.indexOf('.');
        return dot < 0 ? 0 : label.length() - dot - 1;
    }
}
