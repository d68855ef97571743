package org.sith.model;

/**
 * Multi-head scaled dot-product attention of one sequence, from fused q;k;v rows (3d wide) to
 * head outputs (d wide). Sequences here are short (text: a few tokens, at most the context), so
 * plain loops cost a small fraction of the block's Linear products.
 */
final class Attention {
    private Attention() {}

    /**
     * For rows [start, start+len) of qkv (rows of 3d: q | k | v, head h at columns h·dh..), writes
     * softmax(q·kᵀ/√dh)·v of each head into out (rows of d). With causal, row i sees rows ≤ i.
     */
    static void heads(float[] qkv, int start, int len, int d, int heads, boolean causal, float[] out) {
        heads(qkv, start, len, d, heads, causal, out, null, 0);
    }

    /**
     * As above; when {@code firstRowWeights} is not null, also stores the attention weights of the
     * sequence's first row (the CLS query of a vision sequence) for each head h at
     * {@code firstRowWeights[offset + h·len + t]}.
     */
    static void heads(float[] qkv, int start, int len, int d, int heads, boolean causal, float[] out,
                      float[] firstRowWeights, int offset) {
        int dh = d / heads;
        double scale = 1.0 / Math.sqrt(dh);
        double[] w = new double[len];
        double[] acc = new double[dh];
        for (int h = 0; h < heads; h++) {
            int qOff = h * dh;
            int kOff = d + h * dh;
            int vOff = 2 * d + h * dh;
            for (int i = 0; i < len; i++) {
                int qi = (start + i) * 3 * d + qOff;
                int visible = causal ? i + 1 : len;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < visible; j++) {
                    int kj = (start + j) * 3 * d + kOff;
                    double s = 0;
                    for (int c = 0; c < dh; c++) s += qkv[qi + c] * qkv[kj + c];
                    w[j] = s * scale;
                    if (w[j] > max) max = w[j];
                }
                double sum = 0;
                for (int j = 0; j < visible; j++) {
                    w[j] = Math.exp(w[j] - max);
                    sum += w[j];
                }
                if (i == 0 && firstRowWeights != null) {
                    for (int j = 0; j < visible; j++) firstRowWeights[offset + h * len + j] = (float) (w[j] / sum);
                }
                java.util.Arrays.fill(acc, 0);
                for (int j = 0; j < visible; j++) {
                    int vj = (start + j) * 3 * d + vOff;
                    double p = w[j] / sum;
                    for (int c = 0; c < dh; c++) acc[c] += p * qkv[vj + c];
                }
                int o = (start + i) * d + h * dh;
                for (int c = 0; c < dh; c++) out[o + c] = (float) acc[c];
            }
        }
    }
}
