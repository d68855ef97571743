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
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.TensorData;
import org.sith.io.Npy;
import org.sith.model.ReferenceMatchScores;
import org.sith.model.ReferenceVisionForward;
import org.sith.model.VisionFixtures;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * preprocess, image-mean and match-images end to end on a small random vision tower and a folder of
 * PNGs (one of them corrupt), against the plain references: pixels by hand, embeddings and traces by
 * the double-precision forward pass, scores by a dense SVD of each head's VO matrix.
 */
class ImagesTest extends SparkTestBase {
    static final int SIZE = SyntheticImages.SIZE;
    static final int HEADS = SyntheticImages.HEADS;

    @TempDir
    static Path tmp;
    static LinkedHashMap<String, TensorData> tensors;
    static Path ckpt;
    static Path images;
    static Map<String, float[]> pixels; // image id → 3×S×S, computed by hand

    @BeforeAll
    static void inputs() throws Exception {
        SyntheticImages in = SyntheticImages.write(tmp);
        tensors = in.tensors();
        ckpt = in.checkpoint();
        images = in.images();
        pixels = in.pixels();
    }

    static double[] referenceEmbedding(float[] px) {
        return ReferenceVisionForward.embed(tensors, false, HEADS, true, px);
    }

    @Test
    void preprocessWritesExactPixelsAndListsTheBrokenImage() throws Exception {
        String out = tmp.resolve("out-pre").toString();
        Run run = cli("preprocess", "--images", images.toString(), "--size", Integer.toString(SIZE), "--out", out, "--images-per-task", "4");
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("broken.png"), run.stderr());
        Npy.NpyArray a = readPixels(Path.of(out, "pixels.npy"));
        assertEquals(9, a.shape()[0]);
        List<String> ids = new ArrayList<>(pixels.keySet());
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT row, image, error FROM read_parquet('" + out + "/pixels_index/*.parquet') ORDER BY image");
            int seen = 0;
            while (r.next()) {
                seen++;
                if (r.getString(2).equals("broken.png")) {
                    assertEquals(null, r.getObject(1));
                    assertTrue(r.getString(3).contains("broken.png"));
                    continue;
                }
                int row = r.getInt(1);
                float[] want = pixels.get(r.getString(2));
                float[] got = Arrays.copyOfRange(a.data(), row * want.length, (row + 1) * want.length);
                for (int k = 0; k < want.length; k++) assertEquals(want[k], got[k], 1e-6, r.getString(2) + " value " + k);
            }
            assertEquals(10, seen);
        }
        assertTrue(ids.size() == 9);
    }

    /** A 4-D .npy read back through the row reader (the whole-array reader takes 1-D and 2-D only). */
    static Npy.NpyArray readPixels(Path p) {
        Configuration conf = new Configuration();
        Npy.RowFile f = Npy.openRows("pixels", p.toString(), conf, 4);
        return new Npy.NpyArray(f.shape(), Npy.readRows(f, conf, 0, (int) f.rows()));
    }

    @Test
    void imageMeanIsTheMeanOfNormalizedReferenceEmbeddingsAndDecomposeTakesIt() throws Exception {
        String out = tmp.resolve("out-mean").toString();
        Run run = cli("image-mean", "--checkpoint", ckpt.toString(), "--images", images.toString(), "--out", out, "--images-per-task", "4");
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("skipped") && run.stderr().contains("broken.png"), run.stderr());
        double[] want = new double[24];
        for (float[] px : pixels.values()) {
            double[] e = referenceEmbedding(px);
            double n = 0;
            for (double v : e) n += v * v;
            for (int j = 0; j < 24; j++) want[j] += e[j] / Math.sqrt(n) / pixels.size();
        }
        float[] got = Npy.read(out + "/image_mean.npy", new Configuration()).data();
        for (int j = 0; j < 24; j++) assertEquals(want[j], got[j], 1e-5);

        // the same through an .npy of the pixels: equal up to rounding
        Path npy = tmp.resolve("pixels.npy");
        float[] all = new float[pixels.size() * 3 * SIZE * SIZE];
        int i = 0;
        for (float[] px : pixels.values()) System.arraycopy(px, 0, all, i++ * px.length, px.length);
        writePixels(npy, all, pixels.size());
        String out2 = tmp.resolve("out-mean-npy").toString();
        assertEquals(0, cli("image-mean", "--checkpoint", ckpt.toString(), "--images", npy.toString(), "--out", out2).status());
        float[] got2 = Npy.read(out2 + "/image_mean.npy", new Configuration()).data();
        for (int j = 0; j < 24; j++) assertEquals(got[j], got2[j], 1e-6);

        // decompose takes the mean it wrote (the .npy and the Parquet folder)
        Path concepts = writeConcepts();
        for (String mean : List.of(out + "/image_mean.npy", out + "/image_mean")) {
            Run d = cli("decompose", "--checkpoint", ckpt.toString(), "--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt",
                    "--image-mean", mean, "--layers", "last:1", "--out", tmp.resolve("out-dec-" + mean.hashCode()).toString());
            assertEquals(0, d.status(), d.stderr());
        }
    }

    static void writePixels(Path p, float[] data, int n) throws Exception {
        byte[] header = Npy.header("<f4", new long[] {n, 3, SIZE, SIZE});
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(header.length + data.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.put(header);
        bb.asFloatBuffer().put(data);
        Files.write(p, bb.array());
    }

    static Path writeConcepts() throws Exception {
        return writeConcepts(tmp.resolve("concepts"));
    }

    /** 40 random concepts of width 24 as {@code emb.npy} and {@code vocab.txt} in {@code folder}. */
    static Path writeConcepts(Path folder) throws Exception {
        Path dir = Files.createDirectories(folder);
        if (Files.exists(dir.resolve("emb.npy"))) return dir;
        Random rnd = new Random(5);
        int n = 40;
        float[] e = new float[n * 24];
        for (int k = 0; k < e.length; k++) e[k] = (float) rnd.nextGaussian();
        Npy.write(dir.resolve("emb.npy").toString(), new Configuration(), new long[] {n, 24}, e);
        List<String> names = new ArrayList<>();
        for (int k = 0; k < n; k++) names.add("concept " + k);
        Files.writeString(dir.resolve("vocab.txt"), String.join("\n", names) + "\n");
        return dir;
    }

    @Test
    void matchImagesEqualsBruteForceScoresPerHead() throws Exception {
        Path concepts = writeConcepts();
        String dec = tmp.resolve("out-dec-match").toString();
        Run d = cli("decompose", "--checkpoint", ckpt.toString(), "--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt",
                "--layers", "0,2", "--rank", "6", "--out", dec);
        assertEquals(0, d.status(), d.stderr());
        String out = tmp.resolve("out-match").toString();
        int top = 3;
        Run run = cli("match-images", "--checkpoint", ckpt.toString(), "--images", images.toString(), "--explanations", dec + "/explanations",
                "--top", Integer.toString(top), "--out", out, "--images-per-task", "4");
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("broken.png"), run.stderr());

        // brute force: every image's trace, every head's dense SVD
        Map<String, ReferenceVisionForward.Trace> traces = new HashMap<>();
        pixels.forEach((id, px) -> traces.put(id, ReferenceVisionForward.trace(tensors, false, HEADS, true, px)));
        Map<String, List<Object[]>> want = new HashMap<>();
        for (int layer : new int[] {0, 2}) {
            for (int h = 0; h < HEADS; h++) {
                ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(tensors, false, layer, h, HEADS);
                for (int sv = 0; sv < 6; sv++) {
                    List<Object[]> scored = new ArrayList<>();
                    for (String id : pixels.keySet()) {
                        double[] z = ReferenceVisionForward.z(traces.get(id), layer, h);
                        scored.add(new Object[] {id, ReferenceMatchScores.score(z, svd.sigma()[sv], svd.u()[sv])});
                    }
                    scored.sort(Comparator.<Object[]>comparingDouble(o -> -(double) o[1]).thenComparing(o -> (String) o[0]));
                    want.put(layer + "/" + h + "/" + sv, scored.subList(0, top));
                }
            }
        }
        int rows = 0;
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, rank, image, score FROM read_parquet('" + out + "/matches/*.parquet') "
                    + "ORDER BY layer, head, sv, rank");
            while (r.next()) {
                rows++;
                Object[] w = want.get(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3)).get(r.getInt(4) - 1);
                assertEquals(w[0], r.getString(5), "image at " + r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3) + " rank " + r.getInt(4));
                assertEquals((double) w[1], r.getDouble(6), 1e-4 * Math.max(1, Math.abs((double) w[1])));
            }
        }
        assertEquals(2 * HEADS * 6 * top, rows);

        // --tower-precision bf16: the probe's blocks through oneDNN; every vector's scores stay close to the exact ones
        if (org.sith.linalg.OneDnn.unavailable() == null) {
            String outBf16 = tmp.resolve("out-match-bf16").toString();
            Run bf16 = cli("match-images", "--checkpoint", ckpt.toString(), "--images", images.toString(), "--explanations", dec + "/explanations",
                    "--top", Integer.toString(top), "--out", outBf16, "--images-per-task", "4", "--tower-precision", "bf16");
            assertEquals(0, bf16.status(), bf16.stderr());
            int close = 0;
            int scored = 0;
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                ResultSet r = s.executeQuery("SELECT layer, head, sv, rank, image, score FROM read_parquet('" + outBf16 + "/matches/*.parquet') "
                        + "ORDER BY layer, head, sv, rank");
                while (r.next()) {
                    scored++;
                    Object[] w = want.get(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3)).get(r.getInt(4) - 1);
                    if (w[0].equals(r.getString(5)) && Math.abs((double) w[1] - r.getDouble(6)) <= 2e-2 * Math.max(1, Math.abs((double) w[1]))) close++;
                }
            }
            assertEquals(rows, scored);
            assertTrue(close >= 0.9 * rows, close + " of " + rows + " matches equal the exact ones within bf16's error");
            JsonNode params = new ObjectMapper().readTree(Path.of(outBf16, "matches", "_run.json").toFile()).get("parameters");
            assertEquals("bf16", params.get("tower_precision").asText());
        }
    }

    @Test
    void explanationsFromAnotherCheckpointAreRefused() throws Exception {
        Path concepts = writeConcepts();
        String dec = tmp.resolve("out-dec-other").toString();
        assertEquals(0, cli("decompose", "--checkpoint", ckpt.toString(), "--concepts", concepts + "/emb.npy", "--vocab",
                concepts + "/vocab.txt", "--layers", "last:1", "--rank", "2", "--out", dec).status());
        Path other = VisionFixtures.random(18, SIZE, 8, 48, 3, HEADS, 24).writeOpenClip(tmp.resolve("other"), true);
        String out = tmp.resolve("out-other").toString();
        Run run = cli("match-images", "--checkpoint", other.toString(), "--images", images.toString(), "--explanations", dec + "/explanations",
                "--out", out);
        assertEquals(2, run.status());
        assertTrue(run.stderr().contains("another checkpoint"), run.stderr());
        assertFalse(Files.exists(Path.of(out)));
    }

    @Test
    void aFolderWithoutImagesIsAClearError() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("no-images"));
        Files.writeString(empty.resolve("readme.txt"), "x");
        Run run = cli("image-mean", "--checkpoint", ckpt.toString(), "--images", empty.toString(), "--out", tmp.resolve("out-empty").toString());
        assertEquals(2, run.status());
        assertTrue(run.stderr().contains("no JPEG or PNG files"), run.stderr());
    }

    /**
     * Defect found in review: decompose named the model of `.../model/model.safetensors` after its folder, the
     * image commands after the file ("model.safetensors"), so a join of their outputs on model came back empty.
     * One rule now: every command's default model value is the same.
     */
    @Test
    void everyCommandNamesTheSameCheckpointTheSameSoOutputsJoinOnModel() throws Exception {
        assertEquals("model.safetensors", ckpt.getFileName().toString(), "a generic file name, named after its folder");
        Path concepts = writeConcepts();
        String out = tmp.resolve("out-join").toString();
        assertEquals(0, cli("decompose", "--checkpoint", ckpt.toString(), "--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt",
                "--layers", "last:1", "--rank", "2", "--out", out).status());
        assertEquals(0, cli("match-images", "--checkpoint", ckpt.toString(), "--images", images.toString(), "--explanations", out + "/explanations",
                "--top", "2", "--out", out).status());
        assertEquals(0, cli("image-mean", "--checkpoint", ckpt.toString(), "--images", images.toString(), "--out", out).status());
        java.util.Set<String> models = new java.util.TreeSet<>();
        for (String f : List.of("explanations", "singular_vectors", "matches", "image_mean")) {
            for (var r : spark.read().parquet(out + "/" + f).select("model").distinct().collectAsList()) models.add(r.getString(0));
        }
        assertEquals(java.util.Set.of(ckpt.getParent().getFileName().toString()), models);
        Run joined = cli("sql", "--out", out, "--format", "csv", "SELECT count(*) AS n FROM explanations e JOIN matches m "
                + "ON e.model = m.model AND e.layer = m.layer AND e.head = m.head AND e.sv = m.sv");
        assertEquals(0, joined.status(), joined.stderr());
        assertEquals(HEADS * 2 * 2, Integer.parseInt(joined.stdout().lines().skip(1).findFirst().orElseThrow().strip()), joined.stdout());
    }
}
