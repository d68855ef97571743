package org.sith.heads;

import org.sith.checkpoint.BlockTensors;

/**
 * The folded, centered weights of SPEC §3b beyond the VO map: a head's QK circuit as two thin factors, and MLP
 * neurons' write and read vectors. Folding multiplies a read by the LayerNorm's γ (β only moves biases);
 * centering subtracts a read row's mean over its d inputs, or a write column's mean over its d outputs, both exact
 * under the LayerNorms every read of the residual stream goes through.
 */
public final class BlockFactors {
    private BlockFactors() {}

    /**
     * Rows [first, first+n) of a row-major (·, d) weight, folded with γ and (when asked) centered, transposed: a d×n
     * row-major matrix (entry (k, i) at k·n + i).
     */
    static double[] foldedRowsT(float[] w, int first, int n, int d, float[] gamma, boolean center) {
        double[] t = new double[d * n];
        for (int i = 0; i < n; i++) {
            int row = (first + i) * d;
            double sum = 0;
            for (int k = 0; k < d; k++) {
                double f = (double) w[row + k] * gamma[k];
                t[k * n + i] = f;
                sum += f;
            }
            if (center) {
                double mean = sum / d;
                for (int k = 0; k < d; k++) t[k * n + i] -= mean;
            }
        }
        return t;
    }

    /**
     * Head h's QK circuit B_h = Wq_hᵀ·Wk_h as the factors (Wq_hᵀ, Wk_hᵀ), both d×d_h: {@link HeadBasis#compute} then
     * gives u = query-side vectors a_j (sign rule on them) and v = key-side vectors b_j.
     */
    public static VoFactors qk(int layer, int head, int d, int dh, float[] qkvWeight, float[] ln1Weight) {
        double[] q = foldedRowsT(qkvWeight, head * dh, dh, d, ln1Weight, true);
        double[] k = foldedRowsT(qkvWeight, d + head * dh, dh, d, ln1Weight, true);
        return new VoFactors(layer, head, d, dh, q, k);
    }

    /**
     * Neurons [from, to): side right gives w_i = W_proj[:, i] with its mean over the d outputs removed; side left
     * r_i = (W_fc[i, :]·γ₂) with its mean over the d inputs removed. σ is the vector's norm; the vectors are unit
     * (a vector that centering leaves at zero stays zero, with σ = 0, and is flagged degenerate).
     */
    public static VectorGroup mlp(int layer, int from, int to, Side side, int d, BlockTensors b) {
        int n = to - from;
        int hidden = b.mlpWidth();
        double[] sigma = new double[n];
        double[][] vectors = new double[n][d];
        boolean[] degenerate = new boolean[n];
        if (side == Side.RIGHT) {
            float[] proj = b.projWeight(); // d×hidden (out, in)
            for (int o = 0; o < d; o++) {
                int row = o * hidden;
                for (int i = 0; i < n; i++) vectors[i][o] = proj[row + from + i];
            }
            for (double[] v : vectors) {
                double mean = 0;
                for (double x : v) mean += x;
                mean /= d;
                for (int o = 0; o < d; o++) v[o] -= mean;
            }
        } else {
            float[] fc = b.fcWeight(); // hidden×d
            float[] gamma = b.ln2Weight();
            for (int i = 0; i < n; i++) {
                int row = (from + i) * d;
                double[] v = vectors[i];
                double sum = 0;
                for (int k = 0; k < d; k++) {
                    v[k] = (double) fc[row + k] * gamma[k];
                    sum += v[k];
                }
                double mean = sum / d;
                for (int k = 0; k < d; k++) v[k] -= mean;
            }
        }
        for (int i = 0; i < n; i++) {
            double ss = 0;
            for (double x : vectors[i]) ss += x * x;
            sigma[i] = Math.sqrt(ss);
            if (sigma[i] > 0) {
                for (int k = 0; k < d; k++) vectors[i][k] /= sigma[i];
            } else {
                degenerate[i] = true;
            }
        }
        return new VectorGroup(Component.MLP, layer, -1, from, side.label(), sigma, vectors, degenerate);
    }
}
