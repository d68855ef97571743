package org.sith.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.jobs.DemoOutputs;

/**
 * `report` on real outputs (demo, match-images, edit, zero-shot of the base and the edited checkpoint)
 * plus diff and retrieval tables written here by DuckDB, opened in headless Chromium: the rendered DOM
 * holds the expected heat-map cells, rows, thumbnails and values (read back independently by DuckDB),
 * the screenshot is a real picture, and the page requests nothing over the network.
 */
class ReportTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static Path root;
    static Path images;
    static Path base;

    @BeforeAll
    static void outputs() throws Exception {
        root = tmp.resolve("run");
        images = DemoOutputs.make(root, SparkTestBase::cli);
        Path edits = tmp.resolve("edits.csv");
        Files.writeString(edits, "layer,head,sv,alpha\n3,1,0,0\n3,1,2,0.5\n2,0,0,2\n");
        Run edit = cli("edit", "--checkpoint", root.resolve("model/demo-clip.safetensors").toString(), "--edits", edits.toString(),
                "--explanations", root.resolve("explanations").toString(), "--out", root.toString());
        assertEquals(0, edit.status(), edit.stderr());
        Path manifest = images.resolve("manifest.csv");
        StringBuilder m = new StringBuilder("image,label,group\n");
        try (var files = Files.walk(images)) {
            int i = 0;
            for (Path f : files.filter(f -> f.toString().matches(".*\\.(png|jpg)")).sorted().toList()) {
                m.append(images.relativize(f)).append(',').append(i % 2 == 0 ? "dog" : "beach").append(',').append(i % 3 == 0 ? "water" : "land").append('\n');
                i++;
            }
        }
        Files.writeString(manifest, m.toString());
        Path classes = tmp.resolve("classes.txt");
        Files.writeString(classes, "dog\nbeach\n");
        base = tmp.resolve("base");
        for (String[] run : new String[][] {{root.resolve("model/demo-clip.safetensors").toString(), base.toString()},
                {root.resolve("demo-clip.safetensors").toString(), root.toString()}}) {
            Run z = cli("zero-shot", "--checkpoint", run[0], "--images", manifest.toString(), "--classes", classes.toString(),
                    "--bpe", root.resolve("model/demo-bpe.txt.gz").toString(), "--out", run[1]);
            assertEquals(0, z.status(), z.stderr());
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            Files.createDirectories(tmp.resolve("ft/diff_heads"));
            Files.createDirectories(tmp.resolve("ft/diff_vectors"));
            Files.createDirectories(tmp.resolve("ft/retrieval"));
            s.execute("COPY (SELECT l::INT AS layer, h::INT AS head, (0.01 + l * 0.1 + h * 0.02)::DOUBLE AS rel_change, (0.99 - l * 0.01)::DOUBLE AS in_basis, "
                    + "0.9::DOUBLE AS diagonal, [0.01, 0.05 * (l + 1), 0.3]::DOUBLE[] AS principal_angles FROM range(4) a(l), range(4) b(h) ORDER BY 1, 2) TO '"
                    + tmp.resolve("ft/diff_heads/part-0.parquet") + "' (FORMAT parquet)");
            s.execute("COPY (SELECT l::INT AS layer, h::INT AS head, v::INT AS sv, 1.0::DOUBLE AS sigma_base, 1.1::DOUBLE AS sigma_ft, "
                    + "(1 + (v % 5 - 2) * 0.1)::DOUBLE AS reweight, v::INT AS match, 0.98::DOUBLE AS match_cos, "
                    + "CASE WHEN v = 0 THEN 0.5 ELSE 1.0 END AS jaccard, CASE WHEN v = 0 THEN ['zebra'] ELSE [] END::VARCHAR[] AS gained, "
                    + "CASE WHEN v = 0 THEN ['stripes'] ELSE [] END::VARCHAR[] AS lost FROM range(4) a(l), range(4) b(h), range(64) c(v)) TO '"
                    + tmp.resolve("ft/diff_vectors/part-0.parquet") + "' (FORMAT parquet)");
            s.execute("COPY (SELECT 'demo' AS model, ck AS checkpoint, m AS metric, k::INT AS k, 40::BIGINT AS queries, "
                    + "(CASE WHEN ck = 'base' THEN 0.5 ELSE 0.4 END + k * 0.01)::DOUBLE AS value FROM (VALUES ('base'), ('edited')) a(ck), "
                    + "(VALUES ('t2i_recall'), ('unsafe_t2i')) b(m), (VALUES (1), (5), (10)) c(k)) TO '"
                    + tmp.resolve("ft/retrieval/part-0.parquet") + "' (FORMAT parquet)");
        }
    }

    static long duckLong(String sql) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery(sql);
            r.next();
            return r.getLong(1);
        }
    }

    static String explanations() {
        return "read_parquet('" + root + "/explanations/**/*.parquet', hive_partitioning = true)";
    }

    static int count(String dom, String regex) {
        Matcher m = Pattern.compile(regex).matcher(dom);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    @Test
    void everythingRendersOfflineInChromium() throws Exception {
        Chromium.require();
        Path out = tmp.resolve("report-all");
        String in = String.join(",", "explanations=" + root.resolve("explanations"), "matches=" + root.resolve("matches"), "edits=" + root.resolve("edits"),
                "base=" + base.resolve("zeroshot"), "edited=" + root.resolve("zeroshot"), tmp.resolve("ft/diff_heads").toString(),
                tmp.resolve("ft/diff_vectors").toString(), tmp.resolve("ft/retrieval").toString(), root.resolve("concepts").toString());
        Run run = cli("report", "--in", in, "--out", out.toString(), "--title", "Demo <report>");
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stdout().contains("not shown: concepts"), run.stdout());
        Path html = out.resolve("report/index.html");
        assertTrue(Files.isRegularFile(out.resolve("report/_run.json")));

        Chromium.Page page = Chromium.run(tmp, html, "--dump-dom");
        String dom = page.dom();
        assertTrue(dom.contains("data-rendered=\"true\""), "the script ran to its end");
        assertTrue(dom.contains("<title>Demo &lt;report&gt;</title>"), "title escaped");
        assertEquals(Set.of(), Chromium.foreign(page), "network requests of the page");

        long vectors = duckLong("SELECT count(*) FROM " + explanations());
        assertEquals(4 * 4 * 64, vectors);
        assertEquals(vectors, count(dom, "<rect [^>]*class=\"cell\""), "heat map cells");
        assertEquals(vectors, count(dom, "<tr class=\"vec\""), "vector rows (built at load for a small run)");
        long matched = duckLong("SELECT count(*) FROM read_parquet('" + root + "/matches/*.parquet') WHERE rank <= 3");
        assertEquals(vectors * 3, matched);
        assertEquals(matched, count(dom, "<img class=\"thumb\" src=\"data:image/jpeg;base64,"), "thumbnails");
        assertEquals(0, count(dom, "class=\"nothumb\""));

        // the planted vector: its row, fidelity as DuckDB reads it, its top concept, its colour (fidelity 1 = the scale's top)
        String row = between(dom, "<tr class=\"vec\" id=\"s0-L3-H1-V0\">", "</tr>");
        double fid;
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT fidelity, concepts[1].concept, concepts[2].concept FROM " + explanations() + " WHERE layer = 3 AND head = 1 AND sv = 0");
            r.next();
            fid = r.getDouble(1);
            assertTrue(row.contains(String.format(Locale.ROOT, "%.3f", fid)), row);
            assertTrue(row.indexOf(r.getString(2)) >= 0 && row.indexOf(r.getString(2)) < row.indexOf(r.getString(3)), row);
        }
        assertTrue(fid > 0.9995, "planted fidelity " + fid);
        Matcher cell = Pattern.compile("<rect [^>]*fill=\"([^\"]+)\" class=\"cell\" data-layer=\"3\" data-head=\"1\" data-sv=\"0\"").matcher(dom);
        assertTrue(cell.find(), "cell of layer 3 head 1 sv 0");
        assertEquals("rgb(253,231,37)", cell.group(1));

        assertEquals(3, count(dom, "<tr class=\"edit\""), "edit rows");
        assertEquals(2, count(dom, "class=\"chart edit-chart\""), "one before/after figure per edited head");
        assertEquals(64 + 64, count(dom, "<rect [^>]*class=\"before\""), "σ bars of both edited heads");

        // zero-shot: two runs side by side, accuracies as DuckDB reads them
        String zs = between(dom, "<table class=\"zeroshot\">", "</table>");
        assertTrue(zs.contains("<th>base</th><th>edited</th>"), zs);
        for (Path z : new Path[] {base.resolve("zeroshot"), root.resolve("zeroshot")}) {
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                ResultSet r = s.executeQuery("SELECT accuracy FROM read_parquet('" + z + "/*.parquet') WHERE scope = 'all'");
                r.next();
                assertTrue(zs.contains(String.format(Locale.ROOT, "%.4f", r.getDouble(1))), zs);
            }
        }
        assertEquals(1 + duckLong("SELECT count(DISTINCT scope || coalesce(name, '')) FROM read_parquet('" + base + "/zeroshot/*.parquet')"),
                count(zs, "<tr"), "one row per scope/name plus the header");
        assertEquals(6, count(between(dom, "<table class=\"retrieval\">", "</table>"), "<tr class=\"cmp\""));

        assertEquals(16, count(dom, "class=\"dcell\""), "diff heat map: one cell per head");
        assertEquals(16, count(dom, "<tr class=\"dhead\""));
        assertTrue(dom.contains("sv 0: +zebra −stripes"), "concepts gained and lost");

        Path png = tmp.resolve("report.png");
        Chromium.Page shot = Chromium.run(tmp, html, "--screenshot=" + png, "--window-size=1280,1600", "--hide-scrollbars");
        assertEquals(Set.of(), Chromium.foreign(shot));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(1280, img.getWidth());
        assertEquals(1600, img.getHeight());
        Set<Integer> colours = new HashSet<>();
        long nonWhite = 0;
        for (int y = 0; y < img.getHeight(); y += 2) {
            for (int x = 0; x < img.getWidth(); x += 2) {
                int c = img.getRGB(x, y) & 0xFFFFFF;
                colours.add(c);
                if (c != 0xFFFFFF && c != 0xFAFBFC) nonWhite++;
            }
        }
        assertTrue(colours.size() > 50, "a picture, not a blank page: " + colours.size() + " colours");
        assertTrue(nonWhite > img.getWidth() * img.getHeight() / 4 / 20, "at least 5 % of the page drawn: " + nonWhite);
        Files.copy(png, Path.of(System.getProperty("java.io.tmpdir"), "sith-report-test.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        // a link to a vector opens its head: the table is there and the row is marked
        Chromium.Page linked = Chromium.open(tmp, html.toUri() + "#s0-L3-H1-V0", "--dump-dom");
        assertTrue(linked.dom().contains("<details class=\"head\" id=\"s0-L3-H1\" open=\"\">"), "head opened by the link");
        assertTrue(linked.dom().contains("<tr class=\"vec hit\" id=\"s0-L3-H1-V0\">"), "row marked");

    }

    @Test
    void outFolderDefaultsToEverythingUnderItAndListsUnreadableImages() throws Exception {
        Path moved = images.resolve("img4.png");
        Path away = tmp.resolve("img4.png.away");
        Files.move(moved, away);
        try {
            Run run = cli("report", "--out", root.toString());
            assertEquals(0, run.status(), run.stderr());
            String html = Files.readString(root.resolve("report/index.html"));
            assertTrue(html.contains("\"unreadable_images\":[\"img4.png\"]"), "the missing image is listed");
            Run again = cli("report", "--out", root.toString());
            assertEquals(2, again.status());
            assertTrue(again.stderr().contains("report/ already exists"), again.stderr());
            if (Chromium.binary() == null) return;
            String dom = Chromium.run(tmp, root.resolve("report/index.html"), "--dump-dom").dom();
            assertTrue(dom.contains("id=\"unreadable\""), "a note about the unreadable image");
            long withImg4 = duckLong("SELECT count(*) FROM read_parquet('" + root + "/matches/*.parquet') WHERE rank <= 3 AND image = 'img4.png'");
            assertTrue(withImg4 > 0);
            assertEquals(withImg4, count(dom, "<span class=\"nothumb\" title=\"not readable\">img4.png</span>"));
            assertTrue(dom.contains("Zero-shot accuracy") && dom.contains("Edits"), "zeroshot/ and edits/ under --out are found");
        } finally {
            Files.move(away, moved);
        }
    }

    @Test
    void theNetworkCheckCatchesARequest() throws Exception {
        Chromium.require();
        Path bad = tmp.resolve("bad.html");
        Files.writeString(bad, "<!DOCTYPE html><html><body><p>x</p><img src=\"http://127.0.0.1:9/x.png\"><img src=\"data:image/png;base64,iVBORw0KGgo=\"></body></html>");
        assertEquals(Set.of("http://127.0.0.1:9/x.png"), Chromium.foreign(Chromium.run(tmp, bad, "--dump-dom")));
        Path fetch = tmp.resolve("fetch.html");
        Files.writeString(fetch, "<!DOCTYPE html><html><body><script>fetch('http://127.0.0.1:9/data.json').catch(function(){});</script></body></html>");
        assertEquals(Set.of("http://127.0.0.1:9/data.json"), Chromium.foreign(Chromium.run(tmp, fetch, "--dump-dom")));
    }

    /**
     * ViT-L/14's size: 24 layers × 16 heads × 64 vectors with K=5 concepts from a 50,000-concept pool and
     * 3 matches each among 500 real JPEGs. Prints the file size; the page builds head tables lazily.
     */
    @Test
    void aVitL14RunGivesAFileOfSaneSizeThatRendersLazily() throws Exception {
        Path big = tmp.resolve("big");
        Path imgs = big.resolve("images");
        Files.createDirectories(imgs);
        java.util.Random rnd = new java.util.Random(5);
        for (int i = 0; i < 500; i++) {
            BufferedImage im = new BufferedImage(160, 120, BufferedImage.TYPE_INT_RGB);
            java.awt.Graphics2D g = im.createGraphics();
            g.setPaint(new java.awt.GradientPaint(0, 0, new java.awt.Color(rnd.nextInt()), 160, 120, new java.awt.Color(rnd.nextInt())));
            g.fillRect(0, 0, 160, 120);
            g.setColor(new java.awt.Color(rnd.nextInt()));
            g.fillOval(rnd.nextInt(100), rnd.nextInt(80), 20 + rnd.nextInt(60), 20 + rnd.nextInt(40));
            g.dispose();
            ImageIO.write(im, "jpeg", imgs.resolve(String.format("%04d.jpg", i)).toFile());
        }
        Files.createDirectories(big.resolve("out/explanations"));
        Files.createDirectories(big.resolve("out/matches"));
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE v AS SELECT l::INT AS layer, h::INT AS head, v::INT AS sv FROM range(24) a(l), range(16) b(h), range(64) c(v)");
            s.execute("COPY (SELECT 'ViT-L-14' AS model, NULL::INT AS vector, layer, head, sv, 'right' AS side, (40.0 / (sv + 1))::DOUBLE AS sigma, "
                    + "'comp' AS method, 0.3::DOUBLE AS lambda, 5 AS k, "
                    + "list_transform(range(5), j -> {'id': ((layer * 7919 + head * 104729 + sv * 13 + j * 50021) % 50000)::INT, "
                    + "'concept': 'concept ' || ((layer * 7919 + head * 104729 + sv * 13 + j * 50021) % 50000), 'weight': (0.8 - j * 0.15)::DOUBLE}) AS concepts, "
                    + "((hash(layer, head, sv) % 1000) / 1000.0)::DOUBLE AS fidelity, 0.5::DOUBLE AS fidelity_residual, 0.3::DOUBLE AS coherence, "
                    + "false AS degenerate, 'pool' AS dictionary FROM v ORDER BY layer, head, sv) TO '" + big.resolve("out/explanations/part-0.parquet")
                    + "' (FORMAT parquet)");
            s.execute("COPY (SELECT 'ViT-L-14' AS model, layer, head, sv, r::INT AS rank, lpad(((hash(layer, head, sv, r) % 500))::VARCHAR, 4, '0') || '.jpg' AS image, "
                    + "(10.0 - r)::DOUBLE AS score FROM v, range(1, 4) d(r)) TO '" + big.resolve("out/matches/part-0.parquet") + "' (FORMAT parquet)");
        }
        long t0 = System.nanoTime();
        Run run = cli("report", "--out", big.resolve("out").toString(), "--images", imgs.toString());
        assertEquals(0, run.status(), run.stderr());
        Path html = big.resolve("out/report/index.html");
        long bytes = Files.size(html);
        System.out.printf("report of 24,576 vectors, K=5, 3 matches each among 500 images: %.2f MB, %.1f s%n", bytes / 1e6, (System.nanoTime() - t0) / 1e9);
        assertTrue(bytes < 12_000_000, "report size " + bytes);
        if (Chromium.binary() == null) return;
        long t1 = System.nanoTime();
        Chromium.Page page = Chromium.run(tmp, html, "--dump-dom");
        System.out.printf("chromium renders it in %.1f s (including start-up)%n", (System.nanoTime() - t1) / 1e9);
        assertEquals(Set.of(), Chromium.foreign(page));
        assertEquals(24 * 16 * 64, count(page.dom(), "<rect [^>]*class=\"cell\""));
        assertEquals(24 * 16, count(page.dom(), "<details class=\"head\""));
        assertEquals(0, count(page.dom(), "<tr class=\"vec\""), "head tables are built when opened");
    }

    static String between(String s, String start, String end) {
        int a = s.indexOf(start);
        assertTrue(a >= 0, "missing " + start);
        int b = s.indexOf(end, a);
        assertFalse(b < 0, "missing " + end + " after " + start);
        return s.substring(a, b);
    }
}
