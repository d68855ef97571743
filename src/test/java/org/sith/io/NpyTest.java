package org.sith.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.UserInputException;

class NpyTest {
    private static final Configuration CONF = new Configuration();

    @TempDir
    Path dir;

    // ------------------------------------------------------------ hand-built files

    /** Magic, version, little-endian header length (2 bytes for v1, 4 for v2/v3), header text, payload. */
    private static byte[] npy(int major, String header, byte[] payload) {
        byte[] h = header.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x93);
        out.writeBytes("NUMPY".getBytes(StandardCharsets.US_ASCII));
        out.write(major);
        out.write(0);
        out.write(h.length & 0xff);
        out.write((h.length >>> 8) & 0xff);
        if (major >= 2) {
            out.write((h.length >>> 16) & 0xff);
            out.write((h.length >>> 24) & 0xff);
        }
        out.writeBytes(h);
        out.writeBytes(payload);
        return out.toByteArray();
    }

    private static String dict(String descr, boolean fortran, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False")
                + ", 'shape': " + shape + ", }   \n";
    }

    private static byte[] f32(ByteOrder order, float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(order);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    private static byte[] f64(double... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) b.putDouble(x);
        return b.array();
    }

    private static byte[] f16(int... bits) {
        ByteBuffer b = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : bits) b.putShort((short) x);
        return b.array();
    }

    private String file(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p.toString();
    }

    // ------------------------------------------------------------ reading

    @Test
    void readsF32CorderV1() throws IOException {
        String f = file("a.npy", npy(1, dict("<f4", false, "(2, 3)"),
                f32(ByteOrder.LITTLE_ENDIAN, 1, 2, 3, 4, 5, 6.5f)));
        Npy.NpyArray a = Npy.read(f, CONF);
        assertArrayEquals(new long[] {2, 3}, a.shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6.5f}, a.data());
        assertEquals(2, a.rows());
        assertEquals(3, a.cols());
    }

    @Test
    void readsF32FortranOrderAsRowMajor() throws IOException {
        // Matrix [[1,2,3],[4,5,6]] stored column by column.
        String f = file("f.npy", npy(1, dict("<f4", true, "(2, 3)"),
                f32(ByteOrder.LITTLE_ENDIAN, 1, 4, 2, 5, 3, 6)));
        Npy.NpyArray a = Npy.read(f, CONF);
        assertArrayEquals(new long[] {2, 3}, a.shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, a.data());
    }

    @Test
    void readsF64V2AndNarrows() throws IOException {
        double third = 1.0 / 3.0;
        String f = file("d.npy", npy(2, dict("<f8", false, "(3, 1)"), f64(third, -1e300, 2.5)));
        Npy.NpyArray a = Npy.read(f, CONF);
        assertArrayEquals(new long[] {3, 1}, a.shape());
        assertEquals(0.33333334f, a.data()[0]);
        assertEquals(Float.NEGATIVE_INFINITY, a.data()[1]);
        assertEquals(2.5f, a.data()[2]);
    }

    @Test
    void readsF64FortranV2() throws IOException {
        String f = file("df.npy", npy(2, dict("<f8", true, "(2, 2)"), f64(1, 3, 2, 4)));
        assertArrayEquals(new float[] {1, 2, 3, 4}, Npy.read(f, CONF).data());
    }

    @Test
    void readsF16AgainstHandBits() throws IOException {
        int[] bits = {0x3C00, 0xC000, 0x3555, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x8000, 0x8001, 0x0000};
        float[] want = {
            1.0f, -2.0f,
            0.333251953125f,            // 0x3555 = (1 + 341/1024) × 2^-2
            5.9604645e-8f,              // smallest subnormal 2^-24
            6.097555e-5f,               // largest subnormal 1023 × 2^-24
            6.1035156e-5f,              // smallest normal 2^-14
            65504f,                     // largest finite
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            -0.0f, -5.9604645e-8f, 0.0f
        };
        String f = file("h.npy", npy(1, dict("<f2", false, "(12,)"), f16(bits)));
        Npy.NpyArray a = Npy.read(f, CONF);
        assertArrayEquals(new long[] {12}, a.shape());
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(a.data()[i]),
                    "half 0x" + Integer.toHexString(bits[i]));
        }
        assertEquals(0x1p-24f, a.data()[3]);
        assertEquals(1023 * 0x1p-24f, a.data()[4]);
        assertTrue(Float.isNaN(FloatBits.halfToFloat((short) 0x7E00)));
    }

    @Test
    void readsF16FortranMatrix() throws IOException {
        // [[1, 2], [3, 4]] as halves, column-major: 1, 3, 2, 4.
        String f = file("hf.npy", npy(1, dict("<f2", true, "(2, 2)"), f16(0x3C00, 0x4200, 0x4000, 0x4400)));
        assertArrayEquals(new float[] {1, 2, 3, 4}, Npy.read(f, CONF).data());
    }

    @Test
    void readsOneDimensional() throws IOException {
        String f = file("v.npy", npy(1, dict("<f4", false, "(4,)"), f32(ByteOrder.LITTLE_ENDIAN, 9, 8, 7, 6)));
        Npy.NpyArray a = Npy.read(f, CONF);
        assertArrayEquals(new long[] {4}, a.shape());
        assertArrayEquals(new float[] {9, 8, 7, 6}, a.data());
        assertEquals(4, a.rows());
        assertEquals(1, a.cols());
    }

    @Test
    void readsBigEndianNativeMarkersAndV3() throws IOException {
        String be = file("be.npy", npy(1, dict(">f4", false, "(2,)"), f32(ByteOrder.BIG_ENDIAN, 1.5f, -3)));
        assertArrayEquals(new float[] {1.5f, -3}, Npy.read(be, CONF).data());

        String nat = file("n.npy", npy(1, dict("=f4", false, "(1,)"), f32(ByteOrder.nativeOrder(), 7)));
        assertArrayEquals(new float[] {7}, Npy.read(nat, CONF).data());

        String v3 = file("v3.npy", npy(3, "{\"descr\": \"<f4\", \"shape\": (1, 2), \"fortran_order\": False}\n",
                f32(ByteOrder.LITTLE_ENDIAN, 2, 3)));
        assertArrayEquals(new float[] {2, 3}, Npy.read(v3, CONF).data());
    }

    @Test
    void readsThroughFileUri() throws IOException {
        String f = file("u.npy", npy(1, dict("<f4", false, "(1,)"), f32(ByteOrder.LITTLE_ENDIAN, 4)));
        assertArrayEquals(new float[] {4}, Npy.read(Path.of(f).toUri().toString(), CONF).data());
    }

    @Test
    void readsEmptyArray() throws IOException {
        String f = file("e.npy", npy(1, dict("<f4", false, "(0, 5)"), new byte[0]));
        Npy.NpyArray a = Npy.read(f, CONF);
        assertArrayEquals(new long[] {0, 5}, a.shape());
        assertEquals(0, a.data().length);
    }

    // ------------------------------------------------------------ writing

    /** What numpy 2.x np.save writes for np.zeros((3, 4), np.float32), header only. */
    private static final String NUMPY_HEADER_3x4 = "\u0093NUMPY\u0001\u0000v\u0000"
            + "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" + " ".repeat(58) + "\n";

    @Test
    void writtenHeaderIsByteExactNumpy() throws IOException {
        String f = dir.resolve("w.npy").toString();
        float[] data = new float[12];
        for (int i = 0; i < 12; i++) data[i] = i - 5.25f;
        Npy.write(f, CONF, new long[] {3, 4}, data);
        byte[] bytes = Files.readAllBytes(Path.of(f));
        byte[] want = NUMPY_HEADER_3x4.getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(128, want.length);
        assertEquals(128 + 48, bytes.length);
        assertArrayEquals(want, Arrays.copyOf(bytes, 128));
        assertArrayEquals(f32(ByteOrder.LITTLE_ENDIAN, data), Arrays.copyOfRange(bytes, 128, bytes.length));
    }

    @Test
    void headersOfOtherShapesMatchNumpy() {
        // From numpy 2.4: np.save of (5,) and (100000, 4) float32 arrays; both headers are 118 bytes.
        String v = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" + " ".repeat(60) + "\n";
        assertArrayEquals(("\u0093NUMPY\u0001\u0000v\u0000" + v).getBytes(StandardCharsets.ISO_8859_1),
                Npy.header("<f4", new long[] {5}));
        String m = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 4), }" + " ".repeat(53) + "\n";
        assertArrayEquals(("\u0093NUMPY\u0001\u0000v\u0000" + m).getBytes(StandardCharsets.ISO_8859_1),
                Npy.header("<f4", new long[] {100000, 4}));
    }

    @Test
    void headerLengthIsAlwaysAMultipleOf64() {
        for (long n = 1; n < 1_000_000_000_000L; n = n * 7 + 3) {
            byte[] h = Npy.header("<f4", new long[] {n, 768});
            assertEquals(0, h.length % 64, "shape (" + n + ", 768)");
            assertEquals('\n', h[h.length - 1]);
        }
    }

    @Test
    void writeReadRoundTrip() {
        Random rnd = new Random(7);
        float[] data = new float[37 * 11];
        for (int i = 0; i < data.length; i++) data[i] = (float) rnd.nextGaussian();
        data[5] = Float.NaN;
        data[6] = Float.MIN_VALUE;
        String f = dir.resolve("rt.npy").toString();
        Npy.write(f, CONF, new long[] {37, 11}, data);
        Npy.NpyArray a = Npy.read(f, CONF);
        assertArrayEquals(new long[] {37, 11}, a.shape());
        for (int i = 0; i < data.length; i++) {
            assertEquals(Float.floatToRawIntBits(data[i]), Float.floatToRawIntBits(a.data()[i]), "element " + i);
        }

        String g = dir.resolve("rt1.npy").toString();
        Npy.write(g, CONF, new long[] {3}, new float[] {1, 2, 3});
        assertArrayEquals(new long[] {3}, Npy.read(g, CONF).shape());
    }

    @Test
    void writeDoubleRoundTrip() throws IOException {
        String f = dir.resolve("wd.npy").toString();
        Npy.writeDouble(f, CONF, new long[] {2, 2}, new double[] {1.0 / 3, 2, 3, 4});
        byte[] bytes = Files.readAllBytes(Path.of(f));
        assertTrue(new String(bytes, 0, 128, StandardCharsets.ISO_8859_1).contains("'descr': '<f8'"));
        assertArrayEquals(f64(1.0 / 3, 2, 3, 4), Arrays.copyOfRange(bytes, 128, bytes.length));
        assertArrayEquals(new float[] {(float) (1.0 / 3), 2, 3, 4}, Npy.read(f, CONF).data());
    }

    @Test
    void writeRefusesInconsistentShape() {
        String f = dir.resolve("bad.npy").toString();
        assertThrows(IllegalArgumentException.class, () -> Npy.write(f, CONF, new long[] {2, 2}, new float[3]));
        assertThrows(IllegalArgumentException.class, () -> Npy.write(f, CONF, new long[] {1, 1, 1}, new float[1]));
    }

    // ------------------------------------------------------------ defects

    private void assertDefect(String name, byte[] bytes, String fragment) throws IOException {
        String f = file(name, bytes);
        UserInputException e = assertThrows(UserInputException.class, () -> Npy.read("vectors", f, CONF));
        assertTrue(e.getMessage().startsWith("vectors " + f + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void defectsAreUserErrorsNamingTheFile() throws IOException {
        byte[] good = npy(1, dict("<f4", false, "(2, 2)"), f32(ByteOrder.LITTLE_ENDIAN, 1, 2, 3, 4));
        assertDefect("trunc_data.npy", Arrays.copyOf(good, good.length - 3), "truncated");
        assertDefect("trunc_header.npy", Arrays.copyOf(good, 30), "truncated");
        assertDefect("trunc_magic.npy", Arrays.copyOf(good, 4), "truncated");
        assertDefect("empty.npy", new byte[0], "truncated");
        byte[] magic = good.clone();
        magic[1] = 'X';
        assertDefect("magic.npy", magic, "bad magic");
        assertDefect("object.npy", npy(1, dict("|O", false, "(2,)"), new byte[16]),
                "unsupported dtype '|O' (need <f2, <f4 or <f8)");
        assertDefect("int.npy", npy(1, dict("<i4", false, "(2,)"), new byte[8]), "unsupported dtype '<i4'");
        assertDefect("complex.npy", npy(1, dict("<c8", false, "(2,)"), new byte[16]), "unsupported dtype '<c8'");
        assertDefect("struct.npy", npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n",
                new byte[8]), "unsupported dtype");
        assertDefect("extra.npy", npy(1, dict("<f4", false, "(2, 2)"), new byte[20]), "shape (2, 2)");
        assertDefect("short.npy", npy(1, dict("<f4", false, "(2, 3)"), new byte[16]), "truncated");
        assertDefect("dims3.npy", npy(1, dict("<f4", false, "(1, 1, 1)"), new byte[4]), "3 dimensions");
        assertDefect("dims0.npy", npy(1, dict("<f4", false, "()"), new byte[4]), "0 dimensions");
        assertDefect("version.npy", npy(4, dict("<f4", false, "(1,)"), new byte[4]), "version 4.0");
        assertDefect("nokey.npy", npy(1, "{'descr': '<f4', 'shape': (1,), }\n", new byte[4]), "missing key");
        assertDefect("extrakey.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n",
                new byte[4]), "unexpected key 'x'");
        assertDefect("code.npy", npy(1, "{'descr': '<f4', 'fortran_order': __import__('os'), 'shape': (1,)}\n",
                new byte[4]), "True or False");
        assertDefect("tail.npy", npy(1, dict("<f4", false, "(1,)").trim() + " junk\n", new byte[4]),
                "after the dict");
        assertDefect("negshape.npy", npy(1, dict("<f4", false, "(-1,)"), new byte[4]), "bad shape entry");
        assertDefect("huge.npy", npy(1, dict("<f4", false, "(100000, 100000)"), new byte[4]), "too many");
    }

    @Test
    void missingFileIsAUserError() {
        String f = dir.resolve("nope.npy").toString();
        UserInputException e = assertThrows(UserInputException.class, () -> Npy.read(f, CONF));
        assertEquals("file " + f + ": no such file", e.getMessage());
    }
}
