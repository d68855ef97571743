package org.sith.model;

import static org.sith.model.ReferenceTextForward.add;
import static org.sith.model.ReferenceTextForward.gelu;
import static org.sith.model.ReferenceTextForward.layerNorm;
import static org.sith.model.ReferenceTextForward.linear;
import static org.sith.model.ReferenceTextForward.quickGelu;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;


import org.sith.checkpoint.TensorData;

/**
 * A deliberately plain, double-precision CLIP vision tower for ONE image (3×S×S floats, C-order,
 * already preprocessed), reading the weights by name in either layout. Slow and obvious on
 * purpose: it is the test oracle (SPEC §7, Vision, and "Per-head image score for matching").
 */
public final class ReferenceVisionForward {

    private ReferenceVisionForward() {}

    /**
     * What one forward pass saw, per layer {@code l} (0-based):
     * {@code x[l]} the block input rows (T × d, before LN1; {@code x[0]} is LN_pre's output),
     * {@code xHat[l]} = (x − mean)/sqrt(var + 1e-5) per row (LN1 without its affine),
     * {@code a[l][h]} the softmax weights (T) of the CLS query (row 0) of head {@code h}.
     */
    public record Trace(double[][][] x, double[][][] xHat, double[][][] a) {}

    /** The unnormalized p-vector: LN_post of the CLS row (token 0) of the last stream, · projection. */
    public static double[] embed(Map<String, TensorData> tensors, boolean hfLayout, int heads,
                                 boolean quickGelu, float[] pixels) {
        W w = new W(tensors);
        double[] cls = residualStream(tensors, hfLayout, heads, quickGelu, pixels)[0];
        String post = hfLayout ? "vision_model.post_layernorm." : "visual.ln_post.";
        double[] f = layerNorm(cls, w.vector(post + "weight"), w.vector(post + "bias"));
        if (hfLayout) return linear(w.matrix("visual_projection.weight"), null, f); // (p, d): W·f
        double[][] proj = w.matrix("visual.proj");                                 // (d, p): f·P
        double[] r = new double[proj[0].length];
        for (int j = 0; j < r.length; j++) {
            for (int i = 0; i < f.length; i++) r[j] += f[i] * proj[i][j];
        }
        return r;
    }

    /** The per-layer trace of one forward pass (see {@link Trace}). */
    public static Trace trace(Map<String, TensorData> tensors, boolean hfLayout, int heads,
                              boolean quickGelu, float[] pixels) {
        List<double[][]> xs = new ArrayList<>(), hats = new ArrayList<>(), as = new ArrayList<>();
        run(tensors, hfLayout, heads, quickGelu, pixels, xs, hats, as);
        return new Trace(xs.toArray(new double[0][][]), hats.toArray(new double[0][][]), as.toArray(new double[0][][]));
    }

    /**
     * Per layer, the class token's MLP activations after the activation function (the input of c_proj / fc2):
     * {@code [layer][i]} = act(LN2(x_CLS)·W_fcᵀ + b_fc)_i, the act_i(CLS) of SPEC §7's neuron score.
     */
    public static double[][] mlpClsActivations(Map<String, TensorData> tensors, boolean hfLayout, int heads,
                                               boolean quickGelu, float[] pixels) {
        List<double[]> acts = new ArrayList<>();
        run(tensors, hfLayout, heads, quickGelu, pixels, null, null, null, acts);
        return acts.toArray(new double[0][]);
    }

    /** z_h = Σ_t a[layer][head][t] · x̂[layer][t] (a d-vector). */
    public static double[] z(Trace tr, int layer, int head) {
        double[] a = tr.a()[layer][head];
        double[][] xHat = tr.xHat()[layer];
        double[] z = new double[xHat[0].length];
        for (int t = 0; t < a.length; t++) {
            for (int i = 0; i < z.length; i++) z[i] += a[t] * xHat[t][i];
        }
        return z;
    }

    /**
     * Token embeddings before LN_pre (T × d): row 0 the class embedding, row 1 + (pi·G + pj) the
     * patch at grid row pi, column pj: Σ_{c,i,j} conv[d][c][i][j] · pixel[c][pi·P+i][pj·P+j];
     * then + positions.
     */
    public static double[][] embeddings(Map<String, TensorData> tensors, boolean hfLayout, float[] pixels) {
        W w = new W(tensors);
        String e = hfLayout ? "vision_model.embeddings." : "visual.";
        TensorData conv = w.get(hfLayout ? e + "patch_embedding.weight" : e + "conv1.weight");
        double[] cls = w.vector(e + "class_embedding");
        double[][] pos = w.matrix(hfLayout ? e + "position_embedding.weight" : e + "positional_embedding");
        long[] cs = conv.shape();
        if (cs.length != 4 || cs[1] != 3 || cs[2] != cs[3]) throw new IllegalArgumentException("bad conv shape");
        int d = (int) cs[0], pp = (int) cs[2];
        int s = (int) Math.round(Math.sqrt(pixels.length / 3.0));
        if (3 * s * s != pixels.length || s % pp != 0) throw new IllegalArgumentException("bad image size");
        int g = s / pp, n = g * g + 1;
        if (pos.length != n || pos[0].length != d || cls.length != d) {
            throw new IllegalArgumentException("positions/class embedding do not fit " + n + " tokens of width " + d);
        }
        float[] k = conv.data();
        double[][] x = new double[n][d];
        x[0] = cls.clone();
        for (int pi = 0; pi < g; pi++) {
            for (int pj = 0; pj < g; pj++) {
                double[] row = x[1 + pi * g + pj];
                for (int o = 0; o < d; o++) {
                    double sum = 0;
                    for (int c = 0; c < 3; c++) {
                        for (int i = 0; i < pp; i++) {
                            for (int j = 0; j < pp; j++) {
                                double wt = k[((o * 3 + c) * pp + i) * pp + j];
                                double px = pixels[(c * s + pi * pp + i) * s + pj * pp + j];
                                sum += wt * px;
                            }
                        }
                    }
                    row[o] = sum;
                }
            }
        }
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < d; i++) x[t][i] += pos[t][i];
        }
        return x;
    }

    /** The residual stream (T × width) after the last block, before LN_post. */
    public static double[][] residualStream(Map<String, TensorData> tensors, boolean hfLayout, int heads,
                                            boolean quickGelu, float[] pixels) {
        return run(tensors, hfLayout, heads, quickGelu, pixels, null, null, null);
    }

    private static double[][] run(Map<String, TensorData> tensors, boolean hfLayout, int heads, boolean quickGelu,
                                  float[] pixels, List<double[][]> xs, List<double[][]> hats, List<double[][]> as) {
        return run(tensors, hfLayout, heads, quickGelu, pixels, xs, hats, as, null);
    }

    private static double[][] run(Map<String, TensorData> tensors, boolean hfLayout, int heads, boolean quickGelu,
                                  float[] pixels, List<double[][]> xs, List<double[][]> hats, List<double[][]> as,
                                  List<double[]> clsActs) {
        W w = new W(tensors);
        double[][] x = embeddings(tensors, hfLayout, pixels);
        int n = x.length, d = x[0].length;
        if (d % heads != 0) throw new IllegalArgumentException("width % heads != 0");
        int dh = d / heads;
        String pre = hfLayout ? "vision_model.pre_layrnorm." : "visual.ln_pre.";
        for (int t = 0; t < n; t++) x[t] = layerNorm(x[t], w.vector(pre + "weight"), w.vector(pre + "bias"));

        for (int l = 0; w.has(block(hfLayout, l) + (hfLayout ? "layer_norm1.weight" : "ln_1.weight")); l++) {
            String b = block(hfLayout, l);
            // ---- attention
            String ln1 = b + (hfLayout ? "layer_norm1." : "ln_1.");
            double[] g1 = w.vector(ln1 + "weight"), b1 = w.vector(ln1 + "bias");
            double[][] h = new double[n][], hat = new double[n][];
            for (int t = 0; t < n; t++) {
                hat[t] = layerNorm(x[t], null, null);
                h[t] = layerNorm(x[t], g1, b1);
            }
            double[][][] qkvW = new double[3][][];
            double[][] qkvB = new double[3][];
            if (hfLayout) {
                String[] names = {"q", "k", "v"};
                for (int i = 0; i < 3; i++) {
                    qkvW[i] = w.matrix(b + "self_attn." + names[i] + "_proj.weight");
                    qkvB[i] = w.vector(b + "self_attn." + names[i] + "_proj.bias");
                }
            } else {
                double[][] inW = w.matrix(b + "attn.in_proj_weight");
                double[] inB = w.vector(b + "attn.in_proj_bias");
                for (int i = 0; i < 3; i++) {
                    qkvW[i] = new double[d][];
                    qkvB[i] = new double[d];
                    for (int r = 0; r < d; r++) {
                        qkvW[i][r] = inW[i * d + r];
                        qkvB[i][r] = inB[i * d + r];
                    }
                }
            }
            String out = b + (hfLayout ? "self_attn.out_proj." : "attn.out_proj.");
            double[][] oW = w.matrix(out + "weight");
            double[] oB = w.vector(out + "bias");

            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                q[t] = linear(qkvW[0], qkvB[0], h[t]);
                k[t] = linear(qkvW[1], qkvB[1], h[t]);
                v[t] = linear(qkvW[2], qkvB[2], h[t]);
            }
            double[][] attn = new double[n][d];
            double[][] clsWeights = new double[heads][];
            for (int hd = 0; hd < heads; hd++) {
                int o = hd * dh;
                for (int t = 0; t < n; t++) {
                    double[] s = new double[n]; // no mask: every query sees every token
                    double max = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u < n; u++) {
                        double dot = 0;
                        for (int i = 0; i < dh; i++) dot += q[t][o + i] * k[u][o + i];
                        s[u] = dot / Math.sqrt(dh);
                        max = Math.max(max, s[u]);
                    }
                    double sum = 0;
                    for (int u = 0; u < n; u++) { s[u] = Math.exp(s[u] - max); sum += s[u]; }
                    for (int u = 0; u < n; u++) s[u] /= sum;
                    for (int u = 0; u < n; u++) {
                        for (int i = 0; i < dh; i++) attn[t][o + i] += s[u] * v[u][o + i];
                    }
                    if (t == 0) clsWeights[hd] = s;
                }
            }
            if (xs != null) {
                xs.add(copy(x));
                hats.add(hat);
                as.add(clsWeights);
            }
            for (int t = 0; t < n; t++) add(x[t], linear(oW, oB, attn[t]));

            // ---- MLP
            String ln2 = b + (hfLayout ? "layer_norm2." : "ln_2.");
            String fc1 = b + (hfLayout ? "mlp.fc1." : "mlp.c_fc.");
            String fc2 = b + (hfLayout ? "mlp.fc2." : "mlp.c_proj.");
            double[][] w1 = w.matrix(fc1 + "weight"), w2 = w.matrix(fc2 + "weight");
            double[] c1 = w.vector(fc1 + "bias"), c2 = w.vector(fc2 + "bias");
            double[] g2 = w.vector(ln2 + "weight"), b2 = w.vector(ln2 + "bias");
            for (int t = 0; t < n; t++) {
                double[] a = linear(w1, c1, layerNorm(x[t], g2, b2));
                for (int i = 0; i < a.length; i++) a[i] = quickGelu ? quickGelu(a[i]) : gelu(a[i]);
                if (t == 0 && clsActs != null) clsActs.add(a.clone());
                add(x[t], linear(w2, c2, a));
            }
        }
        return x;
    }

    private static String block(boolean hf, int l) {
        return (hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks.") + l + ".";
    }

    private static double[][] copy(double[][] m) {
        double[][] r = new double[m.length][];
        for (int i = 0; i < m.length; i++) r[i] = m[i].clone();
        return r;
    }

    /** Weight lookup by exact name, failing loudly on a missing tensor or a bad rank. */
    record W(Map<String, TensorData> map) {
        boolean has(String name) {
            return map.containsKey(name);
        }

        TensorData get(String name) {
            TensorData t = map.get(name);
            if (t == null) throw new IllegalArgumentException("missing tensor " + name);
            return t;
        }

        double[] vector(String name) {
            TensorData t = get(name);
            if (t.shape().length != 1) throw new IllegalArgumentException(name + " is not 1-D");
            double[] r = new double[t.data().length];
            for (int i = 0; i < r.length; i++) r[i] = t.data()[i];
            return r;
        }

        double[][] matrix(String name) {
            TensorData t = get(name);
            if (t.shape().length != 2) throw new IllegalArgumentException(name + " is not 2-D");
            int rows = (int) t.shape()[0], cols = (int) t.shape()[1];
            double[][] r = new double[rows][cols];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) r[i][j] = t.data()[i * cols + j];
            }
            return r;
        }
    }
}
