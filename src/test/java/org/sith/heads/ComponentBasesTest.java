package org.sith.heads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.checkpoint.ClipText;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.checkpoint.TensorMap;
import org.sith.demo.SyntheticClip;

/**
 * SPEC §3b's bases against dense references written out plainly from the stored tensors (read here by name, not
 * through the code under test): QK circuits against a commons-math3 SVD of the explicit d×d Wq_hᵀ·Wk_h, the text
 * tower's VO bases against the dense M_h, MLP write vectors against the change of the block's MLP output when that
 * one neuron fires, and read vectors against the folded c_fc rows.
 */
class ComponentBasesTest {
    @TempDir
    static Path tmp;
    static SyntheticClip clip;
    static LinkedHashMap<String, TensorData> tensors;
    static String checkpoint;

    @BeforeAll
    static void write() throws Exception {
        clip = new SyntheticClip(5);
        tensors = new LinkedHashMap<>(clip.tensors);
        Random r = new Random(9);
        // Affine LayerNorms everywhere they are folded, and write columns with a mean to center away.
        for (String name : new String[] {"visual.transformer.resblocks.1.ln_2.weight", "transformer.resblocks.1.ln_1.weight",
            "transformer.resblocks.1.ln_2.weight"}) {
            tensors.put(name, TensorData.f32(randomAbove(r, (int) tensors.get(name).shape()[0], 0.5), tensors.get(name).shape()));
        }
        for (String name : new String[] {"visual.transformer.resblocks.1.mlp.c_proj.weight", "transformer.resblocks.1.mlp.c_proj.weight"}) {
            float[] w = tensors.get(name).data().clone();
            for (int i = 0; i < w.length; i++) w[i] += 0.01f * (i % 7);
            tensors.put(name, TensorData.f32(w, tensors.get(name).shape()));
        }
        checkpoint = tmp.resolve("model.safetensors").toString();
        SafeTensorsWriter.write(checkpoint, new Configuration(), tensors, Map.of());
        java.nio.file.Files.writeString(tmp.resolve("open_clip_config.json"), clip.openClipConfig());
    }

    static float[] randomAbove(Random r, int n, double lo) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (lo + r.nextDouble());
        return x;
    }

    static double[][] matrix(String name) {
        TensorData t = tensors.get(name);
        int rows = (int) t.shape()[0];
        int cols = (int) t.shape()[1];
        double[][] m = new double[rows][cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) m[i][j] = t.data()[i * cols + j];
        return m;
    }

    static double[] vector(String name) {
        float[] f = tensors.get(name).data();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** Rows [first, first+n) of a (·, d) weight times diag(γ), each row's mean removed: n×d. */
    static double[][] foldedCenteredRows(double[][] w, int first, int n, double[] gamma) {
        int d = gamma.length;
        double[][] out = new double[n][d];
        for (int i = 0; i < n; i++) {
            double m = 0;
            for (int k = 0; k < d; k++) m += (out[i][k] = w[first + i][k] * gamma[k]);
            for (int k = 0; k < d; k++) out[i][k] -= m / d;
        }
        return out;
    }

    /** Compares a basis with the dense SVD of M (d×d): singular values, vectors up to the sign rule, the sign rule. */
    static void assertBasis(HeadBasis b, RealMatrix m, String what) {
        SingularValueDecomposition svd = new SingularValueDecomposition(m);
        double[] s = svd.getSingularValues();
        for (int j = 0; j < b.rank(); j++) {
            assertEquals(s[j], b.sigma()[j], 1e-9 * s[0], what + " σ_" + j);
            if (b.degenerate()[j]) continue;
            double[] u = svd.getU().getColumn(j);
            double[] v = svd.getV().getColumn(j);
            double cu = org.sith.linalg.Vec.dot(u, b.u()[j]);
            double cv = org.sith.linalg.Vec.dot(v, b.v()[j]);
            assertEquals(1.0, Math.abs(cu), 1e-8, what + " u_" + j);
            assertEquals(cu, cv, 1e-8, what + " u_" + j + " and v_" + j + " share their sign");
            int arg = 0;
            for (int i = 1; i < u.length; i++) if (Math.abs(b.u()[j][i]) > Math.abs(b.u()[j][arg])) arg = i;
            assertTrue(b.u()[j][arg] > 0, what + " sign rule on u_" + j);
        }
    }

    @Test
    void qkCircuitsEqualTheDenseSvdOfWqTWk() throws Exception {
        int d = clip.width;
        int dh = d / clip.heads;
        double[][] in = matrix("visual.transformer.resblocks.2.attn.in_proj_weight");
        double[] gamma = vector("visual.transformer.resblocks.2.ln_1.weight");
        try (TowerSource t = TowerSource.open(TowerKind.VISION, checkpoint, new Configuration(), null)) {
            for (int h : new int[] {0, 3}) {
                RealMatrix q = new Array2DRowRealMatrix(foldedCenteredRows(in, h * dh, dh, gamma));
                RealMatrix k = new Array2DRowRealMatrix(foldedCenteredRows(in, d + h * dh, dh, gamma));
                RealMatrix dense = q.transpose().multiply(k); // B_h = Wq_hᵀ·Wk_h, d×d
                HeadBasis b = t.qkBasis(2, h, dh);
                assertBasis(b, dense, "vision layer 2 head " + h + " qk");
                // the bilinear form itself: σ-weighted outer products rebuild B_h
                double err = 0;
                for (int i = 0; i < d; i += 17) {
                    for (int j = 0; j < d; j += 13) {
                        double x = 0;
                        for (int r = 0; r < dh; r++) x += b.sigma()[r] * b.u()[r][i] * b.v()[r][j];
                        err = Math.max(err, Math.abs(x - dense.getEntry(i, j)));
                    }
                }
                assertTrue(err < 1e-9 * b.sigma()[0], "Σ σ a bᵀ = Wq_hᵀ·Wk_h, max error " + err);
            }
        }
    }

    @Test
    void textTowerHeadBasesEqualDenseReferences() throws Exception {
        int d = clip.textWidth;
        int dh = d / clip.textHeads;
        double[][] in = matrix("transformer.resblocks.1.attn.in_proj_weight");
        double[][] out = matrix("transformer.resblocks.1.attn.out_proj.weight");
        double[] gamma = vector("transformer.resblocks.1.ln_1.weight");
        try (TowerSource t = TowerSource.of(ClipText.of(new TensorMap("text", tensors), clip.textHeads, "quick_gelu"))) {
            assertEquals(TowerKind.TEXT, t.kind());
            assertEquals(clip.textLayers, t.layers());
            for (int h = 0; h < clip.textHeads; h++) {
                RealMatrix v = new Array2DRowRealMatrix(foldedCenteredRows(in, 2 * d + h * dh, dh, gamma));
                double[][] o = new double[d][dh];
                for (int c = 0; c < dh; c++) {
                    double m = 0;
                    for (int r = 0; r < d; r++) m += out[r][h * dh + c];
                    for (int r = 0; r < d; r++) o[r][c] = out[r][h * dh + c] - m / d;
                }
                RealMatrix vo = v.transpose().multiply(new Array2DRowRealMatrix(o).transpose()); // M_h = Wv_hᵀ·Wo_hᵀ
                assertBasis(t.voBasis(1, h, dh), vo, "text layer 1 head " + h + " vo");
                RealMatrix q = new Array2DRowRealMatrix(foldedCenteredRows(in, h * dh, dh, gamma));
                RealMatrix k = new Array2DRowRealMatrix(foldedCenteredRows(in, d + h * dh, dh, gamma));
                assertBasis(t.qkBasis(1, h, dh), q.transpose().multiply(k), "text layer 1 head " + h + " qk");
            }
            // the text joint map reads ln_final and text_projection, transposed to d×p
            double[][] proj = matrix("text_projection");
            float[] p = t.projection();
            for (int i = 0; i < d; i += 5) for (int j = 0; j < clip.p; j += 7) assertEquals(proj[i][j], p[i * clip.p + j], 0, "text_projection");
        }
    }

    /** quick_gelu, the demo's activation. */
    static double act(double z) {
        return z / (1 + Math.exp(-1.702 * z));
    }

    /** The block's MLP sublayer on a residual row x, in double, from the stored tensors: c_proj·act(c_fc·LN₂(x) + b) + b. */
    static double[] mlp(String prefix, double[] x, double fcBiasBump, int neuron) {
        double[][] fc = matrix(prefix + "mlp.c_fc.weight");
        double[] fcb = vector(prefix + "mlp.c_fc.bias");
        double[][] proj = matrix(prefix + "mlp.c_proj.weight");
        double[] projb = vector(prefix + "mlp.c_proj.bias");
        int d = x.length;
        double[] ln = ln2(prefix, x);
        double[] h = new double[fc.length];
        for (int i = 0; i < h.length; i++) {
            double z = fcb[i] + (i == neuron ? fcBiasBump : 0);
            for (int k = 0; k < d; k++) z += fc[i][k] * ln[k];
            h[i] = act(z);
        }
        double[] out = projb.clone();
        for (int o = 0; o < d; o++) for (int i = 0; i < h.length; i++) out[o] += proj[o][i] * h[i];
        return out;
    }

    @Test
    void mlpWriteVectorsAreTheBlockOutputChangeWhenTheirNeuronFires() throws Exception {
        Random r = new Random(3);
        for (TowerKind kind : TowerKind.values()) {
            String prefix = kind == TowerKind.VISION ? "visual.transformer.resblocks.1." : "transformer.resblocks.1.";
            int d = kind == TowerKind.VISION ? clip.width : clip.textWidth;
            try (TowerSource t = kind == TowerKind.VISION ? TowerSource.open(kind, checkpoint, new Configuration(), null)
                    : TowerSource.of(ClipText.of(new TensorMap("text", tensors), clip.textHeads, "quick_gelu"))) {
                int hidden = t.mlpWidth(1);
                assertEquals(4 * d, hidden);
                VectorGroup g = t.mlpNeurons(1, 100, 120, Side.RIGHT);
                assertEquals(Component.MLP, g.component());
                assertEquals(-1, g.head());
                double[] x = new double[d];
                for (int k = 0; k < d; k++) x[k] = r.nextGaussian();
                for (int i = 0; i < g.size(); i++) {
                    int neuron = 100 + i;
                    // fire the neuron harder (a bump of its pre-activation) and see what the block writes
                    double[] before = mlp(prefix, x, 0, neuron);
                    double[] after = mlp(prefix, x, 8.0, neuron);
                    double[] delta = new double[d];
                    double mean = 0;
                    for (int o = 0; o < d; o++) mean += (delta[o] = after[o] - before[o]) / d;
                    for (int o = 0; o < d; o++) delta[o] -= mean; // what any later LayerNorm reads of it
                    double cos = org.sith.linalg.Vec.cosine(delta, g.vectors()[i]);
                    assertEquals(1.0, cos, 1e-9, kind + " neuron " + neuron + ": write vector along the output change");
                    double fired = act(zOf(prefix, x, neuron) + 8.0) - act(zOf(prefix, x, neuron));
                    assertEquals(org.sith.linalg.Vec.norm(delta) / fired, g.sigma()[i], 1e-9 * g.sigma()[i], kind + " σ = centered write norm");
                    assertFalse(g.degenerate()[i]);
                }
                // read vectors: the folded c_fc rows, centered over the inputs
                VectorGroup read = t.mlpNeurons(1, 0, 3, Side.LEFT);
                double[][] fc = matrix(prefix + "mlp.c_fc.weight");
                double[][] expect = foldedCenteredRows(fc, 0, 3, vector(prefix + "ln_2.weight"));
                for (int i = 0; i < 3; i++) {
                    assertEquals(org.sith.linalg.Vec.norm(expect[i]), read.sigma()[i], 1e-9 * read.sigma()[i], "read σ");
                    assertEquals(1.0, org.sith.linalg.Vec.cosine(expect[i], read.vectors()[i]), 1e-12, "read vector");
                }
            }
        }
    }

    /** Neuron i's pre-activation on x. */
    static double zOf(String prefix, double[] x, int neuron) {
        double[][] fc = matrix(prefix + "mlp.c_fc.weight");
        double[] ln = ln2(prefix, x);
        double z = vector(prefix + "mlp.c_fc.bias")[neuron];
        for (int k = 0; k < x.length; k++) z += fc[neuron][k] * ln[k];
        return z;
    }

    /** The block's LN2 on x: biased variance, ε = 1e-5, affine. */
    static double[] ln2(String prefix, double[] x) {
        double[] g = vector(prefix + "ln_2.weight");
        double[] b = vector(prefix + "ln_2.bias");
        int d = x.length;
        double mean = 0;
        for (double v : x) mean += v / d;
        double var = 0;
        for (double v : x) var += (v - mean) * (v - mean) / d;
        double[] ln = new double[d];
        for (int k = 0; k < d; k++) ln[k] = (x[k] - mean) / Math.sqrt(var + 1e-5) * g[k] + b[k];
        return ln;
    }
}
