package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.function.DoubleUnaryOperator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.commons.math3.special.Erf;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.sith.checkpoint.SafeTensors;
import org.sith.checkpoint.TensorData;

/** Sanity tests of the test oracle {@link ReferenceTextForward} and of {@link TextFixtures}. */
class ReferenceTextForwardTest {
    private static final int V = 40, CTX = 8, W = 16, L = 2, H = 4, P = 6;

    private static TextFixtures fixture() {
        return TextFixtures.random(7, V, CTX, W, L, H, P);
    }

    /** SOT, three words, EOT: CLIP's shape with SOT = V-2 and EOT = V-1. */
    private static final int[] SEQ = {V - 2, 3, 17, 5, V - 1};

    private static double norm(double[] a) {
        double s = 0;
        for (double v : a) s += v * v;
        return Math.sqrt(s);
    }

    private static double distance(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.sqrt(s);
    }

    // (a) ---------------------------------------------------------------------------------------
    @Test
    void blocksThatWriteNothingLeaveTheEmbeddingOfTheEotToken() {
        TextFixtures f = fixture();
        double[] before = ReferenceTextForward.embed(f.openClip(), false, H, true, SEQ);
        for (int l = 0; l < L; l++) {
            for (float[] a : new float[][] {f.outW[l], f.outB[l], f.fc2W[l], f.fc2B[l]}) Arrays.fill(a, 0f);
        }
        double[] got = ReferenceTextForward.embed(f.openClip(), false, H, true, SEQ);

        int last = SEQ.length - 1, eot = SEQ[last];
        double[] x = new double[W];
        for (int i = 0; i < W; i++) x[i] = (double) f.tok[eot * W + i] + f.pos[last * W + i];
        double mean = Arrays.stream(x).average().orElseThrow();
        double var = Arrays.stream(x).map(v -> (v - mean) * (v - mean)).sum() / W;
        double[] n = new double[W];
        for (int i = 0; i < W; i++) n[i] = (x[i] - mean) / Math.sqrt(var + 1e-5) * f.lnFinalW[i] + f.lnFinalB[i];
        double[] want = new double[P];
        for (int j = 0; j < P; j++) {
            for (int i = 0; i < W; i++) want[j] += n[i] * f.proj[i * P + j];
        }
        assertArrayEquals(want, got, 1e-12);
        assertTrue(distance(before, want) > 0.05 * norm(want), "the blocks matter when they write");
    }

    // (b) ---------------------------------------------------------------------------------------
    @Test
    void tokensAfterTheEotDoNotChangeTheOutput() {
        LinkedHashMap<String, TensorData> m = fixture().openClip();
        double[] base = ReferenceTextForward.embed(m, false, H, false, SEQ);
        int[] padded = {V - 2, 3, 17, 5, V - 1, 0, 0, 0};
        int[] words = {V - 2, 3, 17, 5, V - 1, V - 2, 9, 1};
        assertArrayEquals(base, ReferenceTextForward.embed(m, false, H, false, padded), 0.0);
        assertArrayEquals(base, ReferenceTextForward.embed(m, false, H, false, words), 0.0);
        // ... while the tokens before it do
        double[] changed = ReferenceTextForward.embed(m, false, H, false, new int[] {V - 2, 3, 18, 5, V - 1});
        assertTrue(distance(base, changed) > 1e-3 * norm(base));
        // and the read-out row is the EOT's, not the last one
        double[] eotFirst = ReferenceTextForward.embed(m, false, H, false, new int[] {V - 1, 3, 17, 5, V - 2});
        double[] eotOnly = ReferenceTextForward.embed(m, false, H, false, new int[] {V - 1});
        assertArrayEquals(eotOnly, eotFirst, 0.0);
    }

    // (c) ---------------------------------------------------------------------------------------
    @Test
    void bothNamingLayoutsGiveTheSameOutput() {
        TextFixtures f = fixture();
        for (boolean quick : new boolean[] {true, false}) {
            double[] oc = ReferenceTextForward.embed(f.openClip(), false, H, quick, SEQ);
            double[] hf = ReferenceTextForward.embed(f.huggingFace(), true, H, quick, SEQ);
            assertEquals(P, oc.length);
            assertArrayEquals(oc, hf, 1e-12);
        }
        // the layouts really are read by their own names
        assertThrows(IllegalArgumentException.class,
                () -> ReferenceTextForward.embed(f.openClip(), true, H, true, SEQ));
        assertThrows(IllegalArgumentException.class,
                () -> ReferenceTextForward.embed(f.huggingFace(), false, H, true, SEQ));
        // and a wrong head count is visible
        double[] oneHead = ReferenceTextForward.embed(f.openClip(), false, 1, true, SEQ);
        assertTrue(distance(oneHead, ReferenceTextForward.embed(f.openClip(), false, H, true, SEQ)) > 1e-3);
    }

    // (d) ---------------------------------------------------------------------------------------
    @Test
    void theActivationChoiceIsObservable() {
        LinkedHashMap<String, TensorData> m = fixture().openClip();
        double[] quick = ReferenceTextForward.embed(m, false, H, true, SEQ);
        double[] gelu = ReferenceTextForward.embed(m, false, H, false, SEQ);
        for (double v : quick) assertTrue(Double.isFinite(v) && Math.abs(v) < 100);
        assertTrue(norm(quick) > 0.1);
        assertTrue(distance(quick, gelu) > 1e-3 * norm(quick),
                "QuickGELU vs GELU differ by only " + distance(quick, gelu));
    }

    // (e) ---------------------------------------------------------------------------------------
    /** LayerNorm of a 2-vector, eps 1e-5, written out. */
    private static double[] ln2(double a, double b, double g0, double g1, double b0, double b1) {
        double m = (a + b) / 2;
        double s = Math.sqrt(((a - b) / 2) * ((a - b) / 2) + 1e-5);
        return new double[] {(a - m) / s * g0 + b0, (b - m) / s * g1 + b1};
    }

    @Test
    void handWorkedOneLayerOneHeadWidthTwo() {
        // all weights are exact in float, so the formulas below use the very same numbers
        // vocab 3 (EOT = 2), context 2, width 2, 1 layer, 1 head, p = 2, MLP width 2
        TextFixtures f = TextFixtures.zeros(3, 2, 2, 1, 1, 2, 2);
        set(f.tok, 0, 0, 1, 0, 0, 1);         // tok[1] = (1, 0), tok[2] = (0, 1)
        set(f.pos, 0, 0.5f, 0.5f, 0);         // pos[0] = (0, .5), pos[1] = (.5, 0)
        set(f.ln1W[0], 2, 1);
        set(f.ln1B[0], 0, 0.5f);
        set(f.qW[0], 1, 0.5f, 0, 1);
        set(f.qB[0], 0, 0.125f);
        set(f.kW[0], 1, 1, 0, 1);
        set(f.kB[0], 0.5f, 0);
        set(f.vW[0], 1, 0, 1, -1);
        set(f.vB[0], 0, 0.25f);
        set(f.outW[0], 0.5f, 0, 0, -1);
        set(f.outB[0], 0.125f, 0);
        set(f.ln2W[0], 1, 1);
        set(f.fc1W[0], 1, -1, -2, 0.5f);
        set(f.fc1B[0], 0, -1);
        set(f.fc2W[0], 1, 0.5f, -1, 1);
        set(f.fc2B[0], 0, 0.375f);
        set(f.lnFinalW, 1, 2);
        set(f.lnFinalB, 0.125f, -0.125f);
        set(f.proj, 1, 2, 3, -1);             // (d, p) = [[1, 2], [3, -1]]
        int[] tokens = {1, 2};

        for (boolean quick : new boolean[] {true, false}) {
            DoubleUnaryOperator act = quick
                    ? z -> z / (1 + Math.exp(-1.702 * z))
                    : z -> 0.5 * z * (1 + Erf.erf(z / Math.sqrt(2)));
            // embeddings
            double[] x0 = {1, 0.5}, x1 = {0.5, 1};
            // LN1, q/k/v
            double[] h0 = ln2(x0[0], x0[1], 2, 1, 0, 0.5), h1 = ln2(x1[0], x1[1], 2, 1, 0, 0.5);
            double[] q1 = {h1[0] + 0.5 * h1[1], h1[1] + 0.125};
            double[] k0 = {h0[0] + h0[1] + 0.5, h0[1]}, k1 = {h1[0] + h1[1] + 0.5, h1[1]};
            double[] v0 = {h0[0], h0[0] - h0[1] + 0.25}, v1 = {h1[0], h1[0] - h1[1] + 0.25};
            // causal attention: position 0 sees only itself; position 1 sees 0 and 1
            double[] z0 = v0;
            double s0 = (q1[0] * k0[0] + q1[1] * k0[1]) / Math.sqrt(2);
            double s1 = (q1[0] * k1[0] + q1[1] * k1[1]) / Math.sqrt(2);
            double a0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1)), a1 = 1 - a0;
            double[] z1 = {a0 * v0[0] + a1 * v1[0], a0 * v0[1] + a1 * v1[1]};
            // out_proj [[.5, 0], [0, -1]] + (.125, 0)
            double[] y0 = {x0[0] + 0.5 * z0[0] + 0.125, x0[1] - z0[1]};
            double[] y1 = {x1[0] + 0.5 * z1[0] + 0.125, x1[1] - z1[1]};
            // LN2 (1, 1 / 0, 0), fc1 [[1, -1], [-2, .5]] + (0, -1), act, fc2 [[1, .5], [-1, 1]] + (0, .375)
            double[][] rows = new double[2][];
            double[][] ys = {y0, y1};
            for (int t = 0; t < 2; t++) {
                double[] g = ln2(ys[t][0], ys[t][1], 1, 1, 0, 0);
                double u0 = act.applyAsDouble(g[0] - g[1]);
                double u1 = act.applyAsDouble(-2 * g[0] + 0.5 * g[1] - 1);
                rows[t] = new double[] {ys[t][0] + u0 + 0.5 * u1, ys[t][1] - u0 + u1 + 0.375};
            }
            // final LN (1, 2 / .125, -.125) on the EOT row (position 1), then · [[1, 2], [3, -1]]
            double[] fin = ln2(rows[1][0], rows[1][1], 1, 2, 0.125, -0.125);
            double[] want = {fin[0] + 3 * fin[1], 2 * fin[0] - fin[1]};

            assertTrue(a0 > 0.005 && a0 < 0.5, "attention is neither one-hot nor uniform: " + a0);
            for (boolean hf : new boolean[] {false, true}) {
                LinkedHashMap<String, TensorData> m = hf ? f.huggingFace() : f.openClip();
                double[][] stream = ReferenceTextForward.residualStream(m, hf, 1, quick, tokens);
                assertArrayEquals(rows[0], stream[0], 1e-12);
                assertArrayEquals(rows[1], stream[1], 1e-12);
                assertArrayEquals(want, ReferenceTextForward.embed(m, hf, 1, quick, tokens), 1e-12);
            }
        }
    }

    private static void set(float[] a, float... v) {
        assertEquals(a.length, v.length);
        System.arraycopy(v, 0, a, 0, v.length);
    }

    // fixture files ------------------------------------------------------------------------------
    @Test
    void fixtureFilesRoundTrip(@TempDir Path dir) throws Exception {
        TextFixtures f = fixture();
        ObjectMapper json = new ObjectMapper();
        Path hf = f.writeHuggingFace(dir.resolve("hf"), true);
        Path oc = f.writeOpenClip(dir.resolve("oc"), false);

        JsonNode hc = json.readTree(Files.readString(dir.resolve("hf/config.json")));
        assertEquals("quick_gelu", hc.at("/text_config/hidden_act").asText());
        assertEquals(H, hc.at("/text_config/num_attention_heads").asInt());
        assertEquals(4 * W, hc.at("/text_config/intermediate_size").asInt());
        assertEquals(P, hc.at("/projection_dim").asInt());
        JsonNode oj = json.readTree(Files.readString(dir.resolve("oc/open_clip_config.json")));
        assertEquals(false, oj.at("/model_cfg/quick_gelu").asBoolean(true));
        assertEquals(H, oj.at("/model_cfg/text_cfg/heads").asInt());
        assertEquals(CTX, oj.at("/model_cfg/text_cfg/context_length").asInt());

        for (Path p : new Path[] {hf, oc}) {
            LinkedHashMap<String, TensorData> want = p == hf ? f.huggingFace() : f.openClip();
            try (SafeTensors st = SafeTensors.open(p.toString(), new Configuration())) {
                assertEquals(want.keySet(), st.names());
                for (var e : want.entrySet()) {
                    assertArrayEquals(e.getValue().data(), st.readFloats(e.getKey()), e.getKey());
                }
            }
        }
    }
}
