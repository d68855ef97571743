package org.sith.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sith.UserInputException;

/**
 * Every form of the same weights (make_formats.py, real PyTorch) opens to the same vision tower as the plain
 * safetensors file: every tensor a head analysis or a forward pass reads, bit for bit; LayerScale against the
 * same weights folded by numpy. Then what each form must refuse.
 */
public class CheckpointFormatsTest {
    static final Path FORMATS = TorchArchiveTest.FORMATS;
    static final Configuration CONF = new Configuration();

    @TempDir
    Path tmp;

    @AfterEach
    void nothingLeftOpen() {
        assertEquals(0, TorchArchive.openHandles());
        assertEquals(0, SafeTensors.openHandles());
    }

    /** label, what --checkpoint names, the reference it must equal, head override (null: from the config beside it). */
    static Stream<Arguments> forms() {
        String ref = FORMATS.resolve("ref").toString();
        return Stream.of(
                Arguments.of("folder of open_clip_model.safetensors", ref, FORMATS.resolve("ref/open_clip_model.safetensors").toString(), null),
                Arguments.of("OpenCLIP open_clip_pytorch_model.bin (folder)", FORMATS.resolve("openclip_bin").toString(), ref, null),
                Arguments.of("nested training .pt with module. prefix", FORMATS.resolve("nested/epoch_7.pt").toString(), ref, null),
                Arguments.of("HF pytorch_model.bin (folder)", FORMATS.resolve("hf_bin").toString(), ref, null),
                Arguments.of("HF shards (folder)", FORMATS.resolve("hf_sharded").toString(), ref, null),
                Arguments.of("HF shards (index)", FORMATS.resolve("hf_sharded/model.safetensors.index.json").toString(), ref, null),
                Arguments.of("timm names", FORMATS.resolve("timm/model.safetensors").toString(), ref, null),
                Arguments.of("TorchScript ViT-*.pt", FORMATS.resolve("torchscript/ViT-T-4.pt").toString(), ref, 2),
                Arguments.of("LayerScale", FORMATS.resolve("layerscale").toString(), FORMATS.resolve("layerscale_folded").toString(), null));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("forms")
    void opensToTheSameTowerAsItsReference(String label, String path, String reference, Integer heads) throws IOException {
        try (ClipCheckpoint a = ClipCheckpoint.open(path, CONF, heads); ClipCheckpoint b = ClipCheckpoint.open(reference, CONF, null)) {
            assertSameTower(a, b);
            assertEquals(2, a.heads(), label);
            assertEquals(12, a.headDim(), label);
        }
    }

    /** Every tensor a head analysis or a forward pass reads, bit for bit. */
    public static void assertSameTower(ClipCheckpoint a, ClipCheckpoint b) {
        assertEquals(b.width(), a.width());
        assertEquals(b.layers(), a.layers());
        assertEquals(b.heads(), a.heads());
        assertEquals(b.projDim(), a.projDim());
        assertEquals(b.patchSize(), a.patchSize());
        assertEquals(b.tokens(), a.tokens());
        assertEquals(b.activation(), a.activation());
        assertArrayEquals(b.projection(), a.projection(), "projection");
        assertArrayEquals(b.lnPostWeight(), a.lnPostWeight());
        assertArrayEquals(b.lnPostBias(), a.lnPostBias());
        assertArrayEquals(b.lnPreWeight(), a.lnPreWeight());
        assertArrayEquals(b.lnPreBias(), a.lnPreBias());
        assertArrayEquals(b.patchWeight(), a.patchWeight());
        assertArrayEquals(b.classEmbedding(), a.classEmbedding());
        assertArrayEquals(b.positions(), a.positions());
        for (int l = 0; l < b.layers(); l++) {
            assertArrayEquals(b.ln1Weight(l), a.ln1Weight(l));
            assertArrayEquals(b.valueWeight(l), a.valueWeight(l), "value weight " + l);
            assertArrayEquals(b.valueBias(l), a.valueBias(l));
            assertArrayEquals(b.outWeight(l), a.outWeight(l), "out weight " + l);
            assertArrayEquals(b.outBias(l), a.outBias(l), "out bias " + l);
            BlockTensors x = a.block(l);
            BlockTensors y = b.block(l);
            assertArrayEquals(y.qkvWeight(), x.qkvWeight());
            assertArrayEquals(y.qkvBias(), x.qkvBias());
            assertArrayEquals(y.ln2Weight(), x.ln2Weight());
            assertArrayEquals(y.ln2Bias(), x.ln2Bias());
            assertArrayEquals(y.fcWeight(), x.fcWeight());
            assertArrayEquals(y.fcBias(), x.fcBias());
            assertArrayEquals(y.projWeight(), x.projWeight(), "mlp out " + l);
            assertArrayEquals(y.projBias(), x.projBias(), "mlp out bias " + l);
        }
    }

    @Test
    void layerScaleIsReallyFolded() throws IOException {
        // the folded file differs from the unfolded weights, so the equality above is not the γ being ignored
        try (ClipCheckpoint ls = ClipCheckpoint.open(FORMATS.resolve("layerscale").toString(), CONF, null);
             ClipCheckpoint plain = ClipCheckpoint.open(FORMATS.resolve("ref").toString(), CONF, null)) {
            assertTrue(ls.tensors().layerScaleFolded());
            assertEquals("safetensors, LayerScale folded", ls.tensors().description());
            float[] folded = ls.outWeight(0);
            float[] raw = plain.outWeight(0);
            float[] gamma = ls.tensors().stored().readFloats("visual.transformer.resblocks.0.ls_1.gamma");
            for (int r = 0; r < 24; r++) {
                for (int c = 0; c < 24; c++) assertEquals(gamma[r] * raw[r * 24 + c], folded[r * 24 + c], "row " + r + " col " + c);
            }
            assertTrue(!ls.tensors().has("visual.transformer.resblocks.0.ls_1.gamma"), "γ is hidden once folded");
        }
    }

    @Test
    void aFolderIsSearchedInSpecOrder() throws IOException {
        Path both = Files.createDirectories(tmp.resolve("both"));
        Files.copy(FORMATS.resolve("hf_bin/pytorch_model.bin"), both.resolve("pytorch_model.bin"));
        Files.copy(FORMATS.resolve("openclip_bin/open_clip_pytorch_model.bin"), both.resolve("open_clip_pytorch_model.bin"));
        Files.copy(FORMATS.resolve("ref/open_clip_config.json"), both.resolve("open_clip_config.json"));
        CheckpointFile f = CheckpointFile.resolve(both.toString(), CONF);
        assertEquals(both.resolve("open_clip_pytorch_model.bin").toUri().getPath(), Path.of(f.file().replace("file:", "")).toString());
        assertEquals(CheckpointFile.Format.PYTORCH, f.format());
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        UserInputException e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(empty.toString(), CONF, 2));
        assertEquals("checkpoint " + empty + ": a folder holding none of open_clip_model.safetensors, open_clip_pytorch_model.bin, "
                + "model.safetensors, model.safetensors.index.json, pytorch_model.bin", e.getMessage());
    }

    /** A copy of the sharded folder with its index rewritten. */
    Path shardedWithIndex(String name, String from, String to) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve(name));
        try (Stream<Path> s = Files.list(FORMATS.resolve("hf_sharded"))) {
            for (Path p : s.toList()) Files.copy(p, dir.resolve(p.getFileName()));
        }
        Path index = dir.resolve("model.safetensors.index.json");
        String text = Files.readString(index);
        assertTrue(text.contains(from), from);
        Files.writeString(index, text.replaceFirst(java.util.regex.Pattern.quote(from), java.util.regex.Matcher.quoteReplacement(to)));
        return dir;
    }

    @Test
    void aShardIndexMustAgreeWithItsShards() throws IOException {
        String first = "\"vision_model.embeddings.class_embedding\": \"model-00001-of-00002.safetensors\"";
        Path wrong = shardedWithIndex("wrong", first, "\"vision_model.embeddings.class_embedding\": \"model-00002-of-00002.safetensors\"");
        UserInputException e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(wrong.toString(), CONF, null));
        assertTrue(e.getMessage().endsWith("model.safetensors.index.json: maps tensor 'vision_model.embeddings.class_embedding' to "
                + "model-00002-of-00002.safetensors, which does not hold it"), e.getMessage());

        Path unlisted = shardedWithIndex("unlisted", first + ",", "");
        e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(unlisted.toString(), CONF, null));
        assertTrue(e.getMessage().endsWith("shard model-00001-of-00002.safetensors holds tensor 'vision_model.embeddings.class_embedding', "
                + "which the index does not list"), e.getMessage());

        Path escape = shardedWithIndex("escape", first, "\"vision_model.embeddings.class_embedding\": \"../ref/open_clip_model.safetensors\"");
        e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(escape.toString(), CONF, null));
        assertTrue(e.getMessage().contains("weight_map['vision_model.embeddings.class_embedding'] is \"../ref/open_clip_model.safetensors\", "
                + "not the name of a .safetensors file beside the index"), e.getMessage());

        Path missing = shardedWithIndex("missing", first, first);
        Files.delete(missing.resolve("model-00002-of-00002.safetensors"));
        e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(missing.toString(), CONF, null));
        assertTrue(e.getMessage().contains("model-00002-of-00002.safetensors: file not found"), e.getMessage());

        // each shard's header is validated as a safetensors file
        Path broken = shardedWithIndex("broken", first, first);
        byte[] b = Files.readAllBytes(broken.resolve("model-00002-of-00002.safetensors"));
        Files.write(broken.resolve("model-00002-of-00002.safetensors"), java.util.Arrays.copyOf(b, 12));
        e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(broken.toString(), CONF, null));
        assertTrue(e.getMessage().contains("model-00002-of-00002.safetensors: header length"), e.getMessage());
    }

    /** The timm file rewritten with one tensor changed or added. */
    String timmWith(String name, TensorData value) throws IOException {
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(FORMATS.resolve("timm/model.safetensors").toString(), CONF)) {
            for (String n : st.names()) t.put(n, new TensorData(st.dtype(n), st.shape(n), st.readFloats(n)));
        }
        t.put(name, value);
        Path dir = Files.createDirectories(tmp.resolve("timm-" + name.replace('.', '-')));
        Files.copy(FORMATS.resolve("timm/config.json"), dir.resolve("config.json"));
        return ClipFixture.write(dir.resolve("model.safetensors").toString(), t);
    }

    @Test
    void timmFilesThatAreNotClipTowersAreRefused() throws IOException {
        float[] bias = new float[12];
        bias[3] = 0.5f;
        String withBias = timmWith("head.bias", TensorData.f32(bias, 12));
        UserInputException e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(withBias, CONF, null));
        assertTrue(e.getMessage().endsWith("tensor 'head.bias' is not zero; CLIP's projection into the joint space has no bias"), e.getMessage());
        String fcNorm = timmWith("fc_norm.weight", TensorData.f32(new float[24], 24));
        e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(fcNorm, CONF, null));
        assertTrue(e.getMessage().contains("a timm ViT with 'fc_norm.weight'"), e.getMessage());
        // a shape error names the tensor as the file names it
        String badQkv = timmWith("blocks.1.attn.qkv.weight", TensorData.f32(new float[72 * 23], 72, 23));
        e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(badQkv, CONF, null));
        assertTrue(e.getMessage().contains("tensor 'blocks.1.attn.qkv.weight' has shape [72,23], expected [72,24]"), e.getMessage());
    }

    @Test
    void theTimmConfigGivesTheHeadsAndActivation() throws IOException {
        // without model_args.num_heads the architecture's size word decides (timm's base = 12 heads)
        Path dir = Files.createDirectories(tmp.resolve("timm-arch"));
        Files.copy(FORMATS.resolve("timm/model.safetensors"), dir.resolve("model.safetensors"));
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"vit_base_patch16_clip_224\", \"num_features\": 24}");
        try (ClipCheckpoint ck = ClipCheckpoint.open(dir.resolve("model.safetensors").toString(), CONF, null)) {
            assertEquals(12, ck.heads());
            assertEquals("gelu", ck.activation());
        }
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"vit_base_patch16_clip_224\", \"num_features\": 768}");
        UserInputException e = assertThrows(UserInputException.class, () -> ClipCheckpoint.open(dir.resolve("model.safetensors").toString(), CONF, null));
        assertTrue(e.getMessage().contains("num_features 768 does not match the checkpoint width 24"), e.getMessage());
    }

    @Test
    void runRecordsSayWhatWasRead() throws IOException {
        Map<String, String> expected = Map.of(
                "openclip_bin", "PyTorch archive",
                "hf_sharded", "sharded safetensors",
                "timm/model.safetensors", "safetensors, timm names",
                "torchscript/ViT-T-4.pt", "TorchScript archive");
        for (Map.Entry<String, String> e : expected.entrySet()) {
            try (ClipTensors t = ClipTensors.open(FORMATS.resolve(e.getKey()).toString(), CONF)) {
                assertEquals(e.getValue(), t.description(), e.getKey());
                List<String> files = t.file().dataFiles(t.stored());
                assertEquals(e.getKey().equals("hf_sharded") ? 3 : 1, files.size(), files.toString());
            }
        }
    }
}
