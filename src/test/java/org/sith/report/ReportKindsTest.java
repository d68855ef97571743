package org.sith.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;

/**
 * `report` on SPEC §3b's rows, made by the real commands: the demo's default (vision VO) explanations, then
 * `decompose --component all` on the vision tower and `--component all --tower text` of the same synthetic CLIP,
 * plus a matches/ table (written by DuckDB, as match-images does not match MLP neurons yet) with an MLP neuron's
 * images. Opened in headless Chromium; the QK pairs, the MLP neurons per layer and the text tower's section are
 * checked against the Parquet rows as DuckDB reads them.
 */
class ReportKindsTest extends SparkTestBase {
    static final int NEURONS = 5;
    @TempDir
    static Path tmp;
    static Path root;
    static Path vision;
    static Path text;
    static Path images;
    static String dom;
    static int topNeuron;

    @BeforeAll
    static void outputs() throws Exception {
        root = tmp.resolve("demo");
        Run demo = cli("demo", "--out", root.toString());
        assertEquals(0, demo.status(), demo.stderr());
        String model = root.resolve("model/demo-clip.safetensors").toString();
        vision = tmp.resolve("all-vision");
        Run v = cli("decompose", "--checkpoint", model, "--concepts", root.resolve("concepts").toString(), "--component", "all", "--layers", "2,3",
                "--out", vision.toString());
        assertEquals(0, v.status(), v.stderr());
        text = tmp.resolve("all-text");
        Run t = cli("decompose", "--checkpoint", model, "--concepts", root.resolve("concepts").toString(), "--component", "all", "--tower", "text",
                "--out", text.toString());
        assertEquals(0, t.status(), t.stderr());

        images = tmp.resolve("images");
        Files.createDirectories(images);
        for (int i = 1; i <= 3; i++) {
            BufferedImage img = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(new Color(60 * i, 255 - 60 * i, 90));
            g.fillRect(0, 0, 40, 30);
            g.dispose();
            ImageIO.write(img, "png", images.resolve("img" + i + ".png").toFile());
        }
        topNeuron = (int) duckLong("SELECT sv FROM " + expl(vision) + " WHERE component = 'mlp' AND layer = 2 ORDER BY sigma DESC, sv LIMIT 1");
        Files.createDirectories(tmp.resolve("m/matches"));
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT 'demo' AS model, 2::INT AS layer, NULL::INT AS head, " + topNeuron + "::INT AS sv, r::INT AS rank, "
                    + "'img' || r || '.png' AS image, (1.0 / r)::DOUBLE AS score, 'mlp' AS component FROM range(1, 4) a(r)) TO '"
                    + tmp.resolve("m/matches/part-0.parquet") + "' (FORMAT parquet)");
        }

        Path out = tmp.resolve("report");
        String in = String.join(",", "default=" + root.resolve("explanations"), "vis=" + vision.resolve("explanations"), "txt=" + text.resolve("explanations"),
                "matches=" + tmp.resolve("m/matches"));
        Run report = cli("report", "--in", in, "--images", images.toString(), "--neurons", String.valueOf(NEURONS), "--out", out.toString());
        assertEquals(0, report.status(), report.stderr());
        Chromium.Page page = Chromium.run(tmp, out.resolve("report/index.html"), "--dump-dom");
        assertEquals(Set.of(), Chromium.foreign(page), "network requests of the page");
        dom = page.dom();
        assertTrue(dom.contains("data-rendered=\"true\""), "the script ran to its end");
    }

    static String expl(Path run) {
        return "read_parquet('" + run + "/explanations/**/*.parquet', hive_partitioning = true)";
    }

    static long duckLong(String sql) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery(sql);
            assertTrue(r.next(), sql);
            return r.getLong(1);
        }
    }

    static int count(String s, String regex) {
        Matcher m = Pattern.compile(regex).matcher(s);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    /** The section with this id (sections do not nest). */
    static String section(String id) {
        return ReportTest.between(dom, "<section id=\"" + id + "\"", "</section>");
    }

    /** The names of an explanation's concepts with a positive weight, in weight order, as DuckDB reads them. */
    static List<String> positiveConcepts(Path run, String where) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT u.c.concept FROM (SELECT unnest(concepts) AS c, generate_subscripts(concepts, 1) AS i FROM " + expl(run)
                    + " WHERE " + where + ") u WHERE u.c.weight > 0 ORDER BY u.i");
            while (r.next()) out.add(r.getString(1));
        }
        assertFalse(out.isEmpty(), where);
        return out;
    }

    static void inOrder(String text, List<String> parts, int from) {
        int at = from;
        for (String p : parts) {
            int i = text.indexOf(">" + p + " <small>", at);
            assertTrue(i >= 0, "'" + p + "' after position " + at + " in " + text);
            at = i;
        }
    }

    @Test
    void defaultRunKeepsItsSectionAndTheNewRowsGetTheirOwn() throws Exception {
        assertTrue(dom.contains("<h2>Explanations: default</h2>"), "the default run's section keeps its title");
        String def = section("expl-0");
        assertEquals(duckLong("SELECT count(*) FROM " + expl(root)), count(def, "<rect [^>]*class=\"cell\""), "default run: one cell per vector");
        assertFalse(dom.contains("id=\"qk-0\"") || dom.contains("id=\"mlp-0\"") || dom.contains("id=\"text-0\""), "nothing new for the default run");
        // the --component all run: its VO heads alone in the vision VO section, its QK and MLP rows and no text rows elsewhere
        String vo = section("expl-1");
        assertTrue(vo.contains("<h2>Attention heads (VO) · vision tower: vis</h2>"), vo.substring(0, 200));
        assertEquals(duckLong("SELECT count(*) FROM " + expl(vision) + " WHERE component = 'vo'"), count(vo, "<rect [^>]*class=\"cell\""));
        assertEquals(2 * 4 * 64, count(vo, "<tr class=\"vec\""));
        assertFalse(dom.contains("id=\"expl-2\""), "the text-only run has no vision VO section");
    }

    @Test
    void qkPairsShowQueryAndKeyConceptsSideBySide() throws Exception {
        String qk = section("qk-1");
        assertTrue(qk.contains("<h2>QK circuits · vision tower: vis</h2>"));
        long queries = duckLong("SELECT count(*) FROM " + expl(vision) + " WHERE component = 'qk' AND side = 'query'");
        assertEquals(queries, duckLong("SELECT count(*) FROM " + expl(vision) + " WHERE component = 'qk' AND side = 'key'"));
        assertEquals(2 * 4 * 64, queries);
        assertEquals(queries, count(qk, "<tr class=\"qkpair\""), "one row per (head, sv) pair");
        for (int[] v : new int[][] {{3, 1, 0}, {2, 0, 5}}) {
            String where = "component = 'qk' AND layer = " + v[0] + " AND head = " + v[1] + " AND sv = " + v[2];
            String row = ReportTest.between(qk, "<tr class=\"qkpair\" id=\"s1-qk-L" + v[0] + "-H" + v[1] + "-V" + v[2] + "\">", "</tr>");
            int from = row.indexOf("attends from ");
            int to = row.indexOf(" to <span class=\"k\">");
            assertTrue(from >= 0 && to > from, row);
            inOrder(row.substring(from, to), positiveConcepts(vision, where + " AND side = 'query'"), 0);
            inOrder(row.substring(to), positiveConcepts(vision, where + " AND side = 'key'"), 0);
            Matcher sigma = Pattern.compile("<td class=\"num\">([0-9.eE+-]+)</td><td class=\"pair\">").matcher(row);
            assertTrue(sigma.find(), row);
            double expected;
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                ResultSet r = s.executeQuery("SELECT min(sigma), max(sigma) FROM " + expl(vision) + " WHERE " + where);
                r.next();
                assertEquals(r.getDouble(1), r.getDouble(2), 0.0, "query and key rows share σ");
                expected = r.getDouble(1);
            }
            assertEquals(expected, Double.parseDouble(sigma.group(1)), Math.abs(expected) * 1e-3, row);
        }
    }

    @Test
    void mlpNeuronsAreListedPerLayerLargestSigmaFirstWithTheRestCounted() throws Exception {
        String mlp = section("mlp-1");
        assertTrue(mlp.contains("<h2>MLP neurons · vision tower: vis</h2>"));
        for (int layer : new int[] {2, 3}) {
            String div = ReportTest.between(mlp, "<div class=\"layer mlp-layer\" id=\"s1-mlp-L" + layer + "\">", "</table>");
            List<Integer> shown = new ArrayList<>();
            Matcher m = Pattern.compile("<tr class=\"neuron\" id=\"s1-mlp-L" + layer + "-N(\\d+)\">").matcher(div);
            while (m.find()) shown.add(Integer.parseInt(m.group(1)));
            List<Integer> expected = new ArrayList<>();
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                ResultSet r = s.executeQuery("SELECT sv FROM " + expl(vision) + " WHERE component = 'mlp' AND layer = " + layer
                        + " ORDER BY sigma DESC, sv LIMIT " + NEURONS);
                while (r.next()) expected.add(r.getInt(1));
            }
            assertEquals(expected, shown, "layer " + layer);
            long total = duckLong("SELECT count(*) FROM " + expl(vision) + " WHERE component = 'mlp' AND layer = " + layer + " AND head IS NULL");
            assertEquals(4 * 256, total);
            assertTrue(div.contains("top " + NEURONS + " of " + total + " neurons by σ"), div.substring(0, 300));
            String after = mlp.substring(mlp.indexOf("id=\"s1-mlp-L" + layer + "\""));
            assertTrue(after.contains("… and " + (total - NEURONS) + " more neurons with smaller σ"));
        }
        // the top neuron's concepts, and its matched images (matches of an MLP neuron: head null, component mlp)
        String row = ReportTest.between(mlp, "<tr class=\"neuron\" id=\"s1-mlp-L2-N" + topNeuron + "\">", "</tr>");
        inOrder(row, positiveConcepts(vision, "component = 'mlp' AND layer = 2 AND sv = " + topNeuron), 0);
        assertEquals(3, count(row, "<img class=\"thumb\" src=\"data:image/jpeg;base64,"), row);
        assertEquals(3, count(dom, "<img class=\"thumb\""), "the MLP matches go to that neuron only (not to a VO vector of the same layer and sv)");
    }

    @Test
    void theTextTowerHasItsOwnSection() throws Exception {
        String t = section("text-2");
        assertTrue(t.contains("<h2>Text tower: txt</h2>"), t.substring(0, 200));
        assertTrue(t.contains("<h3>Attention heads (VO) · text tower</h3>") && t.contains("<h3>QK circuits · text tower</h3>")
                && t.contains("<h3>MLP neurons · text tower</h3>"), "three parts, labelled as text tower");
        long vo = duckLong("SELECT count(*) FROM " + expl(text) + " WHERE tower = 'text' AND component = 'vo'");
        assertEquals(2 * 2 * 64, vo);
        assertEquals(vo, count(t, "<rect [^>]*class=\"cell\""));
        assertEquals(vo, count(t, "<tr class=\"vec\" id=\"s2-text-L"));
        assertEquals(duckLong("SELECT count(*) FROM " + expl(text) + " WHERE tower = 'text' AND component = 'qk' AND side = 'query'"),
                count(t, "<tr class=\"qkpair\" id=\"s2-text-qk-L"));
        assertEquals(2 * NEURONS, count(t, "<tr class=\"neuron\" id=\"s2-text-mlp-L"));
        long perLayer = duckLong("SELECT count(*) FROM " + expl(text) + " WHERE tower = 'text' AND component = 'mlp' AND layer = 1");
        assertTrue(t.contains("top " + NEURONS + " of " + perLayer + " neurons by σ"));
        String pair = ReportTest.between(t, "<tr class=\"qkpair\" id=\"s2-text-qk-L1-H0-V0\">", "</tr>");
        inOrder(pair, positiveConcepts(text, "component = 'qk' AND layer = 1 AND head = 0 AND sv = 0 AND side = 'query'"), 0);
        assertFalse(dom.contains("id=\"qk-2\"") || dom.contains("id=\"mlp-2\""), "text rows are not shown as vision rows");
        assertEquals(0, count(t, "<img class=\"thumb\""), "images are matched to vision vectors only");
    }

    @Test
    void neuronsMustBePositive() {
        Run r = cli("report", "--in", vision.resolve("explanations").toString(), "--neurons", "0", "--out", tmp.resolve("r0").toString());
        assertEquals(2, r.status());
        assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
        assertTrue(r.stderr().contains("--neurons"), r.stderr());
        assertFalse(Files.exists(tmp.resolve("r0/report")));
    }
}
