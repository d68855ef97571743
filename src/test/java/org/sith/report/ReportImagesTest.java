package org.sith.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.imageio.ImageIO;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * `report` on explain-images' three folders (SPEC §11) beside the demo's explanations: image_embeddings/ (with a `norm`
 * column), image_contributions/ (top VO vectors by signed share, one MLP neuron, the summed kinds; some rows with their
 * own concepts, the others joined from explanations/) and image_explanations/, written here with Spark in the schema of
 * the SPEC, with real image files. Opened in headless Chromium: each shown image's card (thumbnail, bars in order with
 * their signed shares, the vectors' concepts, the image's own explanation) is checked against DuckDB's reading of the
 * same Parquet; a report without these folders has no trace of them.
 */
class ReportImagesTest extends SparkTestBase {
    static final int SHOWN = 5;
    static final List<String> KIND_ORDER = List.of("vo_rest", "mlp_rest", "vo_bias", "out_bias", "mlp", "embed", "ln_post_bias");
    @TempDir
    static Path tmp;
    static Path root;
    static Path images;
    static Map<String, Color> colours = new LinkedHashMap<>();
    static String dom;

    static final StructType CONCEPT = new StructType().add("id", DataTypes.IntegerType).add("concept", DataTypes.StringType).add("weight", DataTypes.DoubleType);
    static final ArrayType CONCEPTS = DataTypes.createArrayType(CONCEPT);

    @BeforeAll
    static void outputs() throws Exception {
        root = tmp.resolve("run");
        Run demo = cli("demo", "--out", root.toString());
        assertEquals(0, demo.status(), demo.stderr());
        images = tmp.resolve("images");
        Files.createDirectories(images);
        Random rnd = new Random(11);
        // img0 … img6: img2 has only its own explanation, img4 only contributions; img5 and img6 are past --images-shown
        for (int i = 0; i < 7; i++) {
            Color c = new Color(40 + 30 * i, 220 - 25 * i, (90 + 70 * i) % 256);
            BufferedImage img = new BufferedImage(90, 70, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(c);
            g.fillRect(0, 0, 90, 70);
            g.setColor(c.darker());
            g.fillOval(30, 20, 12, 10);
            g.dispose();
            String name = "img" + i + (i % 3 == 1 ? ".jpg" : ".png");
            ImageIO.write(img, i % 3 == 1 ? "jpeg" : "png", images.resolve(name).toFile());
            colours.put(name, c);
        }
        List<String> names = new ArrayList<>(colours.keySet());

        StructType embSchema = new StructType().add("model", DataTypes.StringType).add("image", DataTypes.StringType)
                .add("embedding", DataTypes.createArrayType(DataTypes.FloatType)).add("norm", DataTypes.DoubleType);
        List<Row> emb = new ArrayList<>();
        for (String n : names) {
            Float[] e = new Float[16];
            for (int j = 0; j < 16; j++) e[j] = (float) (rnd.nextGaussian() / 4);
            emb.add(RowFactory.create("demo", n, Arrays.asList(e), 3.5 + rnd.nextDouble()));
        }
        spark.createDataFrame(emb, embSchema).coalesce(1).write().parquet(root.resolve("image_embeddings").toString());

        StructType contribSchema = new StructType().add("model", DataTypes.StringType).add("image", DataTypes.StringType)
                .add("rank", DataTypes.IntegerType).add("layer", DataTypes.IntegerType).add("head", DataTypes.IntegerType).add("sv", DataTypes.IntegerType)
                .add("component", DataTypes.StringType).add("score", DataTypes.DoubleType).add("share", DataTypes.DoubleType).add("concepts", CONCEPTS);
        List<Row> contrib = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            if (i == 2) continue;
            String n = names.get(i);
            double[] top = {0.11 - 0.01 * i, 0.06, 0.035, 0.02, i == 3 ? -0.004 : 0.008};
            double sum = 0;
            for (int r = 1; r <= 5; r++) {
                boolean mlp = i == 1 && r == 3;
                int layer = r == 1 ? 3 : rnd.nextInt(4);
                Integer head = mlp ? null : r == 1 ? 1 : rnd.nextInt(4);
                int sv = r == 1 ? 0 : mlp ? 17 : rnd.nextInt(64);
                List<Row> own = r % 2 == 0 || mlp ? List.of(RowFactory.create(100 + r, "own concept " + i + "." + r, 0.5), RowFactory.create(7, "second " + r, -0.2)) : null;
                contrib.add(RowFactory.create("demo", n, r, layer, head, sv, mlp ? "mlp" : "vo", 3.0 * top[r - 1] + 0.01, top[r - 1], own));
                sum += top[r - 1];
            }
            double[] kinds = {0.12 + 0.01 * i, -0.05, 0.03, 0.21, 0.18};
            String[] kindNames = {"vo_rest", "vo_bias", "out_bias", "mlp", "embed"};
            for (int k = 0; k < kinds.length; k++) {
                contrib.add(RowFactory.create("demo", n, null, null, null, null, kindNames[k], null, kinds[k], null));
                sum += kinds[k];
            }
            contrib.add(RowFactory.create("demo", n, null, null, null, null, "ln_post_bias", null, 1 - sum, null));
        }
        java.util.Collections.shuffle(contrib, rnd); // the file's row order means nothing
        spark.createDataFrame(contrib, contribSchema).repartition(2).write().parquet(root.resolve("image_contributions").toString());

        StructType explSchema = new StructType().add("model", DataTypes.StringType).add("vector", DataTypes.IntegerType).add("layer", DataTypes.IntegerType)
                .add("head", DataTypes.IntegerType).add("sv", DataTypes.IntegerType).add("side", DataTypes.StringType).add("sigma", DataTypes.DoubleType)
                .add("method", DataTypes.StringType).add("lambda", DataTypes.DoubleType).add("k", DataTypes.IntegerType).add("concepts", CONCEPTS)
                .add("fidelity", DataTypes.DoubleType).add("fidelity_residual", DataTypes.DoubleType).add("coherence", DataTypes.DoubleType)
                .add("degenerate", DataTypes.BooleanType).add("dictionary", DataTypes.StringType).add("tower", DataTypes.StringType)
                .add("component", DataTypes.StringType).add("image", DataTypes.StringType);
        List<Row> expl = new ArrayList<>();
        String[] pool = {"golden retriever", "beach", "sky", "puppy", "sand", "water", "grass"};
        for (int i : new int[] {0, 1, 2, 3, 5, 6}) {
            List<Row> c = new ArrayList<>();
            for (int j = 0; j < 4; j++) c.add(RowFactory.create(j + i, pool[(i + 2 * j) % pool.length], 0.7 - 0.2 * j));
            expl.add(RowFactory.create("demo", null, null, null, null, null, null, "comp", 0.3, 4, c, 0.6 + 0.03 * i, null, 0.4, false, "demo", "vision", null,
                    names.get(i)));
        }
        spark.createDataFrame(expl, explSchema).coalesce(1).write().parquet(root.resolve("image_explanations").toString());

        Path out = tmp.resolve("report");
        Run report = cli("report", "--in", String.join(",", root.resolve("explanations").toString(), root.resolve("image_embeddings").toString(),
                root.resolve("image_contributions").toString(), root.resolve("image_explanations").toString()),
                "--images", images.toString(), "--images-shown", String.valueOf(SHOWN), "--out", out.toString());
        assertEquals(0, report.status(), report.stderr());
        assertTrue(report.stdout().contains("not shown: image_embeddings"), report.stdout());
        Chromium.require();
        Chromium.Page page = Chromium.run(tmp, out.resolve("report/index.html"), "--dump-dom");
        assertEquals(Set.of(), Chromium.foreign(page), "network requests of the page");
        dom = page.dom();
        assertTrue(dom.contains("data-rendered=\"true\""), "the script ran to its end");
    }

    static String contributions() {
        return "read_parquet('" + root + "/image_contributions/*.parquet')";
    }

    static String explanations() {
        return "read_parquet('" + root + "/explanations/**/*.parquet', hive_partitioning = true)";
    }

    static List<List<String>> duck(String sql) throws Exception {
        List<List<String>> out = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery(sql);
            int n = r.getMetaData().getColumnCount();
            while (r.next()) {
                List<String> row = new ArrayList<>();
                for (int i = 1; i <= n; i++) row.add(r.getString(i));
                out.add(row);
            }
        }
        return out;
    }

    static int count(String s, String regex) {
        Matcher m = Pattern.compile(regex).matcher(s);
        int n = 0;
        while (m.find()) n++;
        return n;
    }

    /** The n-th image card of the page. */
    static String card(int n) {
        String start = "<div class=\"image-card\" id=\"img-" + n + "\"";
        int a = dom.indexOf(start);
        assertTrue(a >= 0, "missing card " + n);
        int b = dom.indexOf("<div class=\"image-card\"", a + start.length());
        int end = dom.indexOf("</section>", a);
        return dom.substring(a, b >= 0 && b < end ? b : end);
    }

    /** The concept names of a cell in page order. */
    static List<String> shownConcepts(String html) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("<span class=\"concept\">(.*?) <small>").matcher(html);
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void theFirstImagesAreShownAndTheRestCounted() throws Exception {
        String section = ReportTest.between(dom, "<section id=\"per-image\"", "</section>");
        assertTrue(section.contains("<h2>Images</h2>"), section.substring(0, 200));
        List<List<String>> all = duck("SELECT DISTINCT image FROM (SELECT image FROM " + contributions() + " UNION SELECT image FROM read_parquet('" + root
                + "/image_explanations/*.parquet')) ORDER BY image");
        assertEquals(7, all.size());
        assertEquals(SHOWN, count(section, "<div class=\"image-card\""), "one card per shown image");
        for (int n = 0; n < SHOWN; n++) assertTrue(card(n).startsWith("<div class=\"image-card\" id=\"img-" + n + "\" data-image=\"" + all.get(n).get(0) + "\">"), card(n));
        assertTrue(section.contains(SHOWN + " of 7 image(s) shown (the first by id; 2 more not shown)"), section);
        assertTrue(dom.contains("href=\"#per-image\">Images</a>"), "listed in the page's navigation");
    }

    @Test
    void eachCardHasTheImagesOwnThumbnail() throws Exception {
        for (int n = 0; n < SHOWN; n++) {
            String card = card(n);
            Matcher m = Pattern.compile("<img class=\"thumb image-thumb\" src=\"data:image/jpeg;base64,([A-Za-z0-9+/=]+)\" alt=\"([^\"]+)\"").matcher(card);
            assertTrue(m.find(), card.substring(0, 300));
            assertFalse(m.find(), "one thumbnail per card");
            m.reset().find();
            BufferedImage thumb = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(m.group(1))));
            assertNotNull(thumb);
            Color expected = colours.get(m.group(2));
            int rgb = thumb.getRGB(3, 3); // a corner: the image's fill colour
            assertEquals(expected.getRed(), (rgb >> 16) & 255, 12, m.group(2));
            assertEquals(expected.getGreen(), (rgb >> 8) & 255, 12, m.group(2));
            assertEquals(expected.getBlue(), rgb & 255, 12, m.group(2));
        }
    }

    @Test
    void barsFollowTheRowsOfEachImageWithTheirSignedShares() throws Exception {
        String kinds = "[" + String.join(", ", KIND_ORDER.stream().map(k -> "'" + k + "'").toList()) + "]";
        int negatives = 0;
        for (int n = 0; n < SHOWN; n++) {
            String card = card(n);
            String image = duck("SELECT DISTINCT image FROM (SELECT image FROM " + contributions() + " UNION SELECT image FROM read_parquet('" + root
                    + "/image_explanations/*.parquet')) ORDER BY image LIMIT 1 OFFSET " + n).get(0).get(0);
            List<List<String>> rows = duck("SELECT component, share, rank FROM " + contributions() + " WHERE image = '" + image
                    + "' ORDER BY rank NULLS LAST, list_position(" + kinds + ", component)");
            if (rows.isEmpty()) {
                assertEquals("img2.png", image);
                assertEquals(0, count(card, "class=\"share-bar"), "no contributions, no bars");
                continue;
            }
            assertEquals(11, rows.size());
            Matcher zero = Pattern.compile("data-zero=\"([0-9.]+)\"").matcher(card);
            Matcher bar = Pattern.compile("<rect x=\"([-0-9.]+)\" y=\"2\" width=\"([0-9.]+)\" height=\"8\" class=\"share-bar (pos|neg)\" data-share=\"([-0-9.eE]+)\"").matcher(card);
            Matcher comp = Pattern.compile("<tr class=\"share-row[^\"]*\" data-component=\"([a-z_]+)\">").matcher(card);
            double sum = 0;
            for (List<String> r : rows) {
                assertTrue(zero.find() && bar.find() && comp.find(), image + ": fewer bars than rows");
                assertEquals(r.get(0), comp.group(1), image);
                double share = Double.parseDouble(r.get(1));
                sum += share;
                assertEquals(share, Double.parseDouble(bar.group(4)), 1e-6, image + " " + r);
                double x = Double.parseDouble(bar.group(1)), w = Double.parseDouble(bar.group(2)), z = Double.parseDouble(zero.group(1));
                if (share < 0) {
                    negatives++;
                    assertEquals("neg", bar.group(3));
                    assertEquals(z, x + w, 0.02, "a negative bar ends at the zero line");
                } else {
                    assertEquals("pos", bar.group(3));
                    assertEquals(z, x, 0.02, "a positive bar starts at the zero line");
                }
            }
            assertFalse(bar.find(), image + ": more bars than rows");
            assertEquals(1.0, sum, 1e-9, "shares of an image add to 1");
            assertTrue(card.contains("<td>sum</td><td></td><td class=\"num\">100.00 %</td>"), card);
            // the largest bar spans the axis: bars share one scale per image
            List<Double> widths = new ArrayList<>();
            Matcher all = Pattern.compile("class=\"share-chart\" width=\"(\\d+)\"[^>]*>.*?<rect x=\"[-0-9.]+\" y=\"2\" width=\"([0-9.]+)\"").matcher(card);
            double axis = 0;
            while (all.find()) {
                widths.add(Double.parseDouble(all.group(2)));
                axis = Double.parseDouble(all.group(1));
            }
            double lo = 0, hi = 0;
            for (List<String> r : rows) {
                lo = Math.min(lo, Double.parseDouble(r.get(1)));
                hi = Math.max(hi, Double.parseDouble(r.get(1)));
            }
            for (int i = 0; i < rows.size(); i++) {
                assertEquals(Math.abs(Double.parseDouble(rows.get(i).get(1))) / (hi - lo) * axis, widths.get(i), 0.02, image + " bar " + i);
            }
        }
        assertTrue(negatives >= SHOWN - 1, "negative shares drawn: " + negatives);
    }

    @Test
    void vectorsShowTheirOwnConceptsOrTheirExplanations() throws Exception {
        int joined = 0;
        int own = 0;
        for (int n = 0; n < SHOWN; n++) {
            String card = card(n);
            Matcher id = Pattern.compile("data-image=\"([^\"]+)\"").matcher(card);
            assertTrue(id.find());
            List<List<String>> rows = duck("SELECT c.rank, c.component, c.layer, c.head, c.sv, c.score, c.concepts IS NULL, "
                    + "array_to_string(list_transform(coalesce(c.concepts, e.concepts), x -> x.concept), '|') FROM " + contributions() + " c LEFT JOIN "
                    + explanations() + " e ON c.component = 'vo' AND e.layer = c.layer AND e.head = c.head AND e.sv = c.sv "
                    + "WHERE c.image = '" + id.group(1) + "' AND c.rank IS NOT NULL ORDER BY c.rank");
            Matcher tr = Pattern.compile("<tr class=\"share-row\" data-component=\"[a-z_]+\">(.*?)</tr>").matcher(card);
            for (List<String> r : rows) {
                assertTrue(tr.find(), "a row per ranked vector");
                String row = tr.group(1);
                assertTrue(row.startsWith("<td class=\"num\">" + r.get(0) + "</td>"), row);
                String label = r.get(1).equals("vo") ? "L" + r.get(2) + " h" + r.get(3) + " sv " + r.get(4) : "L" + r.get(2) + " neuron " + r.get(4);
                assertTrue(row.contains(">" + label + "</"), label + " in " + row);
                if (r.get(1).equals("vo")) assertTrue(row.contains("href=\"#s0-L" + r.get(2) + "-H" + r.get(3) + "-V" + r.get(4) + "\""), "links to its head: " + row);
                assertTrue(row.contains(String.format(Locale.ROOT, "<td class=\"num\">%.3f</td>", Double.parseDouble(r.get(5)))), row);
                assertNotNull(r.get(7), "every vector has concepts, its own or its explanation's: " + r);
                assertEquals(Arrays.asList(r.get(7).split("\\|")), shownConcepts(row), row);
                if (Boolean.parseBoolean(r.get(6))) joined++; else own++;
            }
        }
        assertTrue(joined > 5 && own > 5, "both paths taken: " + joined + " joined, " + own + " own");
        assertTrue(dom.contains("neuron 17</span>"), "the MLP neuron's row");
    }

    @Test
    void eachImageShowsItsOwnExplanation() throws Exception {
        int with = 0;
        for (int n = 0; n < SHOWN; n++) {
            String card = card(n);
            Matcher id = Pattern.compile("data-image=\"([^\"]+)\"").matcher(card);
            assertTrue(id.find());
            List<List<String>> e = duck("SELECT array_to_string(list_transform(concepts, x -> x.concept), '|'), fidelity, method FROM read_parquet('" + root
                    + "/image_explanations/*.parquet') WHERE image = '" + id.group(1) + "'");
            if (e.isEmpty()) {
                assertFalse(card.contains("class=\"image-expl\""), card);
                continue;
            }
            with++;
            String div = ReportTest.between(card, "<div class=\"image-expl\">", "</div>");
            assertTrue(div.contains(String.format(Locale.ROOT, "its own explanation (%s), fidelity %.3f", e.get(0).get(2), Double.parseDouble(e.get(0).get(1)))), div);
            assertEquals(Arrays.asList(e.get(0).get(0).split("\\|")), shownConcepts(div), div);
        }
        assertEquals(SHOWN - 1, with);
    }

    @Test
    void withoutTheImageFoldersThePageIsTheOneItWas() throws Exception {
        Path out = tmp.resolve("plain");
        Run r = cli("report", "--in", root.resolve("explanations") + "," + root.resolve("image_embeddings"), "--out", out.toString());
        assertEquals(0, r.status(), r.stderr());
        String html = Files.readString(out.resolve("report/index.html"));
        Matcher blob = Pattern.compile("<script id=\"sith-data\" type=\"application/json\">(.*?)</script>", Pattern.DOTALL).matcher(html);
        assertTrue(blob.find());
        JsonNode data = new ObjectMapper().readTree(blob.group(1));
        List<String> keys = new ArrayList<>();
        for (Iterator<String> it = data.fieldNames(); it.hasNext();) keys.add(it.next());
        assertEquals(List.of("title", "sources", "explanations", "eager", "edits", "zeroshot", "retrieval", "diff_heads", "diff_vectors", "images", "concepts",
                "unreadable_images"), keys, "the blob's keys as before explain-images");
        assertFalse(html.contains("\"per_image\""));
        assertEquals(0, data.get("images").size());
        if (Chromium.binary() == null) return;
        String plain = Chromium.run(tmp, out.resolve("report/index.html"), "--dump-dom").dom();
        assertTrue(plain.contains("data-rendered=\"true\""));
        assertFalse(plain.contains("<section id=\"per-image\"") || plain.contains("<div class=\"image-card\""), "no image section");
    }

    @Test
    void imagesShownMustBePositive() {
        Run r = cli("report", "--in", root.resolve("image_contributions").toString(), "--images-shown", "0", "--out", tmp.resolve("r0").toString());
        assertEquals(2, r.status());
        assertTrue(r.stderr().contains("--images-shown"), r.stderr());
        assertFalse(Files.exists(tmp.resolve("r0/report")));
    }
}
