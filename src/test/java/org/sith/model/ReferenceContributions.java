package org.sith.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.sith.checkpoint.TensorData;

/**
 * SPEC §11 by brute force, for ONE image, in double and written independently of the product's code: the terms c_k of
 * the class token's final residual, built from the weights by name (in either layout), the double-precision
 * {@link ReferenceVisionForward} trace and the dense SVD of each folded, centered VO matrix
 * ({@link ReferenceMatchScores#headSvdRead}); every e_k = ((c_k − mean c_k)/s ⊙ γ)·P materialized, s from the reference
 * x_L; shares ⟨e_k, e⟩/‖e‖² against the reference embedding e.
 *
 * <p>Keys: {@code "vo/l/h/j"}, {@code "mlp/l/i"} (neuron i's act_i·w_i), and the constant kinds {@code "vo_bias"},
 * {@code "out_bias"}, {@code "mlp_bias"}, {@code "embed"}, {@code "ln_post_bias"} (each summed over layers).
 */
public final class ReferenceContributions {
    /**
     * @param e         the reference embedding e = LN_post(x_L)·P
     * @param sum       Σ e_k + e_β, materialized term by term
     * @param offset    x_L − Σ c_k: must be a multiple of the all-ones vector (its spread is {@code offsetSpread})
     * @param shares    by key
     * @param scores    σ_j⟨z_h,u_j⟩ for "vo/…" keys, act_i·‖w_i‖ for "mlp/…" keys
     */
    public record Result(double[] e, double[] sum, double offsetSpread, LinkedHashMap<String, Double> shares, Map<String, Double> scores) {}

    private final Map<String, TensorData> t;
    private final boolean hf;
    private final int heads;
    private final boolean quickGelu;
    private final Map<String, ReferenceMatchScores.HeadSvd> svds = new HashMap<>();

    public ReferenceContributions(Map<String, TensorData> tensors, boolean hfLayout, int heads, boolean quickGelu) {
        this.t = tensors;
        this.hf = hfLayout;
        this.heads = heads;
        this.quickGelu = quickGelu;
    }

    private String block(int l) {
        return (hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks.") + l + ".";
    }

    private double[] vec(String name) {
        return new ReferenceVisionForward.W(t).vector(name);
    }

    private double[][] mat(String name) {
        return new ReferenceVisionForward.W(t).matrix(name);
    }

    public Result of(float[] pixels) {
        ReferenceVisionForward.Trace tr = ReferenceVisionForward.trace(t, hf, heads, quickGelu, pixels);
        double[][] acts = ReferenceVisionForward.mlpClsActivations(t, hf, heads, quickGelu, pixels);
        double[] xL = ReferenceVisionForward.residualStream(t, hf, heads, quickGelu, pixels)[0];
        double[] e = ReferenceVisionForward.embed(t, hf, heads, quickGelu, pixels);
        int layers = acts.length;
        int d = xL.length;
        int dh = d / heads;
        LinkedHashMap<String, double[]> terms = new LinkedHashMap<>();
        Map<String, Double> scores = new HashMap<>();
        // the embedding stage at CLS
        String emb = hf ? "vision_model.embeddings." : "visual.";
        double[] cls = vec(emb + "class_embedding");
        double[][] pos = mat(hf ? emb + "position_embedding.weight" : emb + "positional_embedding");
        double[] x0 = new double[d];
        for (int i = 0; i < d; i++) x0[i] = cls[i] + pos[0][i];
        String pre = hf ? "vision_model.pre_layrnorm." : "visual.ln_pre.";
        terms.put("embed", ReferenceTextForward.layerNorm(x0, vec(pre + "weight"), vec(pre + "bias")));
        double[] voBias = new double[d];
        double[] outBias = new double[d];
        double[] mlpBias = new double[d];
        for (int l = 0; l < layers; l++) {
            String b = block(l);
            double[][] wv = new double[d][];
            double[] bv = new double[d];
            if (hf) {
                wv = mat(b + "self_attn.v_proj.weight");
                bv = vec(b + "self_attn.v_proj.bias");
            } else {
                double[][] in = mat(b + "attn.in_proj_weight");
                double[] inB = vec(b + "attn.in_proj_bias");
                for (int r = 0; r < d; r++) {
                    wv[r] = in[2 * d + r];
                    bv[r] = inB[2 * d + r];
                }
            }
            double[] beta1 = vec(b + (hf ? "layer_norm1.bias" : "ln_1.bias"));
            double[][] wo = mat(b + (hf ? "self_attn.out_proj.weight" : "attn.out_proj.weight"));
            double[] bo = vec(b + (hf ? "self_attn.out_proj.bias" : "attn.out_proj.bias"));
            double[][] w2 = mat(b + (hf ? "mlp.fc2.weight" : "mlp.c_proj.weight"));
            double[] b2 = vec(b + (hf ? "mlp.fc2.bias" : "mlp.c_proj.bias"));
            // value bias with LN1's β: b_v + W_v·β₁, through the whole out-projection
            double[] bvf = new double[d];
            for (int r = 0; r < d; r++) {
                bvf[r] = bv[r];
                for (int i = 0; i < d; i++) bvf[r] += wv[r][i] * beta1[i];
            }
            for (int o = 0; o < d; o++) {
                for (int i = 0; i < d; i++) voBias[o] += wo[o][i] * bvf[i];
                outBias[o] += bo[o];
                mlpBias[o] += b2[o];
            }
            for (int h = 0; h < heads; h++) {
                final int layer = l;
                final int head = h;
                ReferenceMatchScores.HeadSvd svd = svds.computeIfAbsent(l + "/" + h, k -> ReferenceMatchScores.headSvdRead(t, hf, layer, head, heads));
                double[] z = ReferenceVisionForward.z(tr, l, h);
                for (int j = 0; j < dh; j++) {
                    double s = ReferenceMatchScores.score(z, svd.sigma()[j], svd.u()[j]);
                    double[] c = new double[d];
                    for (int i = 0; i < d; i++) c[i] = s * svd.v()[j][i];
                    terms.put("vo/" + l + "/" + h + "/" + j, c);
                    scores.put("vo/" + l + "/" + h + "/" + j, s);
                }
            }
            int hidden = acts[l].length;
            for (int n = 0; n < hidden; n++) {
                double[] c = new double[d];
                double mean = 0;
                for (int o = 0; o < d; o++) mean += w2[o][n];
                mean /= d;
                double norm = 0;
                for (int o = 0; o < d; o++) {
                    c[o] = acts[l][n] * w2[o][n];
                    norm += (w2[o][n] - mean) * (w2[o][n] - mean);
                }
                terms.put("mlp/" + l + "/" + n, c);
                scores.put("mlp/" + l + "/" + n, acts[l][n] * Math.sqrt(norm));
            }
        }
        terms.put("vo_bias", voBias);
        terms.put("out_bias", outBias);
        terms.put("mlp_bias", mlpBias);

        // x_L − Σ c_k is a multiple of the all-ones vector
        double[] off = xL.clone();
        for (double[] c : terms.values()) for (int i = 0; i < d; i++) off[i] -= c[i];
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double x : off) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }

        double m = 0;
        for (double x : xL) m += x;
        m /= d;
        double var = 0;
        for (double x : xL) var += (x - m) * (x - m);
        double s = Math.sqrt(var / d + 1e-5);
        String post = hf ? "vision_model.post_layernorm." : "visual.ln_post.";
        double[] gamma = vec(post + "weight");
        double[] beta = vec(post + "bias");
        double ee = 0;
        for (double x : e) ee += x * x;
        LinkedHashMap<String, Double> shares = new LinkedHashMap<>();
        double[] sum = project(beta);
        double lnPostShare = dot(sum, e) / ee;
        for (Map.Entry<String, double[]> k : terms.entrySet()) {
            double[] c = k.getValue();
            double cm = 0;
            for (double x : c) cm += x;
            cm /= d;
            double[] y = new double[d];
            for (int i = 0; i < d; i++) y[i] = (c[i] - cm) / s * gamma[i];
            double[] ek = project(y);
            for (int j = 0; j < ek.length; j++) sum[j] += ek[j];
            shares.put(k.getKey(), dot(ek, e) / ee);
        }
        shares.put("ln_post_bias", lnPostShare);
        return new Result(e, sum, hi - lo, shares, scores);
    }

    /** y·P (OpenCLIP's visual.proj, d×p) or W·y (HF's visual_projection.weight, p×d). */
    private double[] project(double[] y) {
        if (hf) return ReferenceTextForward.linear(mat("visual_projection.weight"), null, y);
        double[][] p = mat("visual.proj");
        double[] r = new double[p[0].length];
        for (int j = 0; j < r.length; j++) for (int i = 0; i < y.length; i++) r[j] += y[i] * p[i][j];
        return r;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** The ranked keys ("vo/…", and "mlp/…" when {@code neurons}) by share descending; ties: lower layer, head vectors first, head, sv. */
    public static List<String> ranked(Map<String, Double> shares, boolean neurons) {
        List<String> keys = new ArrayList<>();
        for (String k : shares.keySet()) if (k.startsWith("vo/") || (neurons && k.startsWith("mlp/"))) keys.add(k);
        keys.sort((a, b) -> {
            int c = Double.compare(shares.get(b), shares.get(a));
            if (c != 0) return c;
            int[] ka = key(a);
            int[] kb = key(b);
            for (int i = 0; i < ka.length; i++) if (ka[i] != kb[i]) return Integer.compare(ka[i], kb[i]);
            return 0;
        });
        return keys;
    }

    /** (layer, 0 for a head vector / 1 for a neuron, head, sv). */
    static int[] key(String k) {
        String[] p = k.split("/");
        if (p[0].equals("vo")) return new int[] {Integer.parseInt(p[1]), 0, Integer.parseInt(p[2]), Integer.parseInt(p[3])};
        return new int[] {Integer.parseInt(p[1]), 1, 0, Integer.parseInt(p[2])};
    }
}
