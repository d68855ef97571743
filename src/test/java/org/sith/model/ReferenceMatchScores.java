package org.sith.model;

import java.util.Map;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;

import org.sith.checkpoint.TensorData;

/**
 * Test oracle for SPEC §3 (head bases) and §7 ("Per-head image score for matching"): the folded,
 * centered VO matrix of one vision head built DENSE in double, its SVD by commons-math3, and the
 * score σ_j·⟨z_h, u_j⟩. Row-vector notation: a head maps an LN1-normalized row x̂ to x̂·M_h.
 */
public final class ReferenceMatchScores {
    private ReferenceMatchScores() {}

    /**
     * The kept rank-d_h SVD M_h = Σ_j σ_j u_j v_jᵀ, σ descending; {@code u[j]} is the j-th read
     * direction, {@code v[j]} the j-th write direction (d entries each, unit). Sign rule: the entry
     * of u_j with the largest absolute value (first one on an exact tie) is positive.
     */
    public record HeadSvd(double[] sigma, double[][] u, double[][] v) {}

    /**
     * The dense d×d M_h of SPEC §3 for {@code head} of vision block {@code layer}:
     * <ol>
     * <li>fold LN1: Wv_h[r][i] = W_V[h·d_h + r][i] · γ[i] (W_V = rows [2d, 3d) of in_proj_weight,
     *     or v_proj.weight; γ = ln_1.weight);</li>
     * <li>center: subtract from every row of Wv_h its mean over the d inputs i; subtract from
     *     every column of W_out its mean over the d outputs o, Wo_h[o][r] = W_out[o][h·d_h + r]
     *     − mean_o' W_out[o'][h·d_h + r];</li>
     * <li>M_h = Wv_hᵀ · Wo_hᵀ, i.e. M[i][o] = Σ_r Wv_h[r][i] · Wo_h[o][r]. Biases stay out.</li>
     * </ol>
     */
    public static double[][] foldedCenteredVO(Map<String, TensorData> tensors, boolean hfLayout,
                                              int layer, int head, int heads) {
        ReferenceVisionForward.W w = new ReferenceVisionForward.W(tensors);
        String b = (hfLayout ? "vision_model.encoder.layers." : "visual.transformer.resblocks.") + layer + ".";
        double[] gamma = w.vector(b + (hfLayout ? "layer_norm1.weight" : "ln_1.weight"));
        double[][] wOut = w.matrix(b + (hfLayout ? "self_attn.out_proj.weight" : "attn.out_proj.weight"));
        int d = gamma.length;
        if (d % heads != 0) throw new IllegalArgumentException("width % heads != 0");
        int dh = d / heads;
        double[][] wV; // (d, d), (out, in)
        if (hfLayout) {
            wV = w.matrix(b + "self_attn.v_proj.weight");
        } else {
            double[][] inW = w.matrix(b + "attn.in_proj_weight");
            wV = new double[d][];
            for (int r = 0; r < d; r++) wV[r] = inW[2 * d + r];
        }

        double[][] wvH = new double[dh][d]; // folded, then centered over its d inputs
        for (int r = 0; r < dh; r++) {
            double mean = 0;
            for (int i = 0; i < d; i++) {
                wvH[r][i] = wV[head * dh + r][i] * gamma[i];
                mean += wvH[r][i];
            }
            mean /= d;
            for (int i = 0; i < d; i++) wvH[r][i] -= mean;
        }
        double[][] woH = new double[d][dh]; // columns of W_out centered over its d outputs
        for (int r = 0; r < dh; r++) {
            double mean = 0;
            for (int o = 0; o < d; o++) mean += wOut[o][head * dh + r];
            mean /= d;
            for (int o = 0; o < d; o++) woH[o][r] = wOut[o][head * dh + r] - mean;
        }
        double[][] m = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int o = 0; o < d; o++) {
                double s = 0;
                for (int r = 0; r < dh; r++) s += wvH[r][i] * woH[o][r];
                m[i][o] = s;
            }
        }
        return m;
    }

    /** SVD of the dense {@link #foldedCenteredVO}, rank d_h = d / heads, sign rule applied. */
    public static HeadSvd headSvdRead(Map<String, TensorData> tensors, boolean hfLayout,
                                      int layer, int head, int heads) {
        double[][] m = foldedCenteredVO(tensors, hfLayout, layer, head, heads);
        int d = m.length, dh = d / heads;
        SingularValueDecomposition svd = new SingularValueDecomposition(new Array2DRowRealMatrix(m));
        double[] all = svd.getSingularValues(); // descending
        RealMatrix uAll = svd.getU(), vAll = svd.getV();
        double[] sigma = new double[dh];
        double[][] u = new double[dh][], v = new double[dh][];
        for (int j = 0; j < dh; j++) {
            sigma[j] = all[j];
            u[j] = uAll.getColumn(j);
            v[j] = vAll.getColumn(j);
            int big = 0;
            for (int i = 1; i < d; i++) if (Math.abs(u[j][i]) > Math.abs(u[j][big])) big = i;
            if (u[j][big] < 0) {
                for (int i = 0; i < d; i++) { u[j][i] = -u[j][i]; v[j][i] = -v[j][i]; }
            }
        }
        return new HeadSvd(sigma, u, v);
    }

    /** SPEC §7: score of vector j = σ_j · ⟨z_h, u_j⟩. */
    public static double score(double[] z, double sigma, double[] u) {
        double s = 0;
        for (int i = 0; i < z.length; i++) s += z[i] * u[i];
        return sigma * s;
    }
}
