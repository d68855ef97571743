package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.TensorData;
import org.sith.coding.Code;
import org.sith.coding.Method;
import org.sith.coding.ReferenceCoder;
import org.sith.heads.ImageContributions;
import org.sith.io.Npy;
import org.sith.linalg.OneDnn;
import org.sith.model.ReferenceContributions;
import org.sith.model.TowerPrecision;
import org.sith.model.VisionFixtures;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
import org.sith.run.RunRecord;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * explain-images (SPEC §11) against brute force: every term's contribution e_k materialized in double by
 * {@link ReferenceContributions} (dense SVD per head, the double-precision forward pass), on random towers in both
 * layouts; the outputs read back from Parquet with DuckDB.
 */
class ExplainImagesTest extends SparkTestBase {
    static final int HEADS = SyntheticImages.HEADS;
    static final int D = 48;

    @TempDir
    static Path tmp;
    static SyntheticImages in; // OpenCLIP naming, QuickGELU, 3 layers; a folder of 9 PNGs + broken.png + notes.txt
    static LinkedHashMap<String, TensorData> hfTensors; // HF naming, exact GELU, 2 layers
    static Path hfCkpt;
    static Path hfPixels; // an .npy of 5 images
    static float[][] hfPx;
    static Path concepts;

    @BeforeAll
    static void inputs() throws Exception {
        in = SyntheticImages.write(tmp);
        VisionFixtures hf = VisionFixtures.random(29, 32, 8, D, 2, HEADS, SyntheticImages.P);
        hfCkpt = hf.writeHuggingFace(tmp.resolve("hf"), false);
        hfTensors = hf.huggingFace();
        int n = 5;
        float[] px = hf.randomPixels(7, n);
        hfPixels = tmp.resolve("pixels.npy");
        byte[] header = Npy.header("<f4", new long[] {n, 3, 32, 32});
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(header.length + px.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.put(header);
        bb.asFloatBuffer().put(px);
        Files.write(hfPixels, bb.array());
        hfPx = new float[n][];
        int block = 3 * 32 * 32;
        for (int i = 0; i < n; i++) hfPx[i] = java.util.Arrays.copyOfRange(px, i * block, (i + 1) * block);
        concepts = ImagesTest.writeConcepts(tmp.resolve("concepts"));
    }

    static String[] conceptArgs() {
        return new String[] {"--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt"};
    }

    static String[] args(String... a) {
        List<String> l = new ArrayList<>(List.of("explain-images"));
        l.addAll(List.of(a));
        l.addAll(List.of(conceptArgs()));
        return l.toArray(new String[0]);
    }

    static double relErr(double[] a, float[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    static double relErr(double[] a, double[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    /**
     * The identity Σ e_k + e_β = e, in both layouts: the rebuilt embedding of {@link ImageContributions} (from the tower's
     * own probe) equals the tower's embedding and the double-precision reference's to 1e-5; the reference's terms,
     * materialized one by one, sum to its own e (and x_L minus the terms is a multiple of the all-ones vector); the
     * product's shares equal the reference's and add to 1.
     */
    @Test
    void theContributionsAddUpToTheEmbeddingInBothLayouts() throws Exception {
        Map<String, float[]> ocPx = in.pixels();
        checkIdentity(in.checkpoint(), in.tensors(), false, true, new ArrayList<>(ocPx.values()));
        checkIdentity(hfCkpt, hfTensors, true, false, List.of(hfPx));
    }

    private void checkIdentity(Path ckpt, Map<String, TensorData> tensors, boolean hf, boolean quick, List<float[]> pixels) throws Exception {
        ImageContributions cm;
        VisionTower tower;
        try (ClipCheckpoint ck = ClipCheckpoint.open(ckpt.toString(), new Configuration(), null)) {
            cm = ImageContributions.of(ck);
            tower = VisionTower.load(ck, null);
        }
        int n = pixels.size();
        int block = pixels.get(0).length;
        float[] all = new float[n * block];
        for (int i = 0; i < n; i++) System.arraycopy(pixels.get(i), 0, all, i * block, block);
        ImageContributions.Probe probe = new ImageContributions.Probe(cm, tower.tokens());
        float[][] emb = tower.embed(all, n, 2, new Workspace(), probe);
        assertEquals(n, probe.images().size());
        ReferenceContributions ref = new ReferenceContributions(tensors, hf, HEADS, quick);
        for (int i = 0; i < n; i++) {
            ImageContributions.Image im = probe.images().get(i);
            ReferenceContributions.Result r = ref.of(pixels.get(i));
            String where = (hf ? "hf" : "openclip") + " image " + i;
            // the reference's own identity, term by term, in double
            assertTrue(relErr(r.sum(), r.e()) < 1e-10, where + ": Σ e_k + e_β vs e " + relErr(r.sum(), r.e()));
            assertTrue(r.offsetSpread() < 1e-9, where + ": x_L − Σ c_k is not a multiple of 1: " + r.offsetSpread());
            double total = 0;
            for (double s : r.shares().values()) total += s;
            assertEquals(1.0, total, 1e-10, where);
            // the product's rebuilt embedding against the tower's pass and the reference
            assertTrue(relErr(im.embedding(), emb[i]) < 1e-5, where + ": rebuilt vs tower " + relErr(im.embedding(), emb[i]));
            assertTrue(relErr(im.embedding(), r.e()) < 1e-5, where + ": rebuilt vs reference " + relErr(im.embedding(), r.e()));
            assertEquals(1.0, im.total(), 1e-10, where);
            // every share, by key
            for (int l = 0; l < cm.layers(); l++) {
                for (int k = 0; k < HEADS * cm.headDim(); k++) {
                    String key = "vo/" + l + "/" + (k / cm.headDim()) + "/" + (k % cm.headDim());
                    assertEquals(r.shares().get(key), im.voShare()[l][k], 1e-5, where + " " + key);
                    assertEquals(r.scores().get(key), im.voScore()[l][k], 1e-4 * Math.max(1, Math.abs(r.scores().get(key))), where + " " + key);
                }
                for (int k = 0; k < cm.mlpWidth(l); k++) {
                    String key = "mlp/" + l + "/" + k;
                    assertEquals(r.shares().get(key), im.mlpShare()[l][k], 1e-5, where + " " + key);
                }
            }
            for (ImageContributions.Kind kind : List.of(ImageContributions.Kind.VO_BIAS, ImageContributions.Kind.OUT_BIAS, ImageContributions.Kind.MLP_BIAS,
                    ImageContributions.Kind.EMBED, ImageContributions.Kind.LN_POST_BIAS)) {
                assertEquals(r.shares().get(kind.label), im.kinds()[kind.ordinal()], 1e-5, where + " " + kind.label);
            }
        }
    }

    /** image_contributions rows of one run, by image, in rank order (rest rows after). */
    static Map<String, List<Object[]>> contributions(String out) throws Exception {
        Map<String, List<Object[]>> byImage = new LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT image, rank, layer, head, sv, component, score, share, "
                    + "CASE WHEN concepts IS NULL THEN NULL ELSE list_transform(concepts, x -> x.concept)::VARCHAR END "
                    + "FROM read_parquet('" + out + "/image_contributions/*.parquet', filename = true, file_row_number = true) ORDER BY filename, file_row_number");
            while (r.next()) {
                Object[] row = new Object[9];
                for (int k = 0; k < 9; k++) row[k] = r.getObject(k + 1);
                byImage.computeIfAbsent(r.getString(1), k -> new ArrayList<>()).add(row);
            }
        }
        return byImage;
    }

    static String key(Object[] row) {
        if (row[5].equals("mlp")) return "mlp/" + row[2] + "/" + row[4];
        return "vo/" + row[2] + "/" + row[3] + "/" + row[4];
    }

    /**
     * The command on a folder (OpenCLIP) with a broken image: exit 0, the broken image skipped, counted and listed; every
     * image's top vectors equal brute force (all shares computed by the reference, sorted), with scores, the rest rows by
     * kind and the concepts of the explanations joined; shares add to 1; image_embeddings equal the reference's e/‖e‖.
     */
    @Test
    void topVectorsEqualBruteForceAndTheBrokenImageIsSkipped() throws Exception {
        String dec = tmp.resolve("dec").toString();
        Run d = cli("decompose", "--checkpoint", in.checkpoint().toString(), "--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt",
                "--layers", "1,2", "--out", dec);
        assertEquals(0, d.status(), d.stderr());
        String out = tmp.resolve("out-oc").toString();
        int top = 7;
        Run run = cli(args("--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--explanations", dec + "/explanations",
                "--top", Integer.toString(top), "--images-per-task", "4", "--out", out));
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("skipped") && run.stderr().contains("broken.png"), run.stderr());
        JsonNode rec = RunRecord.read(new org.apache.hadoop.fs.Path(out, "_run.json"), new Configuration());
        assertEquals(9, rec.at("/results/images").asInt());
        assertEquals(1, rec.at("/results/skipped").size());
        assertTrue(rec.at("/results/skipped/0").asText().contains("broken.png"), rec.toString());
        assertTrue(rec.at("/results/max_reconstruction_error").asDouble() < 1e-5, rec.toString());
        assertEquals(List.of("model", "image", "rank", "layer", "head", "sv", "component", "score", "share", "concepts"),
                List.of(spark.read().parquet(out + "/image_contributions").columns()));

        // the explanations' concepts, by key
        Map<String, String> explained = new HashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, list_transform(concepts, x -> x.concept)::VARCHAR FROM read_parquet('" + dec
                    + "/explanations/**/*.parquet', hive_partitioning = true)");
            while (r.next()) explained.put("vo/" + r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), r.getString(4));
        }
        ReferenceContributions ref = new ReferenceContributions(in.tensors(), false, HEADS, true);
        Map<String, List<Object[]>> rows = contributions(out);
        assertEquals(9, rows.size());
        int joined = 0;
        for (Map.Entry<String, float[]> img : in.pixels().entrySet()) {
            List<Object[]> got = rows.get(img.getKey());
            assertNotNull(got, img.getKey());
            ReferenceContributions.Result r = ref.of(img.getValue());
            List<String> want = ReferenceContributions.ranked(r.shares(), false);
            List<String> restKinds = List.of("vo_rest", "vo_bias", "out_bias", "mlp", "embed", "ln_post_bias");
            assertEquals(top + restKinds.size(), got.size(), img.getKey());
            double total = 0;
            double topShares = 0;
            for (int k = 0; k < top; k++) {
                Object[] row = got.get(k);
                assertEquals(k + 1, ((Number) row[1]).intValue());
                assertEquals("vo", row[5]);
                String wk = want.get(k);
                double ws = r.shares().get(wk);
                double gs = ((Number) row[7]).doubleValue();
                assertEquals(ws, gs, 1e-5, img.getKey() + " rank " + (k + 1));
                // the same vector, unless brute force itself has a near-tie here
                boolean nearTie = (k > 0 && Math.abs(r.shares().get(want.get(k - 1)) - ws) < 1e-5) || Math.abs(r.shares().get(want.get(k + 1)) - ws) < 1e-5;
                if (!nearTie) assertEquals(wk, key(row), img.getKey() + " rank " + (k + 1));
                assertEquals(r.scores().get(key(row)), ((Number) row[6]).doubleValue(), 1e-4 * Math.max(1, Math.abs(r.scores().get(key(row)))));
                String c = explained.get(key(row));
                assertEquals(c, row[8], key(row));
                if (c != null) joined++;
                topShares += ws;
                total += gs;
            }
            double voAll = 0;
            for (String k : want) voAll += r.shares().get(k);
            double mlpAll = r.shares().get("mlp_bias");
            for (Map.Entry<String, Double> e : r.shares().entrySet()) if (e.getKey().startsWith("mlp/")) mlpAll += e.getValue();
            Map<String, Double> rest = Map.of("vo_rest", voAll - topShares, "vo_bias", r.shares().get("vo_bias"), "out_bias", r.shares().get("out_bias"),
                    "mlp", mlpAll, "embed", r.shares().get("embed"), "ln_post_bias", r.shares().get("ln_post_bias"));
            for (int k = 0; k < restKinds.size(); k++) {
                Object[] row = got.get(top + k);
                assertEquals(restKinds.get(k), row[5]);
                for (int c : new int[] {1, 2, 3, 4, 6, 8}) assertNull(row[c], restKinds.get(k) + " column " + c);
                assertEquals(rest.get(restKinds.get(k)), ((Number) row[7]).doubleValue(), 1e-5, img.getKey() + " " + restKinds.get(k));
                total += ((Number) row[7]).doubleValue();
            }
            assertEquals(1.0, total, 1e-9, img.getKey() + ": shares add to 1");
        }
        assertTrue(joined > 0, "some top vectors of layers 1-2 carry their concepts");

        // image_embeddings: e/‖e‖ and ‖e‖ of the reference, in id order
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT image, embedding, norm FROM read_parquet('" + out + "/image_embeddings/*.parquet')");
            List<String> ids = new ArrayList<>();
            while (r.next()) {
                ids.add(r.getString(1));
                double[] e = in.referenceEmbedding(in.pixels().get(r.getString(1)));
                double norm = 0;
                for (double x : e) norm += x * x;
                norm = Math.sqrt(norm);
                Object[] arr = (Object[]) r.getArray(2).getArray();
                for (int j = 0; j < e.length; j++) assertEquals(e[j] / norm, ((Number) arr[j]).doubleValue(), 1e-5);
                assertEquals(norm, r.getDouble(3), 1e-5 * norm);
            }
            List<String> sorted = new ArrayList<>(in.pixels().keySet());
            sorted.sort(String::compareTo);
            assertEquals(sorted, ids, "one row per decoded image, in id order");
        }
    }

    /**
     * The HF layout from a pixel .npy with --contributions vo,mlp: neurons ranked with the head vectors (head null), the
     * rest as vo_rest, mlp_rest, vo_bias, out_bias, mlp_bias, embed, ln_post_bias; image_explanations equal a direct COMP
     * of each image_embeddings row minus the image mean (the reference coder, the dictionary prepared here).
     */
    @Test
    void neuronsRankWithTheHeadVectorsAndTheImagesAreExplainedAsCompSays() throws Exception {
        int p = SyntheticImages.P;
        double[] mu = new double[p];
        Random rnd = new Random(11);
        for (int j = 0; j < p; j++) mu[j] = 0.05 * rnd.nextGaussian();
        Path meanFile = tmp.resolve("mean.npy");
        Npy.writeDouble(meanFile.toString(), new Configuration(), new long[] {p}, mu);
        String out = tmp.resolve("out-hf").toString();
        int top = 9;
        Run run = cli(args("--checkpoint", hfCkpt.toString(), "--images", hfPixels.toString(), "--contributions", "vo,mlp", "--top", Integer.toString(top),
                "--image-mean", meanFile.toString(), "--k", "4", "--out", out));
        assertEquals(0, run.status(), run.stderr());
        ReferenceContributions ref = new ReferenceContributions(hfTensors, true, HEADS, false);
        Map<String, List<Object[]>> rows = contributions(out);
        assertEquals(hfPx.length, rows.size());
        List<String> restKinds = List.of("vo_rest", "mlp_rest", "vo_bias", "out_bias", "mlp_bias", "embed", "ln_post_bias");
        int neurons = 0;
        for (int i = 0; i < hfPx.length; i++) {
            List<Object[]> got = rows.get(Integer.toString(i));
            ReferenceContributions.Result r = ref.of(hfPx[i]);
            List<String> want = ReferenceContributions.ranked(r.shares(), true);
            assertEquals(top + restKinds.size(), got.size());
            double total = 0;
            double voTop = 0;
            double mlpTop = 0;
            for (int k = 0; k < top; k++) {
                Object[] row = got.get(k);
                String wk = want.get(k);
                double ws = r.shares().get(wk);
                assertEquals(ws, ((Number) row[7]).doubleValue(), 1e-5);
                boolean nearTie = (k > 0 && Math.abs(r.shares().get(want.get(k - 1)) - ws) < 1e-5) || Math.abs(r.shares().get(want.get(k + 1)) - ws) < 1e-5;
                if (!nearTie) assertEquals(wk, key(row), "image " + i + " rank " + (k + 1));
                if (row[5].equals("mlp")) {
                    neurons++;
                    assertNull(row[3], "a neuron has no head");
                    mlpTop += ws;
                } else {
                    voTop += ws;
                }
                assertEquals(r.scores().get(key(row)), ((Number) row[6]).doubleValue(), 1e-4 * Math.max(1, Math.abs(r.scores().get(key(row)))));
                assertNull(row[8], "no --explanations: no concepts");
                total += ((Number) row[7]).doubleValue();
            }
            double voAll = 0;
            double mlpAll = 0;
            for (Map.Entry<String, Double> e : r.shares().entrySet()) {
                if (e.getKey().startsWith("vo/")) voAll += e.getValue();
                if (e.getKey().startsWith("mlp/")) mlpAll += e.getValue();
            }
            Map<String, Double> rest = Map.of("vo_rest", voAll - voTop, "mlp_rest", mlpAll - mlpTop, "vo_bias", r.shares().get("vo_bias"),
                    "out_bias", r.shares().get("out_bias"), "mlp_bias", r.shares().get("mlp_bias"), "embed", r.shares().get("embed"),
                    "ln_post_bias", r.shares().get("ln_post_bias"));
            for (int k = 0; k < restKinds.size(); k++) {
                Object[] row = got.get(top + k);
                assertEquals(restKinds.get(k), row[5]);
                assertEquals(rest.get(restKinds.get(k)), ((Number) row[7]).doubleValue(), 1e-5, "image " + i + " " + restKinds.get(k));
                total += ((Number) row[7]).doubleValue();
            }
            assertEquals(1.0, total, 1e-9);
        }
        assertTrue(neurons > 0, "some neurons make the top " + top);

        // image_explanations against a direct COMP of the written embedding
        Npy.NpyArray e = Npy.read(concepts + "/emb.npy", new Configuration());
        int n = (int) e.shape()[0];
        float[] dict = prepareDictionary(e.data(), n, p);
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT m.image, m.embedding, list_transform(x.concepts, c -> c.concept), x.fidelity, x.coherence, x.method, x.k, x.layer, x.head, x.sv, "
                    + "x.fidelity_residual, list_transform(x.concepts, c -> c.weight) FROM read_parquet('" + out + "/image_embeddings/*.parquet') m JOIN read_parquet('" + out
                    + "/image_explanations/*.parquet') x USING (image) ORDER BY m.image");
            int seen = 0;
            while (r.next()) {
                seen++;
                Object[] arr = (Object[]) r.getArray(2).getArray();
                double[] x = new double[p];
                for (int j = 0; j < p; j++) x[j] = ((Number) arr[j]).floatValue();
                normalize(x);
                for (int j = 0; j < p; j++) x[j] -= mu[j];
                normalize(x);
                Code want = ReferenceCoder.codeOne(x, dict, n, p, Method.COMP, 4, 0.3);
                Object[] got = (Object[]) r.getArray(3).getArray();
                Object[] weights = (Object[]) r.getArray(12).getArray();
                assertEquals(4, got.length);
                for (int k = 0; k < 4; k++) {
                    assertEquals("concept " + want.ids()[k], got[k], r.getString(1) + " atom " + k);
                    assertEquals(want.weights()[k], ((Number) weights[k]).doubleValue(), 1e-6);
                }
                assertEquals(want.fidelity(), r.getDouble(4), 1e-6);
                assertEquals("comp", r.getString(6));
                for (int col = 8; col <= 11; col++) assertNull(r.getObject(col), "column " + col + " is null");
            }
            assertEquals(hfPx.length, seen);
        }
    }

    static void normalize(double[] x) {
        double s = 0;
        for (double v : x) s += v * v;
        s = Math.sqrt(s);
        for (int j = 0; j < x.length; j++) x[j] /= s;
    }

    /** SPEC §4: rownorm(rownorm(E) − mean of the normalized rows). */
    static float[] prepareDictionary(float[] raw, int n, int p) {
        double[][] r = new double[n][p];
        double[] mean = new double[p];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < p; j++) r[i][j] = raw[i * p + j];
            normalize(r[i]);
            for (int j = 0; j < p; j++) mean[j] += r[i][j] / n;
        }
        float[] out = new float[n * p];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < p; j++) r[i][j] -= mean[j];
            normalize(r[i]);
            for (int j = 0; j < p; j++) out[i * p + j] = (float) r[i][j];
        }
        return out;
    }

    /**
     * A planted tower: every block's output maps and MLP output maps zero, except one column of the last block's
     * out-projection for head 2 (so that head's VO map has rank one and its vector 0 writes along a chosen direction,
     * 100 times larger than anything else), and that block's value bias and LN1 β zero. Every image's rank-1 vector is
     * (last layer, head 2, sv 0), with most of the embedding; also with --tower-precision bf16 when oneDNN runs here.
     */
    @Test
    void aPlantedVectorDominatesEveryImage() throws Exception {
        VisionFixtures f = VisionFixtures.random(41, 32, 8, D, 2, HEADS, SyntheticImages.P);
        int last = 1;
        int head = 2;
        int dh = D / HEADS;
        Random rnd = new Random(5);
        for (int l = 0; l < 2; l++) {
            java.util.Arrays.fill(f.outW[l], 0f);
            java.util.Arrays.fill(f.outB[l], 0f);
            java.util.Arrays.fill(f.fc2W[l], 0f);
            java.util.Arrays.fill(f.fc2B[l], 0f);
        }
        java.util.Arrays.fill(f.vB[last], 0f);
        java.util.Arrays.fill(f.ln1B[last], 0f);
        for (int o = 0; o < D; o++) f.outW[last][o * D + head * dh] = (float) (100 * rnd.nextGaussian());
        Path ckpt = f.writeOpenClip(tmp.resolve("planted"), true);
        List<String> precisions = new ArrayList<>(List.of("f32"));
        if (OneDnn.unavailable() == null) precisions.add("bf16");
        for (String precision : precisions) {
            String out = tmp.resolve("out-planted-" + precision).toString();
            Run run = cli(args("--checkpoint", ckpt.toString(), "--images", in.images().toString(), "--top", "3", "--tower-precision", precision,
                    "--out", out));
            assertEquals(0, run.status(), run.stderr());
            Map<String, List<Object[]>> rows = contributions(out);
            assertEquals(9, rows.size());
            for (Map.Entry<String, List<Object[]>> e : rows.entrySet()) {
                Object[] first = e.getValue().get(0);
                assertEquals("vo/" + last + "/" + head + "/0", key(first), precision + " " + e.getKey());
                assertTrue(((Number) first[7]).doubleValue() > 0.8, precision + " " + e.getKey() + " share " + first[7]);
                double total = 0;
                for (Object[] row : e.getValue()) total += ((Number) row[7]).doubleValue();
                assertEquals(1.0, total, 1e-9);
            }
            JsonNode rec = RunRecord.read(new org.apache.hadoop.fs.Path(out, "_run.json"), new Configuration());
            assertEquals(precision, rec.at("/parameters/tower_precision").asText(), rec.toString());
        }
    }

    /** One line, exit 2, nothing under --out: a bad --top, --contributions without vo or with qk, another model's explanations. */
    @Test
    void badInputIsRefusedInOneLine() throws Exception {
        String out = tmp.resolve("out-bad").toString();
        String[][] cases = {
            {"--top", "0"},
            {"--contributions", "mlp"},
            {"--contributions", "vo,qk"},
        };
        String[] expect = {"--top: 0 must be at least 1", "the head vectors are always ranked", "qk circuits write nothing"};
        for (int k = 0; k < cases.length; k++) {
            List<String> a = new ArrayList<>(List.of("--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--out", out));
            a.addAll(List.of(cases[k]));
            Run run = cli(args(a.toArray(new String[0])));
            assertEquals(2, run.status(), run.stderr());
            assertTrue(run.stderr().contains(expect[k]), run.stderr());
            assertEquals(1, run.stderr().strip().lines().count(), run.stderr());
            assertFalse(Files.exists(Path.of(out)));
        }
        // explanations of the HF model given with the OpenCLIP one (same widths, another model)
        String dec = tmp.resolve("dec-hf").toString();
        Run d = cli("decompose", "--checkpoint", hfCkpt.toString(), "--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt",
                "--layers", "0", "--rank", "2", "--out", dec);
        assertEquals(0, d.status(), d.stderr());
        Run run = cli(args("--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--explanations", dec + "/explanations",
                "--out", out));
        assertEquals(2, run.status(), run.stderr());
        assertTrue(run.stderr().contains("made from another checkpoint"), run.stderr());
        assertEquals(1, run.stderr().strip().lines().count(), run.stderr());
        assertFalse(Files.exists(Path.of(out)));
    }

    /** The outputs are sql views by folder name; README's query (mean share per vector across a folder) equals DuckDB's. */
    @Test
    void theReadmeQueryRunsOverTheViews() throws Exception {
        String out = tmp.resolve("out-sql").toString();
        Run run = cli(args("--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--top", "4", "--out", out));
        assertEquals(0, run.status(), run.stderr());
        String query = "SELECT layer, head, sv, count(*) AS images, round(avg(share), 4) AS mean_share, first(concepts) AS concepts "
                + "FROM image_contributions WHERE component = 'vo' GROUP BY layer, head, sv ORDER BY mean_share DESC, layer, head, sv LIMIT 5";
        Run q = cli("sql", "--out", out, "--format", "csv", query);
        assertEquals(0, q.status(), q.stderr());
        List<String> lines = q.stdout().strip().lines().toList();
        assertEquals("layer,head,sv,images,mean_share,concepts", lines.get(0));
        List<String> want = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, count(*), round(avg(share), 4) AS m FROM read_parquet('" + out
                    + "/image_contributions/*.parquet') WHERE component = 'vo' GROUP BY layer, head, sv ORDER BY m DESC, layer, head, sv LIMIT 5");
            while (r.next()) want.add(r.getInt(1) + "," + r.getInt(2) + "," + r.getInt(3) + "," + r.getInt(4) + "," + r.getDouble(5) + ",");
        }
        assertEquals(want.size(), lines.size() - 1);
        for (int k = 0; k < want.size(); k++) assertEquals(want.get(k), lines.get(k + 1).replaceAll("(\\.\\d*?)0+,", "$1,").replace(".,", ".0,"));
    }
}
