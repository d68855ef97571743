package org.sith.model;

/**
 * An 8-bit image in the mode Pillow's {@code Image.open} gives it, with the three operations OpenCLIP's (and OpenAI
 * {@code clip}'s) transform applies to it before anything else: {@code Image.resize(size, BICUBIC)}, a crop that
 * fills with zeros where it leaves the image (torchvision's CenterCrop: pad with fill 0, then crop), and
 * {@code convert('RGB')}. Each is computed to Pillow's integers:
 * <ul>
 * <li>Resize, from Pillow's {@code Image.resize} (src/PIL/Image.py): an unchanged size returns a copy (nothing
 *     below happens); modes 1 and P are always resized with NEAREST; LA and RGBA are converted to their
 *     premultiplied modes La / RGBa, resized, and converted back; other modes are resampled as they are.</li>
 * <li>NEAREST (_imaging.c {@code _resize} → Geometry.c {@code ImagingTransform} → affine, pure
 *     scaling → {@code ImagingScaleAffine}): with {@code a0 = in / out} in double, the source position starts at
 *     {@code a0 * 0.5} and grows by {@code a0} per output pixel, accumulated in double; the source index is
 *     {@code COORD(pos)}, the truncation of a non-negative position; an index outside the image gives 0.</li>
 * <li>Premultiplying (Convert.c {@code rgbA2rgba}, {@code lA2la}): {@code c' = MULDIV255(c, a)} with
 *     {@code MULDIV255(a, b) = (t + (t >> 8)) >> 8, t = a * b + 128}. Unpremultiplying ({@code rgba2rgbA},
 *     {@code la2lA}): alpha 0 or 255 keeps the value, else {@code CLIP8(255 * c' / a)} in integer division.</li>
 * <li>Bicubic ({@link PilResize}): every band on its own with the same fixed-point weights, an 8-bit image between
 *     the horizontal and the vertical pass.</li>
 * <li>convert('RGB') (Convert.c): 1 gives 0 or 255 ({@code bit2rgb}), L and LA replicate the gray ({@code l2rgb},
 *     {@code la2rgb}), P looks the index up in the palette, RGBA drops the alpha ({@code rgba2rgb}).</li>
 * </ul>
 * Samples are row-major, {@link Mode#bands} bytes a pixel (LA as L, A: two bytes, not Pillow's four). A palette is
 * 256 RGB triples.
 */
public final class PilImage {
    /** The 8-bit modes a JPEG or PNG opens in (16-bit grayscale, Pillow's I, is kept as L: see ImageDecoder). */
    public enum Mode {
        BILEVEL("1", 1), L("L", 1), P("P", 1), LA("LA", 2), RGB("RGB", 3), RGBA("RGBA", 4);

        /** Pillow's name of the mode. */
        public final String pil;
        public final int bands;

        Mode(String pil, int bands) {
            this.pil = pil;
            this.bands = bands;
        }

        /** Whether resizing before convert('RGB') gives other pixels than converting first: true for 1, P, LA and RGBA. */
        public boolean orderMatters() {
            return this == BILEVEL || this == P || this == LA || this == RGBA;
        }
    }

    private final Mode mode;
    private final int width;
    private final int height;
    private final byte[] samples;
    private final byte[] palette;

    /** {@code palette} (768 bytes) for mode P only, else null. The arrays are kept, not copied. */
    public PilImage(Mode mode, int width, int height, byte[] samples, byte[] palette) {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("sizes must be positive: " + width + "x" + height);
        if (samples.length != (long) width * height * mode.bands) {
            throw new IllegalArgumentException(mode.pil + " image holds " + samples.length + " bytes, not " + mode.bands + " x " + width + " x " + height);
        }
        if ((mode == Mode.P) != (palette != null) || (palette != null && palette.length != 768)) {
            throw new IllegalArgumentException("a palette of 256 RGB triples goes with mode P and only with it");
        }
        this.mode = mode;
        this.width = width;
        this.height = height;
        this.samples = samples;
        this.palette = palette;
    }

    public static PilImage rgb(int width, int height, byte[] rgb) {
        return new PilImage(Mode.RGB, width, height, rgb, null);
    }

    public Mode mode() {
        return mode;
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    /** Pillow's {@code resize((outW, outH), BICUBIC)} of this image in its mode, then the torchvision center crop of side size. */
    public PilImage resizedCrop(int outW, int outH, int size) {
        int left = PilResize.cropOffset(outW, size);
        int top = PilResize.cropOffset(outH, size);
        if (outW >= size && outH >= size) return resizeWindow(outW, outH, left, top, size, size);
        return resizeWindow(outW, outH, 0, 0, outW, outH).crop(left, top, size, size);
    }

    /** The window [left, left + cw) x [top, top + ch) of Pillow's {@code resize((outW, outH), BICUBIC)} in this image's mode. */
    PilImage resizeWindow(int outW, int outH, int left, int top, int cw, int ch) {
        if (left < 0 || top < 0 || cw <= 0 || ch <= 0 || left + cw > outW || top + ch > outH) {
            throw new IllegalArgumentException("window " + cw + "x" + ch + "+" + left + "+" + top + " is not inside " + outW + "x" + outH);
        }
        if (outW == width && outH == height) return crop(left, top, cw, ch); // Image.resize returns a copy
        return switch (mode) {
            case BILEVEL, P -> nearest(outW, outH, left, top, cw, ch);
            case L, RGB -> new PilImage(mode, cw, ch, PilResize.resizeWindow(samples, mode.bands, width, height, outW, outH, left, top, cw, ch), null);
            case LA, RGBA -> {
                byte[] resized = PilResize.resizeWindow(premultiplied(), mode.bands, width, height, outW, outH, left, top, cw, ch);
                yield new PilImage(mode, cw, ch, unpremultiply(resized, mode.bands), null);
            }
        };
    }

    /** NEAREST as ImagingScaleAffine does it: the palette (if any) comes along. */
    private PilImage nearest(int outW, int outH, int left, int top, int cw, int ch) {
        int[] xs = nearestIndices(width, outW);
        int[] ys = nearestIndices(height, outH);
        int b = mode.bands;
        byte[] out = new byte[cw * ch * b];
        for (int y = 0; y < ch; y++) {
            int sy = ys[top + y];
            if (sy < 0 || sy >= height) continue; // left 0, as Pillow's fill does
            for (int x = 0; x < cw; x++) {
                int sx = xs[left + x];
                if (sx < 0 || sx >= width) continue;
                System.arraycopy(samples, (sy * width + sx) * b, out, (y * cw + x) * b, b);
            }
        }
        return new PilImage(mode, cw, ch, out, palette);
    }

    /**
     * The source index of each output index of one axis: {@code a0 = (double) in / out} (Pillow's box side is a
     * float, exact for image sides), position {@code 0 + a0 * 0.5} then {@code += a0} per step, index the
     * truncation of the position (COORD: -1 for a negative one).
     */
    static int[] nearestIndices(int in, int out) {
        double a0 = (double) (float) in / out;
        double pos = 0.0 + a0 * 0.5;
        int[] idx = new int[out];
        for (int i = 0; i < out; i++) {
            idx[i] = pos < 0.0 ? -1 : (int) pos;
            pos += a0;
        }
        return idx;
    }

    /** Convert.c's MULDIV255: a * b / 255 rounded, for bytes. */
    static int mulDiv255(int a, int b) {
        int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    }

    /** LA → La or RGBA → RGBa: every colour band times alpha / 255 (MULDIV255); alpha kept. */
    private byte[] premultiplied() {
        int b = mode.bands;
        byte[] out = new byte[samples.length];
        for (int i = 0; i < samples.length; i += b) {
            int a = samples[i + b - 1] & 0xFF;
            for (int c = 0; c < b - 1; c++) out[i + c] = (byte) mulDiv255(samples[i + c] & 0xFF, a);
            out[i + b - 1] = (byte) a;
        }
        return out;
    }

    /** La → LA or RGBa → RGBA, in place: alpha 0 or 255 keeps the value, else min(255, 255 * v / alpha) in integers. */
    private static byte[] unpremultiply(byte[] px, int b) {
        for (int i = 0; i < px.length; i += b) {
            int a = px[i + b - 1] & 0xFF;
            if (a == 0 || a == 255) continue;
            for (int c = 0; c < b - 1; c++) px[i + c] = (byte) Math.min(255, 255 * (px[i + c] & 0xFF) / a);
        }
        return px;
    }

    /**
     * The window [left, left + cw) x [top, top + ch), which may reach outside the image (negative offsets or past the
     * end): there the bytes are 0, which is black, transparent, or palette index 0 (torchvision pads a palette image
     * with index 0, so the padding takes that entry's colour).
     */
    public PilImage crop(int left, int top, int cw, int ch) {
        int b = mode.bands;
        byte[] out = new byte[cw * ch * b];
        int x0 = Math.max(0, -left);
        int x1 = Math.min(cw, width - left);
        for (int y = 0; y < ch; y++) {
            int sy = y + top;
            if (sy < 0 || sy >= height || x1 <= x0) continue;
            System.arraycopy(samples, (sy * width + x0 + left) * b, out, (y * cw + x0) * b, (x1 - x0) * b);
        }
        return new PilImage(mode, cw, ch, out, palette);
    }

    /** Pillow's {@code convert('RGB')}: 3 bytes a pixel. An RGB image gives its own samples (not a copy). */
    public byte[] toRgb() {
        if (mode == Mode.RGB) return samples;
        int n = width * height;
        byte[] out = new byte[n * 3];
        switch (mode) {
            case BILEVEL, L, LA -> {
                int step = mode == Mode.LA ? 2 : 1;
                boolean bilevel = mode == Mode.BILEVEL;
                for (int i = 0, o = 0; i < n; i++, o += 3) {
                    byte v = samples[i * step];
                    if (bilevel && v != 0) v = (byte) 255;
                    out[o] = v;
                    out[o + 1] = v;
                    out[o + 2] = v;
                }
            }
            case P -> {
                for (int i = 0, o = 0; i < n; i++, o += 3) System.arraycopy(palette, (samples[i] & 0xFF) * 3, out, o, 3);
            }
            case RGBA -> {
                for (int i = 0, o = 0; i < n; i++, o += 3) System.arraycopy(samples, 4 * i, out, o, 3);
            }
            default -> throw new IllegalStateException(mode.pil);
        }
        return out;
    }

    /** The image converted to RGB, as a PilImage (itself when it is RGB). */
    public PilImage convertRgb() {
        return mode == Mode.RGB ? this : rgb(width, height, toRgb());
    }

    @Override
    public String toString() {
        return "PilImage[" + mode.pil + " " + width + "x" + height + "]";
    }
}
