package org.sith.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.sith.UserInputException;

class SafeTensorsTest {
    @TempDir
    Path dir;

    private final Configuration conf = new Configuration();

    /** A header of 0x80 + 256·k bytes starts the file with 0x80, a pickle's PROTO opcode: still safetensors (the JSON at byte 8 says so). */
    @Test
    void aHeaderLengthWhoseLowByteIsThePickleOpcodeIsStillSafetensors() throws Exception {
        StringBuilder header = new StringBuilder("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        while (header.length() < 0x280) header.append(' ');
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f);
        Path file = RawFiles.write(dir.resolve("x80.safetensors"), header.toString(), data.array());
        assertEquals(0x80, java.nio.file.Files.readAllBytes(file)[0] & 0xff);
        assertEquals(0x02, java.nio.file.Files.readAllBytes(file)[1] & 0xff, "like a protocol-2 pickle's first two bytes");
        try (TensorStore st = CheckpointFile.resolve(file.toString(), conf).open(conf)) {
            assertArrayEquals(new float[] {1.5f, -2f}, st.readFloats("a"));
        }
    }

    @Test
    void readsAFileAssembledByHand() throws Exception {
        String header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"é\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[32,36]},"
                + "\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[36,44]},"
                + "\"e\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[44,52]},"
                + "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[52,52]}}   ";
        ByteBuffer data = ByteBuffer.allocate(52).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : new float[] {1, 2, 3, 4, 5, 6}) data.putFloat(v);
        data.putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x0001).putShort((short) 0x7BFF);
        data.putShort((short) 0x3F80).putShort((short) 0x4049);
        data.putDouble(0.1);
        data.putInt(-7).putInt(42);
        Path file = RawFiles.write(dir.resolve("hand.safetensors"), header, data.array());
        int n = header.getBytes(StandardCharsets.UTF_8).length;

        try (SafeTensors st = SafeTensors.open(file.toString(), conf)) {
            assertEquals(List.of("a", "b", "c", "d", "e", "empty"), List.copyOf(st.names()));
            assertEquals(Map.of("format", "pt", "note", "é"), st.metadata());
            assertEquals(8 + n + 52, st.fileLength());
            assertEquals(file.toString(), st.path());
            assertArrayEquals(header.getBytes(StandardCharsets.UTF_8), st.headerBytes());

            TensorInfo a = st.info("a");
            assertEquals("F32", a.dtype());
            assertArrayEquals(new long[] {2, 3}, a.shape());
            assertEquals(8 + n, a.begin());
            assertEquals(8 + n + 24, a.end());

            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, st.readFloats("a"));
            assertArrayEquals(new float[] {4, 5, 6}, st.readRows("a", 1, 1));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, st.readRows("a", 0, 2));
            assertArrayEquals(new float[0], st.readRows("a", 2, 0));
            assertArrayEquals(new float[] {1f, -2f, 0x1p-24f, 65504f}, st.readFloats("b"));
            assertArrayEquals(new float[] {-2f, 0x1p-24f}, st.readRows("b", 1, 2));
            assertArrayEquals(new float[] {1f, 3.140625f}, st.readFloats("c"));
            assertArrayEquals(new double[] {0.1}, st.readDoubles("d"));
            assertArrayEquals(new float[] {0.1f}, st.readFloats("d"));
            assertArrayEquals(new double[] {-7, 42}, st.readDoubles("e"));
            assertArrayEquals(new float[0], st.readFloats("empty"));
            assertTrue(st.has("a"));
            assertFalse(st.has("z"));
        }
    }

    @Test
    void writerOutputIsExactlyTheExpectedBytes() throws Exception {
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        t.put("x", new TensorData("F32", new long[] {2}, new float[] {1f, -2f}));
        t.put("h", new TensorData("F16", new long[] {1}, new float[] {1f}));
        Path file = dir.resolve("w.safetensors");
        SafeTensorsWriter.write(file.toString(), conf, t, Map.of("k", "v"));

        String json = "{\"__metadata__\":{\"k\":\"v\"},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]}}";
        int padded = (json.length() + 7) / 8 * 8;
        String header = json + " ".repeat(padded - json.length());
        ByteBuffer expected = ByteBuffer.allocate(8 + padded + 10).order(ByteOrder.LITTLE_ENDIAN);
        expected.putLong(padded).put(header.getBytes(StandardCharsets.US_ASCII));
        expected.putFloat(1f).putFloat(-2f).putShort((short) 0x3C00);
        assertArrayEquals(expected.array(), Files.readAllBytes(file));
    }

    @Test
    void writerRoundTripsEveryDtypeAndIsDeterministic() throws Exception {
        float[] values = {0f, -0f, 1f, -1.5f, 0.1f, 1e-3f, 3.140625f, 65504f, 1e-7f, -123.25f, 7f, 0.5f};
        float[] bf16 = new float[values.length];
        float[] f16 = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            bf16[i] = Float.intBitsToFloat(Float.floatToIntBits(values[i]) & 0xFFFF0000); // exact in bf16
            f16[i] = Math.round(values[i] * 64) / 64f; // multiples of 1/64 below 2^10 are exact in f16
        }
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        t.put("f32", new TensorData("F32", new long[] {3, 4}, values));
        t.put("f64", new TensorData("F64", new long[] {12}, values));
        t.put("bf16", new TensorData("BF16", new long[] {4, 3}, bf16));
        t.put("f16", new TensorData("F16", new long[] {2, 2, 3}, f16));
        t.put("scalar", new TensorData("F32", new long[] {}, new float[] {42f}));
        Path a = dir.resolve("a.safetensors");
        Path b = dir.resolve("b.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("z", "1");
        meta.put("a", "2");
        SafeTensorsWriter.write(a.toString(), conf, t, meta);
        SafeTensorsWriter.write(b.toString(), conf, t, Map.of("a", "2", "z", "1"));
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));

        try (SafeTensors st = SafeTensors.open(a.toString(), conf)) {
            assertEquals(List.of("bf16", "f16", "f32", "f64", "scalar"), List.copyOf(st.names()));
            assertEquals(Map.of("a", "2", "z", "1"), st.metadata());
            assertArrayEquals(values, st.readFloats("f32"));
            assertArrayEquals(values, st.readFloats("f64"));
            double[] exact = st.readDoubles("f64");
            for (int i = 0; i < values.length; i++) assertEquals((double) values[i], exact[i]);
            assertArrayEquals(bf16, st.readFloats("bf16"));
            assertArrayEquals(f16, st.readFloats("f16"));
            assertArrayEquals(new float[] {42f}, st.readFloats("scalar"));
            assertArrayEquals(new long[] {2, 2, 3}, st.info("f16").shape());
            // data section starts 8-byte aligned, tensors in insertion order
            assertEquals(0, (st.info("f32").begin() - 8) % 8);
            assertTrue(st.info("f32").end() == st.info("f64").begin());
            assertTrue(st.info("bf16").end() == st.info("f16").begin());
            assertEquals(st.fileLength(), st.info("scalar").end());
            assertArrayEquals(new float[] {values[4], values[5], values[6], values[7]}, st.readRows("f32", 1, 1));
        }
    }

    @Test
    void largeTensorsAreReadAcrossChunkBoundaries() throws Exception {
        int n = 3_000_000; // 12 MB of F32, more than one 8 MiB read
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (i % 1000) - 500;
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        t.put("big", new TensorData("F32", new long[] {n / 1000, 1000}, values));
        Path file = dir.resolve("big.safetensors");
        SafeTensorsWriter.write(file.toString(), conf, t, Map.of());
        try (SafeTensors st = SafeTensors.open(file.toString(), conf)) {
            float[] got = st.readFloats("big");
            assertEquals(n, got.length);
            for (int i = 0; i < n; i += 997) assertEquals((i % 1000) - 500, got[i], "index " + i);
            assertEquals(499f, got[n - 1]);
            float[] rows = st.readRows("big", 2500, 3);
            assertEquals(3000, rows.length);
            assertEquals(-500f, rows[0]);
            assertEquals(499f, rows[2999]);
        }
    }

    @Test
    void readRowsRejectsRowsOutOfRange() {
        Path file = RawFiles.write(dir.resolve("r.safetensors"),
                "{\"m\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", RawFiles.f32(1, 2, 3, 4));
        try (SafeTensors st = SafeTensors.open(file.toString(), conf)) {
            UserInputException e = assertThrows(UserInputException.class, () -> st.readRows("m", 1, 2));
            assertTrue(e.getMessage().contains("'m'") && e.getMessage().contains(file.toString()), e.getMessage());
            assertThrows(UserInputException.class, () -> st.readRows("m", -1, 1));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void readsThroughAFileUri() throws Exception {
        Path file = RawFiles.write(dir.resolve("u.safetensors"),
                "{\"m\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", RawFiles.f32(9));
        try (SafeTensors st = SafeTensors.open(file.toUri().toString(), conf)) {
            assertArrayEquals(new float[] {9f}, st.readFloats("m"));
        }
    }
}
