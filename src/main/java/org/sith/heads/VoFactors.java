package org.sith.heads;

/**
 * The thin factors of one head's VO map after LN1 folding and centering (SPEC §3 steps 1–3):
 * M_h = valueT · outᵀ, both d×d_h row-major. Biases stay out: they do not depend on the input.
 */
public record VoFactors(int layer, int head, int width, int headDim, double[] valueT, double[] out) {

    /**
     * @param valueWeight the value rows of the block's in-projection, d×d row-major (out, in)
     * @param outWeight   the block's out-projection, d×d row-major (out, in)
     * @param ln1Weight   LN1 γ (folded into the value rows; β only moves the bias)
     * @param center      subtract row means of W_in and column means of W_out (exact under LayerNorm)
     */
    public static VoFactors of(int layer, int head, int width, int headDim,
                               float[] valueWeight, float[] outWeight, float[] ln1Weight, boolean center) {
        int d = width;
        int dh = headDim;
        int first = head * dh;
        // Both walk the row-major weights contiguously (a column walk would miss cache on every read).
        double[] valueT = BlockFactors.foldedRowsT(valueWeight, first, dh, d, ln1Weight, center);
        double[] out = new double[d * dh];
        double[] colSum = new double[dh];
        for (int o = 0; o < d; o++) {
            int src = o * d + first;
            int dst = o * dh;
            for (int i = 0; i < dh; i++) {
                double x = outWeight[src + i];
                out[dst + i] = x;
                colSum[i] += x;
            }
        }
        if (center) {
            for (int o = 0; o < d; o++) {
                int dst = o * dh;
                for (int i = 0; i < dh; i++) out[dst + i] -= colSum[i] / d;
            }
        }
        return new VoFactors(layer, head, d, dh, valueT, out);
    }
}
