package org.sith.report;

import java.awt.Graphics2D;
import java.awt.Image;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

import org.sith.model.ImageDecoder;
import org.sith.model.Preprocessor;

/** Small JPEG re-encodings of matched images as data: URIs, so the report needs no file beside it. */
public final class Thumbnails {
    private Thumbnails() {}

    /** A JPEG or PNG file's bytes, decoded as preprocessing decodes them, fitted into size × size. */
    public static String fromFile(byte[] bytes, String id, int size) {
        ImageDecoder.Decoded d = ImageDecoder.decode(bytes, id);
        BufferedImage img = new BufferedImage(d.width(), d.height(), BufferedImage.TYPE_INT_RGB);
        byte[] rgb = d.rgb();
        for (int y = 0, i = 0; y < d.height(); y++) {
            for (int x = 0; x < d.width(); x++, i += 3) img.setRGB(x, y, (rgb[i] & 0xFF) << 16 | (rgb[i + 1] & 0xFF) << 8 | (rgb[i + 2] & 0xFF));
        }
        return dataUri(fit(img, size));
    }

    /** One row of a pixel .npy (3×S×S, normalized with CLIP's mean and std), back to colours. */
    public static String fromPixels(float[] chw, int side, int size) {
        BufferedImage img = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        int plane = side * side;
        for (int y = 0; y < side; y++) {
            for (int x = 0; x < side; x++) {
                int v = 0;
                for (int c = 0; c < 3; c++) {
                    double u = chw[c * plane + y * side + x] * Preprocessor.CLIP_STD[c] + Preprocessor.CLIP_MEAN[c];
                    v = v << 8 | (int) Math.round(Math.max(0, Math.min(1, u)) * 255);
                }
                img.setRGB(x, y, v);
            }
        }
        return dataUri(fit(img, size));
    }

    static BufferedImage fit(BufferedImage img, int size) {
        double s = Math.min(1.0, (double) size / Math.max(img.getWidth(), img.getHeight()));
        int w = Math.max(1, (int) Math.round(img.getWidth() * s));
        int h = Math.max(1, (int) Math.round(img.getHeight() * s));
        if (w == img.getWidth() && h == img.getHeight()) return img;
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.drawImage(img.getScaledInstance(w, h, Image.SCALE_AREA_AVERAGING), 0, 0, null);
        g.dispose();
        return out;
    }

    static String dataUri(BufferedImage img) {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            ImageWriteParam p = w.getDefaultWriteParam();
            p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
            p.setCompressionQuality(0.8f);
            w.setOutput(out);
            w.write(null, new IIOImage(img, null, null), p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            w.dispose();
        }
        return "data:image/jpeg;base64," + Base64.getEncoder().encodeToString(bytes.toByteArray());
    }
}
