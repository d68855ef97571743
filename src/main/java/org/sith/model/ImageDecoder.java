package org.sith.model;

import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

import org.sith.UserInputException;

/**
 * Decodes a JPEG or PNG into 8-bit RGB the way PIL's {@code Image.open(f).convert("RGB")} does,
 * so that preprocessing sees the pixels the Python reference sees, and keeps the image in the mode
 * {@code Image.open} gives (palette indices and palette, 1-bit, gray, alpha) for the preprocessing that
 * resizes before converting ({@link PreprocessOrder#OPENCLIP}). The RGB conversion:
 * <ul>
 * <li>grayscale is replicated into R, G and B; 1, 2 and 4-bit gray are stretched to 0..255;</li>
 * <li>palette images give their palette colours;</li>
 * <li>alpha is dropped, not composited: a transparent pixel keeps its stored colour;</li>
 * <li>16-bit PNG channels give their high byte (value >> 8), as PIL does for 16-bit RGB(A) and
 *     gray+alpha. For 16-bit plain grayscale PIL would clip the value at 255 (almost always white);
 *     we take the high byte, the sensible 8-bit value;</li>
 * <li>embedded ICC profiles, gamma and EXIF orientation are ignored, as PIL ignores them.</li>
 * </ul>
 * CMYK/YCCK JPEGs, arithmetic-coded or 12-bit JPEGs, truncated or corrupt files and anything else
 * are a {@link UserInputException} naming the image, so callers can skip it.
 */
public final class ImageDecoder {
    private ImageDecoder() {}

    /** PIL's DecompressionBombError threshold (2 x MAX_IMAGE_PIXELS): larger images PIL refuses too. */
    static final long MAX_PIXELS = 2L * 89_478_485L;

    /**
     * A decoded image: {@code rgb} row-major, 3 bytes (R, G, B) per pixel, as {@code convert("RGB")} gives it; and
     * {@code image}, the same pixels in the mode Pillow opens the file in (1, L, P with its palette, LA, RGB, RGBA),
     * which the openclip preprocessing order resizes before converting (see {@link PreprocessOrder}).
     */
    public record Decoded(int width, int height, byte[] rgb, PilImage image) {
        public Decoded {
            if (width <= 0 || height <= 0 || rgb.length != (long) width * height * 3) {
                throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, not 3 x " + width + " x " + height);
            }
            if (image == null) image = PilImage.rgb(width, height, rgb);
            if (image.width() != width || image.height() != height) {
                throw new IllegalArgumentException(image + " is not " + width + " x " + height);
            }
        }

        /** An RGB image (its own mode is RGB). */
        public Decoded(int width, int height, byte[] rgb) {
            this(width, height, rgb, null);
        }
    }

    public static Decoded decode(byte[] bytes, String name) {
        if (bytes == null || bytes.length == 0) throw new UserInputException("image " + name + ": not a JPEG or PNG (empty file)");
        if (isPng(bytes)) return read("png", bytes, name, null, pngMode(bytes));
        if (bytes.length >= 3 && (bytes[0] & 0xFF) == 0xFF && (bytes[1] & 0xFF) == 0xD8 && (bytes[2] & 0xFF) == 0xFF) {
            JpegMarkers.Prepared p = JpegMarkers.prepare(bytes, name);
            return read("jpeg", p.bytes(), name, p, null);
        }
        throw new UserInputException("image " + name + ": not a JPEG or PNG" + guessFormat(bytes));
    }

    /** jpeg is null for a PNG; mode is the PNG's (from its header), null for a JPEG (L or RGB by its bands). */
    private static Decoded read(String format, byte[] bytes, String name, JpegMarkers.Prepared jpeg, PilImage.Mode mode) {
        ImageReader reader = reader(format);
        List<String> warnings = new ArrayList<>();
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            reader.setInput(in, true, true);
            reader.addIIOReadWarningListener((IIOReadWarningListener) (r, warning) -> warnings.add(warning));
            long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
            if (pixels > MAX_PIXELS) {
                throw new UserInputException("image " + name + ": " + reader.getWidth(0) + " x " + reader.getHeight(0)
                        + " pixels is more than PIL's limit of " + MAX_PIXELS + " (decompression bomb)");
            }
            BufferedImage image = reader.read(0);
            if (jpeg != null) checkComplete(warnings, jpeg.progressive(), name);
            Decoded rgb = toRgb(image, name);
            if (mode == null) mode = image.getRaster().getNumBands() == 1 ? PilImage.Mode.L : PilImage.Mode.RGB;
            return new Decoded(rgb.width(), rgb.height(), rgb.rgb(), inMode(image, mode, rgb.rgb()));
        } catch (UserInputException e) {
            throw e;
        } catch (Exception e) {
            // ImageIO throws IIOException, but also RuntimeExceptions (e.g. on bad chunk lengths or tables)
            throw new UserInputException("image " + name + ": truncated/corrupt (" + reason(e) + ")", e);
        } finally {
            reader.dispose();
        }
    }

    /**
     * The JDK's reader pads a JPEG whose data ends early with grey and only warns; PIL (libjpeg with
     * a suspending source) refuses it as truncated. PIL accepts a baseline JPEG that lacks only the
     * final EOI marker (all rows were decoded), but not a progressive one: libjpeg must see EOI
     * before it outputs a multi-scan image. A "premature end of data segment" without the missing
     * EOI is corruption inside the file, which PIL's libjpeg also only warns about.
     */
    private static void checkComplete(List<String> warnings, boolean progressive, String name) {
        boolean missingEoi = false, cutScan = false;
        for (String w : warnings) {
            String l = w.toLowerCase(java.util.Locale.ROOT);
            missingEoi |= l.contains("missing eoi");
            cutScan |= l.contains("premature end");
        }
        if (missingEoi && (cutScan || progressive)) {
            throw new UserInputException("image " + name + ": truncated/corrupt (the JPEG data ends before the image does)");
        }
    }

    /** The JDK's own reader when present: a third-party plugin on the classpath could convert colours differently. */
    private static ImageReader reader(String format) {
        ImageReader first = null;
        for (Iterator<ImageReader> it = ImageIO.getImageReadersByFormatName(format); it.hasNext(); ) {
            ImageReader r = it.next();
            if (r.getClass().getName().startsWith("com.sun.imageio.plugins.")) {
                if (first != null) first.dispose();
                return r;
            }
            if (first == null) first = r;
            else r.dispose();
        }
        if (first == null) throw new IllegalStateException("no ImageIO reader for " + format);
        return first;
    }

    /**
     * The stored samples, never a colour-managed conversion (no getRGB): what PIL's convert("RGB")
     * sees. Band b of the raster is R, G, B (or gray) whatever the storage order.
     */
    static Decoded toRgb(BufferedImage image, String name) {
        Raster r = image.getRaster();
        int w = r.getWidth();
        int h = r.getHeight();
        ColorModel cm = image.getColorModel();
        int bands = r.getNumBands();
        byte[] out = new byte[w * h * 3];
        int[] row = new int[w * bands];
        if (cm instanceof IndexColorModel icm) {
            int n = icm.getMapSize();
            byte[] red = new byte[n], green = new byte[n], blue = new byte[n];
            icm.getReds(red);
            icm.getGreens(green);
            icm.getBlues(blue);
            for (int y = 0, o = 0; y < h; y++) {
                r.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++, o += 3) {
                    int i = row[x];
                    if (i < n) {
                        out[o] = red[i];
                        out[o + 1] = green[i];
                        out[o + 2] = blue[i];
                    }
                }
            }
            return new Decoded(w, h, out);
        }
        int colours = bands >= 3 ? 3 : 1; // 2 bands = gray + alpha, 4 = RGB + alpha: alpha dropped
        if (bands > 4 || (bands == 4 && cm.getColorSpace().getNumComponents() != 3)) {
            throw new UserInputException("image " + name + ": " + bands + "-channel colour (CMYK?) is not supported");
        }
        int bits = r.getSampleModel().getSampleSize(0);
        if (bits == 8 && bytesInterleaved(r, colours, out)) return new Decoded(w, h, out);
        for (int y = 0, o = 0; y < h; y++) {
            r.getPixels(0, y, w, 1, row);
            for (int x = 0, p = 0; x < w; x++, p += bands, o += 3) {
                if (colours == 3) {
                    out[o] = to8(row[p], bits);
                    out[o + 1] = to8(row[p + 1], bits);
                    out[o + 2] = to8(row[p + 2], bits);
                } else {
                    byte g = to8(row[p], bits);
                    out[o] = g;
                    out[o + 1] = g;
                    out[o + 2] = g;
                }
            }
        }
        return new Decoded(w, h, out);
    }

    /**
     * The mode Pillow's PNG plugin opens a PNG in, from the IHDR chunk (which a PNG starts with): gray is L, or 1
     * at bit depth 1 (16-bit gray, Pillow's I, is kept as L: see the class comment); RGB; palette P; gray + alpha
     * LA; RGB + alpha RGBA. A tRNS chunk does not change the mode. Null when the header is not there.
     */
    static PilImage.Mode pngMode(byte[] b) {
        if (b.length < 26 || b[12] != 'I' || b[13] != 'H' || b[14] != 'D' || b[15] != 'R') return null;
        int depth = b[24] & 0xFF;
        return switch (b[25] & 0xFF) {
            case 0 -> depth == 1 ? PilImage.Mode.BILEVEL : PilImage.Mode.L;
            case 2 -> PilImage.Mode.RGB;
            case 3 -> PilImage.Mode.P;
            case 4 -> PilImage.Mode.LA;
            case 6 -> PilImage.Mode.RGBA;
            default -> null;
        };
    }

    /**
     * The image in Pillow's mode. 1 and L are the gray of the RGB conversion (1 as 0 or 255, as Pillow stores it);
     * P is the raster's indices with the colour model's palette (entries past its end black, as in the RGB
     * conversion); LA and RGBA are the raster's bands at 8 bits (16 bits by the high byte, as Pillow's unpackers
     * do). Null mode, or a raster that does not have the mode's layout (the JDK's reader always does; another
     * reader might not), gives the RGB image: the two orders then agree.
     */
    static PilImage inMode(BufferedImage image, PilImage.Mode mode, byte[] rgb) {
        Raster r = image.getRaster();
        int w = r.getWidth(), h = r.getHeight(), n = w * h;
        switch (mode == null ? PilImage.Mode.RGB : mode) {
            case BILEVEL, L -> {
                byte[] gray = new byte[n];
                for (int i = 0; i < n; i++) gray[i] = rgb[3 * i];
                return new PilImage(mode, w, h, gray, null);
            }
            case P -> {
                if (!(image.getColorModel() instanceof IndexColorModel icm) || r.getNumBands() != 1) break;
                int size = Math.min(icm.getMapSize(), 256);
                byte[] red = new byte[icm.getMapSize()], green = new byte[red.length], blue = new byte[red.length];
                icm.getReds(red);
                icm.getGreens(green);
                icm.getBlues(blue);
                byte[] palette = new byte[768];
                for (int i = 0; i < size; i++) {
                    palette[3 * i] = red[i];
                    palette[3 * i + 1] = green[i];
                    palette[3 * i + 2] = blue[i];
                }
                byte[] indices = new byte[n];
                int[] row = new int[w];
                for (int y = 0; y < h; y++) {
                    r.getSamples(0, y, w, 1, 0, row);
                    for (int x = 0; x < w; x++) indices[y * w + x] = (byte) row[x];
                }
                return new PilImage(mode, w, h, indices, palette);
            }
            case LA, RGBA -> {
                int b = mode.bands;
                if (r.getNumBands() != b) break;
                int bits = r.getSampleModel().getSampleSize(0);
                byte[] px = new byte[n * b];
                int[] row = new int[w * b];
                for (int y = 0; y < h; y++) {
                    r.getPixels(0, y, w, 1, row);
                    for (int i = 0; i < row.length; i++) px[y * w * b + i] = to8(row[i], bits);
                }
                return new PilImage(mode, w, h, px, null);
            }
            default -> {
                // RGB: the conversion is the image
            }
        }
        return PilImage.rgb(w, h, rgb);
    }

    /**
     * The fast path for what JPEGs and 8-bit PNGs decode to (3BYTE_BGR, 4BYTE_ABGR, BYTE_GRAY, gray +
     * alpha): bytes in one array at fixed offsets, copied without a call per pixel. False if not.
     */
    private static boolean bytesInterleaved(Raster r, int colours, byte[] out) {
        if (!(r.getSampleModel() instanceof ComponentSampleModel sm) || !(r.getDataBuffer() instanceof DataBufferByte db)
                || db.getNumBanks() != 1 || sm.getNumBands() != r.getNumBands()) {
            return false;
        }
        for (int b = 0; b < sm.getNumBands(); b++) if (sm.getBankIndices()[b] != 0) return false;
        byte[] data = db.getData();
        int ps = sm.getPixelStride(), ls = sm.getScanlineStride();
        int[] off = sm.getBandOffsets();
        int base = db.getOffset() - r.getSampleModelTranslateY() * ls - r.getSampleModelTranslateX() * ps;
        int w = r.getWidth(), h = r.getHeight();
        int o0 = off[0], o1 = colours == 3 ? off[1] : off[0], o2 = colours == 3 ? off[2] : off[0];
        for (int y = 0, o = 0; y < h; y++) {
            for (int x = 0, p = base + y * ls; x < w; x++, p += ps, o += 3) {
                out[o] = data[p + o0];
                out[o + 1] = data[p + o1];
                out[o + 2] = data[p + o2];
            }
        }
        return true;
    }

    /** 8 bits as is, 16 bits by the high byte, 1/2/4 bits stretched (x 255, 85, 17) as PIL's unpackers do. */
    private static byte to8(int v, int bits) {
        if (bits == 8) return (byte) v;
        if (bits > 8) return (byte) (v >>> (bits - 8));
        return (byte) (v * 255 / ((1 << bits) - 1));
    }

    private static boolean isPng(byte[] b) {
        byte[] sig = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
        if (b.length < sig.length) return false;
        for (int i = 0; i < sig.length; i++) if (b[i] != sig[i]) return false;
        return true;
    }

    /** A hint for the usual suspects, so the user knows what to convert. */
    private static String guessFormat(byte[] b) {
        String head = new String(b, 0, Math.min(b.length, 12), java.nio.charset.StandardCharsets.ISO_8859_1);
        if (head.startsWith("GIF8")) return " (it is a GIF)";
        if (head.startsWith("BM")) return " (it looks like a BMP)";
        if (head.startsWith("RIFF") && head.length() >= 12 && head.startsWith("WEBP", 8)) return " (it is a WebP)";
        if (head.startsWith("II*\0") || head.startsWith("MM\0*")) return " (it is a TIFF)";
        if (head.length() >= 8 && head.startsWith("ftyp", 4)) return " (it looks like HEIF/AVIF)";
        if (b.length < 8 && (b[0] & 0xFF) == 0x89) return " (too short to be a PNG)";
        return "";
    }

    /** One line: the message and the innermost cause that says something. */
    static String reason(Throwable e) {
        String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().strip();
        Throwable c = e.getCause();
        while (c != null && c.getCause() != null && c.getCause() != c) c = c.getCause();
        if (c != null && c != e) {
            String cm = c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage().strip();
            if (!msg.contains(cm)) msg = msg.isEmpty() ? cm : msg + ": " + cm;
        }
        return msg.replaceAll("\\s+", " ");
    }
}
