package org.sith.model;

import java.io.ByteArrayOutputStream;

import org.sith.UserInputException;

/**
 * Walks a JPEG's marker segments up to the first scan and adjusts what the JDK's decoder would
 * otherwise read differently from the libjpeg(-turbo) inside PIL:
 * <ul>
 * <li>embedded ICC profiles (APP2 "ICC_PROFILE") are removed: the JDK reader converts from the
 *     profile to sRGB (and may fail on odd profiles), PIL's convert("RGB") ignores the profile;</li>
 * <li>a 3-component JPEG without JFIF, Adobe or Exif markers whose component ids are neither
 *     1,2,3 nor 'R','G','B' and whose components are not subsampled is decoded as RGB by the JDK
 *     but as YCbCr by libjpeg; a JFIF marker is inserted so both say YCbCr.</li>
 * </ul>
 * It also names the JPEGs neither decoder reads (4 components, arithmetic, lossless, 12-bit) so
 * the message says what is wrong instead of a library error. Anything it cannot parse is passed on
 * unchanged for the decoder to report.
 */
final class JpegMarkers {
    private JpegMarkers() {}

    /** A minimal JFIF 1.01 APP0 segment (no thumbnail). */
    private static final byte[] JFIF = {(byte) 0xFF, (byte) 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};

    /** The bytes to decode, and whether the frame is progressive (SOF2). */
    record Prepared(byte[] bytes, boolean progressive) {}

    static Prepared prepare(byte[] b, String name) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(b.length);
        out.write(b, 0, 2); // SOI
        boolean jfif = false, adobe = false, exif = false, stripped = false, progressive = false;
        int sofAt = -1;
        int p = 2;
        while (p + 4 <= b.length && (b[p] & 0xFF) == 0xFF) {
            int q = p;
            while (q + 1 < b.length && (b[q + 1] & 0xFF) == 0xFF) q++; // fill bytes
            if (q + 3 >= b.length) break;
            int m = b[q + 1] & 0xFF;
            if (m == 0xDA || m == 0xD9 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) break; // scan, end, standalone
            int end = q + 2 + ((b[q + 2] & 0xFF) << 8 | (b[q + 3] & 0xFF));
            if (end > b.length || end < q + 4) break;
            int body = q + 4;
            if (m == 0xE2 && startsWith(b, body, end, "ICC_PROFILE\0")) {
                stripped = true;
            } else {
                if (m == 0xE0 && startsWith(b, body, end, "JFIF\0")) jfif = true;
                if (m == 0xE1 && startsWith(b, body, end, "Exif\0")) exif = true;
                if (m == 0xEE && startsWith(b, body, end, "Adobe")) adobe = true;
                if (isSof(m)) {
                    sofAt = out.size();
                    progressive = m == 0xC2;
                    checkSof(b, m, body, end, name);
                }
                out.write(b, p, end - p);
            }
            p = end;
        }
        out.write(b, p, b.length - p);
        byte[] result = out.toByteArray();
        if (sofAt >= 0 && !jfif && !adobe && !exif && jdkWouldSayRgb(result, sofAt)) {
            byte[] withJfif = new byte[result.length + JFIF.length];
            System.arraycopy(result, 0, withJfif, 0, 2);
            System.arraycopy(JFIF, 0, withJfif, 2, JFIF.length);
            System.arraycopy(result, 2, withJfif, 2 + JFIF.length, result.length - 2);
            return new Prepared(withJfif, progressive);
        }
        return new Prepared(stripped ? result : b, progressive);
    }

    private static boolean isSof(int m) {
        return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    }

    /** SOF body: precision, height(2), width(2), count, then (id, sampling, table) per component. */
    private static void checkSof(byte[] b, int m, int body, int end, String name) {
        if (end - body < 6) return; // the decoder will say it is corrupt
        String what = null;
        int precision = b[body] & 0xFF;
        int comps = b[body + 5] & 0xFF;
        if (m == 0xC3 || m == 0xC7 || m == 0xCB || m == 0xCF) what = "a lossless JPEG";
        else if (m >= 0xC9) what = "an arithmetic-coded JPEG";
        else if (m >= 0xC5) what = "a hierarchical JPEG";
        else if (precision != 8) what = "a " + precision + "-bit JPEG";
        else if (comps == 4) what = "a CMYK/YCCK JPEG";
        else if (comps != 1 && comps != 3) what = "a JPEG with " + comps + " colour components";
        if (what != null) throw new UserInputException("image " + name + ": " + what + " is not supported (convert it to an 8-bit RGB JPEG or PNG)");
    }

    /** The JDK's guess for marker-less 3-component files (see class comment). */
    private static boolean jdkWouldSayRgb(byte[] b, int sofAt) {
        int body = sofAt + 4;
        if (body + 6 + 9 > b.length || (b[body + 5] & 0xFF) != 3) return false;
        int c = body + 6;
        int id0 = b[c] & 0xFF, id1 = b[c + 3] & 0xFF, id2 = b[c + 6] & 0xFF;
        boolean ycc = id0 == 1 && id1 == 2 && id2 == 3;
        boolean rgb = id0 == 'R' && id1 == 'G' && id2 == 'B';
        boolean sameSampling = b[c + 1] == b[c + 4] && b[c + 1] == b[c + 7];
        return !ycc && !rgb && sameSampling;
    }

    private static boolean startsWith(byte[] b, int from, int end, String s) {
        if (end - from < s.length()) return false;
        for (int i = 0; i < s.length(); i++) if (b[from + i] != (byte) s.charAt(i)) return false;
        return true;
    }
}
