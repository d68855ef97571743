package org.sith.model;

import org.sith.linalg.Gemm;

/**
 * y = x·Wᵀ + b for a batch of rows, W kept off-heap as stored by PyTorch, (out, in): one row-major
 * {@code cblas_sgemm} with W transposed, into preallocated off-heap operands.
 */
final class Linear {
    private final Gemm.Matrix weight;
    private final float[] bias;
    final int in;
    final int out;

    Linear(float[] weight, float[] bias, int out, int in) {
        if (weight.length != (long) out * in || (bias != null && bias.length != out)) {
            throw new IllegalArgumentException("Linear " + out + "x" + in + ": weight " + weight.length
                    + ", bias " + (bias == null ? "none" : bias.length));
        }
        this.weight = Gemm.matrix(weight, out, in);
        this.bias = bias == null ? null : bias.clone();
        this.in = in;
        this.out = out;
    }

    /** y[0 .. rows·out) = x[0 .. rows·in)·Wᵀ + b. */
    void apply(float[] x, int rows, float[] y, Workspace ws) {
        Gemm.Matrix xa = ws.matrix("x", rows, in);
        xa.buffer().put(0, x, 0, rows * in);
        Gemm.Matrix ya = ws.matrix("y", rows, out);
        Gemm.sgemm(true, xa.pointer(), in, weight.pointer(), in, ya.pointer(), out, rows, out, in);
        ya.buffer().get(0, y, 0, rows * out);
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                int o = r * out;
                for (int j = 0; j < out; j++) y[o + j] += bias[j];
            }
        }
    }

    /** Multiply-adds of one row. */
    long flopsPerRow() {
        return 2L * in * out;
    }
}
