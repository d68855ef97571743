package org.sith.model;

/**
 * Pillow's {@code Image.resize((outW, outH), Image.BICUBIC)} for 8-bit RGB, to the same integers,
 * plus the output size of torchvision's {@code Resize(int)} and its {@code CenterCrop}. The same
 * resampling serves 1, 2 and 4 bytes a pixel (gray, and the premultiplied LA / RGBA images of
 * {@link PilImage}): Pillow resamples every band on its own with the same weights.
 *
 * <p>Pillow resamples separably: a horizontal pass (only if the width changes) into an 8-bit
 * image, then a vertical pass (only if the height changes). Each output pixel is a window of input
 * pixels weighted by the bicubic kernel (a = -0.5) stretched by the downscale factor, so that
 * downscaling averages (antialiasing). The weights are normalised in double, then turned into
 * 22-bit fixed point; sums start at one half and are shifted back and clipped. Rounding the weights
 * and the intermediate image to integers is what makes the result differ from a float resize by
 * one level here and there, so both are reproduced exactly.
 */
public final class PilResize {
    private PilResize() {}

    /** 32 bits minus 8 for the pixel value minus 2 headroom for the kernel's overshoot. */
    static final int PRECISION_BITS = 32 - 8 - 2;
    static final double BICUBIC_SUPPORT = 2.0;

    /** Pillow's bicubic kernel, a = -0.5, with Pillow's evaluation order (it decides the last bits). */
    static double bicubic(double x) {
        final double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /** Fixed-point weights for one axis: output i reads in[start[i] .. start[i] + count[i]). */
    record Coeffs(int[] start, int[] count, int ksize, int[] weights) {}

    static Coeffs coeffs(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = BICUBIC_SUPPORT * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[outSize];
        int[] count = new int[outSize];
        int[] weights = new int[outSize * ksize];
        double[] k = new double[ksize];
        double ss = 1.0 / filterscale;
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            int xmin = Math.max((int) (center - support + 0.5), 0); // (int) truncates toward zero, as C does
            int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                k[x] = bicubic((x + xmin - center + 0.5) * ss);
                ww += k[x];
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? k[x] / ww : k[x];
                weights[xx * ksize + x] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
            }
            start[xx] = xmin;
            count[xx] = xmax;
        }
        return new Coeffs(start, count, ksize, weights);
    }

    private static int clip8(int ss) {
        int v = ss >> PRECISION_BITS; // arithmetic: a negative sum gives a negative value, clipped to 0
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /** Resizes row-major RGB (3 bytes a pixel) w x h to outW x outH. */
    public static byte[] resize(byte[] rgb, int w, int h, int outW, int outH) {
        return resizeWindow(rgb, 3, w, h, outW, outH, 0, 0, outW, outH);
    }

    /** resizeWindow of an RGB image (3 bytes a pixel). */
    static byte[] resizeWindow(byte[] rgb, int w, int h, int outW, int outH, int left, int top, int cw, int ch) {
        return resizeWindow(rgb, 3, w, h, outW, outH, left, top, cw, ch);
    }

    /**
     * Only the window [left, left + cw) x [top, top + ch) of the resize of a row-major image of
     * {@code bands} bytes a pixel (1 to 4; Pillow resamples each band on its own with the same
     * weights, so any band count is resampled here as Pillow resamples its bands): each output pixel
     * depends on its own row and column weights alone, so this is exactly the crop of the full
     * resize, without computing what the crop throws away.
     */
    static byte[] resizeWindow(byte[] px, int bands, int w, int h, int outW, int outH, int left, int top, int cw, int ch) {
        if (bands < 1 || bands > 4) throw new IllegalArgumentException("bands must be 1 to 4: " + bands);
        if (w <= 0 || h <= 0 || outW <= 0 || outH <= 0) throw new IllegalArgumentException("sizes must be positive: " + w + "x" + h + " -> " + outW + "x" + outH);
        if (px.length != w * h * bands) throw new IllegalArgumentException("image holds " + px.length + " bytes, not " + bands + " x " + w + " x " + h);
        if (left < 0 || top < 0 || cw <= 0 || ch <= 0 || left + cw > outW || top + ch > outH) {
            throw new IllegalArgumentException("window " + cw + "x" + ch + "+" + left + "+" + top + " is not inside " + outW + "x" + outH);
        }
        Coeffs cy = outH != h ? coeffs(h, outH) : null;
        // the input rows the vertical pass will read (all of them if there is none)
        int y0 = cy == null ? top : cy.start[top];
        int y1 = cy == null ? top + ch : 0;
        for (int yy = top; cy != null && yy < top + ch; yy++) y1 = Math.max(y1, cy.start[yy] + cy.count[yy]);
        byte[] img;
        int imgW;
        if (outW != w) {
            Coeffs cx = coeffs(w, outW);
            img = bands == 3 ? horizontal(px, w, y0, y1, cx, left, cw) : horizontal(px, bands, w, y0, y1, cx, left, cw);
            imgW = cw;
        } else {
            img = px;
            imgW = w;
            y0 = 0; // rows of px keep their numbers
        }
        int colOff = outW != w ? 0 : left;
        if (cy == null) return copyWindow(img, bands, imgW, colOff, top - y0, cw, ch);
        return vertical(img, bands, imgW, colOff, cw, y0, cy, top, ch);
    }

    /** Output columns [left, left + cw) of input rows [y0, y1), RGB. */
    private static byte[] horizontal(byte[] in, int w, int y0, int y1, Coeffs c, int left, int cw) {
        byte[] out = new byte[cw * (y1 - y0) * 3];
        int[] kk = c.weights;
        for (int y = y0, o = 0; y < y1; y++) {
            int row = y * w * 3;
            for (int xx = left; xx < left + cw; xx++, o += 3) {
                int k0 = xx * c.ksize;
                int n = c.count[xx];
                int p = row + c.start[xx] * 3;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < n; x++, p += 3) {
                    int k = kk[k0 + x];
                    s0 += (in[p] & 0xFF) * k;
                    s1 += (in[p + 1] & 0xFF) * k;
                    s2 += (in[p + 2] & 0xFF) * k;
                }
                out[o] = (byte) clip8(s0);
                out[o + 1] = (byte) clip8(s1);
                out[o + 2] = (byte) clip8(s2);
            }
        }
        return out;
    }

    /** The same for another band count, band by band (the sums of Pillow's per-band accumulators). */
    private static byte[] horizontal(byte[] in, int bands, int w, int y0, int y1, Coeffs c, int left, int cw) {
        byte[] out = new byte[cw * (y1 - y0) * bands];
        int[] kk = c.weights;
        for (int y = y0, o = 0; y < y1; y++) {
            int row = y * w * bands;
            for (int xx = left; xx < left + cw; xx++) {
                int k0 = xx * c.ksize;
                int n = c.count[xx];
                for (int b = 0; b < bands; b++, o++) {
                    int s = 1 << (PRECISION_BITS - 1);
                    for (int x = 0, p = row + c.start[xx] * bands + b; x < n; x++, p += bands) s += (in[p] & 0xFF) * kk[k0 + x];
                    out[o] = (byte) clip8(s);
                }
            }
        }
        return out;
    }

    /**
     * Output rows [top, top + ch), columns [colOff, colOff + cw) of an image w wide whose first row
     * is input row y0. Row by row: an output row is a weighted sum of whole input rows.
     */
    private static byte[] vertical(byte[] in, int bands, int w, int colOff, int cw, int y0, Coeffs c, int top, int ch) {
        int stride = cw * bands;
        byte[] out = new byte[ch * stride];
        int[] acc = new int[stride];
        int[] kk = c.weights;
        for (int yy = top; yy < top + ch; yy++) {
            java.util.Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
            int k0 = yy * c.ksize;
            for (int y = 0; y < c.count[yy]; y++) {
                int k = kk[k0 + y];
                int p = ((c.start[yy] + y - y0) * w + colOff) * bands;
                for (int i = 0; i < stride; i++) acc[i] += (in[p + i] & 0xFF) * k;
            }
            int o = (yy - top) * stride;
            for (int i = 0; i < stride; i++) out[o + i] = (byte) clip8(acc[i]);
        }
        return out;
    }

    private static byte[] copyWindow(byte[] in, int bands, int w, int colOff, int rowOff, int cw, int ch) {
        byte[] out = new byte[cw * ch * bands];
        for (int y = 0; y < ch; y++) System.arraycopy(in, ((y + rowOff) * w + colOff) * bands, out, y * cw * bands, cw * bands);
        return out;
    }

    /**
     * torchvision's {@code Resize(size)} (and open_clip's, and HF's shortest_edge) output size as
     * {width, height}: the shorter side becomes size, the longer int(size * long / short).
     */
    public static int[] resizeShorterSide(int w, int h, int size) {
        if (w <= 0 || h <= 0 || size <= 0) throw new IllegalArgumentException("sizes must be positive: " + w + "x" + h + ", " + size);
        if (w <= h) return new int[] {size, (int) ((double) size * h / w)};
        return new int[] {(int) ((double) size * w / h), size};
    }

    /**
     * torchvision's {@code CenterCrop(size)}: offsets round((h - size) / 2.0) with Python's
     * round-half-to-even; a side shorter than size is padded with zeros, (size - h) // 2 before.
     */
    public static byte[] centerCrop(byte[] rgb, int w, int h, int size) {
        if (rgb.length != w * h * 3) throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, not 3 x " + w + " x " + h);
        int top = cropOffset(h, size);
        int left = cropOffset(w, size);
        byte[] out = new byte[size * size * 3];
        for (int y = 0; y < size; y++) {
            int sy = y + top;
            if (sy < 0 || sy >= h) continue;
            int x0 = Math.max(0, -left);
            int x1 = Math.min(size, w - left);
            if (x1 > x0) System.arraycopy(rgb, (sy * w + x0 + left) * 3, out, (y * size + x0) * 3, (x1 - x0) * 3);
        }
        return out;
    }

    /** Where the crop starts in the source; negative when the source is padded. */
    static int cropOffset(int length, int size) {
        if (length < size) return -((size - length) / 2);
        return (int) Math.rint((length - size) / 2.0); // rint rounds half to even, as Python's round
    }
}
