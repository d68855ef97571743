package org.sith.model;

import java.util.Map;
import java.util.Random;

import org.sith.checkpoint.TensorData;

/**
 * The random draws and array plumbing of the test towers ({@link TextFixtures}, {@link VisionFixtures}):
 * Gaussian and uniform arrays from one seeded generator, LayerNorm weights 1 ± 0.3, Linear weights with
 * std 1/sqrt(in), and row-major concatenation, transposition and tensor entries.
 */
final class FixtureArrays {
    private final Random rnd;

    FixtureArrays(long seed) {
        this.rnd = new Random(seed);
    }

    float[] gauss(int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * std);
        return a;
    }

    float[] uniform(int n, double half) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((2 * rnd.nextDouble() - 1) * half);
        return a;
    }

    float[] lnWeight(int n) {
        float[] a = uniform(n, 0.3);
        for (int i = 0; i < n; i++) a[i] += 1f;
        return a;
    }

    float[] linear(int out, int in) {
        return gauss(out * in, 1 / Math.sqrt(in));
    }

    static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] a : parts) n += a.length;
        float[] r = new float[n];
        int o = 0;
        for (float[] a : parts) { System.arraycopy(a, 0, r, o, a.length); o += a.length; }
        return r;
    }

    /** The (cols, rows) transpose of a row-major (rows, cols) matrix. */
    static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
        }
        return t;
    }

    static void put(Map<String, TensorData> m, String name, float[] data, long... shape) {
        m.put(name, TensorData.f32(data.clone(), shape));
    }
}
