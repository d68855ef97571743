package org.sith.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * y = x·Wᵀ + b for a batch of rows, W kept as stored by PyTorch, (out, in). The product is computed
 * as Yᵀ = W·Xᵀ into an 'f'-order (out × rows) array, whose memory is exactly Y row-major: one
 * {@code Nd4j.gemm} into a preallocated 'f' output, the call PERFORMANCE.md measured at the roofline.
 */
final class Linear {
    private final INDArray weight;
    private final float[] bias;
    final int in;
    final int out;

    Linear(float[] weight, float[] bias, int out, int in) {
        if (weight.length != (long) out * in || (bias != null && bias.length != out)) {
            throw new IllegalArgumentException("Linear " + out + "x" + in + ": weight " + weight.length
                    + ", bias " + (bias == null ? "none" : bias.length));
        }
        this.weight = Nd4j.create(weight, new long[] {out, in}, 'c');
        this.bias = bias == null ? null : bias.clone();
        this.in = in;
        this.out = out;
    }

    /** y[0 .. rows·out) = x[0 .. rows·in)·Wᵀ + b. */
    void apply(float[] x, int rows, float[] y, Workspace ws) {
        INDArray xa = ws.array(rows, in, 'c');
        ws.view(rows, in, 'c').put(x, 0, rows * in);
        INDArray ya = ws.array(out, rows, 'f');
        Nd4j.gemm(weight, xa, ya, false, true, 1.0, 0.0);
        ws.view(out, rows, 'f').get(y, 0, rows * out);
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
