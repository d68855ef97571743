package org.sith.linalg;

import java.nio.FloatBuffer;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * Single-precision products through OpenBLAS's {@code cblas_sgemm}, called on off-heap operands (a
 * Java array would be copied on every call) with row-major output: the call PERFORMANCE.md measured at
 * the roofline.
 */
public final class Gemm {
    private static final int ROW_MAJOR = openblas_nolapack.CblasRowMajor;
    private static final int NO_TRANS = openblas_nolapack.CblasNoTrans;
    private static final int TRANS = openblas_nolapack.CblasTrans;

    private Gemm() {}

    /** An off-heap row-major float matrix; its memory is freed when it becomes unreachable. */
    public static final class Matrix {
        public final int rows;
        public final int cols;
        final FloatPointer data;

        public Matrix(int rows, int cols) {
            if (rows < 0 || cols < 0) throw new IllegalArgumentException("matrix " + rows + "x" + cols);
            this.rows = rows;
            this.cols = cols;
            this.data = new FloatPointer(Math.max(1L, (long) rows * cols));
        }

        /** The matrix's memory as a new buffer positioned at 0 (absolute gets and puts on it are thread-safe). */
        public FloatBuffer buffer() {
            return new FloatPointer(data).position(0).capacity((long) rows * cols).asBuffer();
        }

        /** The matrix's memory; shared, so never move its position (position a copy: new FloatPointer(p)). */
        public FloatPointer pointer() {
            return data;
        }

        public Matrix put(float[] a, int from, int length) {
            new FloatPointer(data).put(a, from, length);
            return this;
        }

        public float[] toArray() {
            float[] a = new float[rows * cols];
            new FloatPointer(data).get(a);
            return a;
        }
    }

    /** A row-major m×n float matrix, copied off-heap once. */
    public static Matrix matrix(float[] data, int rows, int cols) {
        if (data.length != (long) rows * cols) throw new IllegalArgumentException(data.length + " floats are not " + rows + "x" + cols);
        return new Matrix(rows, cols).put(data, 0, data.length);
    }

    /** Rows of doubles as one off-heap float matrix. */
    public static Matrix rows(double[][] x, int cols) {
        float[] f = new float[x.length * cols];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < cols; j++) f[i * cols + j] = (float) x[i][j];
        }
        return matrix(f, x.length, cols);
    }

    /** a (m×k) · b (k×n) → m×n, row-major float. */
    public static float[] multiply(Matrix a, Matrix b) {
        if (a.cols != b.rows) throw new IllegalArgumentException(a.rows + "x" + a.cols + " · " + b.rows + "x" + b.cols);
        Matrix c = new Matrix(a.rows, b.cols);
        sgemm(false, a.data, a.cols, b.data, b.cols, c.data, b.cols, a.rows, b.cols, a.cols);
        return c.toArray();
    }

    /**
     * c (m×n, leading dimension ldc) = a (m×k, lda) · op(b), row-major; op(b) = bᵀ when bTransposed,
     * b then being n×k with leading dimension ldb. Pointers are used at their positions (0 for
     * shared ones, which are never moved).
     */
    public static void sgemm(boolean bTransposed, FloatPointer a, int lda, FloatPointer b, int ldb, FloatPointer c, int ldc,
            int m, int n, int k) {
        if (m == 0 || n == 0) return;
        openblas_nolapack.cblas_sgemm(ROW_MAJOR, NO_TRANS, bTransposed ? TRANS : NO_TRANS, m, n, k, 1f,
                a, lda, b, ldb, 0f, c, ldc);
    }

    /** Sets OpenBLAS's thread count (process-wide); each Spark task sets it to its task CPUs. */
    public static void setBlasThreads(int threads) {
        org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(Math.max(1, threads));
    }

    public static int blasThreads() {
        return org.bytedeco.openblas.presets.openblas_nolapack.blas_get_num_threads();
    }

}
