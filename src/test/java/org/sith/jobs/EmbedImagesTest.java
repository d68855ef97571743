package org.sith.jobs;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.RelativeError;
import org.sith.SparkTestBase;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.io.Npy;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;

import static org.sith.jobs.EmbedImagesJob.FOLDER;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * `embed-images` end to end on the image commands' synthetic tower and PNGs (one corrupt): every row read back by
 * DuckDB (not Spark) equals the vision tower run on that image in the test and the double-precision reference
 * forward pass; the mean of the normalized rows is what image-mean writes; the broken image is skipped and
 * counted; existing output is refused; `sql` and `report` read an --out that holds the folder.
 */
class EmbedImagesTest extends SparkTestBase {
    static final int P = SyntheticImages.P;

    @TempDir
    static Path tmp;
    static SyntheticImages in;

    @BeforeAll
    static void inputs() throws Exception {
        in = SyntheticImages.write(tmp);
    }

    /** An image_embeddings/ folder as DuckDB reads it: image id → embedding, in file then row order. */
    /** Each image's raw embedding, rebuilt as {@code embedding · norm} after checking that the stored embedding is a unit vector. */
    static LinkedHashMap<String, float[]> read(String folder, List<String> models) throws Exception {
        LinkedHashMap<String, float[]> rows = new LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT model, image, embedding, typeof(embedding), norm FROM read_parquet('" + folder + "/*.parquet', "
                    + "filename = true, file_row_number = true) ORDER BY filename, file_row_number");
            while (r.next()) {
                assertEquals("FLOAT[]", r.getString(4), "embedding is array<float>");
                Object[] a = (Object[]) r.getArray(3).getArray();
                float[] e = new float[a.length];
                double unit = 0;
                for (int j = 0; j < a.length; j++) unit += (double) (Float) a[j] * (Float) a[j];
                assertEquals(1, unit, 1e-5, "image " + r.getString(2) + ": the stored embedding is e/‖e‖");
                double norm = r.getDouble(5);
                for (int j = 0; j < a.length; j++) e[j] = (float) ((Float) a[j] * norm);
                assertTrue(rows.put(r.getString(2), e) == null, "image " + r.getString(2) + " twice");
                models.add(r.getString(1));
            }
        }
        return rows;
    }

    static JsonNode runRecord(Path p) throws Exception {
        return new ObjectMapper().readTree(p.toFile());
    }

    static List<String> listing(Path p) throws Exception {
        try (Stream<Path> s = Files.walk(p)) {
            return s.map(x -> p.relativize(x) + (Files.isRegularFile(x) ? " " + x.toFile().length() + " " + x.toFile().lastModified() : "")).sorted().toList();
        }
    }

    @Test
    void eachRowIsThatImagesRawForwardPassInIdOrderAndTheBrokenImageIsSkippedAndCounted() throws Exception {
        Path out = tmp.resolve("out-rows");
        // 10 images in slices of 4: broken.png + img0..img2, img3..img6, img7..img8
        Run run = cli("embed-images", "--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--images-per-task", "4",
                "--out", out.toString());
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("embed-images: skipped") && run.stderr().contains("broken.png"), run.stderr());
        assertTrue(run.stdout().contains("9 images embedded (p = 24), 1 skipped"), run.stdout());

        List<String> models = new ArrayList<>();
        LinkedHashMap<String, float[]> rows = read(out + "/image_embeddings", models);
        assertEquals(in.pixels().keySet().stream().sorted().toList(), new ArrayList<>(rows.keySet()), "every decoded image once, in id order");
        assertEquals(List.of("model"), models.stream().distinct().toList(), "named after the checkpoint's folder");
        try (Stream<Path> files = Files.list(out.resolve("image_embeddings"))) {
            assertEquals(3, files.filter(f -> f.toString().endsWith(".parquet")).count(), "one file per slice, written by its task");
        }

        // the tower itself, one image per product, and the double-precision reference
        VisionTower tower;
        try (ClipCheckpoint ck = ClipCheckpoint.open(in.checkpoint().toString(), new Configuration(), null)) {
            tower = VisionTower.load(ck, null);
        }
        for (Map.Entry<String, float[]> e : rows.entrySet()) {
            float[] px = in.pixels().get(e.getKey());
            float[] direct = tower.embed(px, 1, 1, new Workspace())[0];
            double[] reference = in.referenceEmbedding(px);
            assertEquals(P, e.getValue().length);
            assertTrue(RelativeError.of(e.getValue(), toDouble(direct)) < 1e-6, e.getKey() + " against the tower: " + RelativeError.of(e.getValue(), toDouble(direct)));
            assertTrue(RelativeError.of(e.getValue(), reference) < 1e-5, e.getKey() + " against the reference: " + RelativeError.of(e.getValue(), reference));
            double norm = Math.sqrt(dot(reference, reference));
            assertTrue(Math.abs(norm - 1) > 0.01, "the reference norm " + norm + " tells raw from normalized rows");
        }

        JsonNode record = runRecord(out.resolve("image_embeddings/_run.json"));
        assertEquals("embed-images", record.get("command").asText());
        assertEquals(9, record.get("results").get("images").asInt());
        assertEquals(1, record.get("results").get("skipped").size());
        assertTrue(record.get("results").get("skipped").get(0).asText().contains("broken.png"), record.get("results").toString());
        assertEquals(P, record.get("results").get("embedding_dim").asInt());
        List<String> roles = new ArrayList<>();
        record.get("inputs").forEach(i -> roles.add(i.get("role").asText()));
        assertEquals(List.of("checkpoint", "images"), roles, record.get("inputs").toString());
        assertEquals(10, record.get("inputs").get(1).get("images").asInt(), "the image set, broken one included, is fingerprinted");
        assertTrue(Files.exists(out.resolve("_run.json")));
    }

    @Test
    void theMeanOfTheNormalizedRowsIsWhatImageMeanWritesAndPixelRowsKeepTheirOrder() throws Exception {
        Path out = tmp.resolve("out-mean");
        String ck = in.checkpoint().toString();
        assertEquals(0, cli("image-mean", "--checkpoint", ck, "--images", in.images().toString(), "--images-per-task", "3", "--out", out.toString()).status());
        Run run = cli("embed-images", "--checkpoint", ck, "--images", in.images().toString(), "--images-per-task", "3", "--out", out.toString());
        assertEquals(0, run.status(), run.stderr());
        LinkedHashMap<String, float[]> rows = read(out + "/image_embeddings", new ArrayList<>());
        assertEquals(9, rows.size());
        double[] mean = new double[P];
        for (float[] e : rows.values()) {
            double n = 0;
            for (float v : e) n += (double) v * v;
            for (int j = 0; j < P; j++) mean[j] += e[j] / Math.sqrt(n) / rows.size();
        }
        float[] imageMean = Npy.read(out + "/image_mean.npy", new Configuration()).data();
        assertEquals(P, imageMean.length);
        for (int j = 0; j < P; j++) assertEquals(mean[j], imageMean[j], 1e-6, "component " + j);

        // a pixel .npy of 12 rows (row r = image r mod 9): ids are the row indices, rows in row order (…, 9, 10, 11, not 1, 10, 11, 2)
        List<String> ids = new ArrayList<>(in.pixels().keySet());
        int block = 3 * SyntheticImages.SIZE * SyntheticImages.SIZE;
        float[] all = new float[12 * block];
        for (int r = 0; r < 12; r++) System.arraycopy(in.pixels().get(ids.get(r % 9)), 0, all, r * block, block);
        Path npy = tmp.resolve("pixels12.npy");
        ImagesTest.writePixels(npy, all, 12);
        Path outNpy = tmp.resolve("out-npy");
        assertEquals(0, cli("embed-images", "--checkpoint", ck, "--images", npy.toString(), "--images-per-task", "5", "--out", outNpy.toString()).status());
        LinkedHashMap<String, float[]> byRow = read(outNpy + "/image_embeddings", new ArrayList<>());
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"), new ArrayList<>(byRow.keySet()));
        for (int r = 0; r < 12; r++) {
            float[] want = rows.get(ids.get(r % 9));
            float[] got = byRow.get(Integer.toString(r));
            for (int j = 0; j < P; j++) assertEquals(want[j], got[j], 1e-6 * Math.max(1, Math.abs(want[j])), "row " + r + " component " + j);
        }
    }

    @Test
    void existingOutputIsRefusedWithoutOverwrite() throws Exception {
        Path out = tmp.resolve("out-again");
        String[] args = {"embed-images", "--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--out", out.toString()};
        assertEquals(0, cli(args).status());
        List<String> before = listing(out);
        Run again = cli(args);
        assertEquals(2, again.status(), again.stderr());
        assertEquals(1, again.stderr().strip().lines().count(), again.stderr());
        assertTrue(again.stderr().contains("image_embeddings/ already exists") && again.stderr().contains("--overwrite"), again.stderr());
        assertEquals(before, listing(out), "the refused run changed nothing");

        List<String> withOverwrite = new ArrayList<>(List.of(args));
        withOverwrite.add("--overwrite");
        Run over = cli(withOverwrite.toArray(new String[0]));
        assertEquals(0, over.status(), over.stderr());
        assertEquals(9, read(out + "/image_embeddings", new ArrayList<>()).size());
    }

    @Test
    void noDecodableImageIsOneLineExit2AndNoPartialOutput() throws Exception {
        Path broken = Files.createDirectories(tmp.resolve("only-broken"));
        Files.writeString(broken.resolve("a.png"), "not a png");
        Files.writeString(broken.resolve("b.jpg"), "not a jpeg either");
        Path out = Files.createDirectories(tmp.resolve("out-broken"));
        Files.writeString(out.resolve("notes.txt"), "the user's own file");
        List<String> before = listing(out);
        Run run = cli("embed-images", "--checkpoint", in.checkpoint().toString(), "--images", broken.toString(), "--images-per-task", "1",
                "--out", out.toString());
        assertEquals(2, run.status(), run.stderr());
        List<String> errors = run.stderr().lines().filter(l -> l.contains(": error: ")).toList();
        assertEquals(1, errors.size(), run.stderr());
        assertFalse(run.stderr().contains("\tat "), "no stack trace: " + run.stderr());
        assertTrue(errors.get(0).startsWith("sith embed-images: error: ") && errors.get(0).contains("none of the 2 images could be decoded"), run.stderr());
        assertEquals(before, listing(out), "no image_embeddings/, no staging folder left");
    }

    @Test
    void sqlQueriesTheFolderAsAViewAndReportLeavesItOut() throws Exception {
        Path out = tmp.resolve("out-sql");
        String ck = in.checkpoint().toString();
        Path concepts = ImagesTest.writeConcepts(tmp.resolve("concepts"));
        Run d = cli("decompose", "--checkpoint", ck, "--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt", "--layers", "last:1",
                "--rank", "2", "--out", out.toString());
        assertEquals(0, d.status(), d.stderr());
        assertEquals(0, cli("embed-images", "--checkpoint", ck, "--images", in.images().toString(), "--out", out.toString()).status());

        Run q = cli("sql", "--out", out.toString(), "--format", "csv",
                "WITH v AS (SELECT model, count(*) AS vectors FROM explanations GROUP BY model) "
                        + "SELECT i.image, size(i.embedding) AS p, round(aggregate(i.embedding, 0D, (a, x) -> a + CAST(x AS DOUBLE) * x), 4) AS sq, v.vectors "
                        + "FROM image_embeddings i JOIN v ON i.model = v.model ORDER BY i.image");
        assertEquals(0, q.status(), q.stderr());
        List<String> lines = q.stdout().strip().lines().toList();
        assertEquals("image,p,sq,vectors", lines.get(0));
        List<String> want = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT image, len(embedding), round(list_sum(list_transform(embedding, x -> x::DOUBLE * x)), 4) FROM read_parquet('"
                    + out + "/image_embeddings/*.parquet') ORDER BY image");
            while (r.next()) want.add(r.getString(1) + "," + r.getInt(2) + "," + r.getDouble(3) + "," + 4 * 2);
        }
        assertEquals(9, want.size());
        assertEquals(want, lines.subList(1, lines.size()), "the view, joined on model with decompose's explanations, against DuckDB");

        Run report = cli("report", "--out", out.toString());
        assertEquals(0, report.status(), report.stderr());
        JsonNode results = runRecord(out.resolve("report/_run.json")).get("results");
        assertTrue(results.get("ignored").toString().contains("image_embeddings"), results.toString());
        assertTrue(results.get("shown").toString().contains("explanations"), results.toString());
    }

    /**
     * --tower-precision (SPEC §12): f32 is the default and writes the same bytes as asking for it; bf16 writes embeddings
     * within a cosine of 0.999 of f32's but not equal to them, reads the weights once for all its tasks, and its
     * `_run.json` records the precision with the parameters and says the results are approximate.
     */
    @Test
    void towerPrecisionBf16IsApproximateAndSaysSoWhileF32StaysTheDefault() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(org.sith.linalg.OneDnn.unavailable() == null || org.sith.TestData.ci(),
                "oneDNN cannot run here: " + org.sith.linalg.OneDnn.unavailable());
        String ck = in.checkpoint().toString();
        Path dflt = tmp.resolve("out-precision-default");
        Path f32 = tmp.resolve("out-precision-f32");
        Path bf16 = tmp.resolve("out-precision-bf16");
        assertEquals(0, cli("embed-images", "--checkpoint", ck, "--images", in.images().toString(), "--images-per-task", "4", "--out", dflt.toString()).status());
        assertEquals(0, cli("embed-images", "--checkpoint", ck, "--images", in.images().toString(), "--images-per-task", "4",
                "--tower-precision", "f32", "--out", f32.toString()).status());
        int loadsBefore = org.sith.executor.TowerCache.VISION.loads();
        Run run = cli("embed-images", "--checkpoint", ck, "--images", in.images().toString(), "--images-per-task", "4",
                "--tower-precision", "bf16", "--out", bf16.toString());
        assertEquals(0, run.status(), run.stderr());
        assertEquals(1, org.sith.executor.TowerCache.VISION.loads() - loadsBefore, "the bf16 tower (its weights packed) read once for 3 tasks");

        assertEquals(parquetBytes(dflt.resolve(FOLDER)), parquetBytes(f32.resolve(FOLDER)), "f32 is the default: the same bytes");
        LinkedHashMap<String, float[]> want = read(f32 + "/" + FOLDER, new ArrayList<>());
        LinkedHashMap<String, float[]> got = read(bf16 + "/" + FOLDER, new ArrayList<>());
        assertEquals(new ArrayList<>(want.keySet()), new ArrayList<>(got.keySet()));
        double worst = 1;
        for (String id : want.keySet()) {
            float[] w = want.get(id);
            float[] g = got.get(id);
            assertFalse(java.util.Arrays.equals(w, g), id + ": bf16 wrote the f32 embedding bit for bit");
            double cos = dot(toDouble(w), toDouble(g)) / Math.sqrt(dot(toDouble(w), toDouble(w)) * dot(toDouble(g), toDouble(g)));
            worst = Math.min(worst, cos);
        }
        assertTrue(worst >= 0.999, "worst cosine of bf16 against f32: " + worst);

        JsonNode f32Record = runRecord(f32.resolve(FOLDER + "/_run.json"));
        assertEquals("f32", f32Record.get("parameters").get("tower_precision").asText());
        assertFalse(f32Record.get("parameters").has("tower_precision_note"), "f32 results are not approximate");
        assertEquals("f32", runRecord(dflt.resolve("_run.json")).get("options").get("tower-precision").asText());
        JsonNode record = runRecord(bf16.resolve(FOLDER + "/_run.json"));
        assertEquals("bf16", record.get("options").get("tower-precision").asText());
        assertEquals("bf16", record.get("parameters").get("tower_precision").asText());
        String note = record.get("parameters").get("tower_precision_note").asText();
        assertTrue(note.startsWith("approximate") && note.contains("oneDNN") && note.contains("ISA"), note);
    }

    /** The Parquet files of a folder in name order (part index first), as bytes. */
    static List<String> parquetBytes(Path folder) throws Exception {
        try (Stream<Path> s = Files.list(folder)) {
            List<Path> files = s.filter(f -> f.toString().endsWith(".parquet")).sorted().toList();
            List<String> out = new ArrayList<>();
            for (Path f : files) out.add(f.getFileName().toString().substring(0, 10) + " " + java.util.HexFormat.of().formatHex(
                    java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
            return out;
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
