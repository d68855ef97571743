package org.sith.model;

import java.lang.ref.Reference;

import org.bytedeco.javacpp.FloatPointer;
import org.sith.linalg.Gemm;
import org.sith.linalg.OneDnn;

/**
 * y = x·Wᵀ + b for a batch of rows, W kept off-heap as stored by PyTorch, (out, in). In f32: one row-major
 * {@code cblas_sgemm} with W transposed, into preallocated off-heap operands. In bf16 ({@link TowerPrecision#BF16}):
 * W, which is exactly the rows of Bᵀ oneDNN's {@link OneDnn.PackedB} takes, rounded to bf16 and packed once for
 * products of up to {@code maxRows} rows (more rows run in chunks of that many), x rounded to bf16 per call, the
 * product in f32 through the calling thread's {@link OneDnn.Product} (kept in its {@link Workspace}), the bias
 * added in f32.
 */
final class Linear {
    private final Gemm.Matrix weight;      // f32 path, null in bf16
    private final OneDnn.PackedB packed;   // bf16 path, null in f32
    private final float[] bias;
    final int in;
    final int out;

    Linear(float[] weight, float[] bias, int out, int in) {
        this(weight, bias, out, in, TowerPrecision.F32, 0);
    }

    /** {@code maxRows}: the rows of the calls this layer is packed for in bf16 (unused in f32). */
    Linear(float[] weight, float[] bias, int out, int in, TowerPrecision precision, int maxRows) {
        if (weight.length != (long) out * in || (bias != null && bias.length != out)) {
            throw new IllegalArgumentException("Linear " + out + "x" + in + ": weight " + weight.length
                    + ", bias " + (bias == null ? "none" : bias.length));
        }
        if (precision == TowerPrecision.BF16) {
            if (maxRows < 1) throw new IllegalArgumentException("bf16 Linear packed for " + maxRows + " rows");
            try (FloatPointer w = new FloatPointer(weight)) {
                this.packed = new OneDnn.PackedB(w, out, in, maxRows);
            }
            this.weight = null;
        } else {
            this.weight = Gemm.matrix(weight, out, in);
            this.packed = null;
        }
        this.bias = bias == null ? null : bias.clone();
        this.in = in;
        this.out = out;
    }

    /** y[0 .. rows·out) = x[0 .. rows·in)·Wᵀ + b. */
    void apply(float[] x, int rows, float[] y, Workspace ws) {
        if (packed != null) {
            applyBf16(x, rows, y, ws);
        } else {
            Gemm.Matrix xa = ws.matrix("x", rows, in);
            xa.buffer().put(0, x, 0, rows * in);
            Gemm.Matrix ya = ws.matrix("y", rows, out);
            Gemm.sgemm(true, xa.pointer(), in, weight.pointer(), in, ya.pointer(), out, rows, out, in);
            ya.buffer().get(0, y, 0, rows * out);
        }
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                int o = r * out;
                for (int j = 0; j < out; j++) y[o + j] += bias[j];
            }
        }
    }

    private void applyBf16(float[] x, int rows, float[] y, Workspace ws) {
        OneDnn.Product product = ws.product(packed);
        int max = packed.maxRows;
        short[] h = ws.shorts("bf16", Math.min(rows, max) * in);
        for (int from = 0; from < rows; from += max) {
            int m = Math.min(max, rows - from);
            for (int i = 0, o = from * in, n = m * in; i < n; i++) h[i] = OneDnn.bf16(x[o + i]);
            product.input().put(h, 0, m * in);
            product.run(m);
            product.output().get(y, from * out, m * out);
        }
        Reference.reachabilityFence(ws); // the workspace frees its products when it becomes unreachable
    }

    /** Whether this layer runs in bf16 through oneDNN. */
    boolean bf16() {
        return packed != null;
    }

    /** Multiply-adds of one row. */
    long flopsPerRow() {
        return 2L * in * out;
    }
}
