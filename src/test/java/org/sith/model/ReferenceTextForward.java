package org.sith.model;

import java.util.Map;

import org.apache.commons.math3.special.Erf;

import org.sith.checkpoint.TensorData;

/**
 * A deliberately plain, double-precision CLIP text tower for ONE token sequence, reading the
 * weights by name in either layout. Slow and obvious on purpose: it is the test oracle.
 */
public final class ReferenceTextForward {
    static final double EPS = 1e-5;

    private ReferenceTextForward() {}

    /**
     * The unnormalized p-vector: token + position embeddings, causal pre-LN blocks, final LN on
     * the row of the EOT token (argmax id, first occurrence), then the text projection.
     */
    public static double[] embed(Map<String, TensorData> tensors, boolean hfLayout, int heads,
                                 boolean quickGelu, int[] tokens) {
        W w = new W(tensors, hfLayout);
        double[][] x = residualStream(tensors, hfLayout, heads, quickGelu, tokens);
        int n = tokens.length, d = x[0].length;
        int eot = 0;
        for (int t = 1; t < n; t++) if (tokens[t] > tokens[eot]) eot = t;
        double[] f = hfLayout
                ? layerNorm(x[eot], w.vector("text_model.final_layer_norm.weight"), w.vector("text_model.final_layer_norm.bias"))
                : layerNorm(x[eot], w.vector("ln_final.weight"), w.vector("ln_final.bias"));
        if (hfLayout) return linear(w.matrix("text_projection.weight"), null, f); // (p, d): W·f
        double[][] proj = w.matrix("text_projection");                          // (d, p): f·P
        double[] r = new double[proj[0].length];
        for (int j = 0; j < r.length; j++) {
            for (int i = 0; i < d; i++) r[j] += f[i] * proj[i][j];
        }
        return r;
    }

    /** The residual stream (n × width) after the last block, before the final LN. */
    public static double[][] residualStream(Map<String, TensorData> tensors, boolean hfLayout, int heads,
                                            boolean quickGelu, int[] tokens) {
        W w = new W(tensors, hfLayout);
        double[][] tok = w.matrix(hfLayout ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight");
        double[][] pos = w.matrix(hfLayout ? "text_model.embeddings.position_embedding.weight" : "positional_embedding");
        int n = tokens.length, d = tok[0].length;
        if (n > pos.length) throw new IllegalArgumentException("sequence longer than the context");
        if (d % heads != 0) throw new IllegalArgumentException("width % heads != 0");

        double[][] x = new double[n][d];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < d; i++) x[t][i] = tok[tokens[t]][i] + pos[t][i];
        }

        for (int l = 0; w.has(w.block(l) + (hfLayout ? "layer_norm1.weight" : "ln_1.weight")); l++) {
            String b = w.block(l);
            // ---- attention
            double[][] h = new double[n][];
            for (int t = 0; t < n; t++) {
                h[t] = hfLayout ? layerNorm(x[t], w.vector(b + "layer_norm1.weight"), w.vector(b + "layer_norm1.bias"))
                                : layerNorm(x[t], w.vector(b + "ln_1.weight"), w.vector(b + "ln_1.bias"));
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
            int dh = d / heads;
            double[][] attn = new double[n][d];
            for (int hd = 0; hd < heads; hd++) {
                int o = hd * dh;
                for (int t = 0; t < n; t++) {
                    double[] s = new double[t + 1]; // causal: only positions u <= t
                    double max = Double.NEGATIVE_INFINITY;
                    for (int u = 0; u <= t; u++) {
                        double dot = 0;
                        for (int i = 0; i < dh; i++) dot += q[t][o + i] * k[u][o + i];
                        s[u] = dot / Math.sqrt(dh);
                        max = Math.max(max, s[u]);
                    }
                    double sum = 0;
                    for (int u = 0; u <= t; u++) { s[u] = Math.exp(s[u] - max); sum += s[u]; }
                    for (int u = 0; u <= t; u++) {
                        for (int i = 0; i < dh; i++) attn[t][o + i] += s[u] / sum * v[u][o + i];
                    }
                }
            }
            for (int t = 0; t < n; t++) add(x[t], linear(oW, oB, attn[t]));

            // ---- MLP
            String fc1 = b + (hfLayout ? "mlp.fc1." : "mlp.c_fc.");
            String fc2 = b + (hfLayout ? "mlp.fc2." : "mlp.c_proj.");
            double[][] w1 = w.matrix(fc1 + "weight"), w2 = w.matrix(fc2 + "weight");
            double[] b1 = w.vector(fc1 + "bias"), b2 = w.vector(fc2 + "bias");
            for (int t = 0; t < n; t++) {
                double[] g = hfLayout ? layerNorm(x[t], w.vector(b + "layer_norm2.weight"), w.vector(b + "layer_norm2.bias"))
                                      : layerNorm(x[t], w.vector(b + "ln_2.weight"), w.vector(b + "ln_2.bias"));
                double[] a = linear(w1, b1, g);
                for (int i = 0; i < a.length; i++) a[i] = quickGelu ? quickGelu(a[i]) : gelu(a[i]);
                add(x[t], linear(w2, b2, a));
            }
        }
        return x;
    }

    public static double quickGelu(double z) {
        return z / (1 + Math.exp(-1.702 * z));
    }

    public static double gelu(double z) {
        return 0.5 * z * (1 + Erf.erf(z / Math.sqrt(2)));
    }

    /** (x − mean) / sqrt(biased var + 1e-5) · γ + β; γ and β null = no affine. */
    public static double[] layerNorm(double[] x, double[] gamma, double[] beta) {
        int d = x.length;
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= d;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= d;
        double[] r = new double[d];
        for (int i = 0; i < d; i++) {
            r[i] = (x[i] - mean) / Math.sqrt(var + EPS);
            if (gamma != null) r[i] = r[i] * gamma[i] + beta[i];
        }
        return r;
    }

    /** W·x + b for a PyTorch (out, in) weight; b may be null. */
    static double[] linear(double[][] w, double[] b, double[] x) {
        double[] y = new double[w.length];
        for (int o = 0; o < w.length; o++) {
            double s = b == null ? 0 : b[o];
            for (int i = 0; i < x.length; i++) s += w[o][i] * x[i];
            y[o] = s;
        }
        return y;
    }

    static void add(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }

    /** Weight lookup by exact name, failing loudly on a missing tensor or a bad rank. */
    private record W(Map<String, TensorData> map, boolean hf) {
        String block(int l) {
            return (hf ? "text_model.encoder.layers." : "transformer.resblocks.") + l + ".";
        }

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
