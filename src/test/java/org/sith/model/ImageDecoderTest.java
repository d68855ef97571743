package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.color.ColorSpace;
import java.awt.color.ICC_Profile;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.MemoryCacheImageOutputStream;

import org.junit.jupiter.api.Test;
import org.sith.TestData;
import org.sith.UserInputException;
import org.w3c.dom.Node;

class ImageDecoderTest {
    // ---- writing test images ----

    /** A PNG written by hand: every row filter 0, one IDAT. rows are the packed samples (no filter byte). */
    static byte[] png(int w, int h, int bitDepth, int colorType, byte[][] rows, byte[] plte, byte[] trns) {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        for (byte[] r : rows) {
            raw.write(0);
            raw.writeBytes(r);
        }
        Deflater d = new Deflater();
        d.setInput(raw.toByteArray());
        d.finish();
        byte[] buf = new byte[raw.size() * 2 + 64];
        byte[] idat = Arrays.copyOf(buf, d.deflate(buf));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        byte[] ihdr = {(byte) (w >>> 24), (byte) (w >>> 16), (byte) (w >>> 8), (byte) w,
                (byte) (h >>> 24), (byte) (h >>> 16), (byte) (h >>> 8), (byte) h, (byte) bitDepth, (byte) colorType, 0, 0, 0};
        chunk(out, "IHDR", ihdr);
        if (plte != null) chunk(out, "PLTE", plte);
        if (trns != null) chunk(out, "tRNS", trns);
        chunk(out, "IDAT", idat);
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        int n = data.length;
        out.writeBytes(new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        long c = crc.getValue();
        out.writeBytes(new byte[] {(byte) (c >>> 24), (byte) (c >>> 16), (byte) (c >>> 8), (byte) c});
    }

    static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) v[i];
        return b;
    }

    static byte[] write(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, format, out), "no ImageIO writer for " + img.getType() + " as " + format);
        return out.toByteArray();
    }

    static byte[] jpeg(BufferedImage img, float quality) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        p.setCompressionQuality(quality);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(out)) {
            w.setOutput(s);
            w.write(null, new IIOImage(img, null, null), p);
        }
        w.dispose();
        return out.toByteArray();
    }

    /** A smooth colourful picture: JPEG-friendly, so round-trip errors stay small. */
    static BufferedImage smooth(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                r.setPixel(x, y, new int[] {40 + 170 * x / w, 30 + 180 * y / h, 128 + (int) (60 * Math.sin((x + y) / 9.0))});
            }
        }
        return img;
    }

    static int[] pixel(ImageDecoder.Decoded d, int x, int y) {
        int i = (y * d.width() + x) * 3;
        return new int[] {d.rgb()[i] & 0xFF, d.rgb()[i + 1] & 0xFF, d.rgb()[i + 2] & 0xFF};
    }

    static void assertPixels(ImageDecoder.Decoded d, int w, int h, int[][] expected) {
        assertEquals(w, d.width());
        assertEquals(h, d.height());
        for (int i = 0; i < expected.length; i++) {
            assertArrayEquals(expected[i], pixel(d, i % w, i / w), "pixel " + i % w + "," + i / w);
        }
    }

    /** Mean and max absolute difference against a TYPE_3BYTE_BGR / BYTE_GRAY source, band by band. */
    static double[] error(ImageDecoder.Decoded d, BufferedImage src) {
        double sum = 0, max = 0;
        WritableRaster r = src.getRaster();
        for (int y = 0; y < d.height(); y++) {
            for (int x = 0; x < d.width(); x++) {
                int[] p = pixel(d, x, y);
                for (int c = 0; c < 3; c++) {
                    double e = Math.abs(p[c] - r.getSample(x, y, Math.min(c, r.getNumBands() - 1)));
                    sum += e;
                    max = Math.max(max, e);
                }
            }
        }
        return new double[] {sum / (3.0 * d.width() * d.height()), max};
    }

    // ---- PNG colour rules ----

    @Test
    void rgb8() throws IOException {
        BufferedImage img = new BufferedImage(3, 2, BufferedImage.TYPE_3BYTE_BGR);
        int[][] px = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {1, 2, 3}, {250, 128, 7}, {0, 0, 0}};
        for (int i = 0; i < px.length; i++) img.getRaster().setPixel(i % 3, i / 3, px[i]);
        assertPixels(ImageDecoder.decode(write(img, "png"), "rgb.png"), 3, 2, px);
    }

    @Test
    void rgbaDropsAlphaAndKeepsTheColourOfTransparentPixels() throws IOException {
        byte[] row = bytes(200, 100, 50, 0, 1, 2, 3, 255, 255, 0, 128, 7);
        ImageDecoder.Decoded d = ImageDecoder.decode(png(3, 1, 8, 6, new byte[][] {row}, null, null), "rgba.png");
        assertPixels(d, 3, 1, new int[][] {{200, 100, 50}, {1, 2, 3}, {255, 0, 128}});
        // the same through ImageIO's writer (TYPE_4BYTE_ABGR, not premultiplied)
        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_4BYTE_ABGR);
        img.getRaster().setPixel(0, 0, new int[] {10, 20, 30, 0});
        img.getRaster().setPixel(1, 0, new int[] {40, 50, 60, 128});
        assertPixels(ImageDecoder.decode(write(img, "png"), "abgr.png"), 2, 1, new int[][] {{10, 20, 30}, {40, 50, 60}});
    }

    @Test
    void gray8IsReplicated() throws IOException {
        BufferedImage img = new BufferedImage(4, 1, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setPixels(0, 0, 4, 1, new int[] {0, 1, 128, 255});
        assertPixels(ImageDecoder.decode(write(img, "png"), "gray.png"), 4, 1,
                new int[][] {{0, 0, 0}, {1, 1, 1}, {128, 128, 128}, {255, 255, 255}});
    }

    /** PIL would clip 16-bit gray at 255 (nearly all white); we keep the high byte. */
    @Test
    void gray16GivesTheHighByte() throws IOException {
        BufferedImage img = new BufferedImage(4, 1, BufferedImage.TYPE_USHORT_GRAY);
        img.getRaster().setPixels(0, 0, 4, 1, new int[] {0x1234, 0xFFFF, 0x00FF, 0x8000});
        byte[] file = write(img, "png");
        assertEquals(16, file[24], "ImageIO wrote a 16-bit PNG");
        assertPixels(ImageDecoder.decode(file, "gray16.png"), 4, 1,
                new int[][] {{0x12, 0x12, 0x12}, {0xFF, 0xFF, 0xFF}, {0, 0, 0}, {0x80, 0x80, 0x80}});
    }

    @Test
    void rgb16AndGrayAlpha16GiveTheHighByte() {
        byte[] rgb = bytes(0x12, 0x34, 0xAB, 0xCD, 0x00, 0xFF, 0xFF, 0x00, 0x80, 0x01, 0x7F, 0xFF);
        assertPixels(ImageDecoder.decode(png(2, 1, 16, 2, new byte[][] {rgb}, null, null), "rgb16.png"), 2, 1,
                new int[][] {{0x12, 0xAB, 0x00}, {0xFF, 0x80, 0x7F}});
        byte[] la = bytes(0x9A, 0xBC, 0x00, 0x00, 0x01, 0x02, 0xFF, 0xFF);
        assertPixels(ImageDecoder.decode(png(2, 1, 16, 4, new byte[][] {la}, null, null), "la16.png"), 2, 1,
                new int[][] {{0x9A, 0x9A, 0x9A}, {0x01, 0x01, 0x01}});
        byte[] rgba = bytes(0xFE, 0, 0x10, 0, 0x20, 0, 0, 0);
        assertPixels(ImageDecoder.decode(png(1, 1, 16, 6, new byte[][] {rgba}, null, null), "rgba16.png"), 1, 1,
                new int[][] {{0xFE, 0x10, 0x20}});
    }

    @Test
    void grayAlphaIsGrayReplicated() {
        byte[] row = bytes(77, 0, 200, 255, 3, 9);
        assertPixels(ImageDecoder.decode(png(3, 1, 8, 4, new byte[][] {row}, null, null), "la.png"), 3, 1,
                new int[][] {{77, 77, 77}, {200, 200, 200}, {3, 3, 3}});
    }

    /** 1, 2 and 4-bit gray stretched to 0..255 as PIL's unpackers do (x 255, 85, 17). */
    @Test
    void lowBitGrayIsStretched() {
        assertPixels(ImageDecoder.decode(png(4, 1, 1, 0, new byte[][] {bytes(0b1010_0000)}, null, null), "g1.png"), 4, 1,
                new int[][] {{255, 255, 255}, {0, 0, 0}, {255, 255, 255}, {0, 0, 0}});
        assertPixels(ImageDecoder.decode(png(4, 1, 2, 0, new byte[][] {bytes(0b00_01_10_11)}, null, null), "g2.png"), 4, 1,
                new int[][] {{0, 0, 0}, {85, 85, 85}, {170, 170, 170}, {255, 255, 255}});
        assertPixels(ImageDecoder.decode(png(3, 1, 4, 0, new byte[][] {bytes(0x0F, 0x70)}, null, null), "g4.png"), 3, 1,
                new int[][] {{0, 0, 0}, {255, 255, 255}, {119, 119, 119}});
        // with a transparent gray (tRNS) the JDK picks a gray + alpha destination and scales itself
        assertPixels(ImageDecoder.decode(png(4, 1, 2, 0, new byte[][] {bytes(0b00_01_10_11)}, null, bytes(0, 1)), "g2t.png"), 4, 1,
                new int[][] {{0, 0, 0}, {85, 85, 85}, {170, 170, 170}, {255, 255, 255}});
    }

    @Test
    void transparentColourChunksChangeNothing() {
        byte[] gray = bytes(5, 6, 7);
        assertPixels(ImageDecoder.decode(png(3, 1, 8, 0, new byte[][] {gray}, null, bytes(0, 6)), "gt.png"), 3, 1,
                new int[][] {{5, 5, 5}, {6, 6, 6}, {7, 7, 7}});
        byte[] rgb = bytes(1, 2, 3, 4, 5, 6);
        assertPixels(ImageDecoder.decode(png(2, 1, 8, 2, new byte[][] {rgb}, null, bytes(0, 1, 0, 2, 0, 3)), "rgbt.png"), 2, 1,
                new int[][] {{1, 2, 3}, {4, 5, 6}});
    }

    @Test
    void paletteGivesPaletteColours() throws IOException {
        byte[] r = bytes(255, 0, 0, 9), g = bytes(0, 255, 0, 99), b = bytes(0, 0, 255, 199);
        IndexColorModel icm = new IndexColorModel(2, 4, r, g, b);
        BufferedImage img = new BufferedImage(4, 2, BufferedImage.TYPE_BYTE_BINARY, icm);
        img.getRaster().setPixels(0, 0, 4, 2, new int[] {0, 1, 2, 3, 3, 2, 1, 0});
        byte[] file = write(img, "png");
        assertEquals(3, file[25], "ImageIO wrote a palette PNG");
        int[][] c = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 99, 199}};
        assertPixels(ImageDecoder.decode(file, "pal.png"), 4, 2, new int[][] {c[0], c[1], c[2], c[3], c[3], c[2], c[1], c[0]});
        // 8-bit palette with transparency: colours still come from the palette, alpha dropped
        byte[] plte = bytes(10, 20, 30, 40, 50, 60, 70, 80, 90);
        ImageDecoder.Decoded d = ImageDecoder.decode(png(3, 1, 8, 3, new byte[][] {bytes(2, 0, 1)}, plte, bytes(0, 128)), "palt.png");
        assertPixels(d, 3, 1, new int[][] {{70, 80, 90}, {10, 20, 30}, {40, 50, 60}});
    }

    @Test
    void interlacedPng() throws IOException {
        BufferedImage img = smooth(37, 29);
        ImageWriter w = ImageIO.getImageWritersByFormatName("png").next();
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT); // Adam7
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(out)) {
            w.setOutput(s);
            w.write(null, new IIOImage(img, null, null), p);
        }
        w.dispose();
        byte[] file = out.toByteArray();
        assertEquals(1, file[28], "interlaced");
        ImageDecoder.Decoded d = ImageDecoder.decode(file, "adam7.png");
        assertEquals(0.0, error(d, img)[1]);
    }

    // ---- JPEG ----

    @Test
    void jpegRoundTrip() throws IOException {
        BufferedImage img = smooth(64, 48);
        ImageDecoder.Decoded d = ImageDecoder.decode(jpeg(img, 0.95f), "smooth.jpg");
        double[] e = error(d, img);
        assertTrue(e[0] < 2 && e[1] < 20, "mean " + e[0] + " max " + e[1]);
    }

    @Test
    void grayJpegIsReplicated() throws IOException {
        BufferedImage img = new BufferedImage(40, 30, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 30; y++) for (int x = 0; x < 40; x++) img.getRaster().setSample(x, y, 0, 3 * x + 2 * y);
        ImageDecoder.Decoded d = ImageDecoder.decode(jpeg(img, 0.95f), "gray.jpg");
        for (int i = 0; i < d.rgb().length; i += 3) {
            assertEquals(d.rgb()[i], d.rgb()[i + 1]);
            assertEquals(d.rgb()[i], d.rgb()[i + 2]);
        }
        double[] e = error(d, img);
        assertTrue(e[0] < 2 && e[1] < 20, "mean " + e[0] + " max " + e[1]);
    }

    /**
     * An embedded ICC profile must not change the pixels (PIL ignores it in convert("RGB")). The
     * JDK reader would convert from the profile to sRGB; a linear-RGB profile makes that obvious.
     */
    @Test
    void jpegIccProfileIsIgnored() throws IOException {
        byte[] plain = jpeg(smooth(48, 32), 0.9f);
        byte[] icc = ICC_Profile.getInstance(ColorSpace.CS_LINEAR_RGB).getData();
        ByteArrayOutputStream seg = new ByteArrayOutputStream();
        int len = 2 + 12 + 2 + icc.length;
        seg.writeBytes(bytes(0xFF, 0xE2, len >> 8, len & 0xFF));
        seg.writeBytes("ICC_PROFILE\0".getBytes(StandardCharsets.US_ASCII));
        seg.writeBytes(bytes(1, 1));
        seg.writeBytes(icc);
        ByteArrayOutputStream withIcc = new ByteArrayOutputStream();
        withIcc.write(plain, 0, 2);
        withIcc.writeBytes(seg.toByteArray());
        withIcc.write(plain, 2, plain.length - 2);
        byte[] profiled = withIcc.toByteArray();

        ImageDecoder.Decoded expected = ImageDecoder.decode(plain, "plain.jpg");
        ImageDecoder.Decoded actual = ImageDecoder.decode(profiled, "icc.jpg");
        assertArrayEquals(expected.rgb(), actual.rgb());
        // what a colour-managed read would have given: visibly different (shows the profile is real and effective)
        BufferedImage managed = ImageIO.read(new java.io.ByteArrayInputStream(profiled));
        int[] m = managed.getRaster().getPixel(10, 10, (int[]) null);
        int[] p = pixel(actual, 10, 10);
        System.out.println("ICC test: pixel (10,10) ignoring the profile " + Arrays.toString(p) + ", JDK colour-managed " + Arrays.toString(m));
    }

    /** EXIF orientation 6 ("rotate 90") is not applied: PIL's open + convert does not apply it either. */
    @Test
    void exifOrientationIsNotApplied() throws IOException {
        byte[] plain = jpeg(smooth(48, 32), 0.9f);
        byte[] tiff = bytes('M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0);
        int len = 2 + 6 + tiff.length;
        ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.write(plain, 0, 2);
        f.writeBytes(bytes(0xFF, 0xE1, len >> 8, len & 0xFF, 'E', 'x', 'i', 'f', 0, 0));
        f.writeBytes(tiff);
        f.write(plain, 2, plain.length - 2);
        ImageDecoder.Decoded d = ImageDecoder.decode(f.toByteArray(), "rotated.jpg");
        assertEquals(48, d.width());
        assertEquals(32, d.height());
        assertArrayEquals(ImageDecoder.decode(plain, "plain.jpg").rgb(), d.rgb());
    }

    /**
     * A JPEG without JFIF/Adobe/Exif markers, components not subsampled and ids 4, 5, 6: libjpeg
     * (PIL) decodes it as YCbCr, the JDK alone would take it for RGB and give wrong colours.
     */
    @Test
    void markerlessUnsubsampledJpegIsYcbcrAsInLibjpeg() throws Exception {
        BufferedImage img = smooth(32, 24);
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        p.setCompressionQuality(0.95f);
        IIOMetadata meta = w.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(img), p);
        String fmt = "javax_imageio_jpeg_image_1.0";
        IIOMetadataNode root = (IIOMetadataNode) meta.getAsTree(fmt);
        for (Node n = root.getElementsByTagName("componentSpec").item(0); n != null; n = n.getNextSibling()) {
            ((IIOMetadataNode) n).setAttribute("HsamplingFactor", "1");
            ((IIOMetadataNode) n).setAttribute("VsamplingFactor", "1");
        }
        meta.setFromTree(fmt, root);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(out)) {
            w.setOutput(s);
            w.write(null, new IIOImage(img, null, meta), p);
        }
        w.dispose();
        byte[] withJfif = out.toByteArray();
        // drop the JFIF APP0 and renumber the components 1,2,3 -> 4,5,6 in SOF0 and SOS
        ByteArrayOutputStream patched = new ByteArrayOutputStream();
        patched.write(withJfif, 0, 2);
        int pos = 2;
        boolean sawSof = false, sawSos = false;
        while (pos < withJfif.length) {
            int m = withJfif[pos + 1] & 0xFF;
            int len = ((withJfif[pos + 2] & 0xFF) << 8) | (withJfif[pos + 3] & 0xFF);
            byte[] seg = Arrays.copyOfRange(withJfif, pos, m == 0xDA ? withJfif.length : pos + 2 + len);
            if (m == 0xC0) {
                for (int c = 0; c < 3; c++) {
                    assertEquals(0x11, seg[11 + 3 * c], "not subsampled");
                    seg[10 + 3 * c] += 3;
                }
                sawSof = true;
            }
            if (m == 0xDA) {
                for (int c = 0; c < 3; c++) seg[5 + 2 * c] += 3;
                sawSos = true;
            }
            if (m != 0xE0) patched.writeBytes(seg);
            pos += seg.length;
        }
        assertTrue(sawSof && sawSos);
        ImageDecoder.Decoded d = ImageDecoder.decode(patched.toByteArray(), "markerless.jpg");
        double[] e = error(d, img);
        assertTrue(e[0] < 2 && e[1] < 20, "mean " + e[0] + " max " + e[1]);
    }

    @Test
    void cmykJpegIsRejected() throws IOException {
        WritableRaster cmyk = java.awt.image.Raster.createInterleavedRaster(java.awt.image.DataBuffer.TYPE_BYTE, 16, 16, 4, null);
        for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) cmyk.setPixel(x, y, new int[] {x * 10, y * 10, 50, 20});
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(out)) {
            w.setOutput(s);
            w.write(null, new IIOImage(cmyk, null, null), null);
        }
        w.dispose();
        UserInputException e = assertThrows(UserInputException.class, () -> ImageDecoder.decode(out.toByteArray(), "cmyk.jpg"));
        assertTrue(e.getMessage().startsWith("image cmyk.jpg: ") && e.getMessage().contains("CMYK"), e.getMessage());
    }

    // ---- broken files ----

    private static UserInputException rejected(byte[] file, String name) {
        UserInputException e = assertThrows(UserInputException.class, () -> ImageDecoder.decode(file, name));
        assertTrue(e.getMessage().startsWith("image " + name + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    @Test
    void brokenFilesNameTheImage() throws IOException {
        byte[] goodPng = write(smooth(64, 64), "png");
        byte[] goodJpeg = jpeg(smooth(256, 192), 0.9f);
        assertTrue(rejected(Arrays.copyOf(goodPng, goodPng.length / 2), "half.png").getMessage().contains("truncated/corrupt"));
        assertTrue(rejected(Arrays.copyOf(goodPng, 40), "header-only.png").getMessage().contains("truncated/corrupt"));
        assertTrue(rejected(Arrays.copyOf(goodJpeg, goodJpeg.length / 2), "half.jpg").getMessage().contains("truncated/corrupt"));
        assertTrue(rejected(Arrays.copyOf(goodJpeg, 300), "start.jpg").getMessage().contains("truncated/corrupt"));
        assertTrue(rejected("just some text\n".getBytes(StandardCharsets.UTF_8), "notes.jpg").getMessage().contains("not a JPEG or PNG"));
        assertTrue(rejected(new byte[0], "empty.png").getMessage().contains("empty"));
        assertTrue(rejected(Arrays.copyOf(goodPng, 5), "tiny.png").getMessage().contains("not a JPEG or PNG"));
        assertTrue(rejected("GIF89a....".getBytes(StandardCharsets.US_ASCII), "anim.jpg").getMessage().contains("GIF"));
        // a PNG whose pixel data is garbage
        byte[] bad = goodPng.clone();
        for (int i = 60; i < 120; i++) bad[i] ^= 0x5A;
        rejected(bad, "garbled.png");
        // the EOI marker alone missing: all pixel data is there, libjpeg and PIL decode it
        ImageDecoder.Decoded noEoi = ImageDecoder.decode(Arrays.copyOf(goodJpeg, goodJpeg.length - 2), "no-eoi.jpg");
        assertArrayEquals(ImageDecoder.decode(goodJpeg, "ok.jpg").rgb(), noEoi.rgb());
    }

    /** Progressive JPEGs decode; cut anywhere, even just before EOI, PIL refuses them and so do we. */
    @Test
    void progressiveJpeg() throws IOException {
        BufferedImage img = smooth(256, 192);
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream s = new MemoryCacheImageOutputStream(out)) {
            w.setOutput(s);
            w.write(null, new IIOImage(img, null, null), p);
        }
        w.dispose();
        byte[] file = out.toByteArray();
        double[] e = error(ImageDecoder.decode(file, "prog.jpg"), img);
        assertTrue(e[0] < 3 && e[1] < 30, "mean " + e[0] + " max " + e[1]);
        for (int cut : new int[] {file.length / 3, file.length * 2 / 3, file.length - 2}) {
            assertTrue(rejected(Arrays.copyOf(file, cut), "prog-cut.jpg").getMessage().contains("truncated/corrupt"), "cut at " + cut);
        }
    }

    /** Random damage gives a decoded image or a UserInputException, never another exception. */
    @Test
    void damagedFilesNeverThrowAnythingElse() throws IOException {
        byte[][] good = {write(smooth(40, 30), "png"), jpeg(smooth(40, 30), 0.8f)};
        Random rnd = new Random(11);
        int rejected = 0;
        for (int t = 0; t < 300; t++) {
            byte[] f = good[t % 2].clone();
            for (int k = 0; k < 1 + rnd.nextInt(6); k++) f[2 + rnd.nextInt(f.length - 2)] = (byte) rnd.nextInt(256);
            if (t % 3 == 0) f = Arrays.copyOf(f, 3 + rnd.nextInt(f.length - 3));
            try {
                ImageDecoder.Decoded d = ImageDecoder.decode(f, "fuzz" + t);
                assertEquals(d.width() * d.height() * 3, d.rgb().length);
            } catch (UserInputException e) {
                assertTrue(e.getMessage().startsWith("image fuzz" + t + ": "), e.getMessage());
                rejected++;
            }
        }
        assertTrue(rejected > 0);
    }

    // ---- the shipped photos ----

    /**
     * Sizes and the CRC-32 of the RGB bytes, as decoded offline by libpng 1.6.39 (strip_16,
     * strip_alpha, gray_to_rgb) and by libjpeg-turbo 2.1.5 with PIL's settings (output RGB, ISLOW
     * DCT, fancy upsampling): the JDK's decoders gave the same bytes.
     */
    @Test
    void shippedPhotos() throws IOException {
        Object[][] cases = {
            {"astronaut.png", 512, 512, 0xfdcaa55fL}, {"camera.png", 512, 512, 0xdae3fc0bL},
            {"chelsea.png", 451, 300, 0x0f829d59L}, {"coffee.png", 600, 400, 0xacf41373L},
            {"grass.png", 512, 512, 0x0e9030a1L}, {"motorcycle_left.png", 741, 500, 0xa1e17c60L},
            {"rocket.jpg", 640, 427, 0x49cf24abL},
        };
        for (Object[] c : cases) {
            String name = (String) c[0];
            ImageDecoder.Decoded d = ImageDecoder.decode(Files.readAllBytes(TestData.require("images/" + name)), name);
            assertEquals(c[1], d.width(), name);
            assertEquals(c[2], d.height(), name);
            CRC32 crc = new CRC32();
            crc.update(d.rgb());
            assertEquals((long) c[3], crc.getValue(), name + " decoded bytes");
            if (name.equals("camera.png") || name.equals("grass.png")) {
                for (int i = 0; i < d.rgb().length; i += 3) {
                    assertEquals(d.rgb()[i], d.rgb()[i + 1], name);
                    assertEquals(d.rgb()[i], d.rgb()[i + 2], name);
                }
            }
        }
    }
}
