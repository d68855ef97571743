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
        double[] valueT = new double[d * dh];
        for (int i = 0; i < dh; i++) {
            int row = (first + i) * d;
            double mean = 0;
            double[] folded = new double[d];
            for (int k = 0; k < d; k++) {
                folded[k] = (double) valueWeight[row + k] * ln1Weight[k];
                mean += folded[k];
            }
            mean = center ? mean / d : 0;
            for (int k = 0; k < d; k++) valueT[k * dh + i] = folded[k] - mean;
        }
        double[] out = new double[d * dh];
        for (int i = 0; i < dh; i++) {
            int col = first + i;
            double mean = 0;
            for (int o = 0; o < d; o++) mean += outWeight[o * d + col];
            mean = center ? mean / d : 0;
            for (int o = 0; o < d; o++) out[o * dh + i] = outWeight[o * d + col] - mean;
        }
        return new VoFactors(layer, head, d, dh, valueT, out);
    }
}
