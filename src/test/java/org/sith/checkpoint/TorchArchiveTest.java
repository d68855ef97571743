package org.sith.checkpoint;

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
import java.util.Iterator;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sith.UserInputException;

/**
 * PyTorch archives read without running them: the storages of every dtype and views with offsets and strides
 * against the values real PyTorch wrote beside them (make_formats.py), and each hostile archive refused by name
 * with nothing run, nothing left open and bounded memory.
 */
class TorchArchiveTest {
    static final Path FORMATS = Path.of("src/test/resources/org/sith/checkpoint/formats");
    /** What the hostile pickles would create in the working directory if anything ran them. */
    static final Path MARKER = Path.of("sith-pickle-ran.txt");

    @TempDir
    Path tmp;

    @AfterEach
    void nothingRanAndNothingIsLeftOpen() {
        assertFalse(Files.exists(MARKER), "a pickle ran");
        assertEquals(0, TorchArchive.openHandles(), "an archive was left open");
    }

    static TorchArchive open(Path p) {
        return TorchArchive.open(p.toString(), new Configuration());
    }

    @Test
    void storagesOfEveryDtypeAndViewsWithOffsetsAndStridesReadAsPyTorchWroteThem() throws IOException {
        JsonNode expected = new ObjectMapper().readTree(FORMATS.resolve("dtypes/expected.json").toFile());
        try (TorchArchive a = open(FORMATS.resolve("dtypes/dtypes.bin"))) {
            assertEquals("PyTorch archive", a.format());
            Map<String, String> dtypes = Map.of("f32", "F32", "f16", "F16", "bf16", "BF16", "f64", "F64", "i64", "I64", "transposed", "F32",
                    "sliced", "F32", "offset_row", "F32", "scalar", "F32");
            assertEquals(new java.util.TreeSet<>(dtypes.keySet()), a.names());
            for (Iterator<Map.Entry<String, JsonNode>> it = expected.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = e.getKey();
                long[] shape = new long[e.getValue().get("shape").size()];
                for (int i = 0; i < shape.length; i++) shape[i] = e.getValue().get("shape").get(i).asLong();
                float[] values = new float[e.getValue().get("values").size()];
                for (int i = 0; i < values.length; i++) values[i] = (float) e.getValue().get("values").get(i).asDouble();
                assertArrayEquals(shape, a.shape(name), name);
                assertEquals(dtypes.get(name), a.dtype(name), name);
                assertArrayEquals(values, a.readFloats(name), name);
                if (shape.length == 2) {
                    int cols = (int) shape[1];
                    assertArrayEquals(java.util.Arrays.copyOfRange(values, cols, 2 * cols), a.readRows(name, 1, 1), name + " row 1");
                }
            }
            // the transposed view gathered element by element: raw bytes are the row-major F32 values
            ByteBuffer raw = ByteBuffer.wrap(a.rawBytes("transposed")).order(ByteOrder.LITTLE_ENDIAN);
            float[] t = a.readFloats("transposed");
            for (float v : t) assertEquals(v, raw.getFloat());
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "reduce_os_system.bin|refers to the Python global 'posix.system', which a state dict does not need; refused, nothing was run",
        "nested_state_dict_trick.bin|refers to the Python global 'posix.system'",
        "builtins_exec.bin|refers to the Python global 'builtins.exec'",
        "subprocess_popen.bin|refers to the Python global 'subprocess.Popen'",
        "inst_opcode.bin|uses opcode INST, which builds arbitrary objects",
        "rebuild_on_string.bin|calls torch._utils._rebuild_tensor_v2 on a string, not a storage",
        "absurd_storage.bin|its storage claims 1000000000000 F32 elements but archive/data/0 holds 16 bytes",
        "offset_past_end.bin|view at offset 3 with shape [2] and strides [1] reaches element 4 of a storage of 4 elements"})
    void hostileArchivesAreRefusedByNameWithNothingRun(String file, String message) {
        Path p = FORMATS.resolve("hostile").resolve(file);
        UserInputException e = assertThrows(UserInputException.class, () -> open(p));
        assertTrue(e.getMessage().startsWith("checkpoint " + p), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
    }

    @Test
    void theHandMadeArchiveTheHostileOnesAreBuiltLikeIsItselfReadable() throws IOException {
        // the hostile storage cases differ from this one only in their numbers, so their refusals are about those
        try (TorchArchive a = open(FORMATS.resolve("hostile/sane_one_tensor.bin"))) {
            assertArrayEquals(new float[] {2, 3, 4}, a.readFloats("w.bin"));
        }
    }

    @Test
    void theLegacyFormatIsRefusedWithHowToResaveIt() {
        Path p = FORMATS.resolve("legacy/legacy.pt");
        UserInputException e = assertThrows(UserInputException.class, () -> open(p));
        assertTrue(e.getMessage().contains("legacy format (before PyTorch 1.6)") && e.getMessage().contains("torch.save(torch.load(f)"),
                e.getMessage());
        // and through the checkpoint the user names
        UserInputException viaCheckpoint = assertThrows(UserInputException.class,
                () -> ClipCheckpoint.open(p.toString(), new Configuration(), 2));
        assertEquals(e.getMessage(), viaCheckpoint.getMessage());
    }

    /** A torch.save-shaped zip holding one deflated data.pkl of {@code zeros} zero bytes. */
    byte[] bomb(long zeros) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            z.setLevel(9);
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            byte[] block = new byte[1 << 20];
            for (long done = 0; done < zeros; done += block.length) z.write(block, 0, (int) Math.min(block.length, zeros - done));
            z.closeEntry();
            z.putNextEntry(new ZipEntry("archive/version"));
            z.write("3\n".getBytes(StandardCharsets.US_ASCII));
            z.closeEntry();
        }
        return bytes.toByteArray();
    }

    @Test
    void aZipBombIsRefusedByItsDeclaredSizeOrWhenInflatingPassesTheLimit() throws IOException {
        long big = TorchArchive.MAX_PICKLE_BYTES + (1 << 20);
        byte[] honest = bomb(big);
        assertTrue(honest.length < 2 << 20, "the bomb is small: " + honest.length);
        Path p = tmp.resolve("bomb.bin");
        Files.write(p, honest);
        UserInputException e = assertThrows(UserInputException.class, () -> open(p));
        assertTrue(e.getMessage().contains("entry 'archive/data.pkl' is " + big + " bytes, more than the"), e.getMessage());

        // the same bomb with its central directory lying that data.pkl inflates to 100 bytes
        byte[] lying = honest.clone();
        byte[] name = "archive/data.pkl".getBytes(StandardCharsets.US_ASCII);
        int patched = 0;
        for (int i = 0; i + 46 + name.length <= lying.length; i++) {
            if (lying[i] == 0x50 && lying[i + 1] == 0x4b && lying[i + 2] == 1 && lying[i + 3] == 2
                    && java.util.Arrays.equals(java.util.Arrays.copyOfRange(lying, i + 46, i + 46 + name.length), name)) {
                ByteBuffer.wrap(lying, i + 24, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(100);
                patched++;
            }
        }
        assertEquals(1, patched);
        Path q = tmp.resolve("lying-bomb.bin");
        Files.write(q, lying);
        // inflation stops at the limit (the message is only reached by counting), whatever the directory claims
        UserInputException l = assertThrows(UserInputException.class, () -> open(q));
        assertTrue(l.getMessage().contains("inflates to more than the " + TorchArchive.MAX_PICKLE_BYTES + "-byte limit"), l.getMessage());
    }

    @Test
    void aTruncatedArchiveIsRefused() throws IOException {
        byte[] whole = Files.readAllBytes(FORMATS.resolve("openclip_bin/open_clip_pytorch_model.bin"));
        Path p = tmp.resolve("cut.bin");
        Files.write(p, java.util.Arrays.copyOf(whole, whole.length / 2));
        UserInputException e = assertThrows(UserInputException.class, () -> open(p));
        assertTrue(e.getMessage().contains("no zip end-of-directory record"), e.getMessage());
    }

    @Test
    void aTorchScriptArchiveGivesItsModulesTensorsUnderTheirStateDictNames() throws IOException {
        Configuration conf = new Configuration();
        try (TorchArchive ts = open(FORMATS.resolve("torchscript/ViT-T-4.pt"));
             SafeTensors ref = SafeTensors.open(FORMATS.resolve("ref/open_clip_model.safetensors").toString(), conf)) {
            assertEquals("TorchScript archive", ts.format());
            assertEquals(ref.names(), ts.names());
            for (String n : ref.names()) {
                assertArrayEquals(ref.shape(n), ts.shape(n), n);
                assertArrayEquals(ref.readFloats(n), ts.readFloats(n), n);
            }
        }
    }
}
