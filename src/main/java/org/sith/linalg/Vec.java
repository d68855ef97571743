package org.sith.linalg;

/** Small double-precision vector helpers. */
public final class Vec {
    private Vec() {}

    public static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    public static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }

    /** a/‖a‖ in place; a zero vector stays zero. */
    public static double[] normalizeInPlace(double[] a) {
        double n = norm(a);
        if (n > 0) {
            for (int i = 0; i < a.length; i++) a[i] /= n;
        }
        return a;
    }

    /** ‖a‖ of a float vector, accumulated in double. */
    public static double norm(float[] a) {
        double s = 0;
        for (float f : a) s += (double) f * f;
        return Math.sqrt(s);
    }

    /** ⟨a, b⟩ of float vectors, accumulated in double. */
    public static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    public static double cosine(float[] a, float[] b) {
        double na = norm(a);
        double nb = norm(b);
        return na == 0 || nb == 0 ? 0 : dot(a, b) / (na * nb);
    }

    public static double cosine(double[] a, double[] b) {
        double na = norm(a);
        double nb = norm(b);
        return na == 0 || nb == 0 ? 0 : dot(a, b) / (na * nb);
    }

    /** A rows×cols row-major matrix transposed (cols×rows row-major). */
    public static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        }
        return t;
    }

    public static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }
}
