package org.sith.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.sith.UserInputException;

/** Every malformed file must fail with one line naming the file and, where there is one, the tensor. */
class SafeTensorsValidationTest {
    @TempDir
    Path dir;

    private final Configuration conf = new Configuration();

    private Path file(String name) {
        return dir.resolve(name);
    }

    private String openFails(Path file) {
        UserInputException e = assertThrows(UserInputException.class, () -> SafeTensors.open(file.toString(), conf).close());
        String m = e.getMessage();
        assertTrue(m.contains(file.toString()), "message should name the file: " + m);
        assertFalse(m.contains("\n"), "message should be one line: " + m);
        return m;
    }

    private void openFailsNaming(Path file, String tensor, String... fragments) {
        String m = openFails(file);
        assertTrue(m.contains("'" + tensor + "'"), "message should name tensor " + tensor + ": " + m);
        for (String f : fragments) assertTrue(m.contains(f), "message should contain '" + f + "': " + m);
    }

    private Path header(String name, String json, int dataBytes) {
        return RawFiles.write(file(name), json, new byte[dataBytes]);
    }

    @Test
    void fileShorterThanEightBytes() {
        Path f = RawFiles.bytes(file("short.safetensors"), new byte[] {1, 2, 3});
        assertTrue(openFails(f).contains("too short"));
        Path empty = RawFiles.bytes(file("empty.safetensors"), new byte[0]);
        openFails(empty);
    }

    @Test
    void garbageBytes() {
        byte[] junk = new byte[4096];
        new Random(7).nextBytes(junk);
        junk[7] = 0x35; // make sure the little-endian length is huge rather than accidentally small
        openFails(RawFiles.bytes(file("junk.safetensors"), junk));
        // a pickle (what a .bin checkpoint is) is refused too, never unpickled
        byte[] pickle = {(byte) 0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x05, 0x00, 0x00, 0x00, 0x2e};
        openFails(RawFiles.bytes(file("model.bin"), pickle));
    }

    @Test
    void headerLengthPastEndOfFile() {
        byte[] json = "{}".getBytes(StandardCharsets.UTF_8);
        Path f = RawFiles.write(file("past.safetensors"), 100, json, new byte[0]);
        String m = openFails(f);
        assertTrue(m.contains("header length 100 past end of file"), m);
    }

    @Test
    void headerLengthZeroOrAbsurd() {
        openFails(RawFiles.write(file("zero.safetensors"), 0, new byte[0], new byte[16]));
        openFails(RawFiles.write(file("huge.safetensors"), (100L << 20) + 1, new byte[16], new byte[0]));
        openFails(RawFiles.write(file("neg.safetensors"), -1L, new byte[16], new byte[0]));
    }

    @Test
    void badJson() {
        assertTrue(openFails(header("bad.safetensors", "{\"a\": {\"dtype\": ", 0)).contains("JSON"));
        assertTrue(openFails(header("arr.safetensors", "[1, 2, 3]", 0)).contains("not a JSON object"));
        openFails(header("trail.safetensors", "{} {}", 0));
        openFails(RawFiles.write(file("utf.safetensors"), 4, new byte[] {'"', (byte) 0xC3, (byte) 0x28, '"'}, new byte[0]));
        openFailsNaming(header("dup.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "a");
    }

    @Test
    void badEntries() {
        openFailsNaming(header("e1.safetensors", "{\"w\": 5}", 0), "w");
        openFailsNaming(header("e2.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "w", "dtype");
        openFailsNaming(header("e3.safetensors", "{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "w", "dtype");
        openFailsNaming(header("e4.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "w", "shape");
        openFailsNaming(header("e5.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4), "w", "shape");
        openFailsNaming(header("e6.safetensors", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "w", "shape");
        openFailsNaming(header("e7.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4), "w", "data_offsets");
        openFailsNaming(header("e8.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4), "w", "data_offsets");
        openFailsNaming(header("e9.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8), "w", "data_offsets");
        openFailsNaming(header("e10.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0,4\"}}", 4), "w", "data_offsets");
        openFailsNaming(header("e11.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 4), "w", "data_offsets");
        openFails(header("m1.safetensors", "{\"__metadata__\":{\"k\":1}}", 0));
        openFails(header("m2.safetensors", "{\"__metadata__\":[]}", 0));
    }

    @Test
    void offsetsOutsideTheFile() {
        openFailsNaming(header("out.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12), "w", "data_offsets [0,16]");
    }

    @Test
    void sizeMismatch() {
        Path f = header("mismatch.safetensors",
                "{\"visual.proj\":{\"dtype\":\"F32\",\"shape\":[768,512],\"data_offsets\":[0,100]}}", 100);
        assertEquals("checkpoint " + f + ": tensor 'visual.proj' data_offsets [0,100] do not match F32 [768,512]"
                + " (1572864 bytes)", openFails(f));
        openFailsNaming(header("mismatch16.safetensors",
                "{\"h\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4), "h", "(6 bytes)");
        openFailsNaming(header("overflow.safetensors",
                "{\"h\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8), "h");
    }

    @Test
    void overlappingTensors() {
        String m = openFails(header("overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                        + "\"c\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}", 16));
        assertTrue(m.contains("'a'") && m.contains("'b'") && m.contains("overlap"), m);
        // identical ranges overlap too
        openFailsNaming(header("same.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        + "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "b");
    }

    @Test
    void unknownDtypeOpensButCannotBeRead() throws IOException {
        Path f = header("f8.safetensors",
                "{\"q\":{\"dtype\":\"F4_WEIRD\",\"shape\":[3],\"data_offsets\":[0,7]},"
                        + "\"e\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[7,9]}}", 9);
        try (SafeTensors st = SafeTensors.open(f.toString(), conf)) {
            assertEquals("F4_WEIRD", st.info("q").dtype());
            UserInputException e = assertThrows(UserInputException.class, () -> st.readFloats("q"));
            assertTrue(e.getMessage().contains("'q'") && e.getMessage().contains(f.toString()), e.getMessage());
            assertThrows(UserInputException.class, () -> st.readFloats("e"));
        }
    }

    @Test
    void nonFiniteValues() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) data.putFloat(i == 5 ? Float.NaN : i);
        data.putShort((short) 0x3C00).putShort((short) 0xFC00); // f16: 1, -inf
        data.putShort((short) 0x7F80).putShort((short) 0x3F80); // bf16: +inf, 1
        data.putDouble(1e300); // finite double, infinite as float
        Path f = RawFiles.write(file("nan.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
                        + "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
                        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[28,32]},"
                        + "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[32,40]}}", data.array());
        try (SafeTensors st = SafeTensors.open(f.toString(), conf)) {
            UserInputException e = assertThrows(UserInputException.class, () -> st.readFloats("w"));
            assertEquals("checkpoint " + f + ": tensor 'w' has a non-finite value (NaN) at index 5", e.getMessage());
            // the flat index is the tensor's, not the slice's
            e = assertThrows(UserInputException.class, () -> st.readRows("w", 2, 1));
            assertTrue(e.getMessage().endsWith("at index 5"), e.getMessage());
            // rows before the bad one are fine: only the requested rows are decoded
            assertEquals(4, st.readRows("w", 0, 2).length);
            e = assertThrows(UserInputException.class, () -> st.readFloats("h"));
            assertTrue(e.getMessage().contains("'h'") && e.getMessage().endsWith("at index 1"), e.getMessage());
            e = assertThrows(UserInputException.class, () -> st.readFloats("b"));
            assertTrue(e.getMessage().contains("'b'") && e.getMessage().endsWith("at index 0"), e.getMessage());
            e = assertThrows(UserInputException.class, () -> st.readDoubles("w"));
            assertTrue(e.getMessage().contains("(NaN) at index 5"), e.getMessage());
            e = assertThrows(UserInputException.class, () -> st.readFloats("d"));
            assertTrue(e.getMessage().contains("'d'") && e.getMessage().endsWith("at index 0"), e.getMessage());
            assertEquals(1e300, st.readDoubles("d")[0]);
        }
    }

    @Test
    void missingTensor() throws IOException {
        Path f = RawFiles.write(file("m.safetensors"),
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", RawFiles.f32(1));
        try (SafeTensors st = SafeTensors.open(f.toString(), conf)) {
            UserInputException e = assertThrows(UserInputException.class, () -> st.readFloats("visual.proj"));
            assertEquals("tensor 'visual.proj' missing in " + f, e.getMessage());
            assertThrows(UserInputException.class, () -> st.info("nope"));
            assertThrows(UserInputException.class, () -> st.readRows("nope", 0, 1));
        }
    }

    @Test
    void missingFile() {
        Path f = file("does-not-exist.safetensors");
        assertTrue(openFails(f).contains("not found"));
        assertTrue(openFails(dir).contains("directory"));
    }
}
