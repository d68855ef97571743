package org.sith.linalg;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Single-precision products through the fast ND4J call (Nd4j.gemm into a preallocated array):
 * measured 4–5× faster than INDArray.mmul on this stack (PERFORMANCE.md).
 */
public final class Gemm {
    private Gemm() {}

    /** A row-major m×n float matrix as a 'c'-order ND4J array (copied once). */
    public static INDArray matrix(float[] data, int rows, int cols) {
        return Nd4j.create(data, new long[] {rows, cols}, 'c');
    }

    /** a (m×k) · b (k×n) → m×n, row-major float. */
    public static float[] multiply(INDArray a, INDArray b) {
        INDArray out = Nd4j.create(DataType.FLOAT, new long[] {a.rows(), b.columns()}, 'c');
        Nd4j.gemm(a, b, out, false, false, 1.0, 0.0);
        return out.data().asFloat();
    }

    /** Rows of doubles as one 'c'-order float matrix. */
    public static INDArray rows(double[][] x, int cols) {
        float[] f = new float[x.length * cols];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < cols; j++) f[i * cols + j] = (float) x[i][j];
        }
        return matrix(f, x.length, cols);
    }

    /** Sets OpenBLAS's thread count (process-wide); each Spark task sets it to its task CPUs. */
    public static void setBlasThreads(int threads) {
        Nd4j.factory().blas().setMaxThreads(Math.max(1, threads));
    }
}
