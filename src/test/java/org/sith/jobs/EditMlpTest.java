package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
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
import org.sith.model.ReferenceTextForward;
import org.sith.model.ReferenceVisionForward;
import org.sith.model.VisionFixtures;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;

/**
 * edit with MLP rows: a neuron's write column of c_proj / fc2 is scaled by α and nothing else of the file changes (byte
 * for byte); the exported checkpoint's forward pass, through our tower, equals the base model's double-precision
 * reference pass with the last block's MLP output moved by Σ_i (α_i − 1)·act_i(CLS)·W_proj[:, i]; edits/ records the
 * neurons with component mlp; bad rows are refused with nothing written.
 */
class EditMlpTest extends SparkTestBase {
    static final int D = 48;
    static final int HIDDEN = 4 * D;
    static final int HEADS = 4;
    static final int LAYERS = 3;

    @TempDir
    static Path tmp;

    static String block(boolean hf, int l) {
        return (hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks.") + l + ".";
    }

    static String proj(boolean hf, int l, String part) {
        return block(hf, l) + (hf ? "mlp.fc2." : "mlp.c_proj.") + part;
    }

    static String outProj(boolean hf, int l, String part) {
        return block(hf, l) + (hf ? "self_attn.out_proj." : "attn.out_proj.") + part;
    }

    static Path write(VisionFixtures f, boolean hf, String name) {
        return hf ? f.writeHuggingFace(tmp.resolve(name), true) : f.writeOpenClip(tmp.resolve(name), true);
    }

    /** Block l's centered write norm ‖w_i‖ from the stored (d, hidden) weight. */
    static double writeNorm(float[] w, int i) {
        double mean = 0;
        for (int o = 0; o < D; o++) mean += w[o * HIDDEN + i] / (double) D;
        double ss = 0;
        for (int o = 0; o < D; o++) ss += (w[o * HIDDEN + i] - mean) * (w[o * HIDDEN + i] - mean);
        return Math.sqrt(ss);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void onlyTheEditedColumnsChangeAndEditsRecordTheNeurons(boolean hf) throws Exception {
        VisionFixtures f = VisionFixtures.random(51, 32, 8, D, LAYERS, HEADS, 24);
        Path in = write(f, hf, "in-" + hf);
        Path edits = tmp.resolve("mixed-" + hf + ".csv");
        Files.writeString(edits, "layer,head,sv,alpha,component\n2,,3,-1,mlp\n1,2,0,0,vo\n1,,17,2.5,mlp\n1,,5,0,mlp\n");
        Path out = tmp.resolve("out-mixed-" + hf);
        Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", out.toString());
        assertEquals(0, run.status(), run.stderr());
        Path edited = out.resolve("model.safetensors");

        // byte for byte, except block 1's out_proj (the vo row) and the c_proj weights of blocks 1 and 2
        List<String> changed = List.of(outProj(hf, 1, "weight"), outProj(hf, 1, "bias"), proj(hf, 1, "weight"), proj(hf, 2, "weight"));
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
        for (int i = 0; i < a.length; i++) if (!mayDiffer[i]) assertEquals(a[i], b[i], "byte " + i + " outside the edited tensors");

        // the c_proj weights: the edited columns scaled by α, every other value as it was
        Map<String, TensorData> before = EditTest.load(in);
        Map<String, TensorData> after = EditTest.load(edited);
        Map<String, Double> alpha = Map.of("1/17", 2.5, "1/5", 0.0, "2/3", -1.0);
        for (int l : new int[] {1, 2}) {
            float[] w0 = before.get(proj(hf, l, "weight")).data();
            float[] w1 = after.get(proj(hf, l, "weight")).data();
            for (int o = 0; o < D; o++) {
                for (int i = 0; i < HIDDEN; i++) {
                    Double al = alpha.get(l + "/" + i);
                    double want = al == null ? w0[o * HIDDEN + i] : al * w0[o * HIDDEN + i];
                    assertEquals(want, w1[o * HIDDEN + i], 1e-7 * Math.abs(want), "layer " + l + " row " + o + " neuron " + i);
                }
            }
        }

        // edits/: numeric (layer, head) order with a block's neurons first, the component column, head null for a neuron, σ = ‖w_i‖
        var df = spark.read().parquet(out.resolve("edits").toString());
        assertEquals("component", df.columns()[df.columns().length - 1]);
        List<String> rows = new ArrayList<>();
        for (Row r : df.collectAsList()) {
            int layer = r.getInt(r.fieldIndex("layer"));
            String comp = r.getString(r.fieldIndex("component"));
            int sv = r.getInt(r.fieldIndex("sv"));
            rows.add(comp + "/" + layer + "/" + (r.isNullAt(r.fieldIndex("head")) ? "-" : r.getInt(r.fieldIndex("head"))) + "/" + sv);
            if (comp.equals("mlp")) {
                double want = writeNorm(before.get(proj(hf, layer, "weight")).data(), sv);
                assertEquals(want, r.getDouble(r.fieldIndex("sigma")), 1e-9 * want);
            }
        }
        assertEquals(List.of("mlp/1/-/5", "mlp/1/-/17", "vo/1/2/0", "mlp/2/-/3"), rows);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theExportedForwardPassMovesTheLastBlockByTheScaledWriteColumns(boolean hf) throws Exception {
        VisionFixtures f = VisionFixtures.random(52, 32, 8, D, LAYERS, HEADS, 24);
        Path in = write(f, hf, "fwd-" + hf);
        int last = LAYERS - 1;
        int[] neurons = {4, 40, 41, 150};
        double[] alphas = {0, 3, -1, 0.5};
        StringBuilder csv = new StringBuilder("component,layer,head,sv,alpha\n");
        for (int j = 0; j < neurons.length; j++) csv.append("mlp,").append(last).append(",,").append(neurons[j]).append(',').append(alphas[j]).append('\n');
        Path edits = tmp.resolve("fwd-" + hf + ".csv");
        Files.writeString(edits, csv.toString());
        Path out = tmp.resolve("out-fwd-" + hf);
        Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", out.toString());
        assertEquals(0, run.status(), run.stderr());

        LinkedHashMap<String, TensorData> base = hf ? f.huggingFace() : f.openClip();
        int n = 3;
        int px = 3 * f.image * f.image;
        float[] pixels = f.randomPixels(8, n);
        float[][] ours;
        try (ClipCheckpoint ck = ClipCheckpoint.open(out.resolve("model.safetensors").toString(), new Configuration(), null)) {
            ours = VisionTower.load(ck, null).embed(pixels, n, n, new Workspace());
        }
        float[] w = base.get(proj(hf, last, "weight")).data();
        String post = hf ? "vision_model.post_layernorm." : "visual.ln_post.";
        for (int i = 0; i < n; i++) {
            float[] image = Arrays.copyOfRange(pixels, i * px, (i + 1) * px);
            // the base model's pass: the last block's inputs are untouched, so its activations are the base's
            double[] cls = ReferenceVisionForward.residualStream(base, hf, HEADS, true, image)[0].clone();
            double[] act = ReferenceVisionForward.mlpClsActivations(base, hf, HEADS, true, image)[last];
            for (int j = 0; j < neurons.length; j++) {
                for (int o = 0; o < D; o++) cls[o] += (alphas[j] - 1) * act[neurons[j]] * w[o * HIDDEN + neurons[j]];
            }
            double[] e = ReferenceTextForward.layerNorm(cls, doubles(base.get(post + "weight").data()), doubles(base.get(post + "bias").data()));
            double[] want = new double[f.p];
            for (int k = 0; k < f.p; k++) {
                for (int o = 0; o < D; o++) want[k] += e[o] * (hf ? base.get("visual_projection.weight").data()[k * D + o] : f.proj[o * f.p + k]);
            }
            double[] unedited = ReferenceVisionForward.embed(base, hf, HEADS, true, image);
            assertTrue(RelativeError.of(unedited, want) > 1e-3, "the edit moves the embedding, image " + i);
            assertTrue(RelativeError.of(ours[i], want) < 1e-5, "image " + i + ": " + RelativeError.of(ours[i], want));
        }
    }

    static double[] doubles(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    @Test
    void badMlpRowsAreRefusedAndVoTablesKeepThePapersEditsColumns() throws Exception {
        VisionFixtures f = VisionFixtures.random(53, 32, 8, D, LAYERS, HEADS, 24);
        Path in = f.writeOpenClip(tmp.resolve("in-bad"), true);
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("layer,head,sv,alpha,component\n1,2,5,0,mlp\n", "line 2: an mlp row has head '2'");
        cases.put("layer,head,sv,alpha,component\n1,,192,0,mlp\n", "(mlp layer 1 neuron 192) is outside the checkpoint (neurons 0..191 in block 1)");
        cases.put("layer,head,sv,alpha,component\n3,,0,0,mlp\n", "(mlp layer 3 neuron 0) is outside the checkpoint (3 layers)");
        cases.put("layer,head,sv,alpha,component\n1,0,0,0,qk\n", "component 'qk' is not vo or mlp");
        cases.put("layer,head,sv,alpha,component\n1,,4,0,mlp\n1,,4,2,mlp\n", "mlp layer 1 neuron 4 is listed twice");
        cases.put("layer,head,sv,alpha,component,tower\n1,,4,0,mlp,text\n", "only the vision tower is edited");
        cases.put("layer,head,sv,alpha,component\n1,,4,0,vo\n", "line 2: head '' is not an integer");
        int i = 0;
        for (var c : cases.entrySet()) {
            Path edits = tmp.resolve("bad" + i++ + ".csv");
            Files.writeString(edits, c.getKey());
            Path out = tmp.resolve("out-bad" + i);
            Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", out.toString());
            assertEquals(2, run.status(), c.getKey());
            assertTrue(run.stderr().contains(c.getValue()), run.stderr());
            assertFalse(Files.exists(out), "nothing written for " + c.getKey());
        }
        // a table whose component column says vo throughout writes the paper's edits/ columns
        Path edits = tmp.resolve("vo.csv");
        Files.writeString(edits, "layer,head,sv,alpha,component\n1,2,0,0,vo\n2,1,1,0.5,\n");
        Path out = tmp.resolve("out-vo");
        Run run = cli("edit", "--checkpoint", in.toString(), "--edits", edits.toString(), "--out", out.toString());
        assertEquals(0, run.status(), run.stderr());
        assertEquals(List.of("model", "layer", "head", "sv", "alpha", "sigma", "selection", "relevance", "concepts"),
                Arrays.asList(spark.read().parquet(out.resolve("edits").toString()).columns()));
    }
}
