package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sith.RelativeError;
import org.sith.SparkTestBase;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.SafeTensors;
import org.sith.checkpoint.TensorData;
import org.sith.checkpoint.TensorInfo;
import org.sith.model.PythonOracle;
import org.sith.model.ReferenceMatchScores;
import org.sith.model.VisionFixtures;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;

/**
 * edit by table: the exported checkpoint differs from the input only in the edited blocks'
 * out_proj, its VO maps equal the dense M_h − Σ(1−α)σuvᵀ, and its value path (biases included)
 * changes exactly by the edited rank-one terms.
 */
class EditTest extends SparkTestBase {
    static final int HEADS = 4;
    static final String EDITS = "layer,head,sv,alpha\n1,2,0,0\n1,0,3,1.5\n2,1,1,-1\n";

    @TempDir
    static Path tmp;

    static LinkedHashMap<String, TensorData> load(Path file) throws Exception {
        LinkedHashMap<String, TensorData> m = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(file.toString(), new Configuration())) {
            for (String n : st.names()) {
                TensorInfo t = st.info(n);
                m.put(n, new TensorData(t.dtype(), t.shape(), st.readFloats(n)));
            }
        }
        return m;
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void exportDiffersOnlyInEditedOutProjectionsAndRealizesTheEdit(boolean hf) throws Exception {
        VisionFixtures f = VisionFixtures.random(31, 32, 8, 48, 3, HEADS, 24);
        Path in = hf ? f.writeHuggingFace(tmp.resolve("in-hf"), true) : f.writeOpenClip(tmp.resolve("in-oc"), true);
        Path edits = tmp.resolve("edits-" + hf + ".csv");
        Files.writeString(edits, EDITS);
        Path out = tmp.resolve("out-" + hf);
        Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", out.toString());
        assertEquals(0, run.status(), run.stderr());
        Path edited = out.resolve("model.safetensors");
        String config = hf ? "config.json" : "open_clip_config.json";
        assertArrayEquals(Files.readAllBytes(in.getParent().resolve(config)), Files.readAllBytes(out.resolve(config)));

        // byte for byte, except the edited blocks' out_proj weight and bias
        String prefix = hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks.";
        String outProj = hf ? "self_attn.out_proj." : "attn.out_proj.";
        List<String> changed = List.of(prefix + "1." + outProj + "weight", prefix + "1." + outProj + "bias",
                prefix + "2." + outProj + "weight", prefix + "2." + outProj + "bias");
        byte[] a = Files.readAllBytes(in);
        byte[] b = Files.readAllBytes(edited);
        assertEquals(a.length, b.length);
        boolean[] mayDiffer = new boolean[a.length];
        try (SafeTensors st = SafeTensors.open(in.toString(), new Configuration())) {
            for (String n : changed) {
                TensorInfo t = st.info(n);
                for (long i = t.begin(); i < t.end(); i++) mayDiffer[(int) i] = true;
            }
        }
        for (int i = 0; i < a.length; i++) {
            if (!mayDiffer[i]) assertEquals(a[i], b[i], "byte " + i + " outside the edited tensors");
        }
        Map<String, TensorData> before = load(in);
        Map<String, TensorData> after = load(edited);
        for (String n : changed) assertFalse(java.util.Arrays.equals(before.get(n).data(), after.get(n).data()), n + " changed");

        // dense VO maps: M' = M − Σ (1−α) σ u vᵀ for the edited vectors, M' = M for every other head
        Map<String, Double> alpha = Map.of("1/2/0", 0.0, "1/0/3", 1.5, "2/1/1", -1.0);
        for (int layer : new int[] {1, 2}) {
            for (int h = 0; h < HEADS; h++) {
                double[][] m = ReferenceMatchScores.foldedCenteredVO(before, hf, layer, h, HEADS);
                double[][] m2 = ReferenceMatchScores.foldedCenteredVO(after, hf, layer, h, HEADS);
                ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(before, hf, layer, h, HEADS);
                double scale = 0;
                for (double[] row : m) for (double v : row) scale = Math.max(scale, Math.abs(v));
                for (int j = 0; j < svd.sigma().length; j++) {
                    Double al = alpha.get(layer + "/" + h + "/" + j);
                    if (al == null) continue;
                    for (int i = 0; i < m.length; i++) {
                        for (int o = 0; o < m.length; o++) m[i][o] -= (1 - al) * svd.sigma()[j] * svd.u()[j][i] * svd.v()[j][o];
                    }
                }
                for (int i = 0; i < m.length; i++) {
                    for (int o = 0; o < m.length; o++) assertEquals(m[i][o], m2[i][o], 1e-5 * scale, "layer " + layer + " head " + h);
                }
            }
        }
        checkValuePath(before, after, hf, alpha);
        checkAgainstNumpy(in, edited, hf, f);

        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT count(*), sum(alpha), min(selection), max(sigma) > 0 FROM read_parquet('" + out + "/edits/*.parquet')");
            r.next();
            assertEquals(3, r.getLong(1));
            assertEquals(0.5, r.getDouble(2), 1e-12);
            assertEquals("table", r.getString(3));
            assertTrue(r.getBoolean(4));
        }
    }

    /**
     * A separate reader (numpy, its own safetensors parsing) loads the exported file, and its forward pass equals
     * numpy's in-memory edited model (M_h replaced by M_h − Σ(1−α)σuvᵀ from numpy's SVD of the dense VO matrix,
     * the value bias flowing through the unedited output map); our own tower on the exported file agrees too.
     */
    static void checkAgainstNumpy(Path in, Path edited, boolean hf, VisionFixtures f) throws Exception {
        PythonOracle.assumeModules("numpy");
        List<double[]> table = List.of(new double[] {1, 2, 0, 0}, new double[] {1, 0, 3, 1.5}, new double[] {2, 1, 1, -1});
        int n = 3;
        int block = 3 * f.image * f.image;
        float[] pixels = f.randomPixels(17, n);
        List<float[]> images = new ArrayList<>();
        for (int i = 0; i < n; i++) images.add(java.util.Arrays.copyOfRange(pixels, i * block, (i + 1) * block));
        Map<String, double[][]> py = PythonOracle.numpyVision(in, edited, hf, HEADS, true, table, images, tmp);
        float[][] ours;
        try (ClipCheckpoint ck = ClipCheckpoint.open(edited.toString(), new Configuration(), null)) {
            ours = VisionTower.load(ck, null).embed(pixels, n, n, new Workspace());
        }
        for (int i = 0; i < n; i++) {
            double[] mem = py.get("in_memory")[i];
            assertTrue(RelativeError.of(py.get("edited_file")[i], mem) < 1e-5, "numpy: exported file vs in-memory edit, image " + i);
            assertTrue(RelativeError.of(ours[i], mem) < 1e-5, "our tower on the exported file vs numpy's in-memory edit, image " + i);
            assertTrue(RelativeError.of(py.get("base")[i], mem) > 1e-3, "the edit changes the embedding, image " + i);
        }
    }

    /**
     * For random residual rows x, the change of the block's attention output per unit of attention
     * (the value path: LN1 → values → out_proj, biases included) is −Σ (1−α) σ (x̂·u) v, up to the
     * mean direction that every later LayerNorm removes: the value bias still flows unedited.
     */
    static void checkValuePath(Map<String, TensorData> before, Map<String, TensorData> after, boolean hf, Map<String, Double> alpha) {
        int d = 48;
        int dh = d / HEADS;
        Random rnd = new Random(2);
        String p = hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks.";
        for (int layer : new int[] {1, 2}) {
            String b = p + layer + ".";
            float[] g = before.get(b + (hf ? "layer_norm1.weight" : "ln_1.weight")).data();
            float[] beta = before.get(b + (hf ? "layer_norm1.bias" : "ln_1.bias")).data();
            float[] wv = hf ? before.get(b + "self_attn.v_proj.weight").data()
                    : java.util.Arrays.copyOfRange(before.get(b + "attn.in_proj_weight").data(), 2 * d * d, 3 * d * d);
            float[] bv = hf ? before.get(b + "self_attn.v_proj.bias").data()
                    : java.util.Arrays.copyOfRange(before.get(b + "attn.in_proj_bias").data(), 2 * d, 3 * d);
            String o = b + (hf ? "self_attn.out_proj." : "attn.out_proj.");
            float[] w0 = before.get(o + "weight").data();
            float[] b0 = before.get(o + "bias").data();
            float[] w1 = after.get(o + "weight").data();
            float[] b1 = after.get(o + "bias").data();
            for (int trial = 0; trial < 3; trial++) {
                double[] x = new double[d];
                for (int i = 0; i < d; i++) x[i] = rnd.nextGaussian() * 2 + 0.5;
                double mean = 0, var = 0;
                for (double v : x) mean += v / d;
                for (double v : x) var += (v - mean) * (v - mean) / d;
                double[] xhat = new double[d];
                for (int i = 0; i < d; i++) xhat[i] = (x[i] - mean) / Math.sqrt(var + 1e-5);
                double[] v = new double[d];
                for (int r = 0; r < d; r++) {
                    double s = bv[r];
                    for (int k = 0; k < d; k++) s += wv[r * d + k] * (xhat[k] * g[k] + beta[k]);
                    v[r] = s;
                }
                double[] diff = new double[d];
                for (int r = 0; r < d; r++) {
                    double s = b1[r] - b0[r];
                    for (int k = 0; k < d; k++) s += (w1[r * d + k] - w0[r * d + k]) * v[k];
                    diff[r] = s;
                }
                double[] want = new double[d];
                for (int h = 0; h < HEADS; h++) {
                    ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(before, hf, layer, h, HEADS);
                    for (int j = 0; j < dh; j++) {
                        Double al = alpha.get(layer + "/" + h + "/" + j);
                        if (al == null) continue;
                        double xu = 0;
                        for (int k = 0; k < d; k++) xu += xhat[k] * svd.u()[j][k];
                        for (int r = 0; r < d; r++) want[r] -= (1 - al) * svd.sigma()[j] * xu * svd.v()[j][r];
                    }
                }
                double dm = 0;
                for (double z : diff) dm += z / d;
                double norm = 0;
                for (double z : want) norm = Math.max(norm, Math.abs(z));
                for (int r = 0; r < d; r++) assertEquals(want[r], diff[r] - dm, 1e-4 * Math.max(1, norm), "layer " + layer + " row " + r);
            }
        }
    }

    @Test
    void badTablesAndTheInputFolderAreRefused() throws Exception {
        VisionFixtures f = VisionFixtures.random(32, 32, 8, 48, 3, HEADS, 24);
        Path in = f.writeOpenClip(tmp.resolve("in-bad"), true);
        Map<String, String> cases = new HashMap<>();
        cases.put("layer,head,sv,alpha\n7,0,0,0\n", "outside the checkpoint");
        cases.put("layer,head,sv,alpha\n1,0,0,0\n1,0,0,2\n", "listed twice");
        cases.put("layer,head,alpha\n1,0,0\n", "no 'sv' column");
        cases.put("layer,head,sv,alpha\n1,0,0,x\n", "line 2: alpha 'x'");
        int i = 0;
        for (var c : cases.entrySet()) {
            Path edits = tmp.resolve("bad" + i++ + ".csv");
            Files.writeString(edits, c.getKey());
            Path out = tmp.resolve("out-bad" + i);
            Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", out.toString());
            assertEquals(2, run.status(), c.getKey());
            assertTrue(run.stderr().contains(c.getValue()), run.stderr());
            assertFalse(Files.exists(out));
        }
        Path edits = tmp.resolve("good.csv");
        Files.writeString(edits, EDITS);
        Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", in.getParent().toString(), "--overwrite");
        assertEquals(2, run.status());
        assertTrue(run.stderr().contains("would replace the input"), run.stderr());
        assertTrue(Files.exists(in));
        List<String> names = new ArrayList<>();
        try (var s = Files.list(in.getParent())) {
            s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).forEach(names::add); // .crc: Hadoop's checksum of the fixture
        }
        assertEquals(2, names.size(), names.toString());
    }

    /**
     * Defect found in review: edits/ rows came out in string order of "layer/head/sv" (layer 10 before layer 2) or in the
     * table's order. They come out in numeric (layer, head, sv) order whatever the order of the request.
     */
    @Test
    void editsRowsAreInNumericLayerHeadSvOrder() throws Exception {
        Path in = VisionFixtures.random(35, 32, 8, 48, 12, HEADS, 24).writeOpenClip(tmp.resolve("in-12"), true);
        Path edits = tmp.resolve("edits-order.csv");
        Files.writeString(edits, "layer,head,sv,alpha\n10,0,0,0\n2,3,1,0.5\n2,1,4,0\n11,0,2,2\n");
        Path out = tmp.resolve("out-order");
        Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", out.toString());
        assertEquals(0, run.status(), run.stderr());
        List<String> order = new ArrayList<>();
        for (var r : spark.read().parquet(out.resolve("edits").toString()).select("layer", "head", "sv").collectAsList()) {
            order.add(r.getInt(0) + "/" + r.getInt(1) + "/" + r.getInt(2));
        }
        assertEquals(List.of("2/1/4", "2/3/1", "10/0/0", "11/0/2"), order);
    }
}
