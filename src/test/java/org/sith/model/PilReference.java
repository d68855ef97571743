package org.sith.model;

/**
 * A deliberately plain Pillow BICUBIC resize for the tests, written from the description of
 * Pillow's ImagingResample and not sharing code with {@link PilResize}: images are int[y][x][c],
 * each output pixel collects its own (input index, weight) list, sums are longs.
 *
 * <p>What must be bit-exact is kept exactly as Pillow does it: the kernel's evaluation order, the
 * weight scale 1/filterscale applied as a multiplication, the double normalisation, the 22-bit
 * round-half-away-from-zero, the start value 2^21, the 8-bit intermediate image between the passes.
 */
final class PilReference {
    private PilReference() {}

    static final int BITS = 22;

    /** Bicubic convolution kernel, a = -0.5 (Keys). Pillow's operation order. */
    static double kernel(double t) {
        double x = Math.abs(t);
        if (x >= 2.0) return 0.0;
        if (x >= 1.0) return (((x - 5) * x + 8) * x - 4) * -0.5;
        return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1;
    }

    /** The same kernel as written in textbooks: (a|x|^3 - 5a|x|^2 + 8a|x| - 4a) and ((a+2)|x|^3 - (a+3)|x|^2 + 1). */
    static double textbookKernel(double t) {
        double a = -0.5, x = Math.abs(t);
        if (x < 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
        if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
        return 0;
    }

    /** For output index i of an axis in -> out: {first input index, fixed-point weights...}. */
    static long[] taps(int in, int out, int i) {
        double scale = (double) in / out;
        double stretch = scale < 1.0 ? 1.0 : scale;
        double reach = 2.0 * stretch;
        double c = (i + 0.5) * scale;
        int lo = (int) (c - reach + 0.5);
        if (lo < 0) lo = 0;
        int hi = (int) (c + reach + 0.5);
        if (hi > in) hi = in;
        double inv = 1.0 / stretch;
        double[] w = new double[hi - lo];
        double total = 0;
        for (int j = lo; j < hi; j++) {
            w[j - lo] = kernel((j - c + 0.5) * inv);
            total += w[j - lo];
        }
        long[] t = new long[1 + w.length];
        t[0] = lo;
        for (int j = 0; j < w.length; j++) {
            double v = total != 0 ? w[j] / total : w[j];
            double f = v * (1 << BITS);
            t[1 + j] = (long) (Math.signum(f) * Math.floor(Math.abs(f) + 0.5)); // half away from zero
        }
        return t;
    }

    static int clip(long acc) {
        if (acc < 0) return 0;
        long v = acc >> BITS;
        return v > 255 ? 255 : (int) v;
    }

    /** Horizontal pass if the width changes, then vertical if the height changes. */
    static int[][][] resize(int[][][] img, int outW, int outH) {
        int h = img.length, w = img[0].length;
        int[][][] cur = img;
        if (outW != w) {
            int[][][] next = new int[h][outW][3];
            for (int x = 0; x < outW; x++) {
                long[] t = taps(w, outW, x);
                for (int y = 0; y < h; y++) {
                    for (int c = 0; c < 3; c++) {
                        long acc = 1L << (BITS - 1);
                        for (int j = 1; j < t.length; j++) acc += cur[y][(int) t[0] + j - 1][c] * t[j];
                        next[y][x][c] = clip(acc);
                    }
                }
            }
            cur = next;
        }
        if (outH != h) {
            int width = cur[0].length;
            int[][][] next = new int[outH][width][3];
            for (int y = 0; y < outH; y++) {
                long[] t = taps(h, outH, y);
                for (int x = 0; x < width; x++) {
                    for (int c = 0; c < 3; c++) {
                        long acc = 1L << (BITS - 1);
                        for (int j = 1; j < t.length; j++) acc += cur[(int) t[0] + j - 1][x][c] * t[j];
                        next[y][x][c] = clip(acc);
                    }
                }
            }
            cur = next;
        }
        return cur;
    }

    static int[][][] toArray(byte[] rgb, int w, int h) {
        int[][][] a = new int[h][w][3];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++) a[y][x][c] = rgb[(y * w + x) * 3 + c] & 0xFF;
        return a;
    }

    static byte[] toBytes(int[][][] a) {
        int h = a.length, w = a[0].length;
        byte[] b = new byte[w * h * 3];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++) b[(y * w + x) * 3 + c] = (byte) a[y][x][c];
        return b;
    }

    /** CLIP's pipeline the plain way: shorter side to size, torchvision center crop, float32 normalise. */
    static float[] preprocess(byte[] rgb, int w, int h, int size, double[] mean, double[] std) {
        int nw, nh;
        if (w <= h) {
            nw = size;
            nh = (int) Math.floor((double) size * h / w);
        } else {
            nh = size;
            nw = (int) Math.floor((double) size * w / h);
        }
        int[][][] r = resize(toArray(rgb, w, h), nw, nh);
        int top = pyRound((nh - size) / 2.0);
        int left = pyRound((nw - size) / 2.0);
        float[] out = new float[3 * size * size];
        for (int c = 0; c < 3; c++) {
            float m = (float) mean[c], s = (float) std[c];
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    float v = (float) r[y + top][x + left][c] / 255.0f; // ToTensor: float32 division
                    out[(c * size + y) * size + x] = (v - m) / s;      // Normalize: float32 sub, div
                }
            }
        }
        return out;
    }

    /** Python 3's round() of a non-negative x.5-or-integer value: halves go to the even neighbour. */
    static int pyRound(double v) {
        double f = Math.floor(v);
        double diff = v - f;
        if (diff < 0.5) return (int) f;
        if (diff > 0.5) return (int) f + 1;
        return ((long) f % 2 == 0) ? (int) f : (int) f + 1;
    }
}
