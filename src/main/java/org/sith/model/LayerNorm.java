package org.sith.model;

/** PyTorch's LayerNorm over the last axis: biased variance, eps 1e-5, statistics in double. */
final class LayerNorm {
    static final double EPS = 1e-5;
    private final float[] weight;
    private final float[] bias;

    LayerNorm(float[] weight, float[] bias) {
        if (weight.length != bias.length) throw new IllegalArgumentException("LayerNorm weight/bias lengths differ");
        this.weight = weight.clone();
        this.bias = bias.clone();
    }

    /** y row r = LN(x row r) for rows [0, rows); x and y may be the same array. */
    void apply(float[] x, int rows, float[] y) {
        for (int r = 0; r < rows; r++) apply(x, r * weight.length, y, r * weight.length);
    }

    /** LayerNorm without its affine, (x − mean)/sqrt(var + eps): weight 1 and bias 0 change no bit. */
    static LayerNorm standard(int d) {
        float[] ones = new float[d];
        java.util.Arrays.fill(ones, 1f);
        return new LayerNorm(ones, new float[d]);
    }

    /** One row of width d at offset xo of x into y at offset yo. */
    void apply(float[] x, int xo, float[] y, int yo) {
        int d = weight.length;
        double mean = 0;
        for (int i = 0; i < d; i++) mean += x[xo + i];
        mean /= d;
        double var = 0;
        for (int i = 0; i < d; i++) {
            double c = x[xo + i] - mean;
            var += c * c;
        }
        double inv = 1.0 / Math.sqrt(var / d + EPS);
        for (int i = 0; i < d; i++) y[yo + i] = (float) ((x[xo + i] - mean) * inv * weight[i] + bias[i]);
    }
}
