package org.sith.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.UserInputException;

class ClipCheckpointTest {
    @TempDir
    Path dir;

    private final Configuration conf = new Configuration();

    /** Each checkpoint in its own folder, so config files of one test never leak into another. */
    private String write(String folder, LinkedHashMap<String, TensorData> tensors) throws IOException {
        Path sub = Files.createDirectories(dir.resolve(folder));
        return ClipFixture.write(sub.resolve("model.safetensors").toString(), tensors);
    }

    private void config(String checkpoint, String name, String json) throws IOException {
        Files.writeString(Path.of(checkpoint).resolveSibling(name), json);
    }

    private ClipCheckpoint open(String path, Integer heads) {
        return ClipCheckpoint.open(path, conf, heads);
    }

    private static void assertSame(ClipCheckpoint a, ClipCheckpoint b) {
        assertEquals(a.width(), b.width());
        assertEquals(a.layers(), b.layers());
        assertEquals(a.heads(), b.heads());
        assertEquals(a.headDim(), b.headDim());
        assertEquals(a.projDim(), b.projDim());
        for (int l = 0; l < a.layers(); l++) {
            assertArrayEquals(a.ln1Weight(l), b.ln1Weight(l), "ln1 weight " + l);
            assertArrayEquals(a.ln1Bias(l), b.ln1Bias(l), "ln1 bias " + l);
            assertArrayEquals(a.valueWeight(l), b.valueWeight(l), "value weight " + l);
            assertArrayEquals(a.valueBias(l), b.valueBias(l), "value bias " + l);
            assertArrayEquals(a.outWeight(l), b.outWeight(l), "out weight " + l);
            assertArrayEquals(a.outBias(l), b.outBias(l), "out bias " + l);
        }
        assertArrayEquals(a.lnPostWeight(), b.lnPostWeight());
        assertArrayEquals(a.lnPostBias(), b.lnPostBias());
        assertArrayEquals(a.projection(), b.projection());
    }

    @Test
    void openClipAccessorsReturnTheWrittenWeights() throws IOException {
        ClipFixture f = new ClipFixture(16, 3, 8, 1);
        try (ClipCheckpoint c = open(write("oc", f.openClip("F32", true)), 4)) {
            assertEquals(Layout.OPENCLIP, c.layout());
            assertEquals(16, c.width());
            assertEquals(3, c.layers());
            assertEquals(4, c.heads());
            assertEquals(4, c.headDim());
            assertEquals(8, c.projDim());
            assertTrue(c.hasTextTower());
            for (int l = 0; l < 3; l++) {
                assertArrayEquals(f.ln1W[l], c.ln1Weight(l));
                assertArrayEquals(f.ln1B[l], c.ln1Bias(l));
                assertArrayEquals(ClipFixture.rows(f.inProjW[l], 16, 32, 16), c.valueWeight(l));
                assertArrayEquals(ClipFixture.rows(f.inProjB[l], 1, 32, 16), c.valueBias(l));
                assertArrayEquals(f.outW[l], c.outWeight(l));
                assertArrayEquals(f.outB[l], c.outBias(l));
            }
            assertArrayEquals(f.lnPostW, c.lnPostWeight());
            assertArrayEquals(f.lnPostB, c.lnPostBias());
            assertArrayEquals(f.proj, c.projection());
            assertEquals("visual.transformer.resblocks.2.attn.out_proj.weight", c.outWeightName(2));
            assertEquals("visual.transformer.resblocks.2.attn.out_proj.bias", c.outBiasName(2));
            assertEquals("visual.transformer.resblocks.1.attn.in_proj_weight", c.valueWeightName(1));
        }
    }

    @Test
    void hfLayoutGivesTheSameAccessorOutputs() throws IOException {
        ClipFixture f = new ClipFixture(16, 3, 8, 2);
        try (ClipCheckpoint oc = open(write("oc", f.openClip("F32", true)), 2);
             ClipCheckpoint hf = open(write("hf", f.hf("F32", true)), 2)) {
            assertEquals(Layout.HF, hf.layout());
            assertTrue(hf.hasTextTower());
            assertSame(oc, hf);
            // the HF file stores the projection transposed; the accessor must undo it
            assertArrayEquals(f.proj, hf.projection());
            assertEquals("vision_model.encoder.layers.2.self_attn.out_proj.weight", hf.outWeightName(2));
            assertEquals("vision_model.encoder.layers.2.self_attn.out_proj.bias", hf.outBiasName(2));
            assertEquals("vision_model.encoder.layers.0.self_attn.v_proj.weight", hf.valueWeightName(0));
        }
    }

    @Test
    void reducedPrecisionFilesGiveTheSameOutputs() throws IOException {
        ClipFixture f = new ClipFixture(16, 2, 4, 3);
        try (ClipCheckpoint f32 = open(write("f32", f.openClip("F32", false)), 2);
             ClipCheckpoint bf16 = open(write("bf16", f.openClip("BF16", false)), 2);
             ClipCheckpoint f16 = open(write("f16", f.hf("F16", false)), 2);
             ClipCheckpoint f64 = open(write("f64", f.openClip("F64", false)), 2);
             ClipCheckpoint hfBf16 = open(write("hfbf16", f.hf("BF16", false)), 2)) {
            assertEquals("BF16", bf16.tensors().dtype("visual.proj"));
            assertSame(f32, bf16);
            assertSame(f32, f16);
            assertSame(f32, f64);
            assertSame(f32, hfBf16);
        }
    }

    @Test
    void visionOnlyCheckpointLoads() throws IOException {
        ClipFixture f = new ClipFixture(16, 2, 4, 4);
        try (ClipCheckpoint oc = open(write("oc", f.openClip("F32", false)), 2);
             ClipCheckpoint hf = open(write("hf", f.hf("F32", false)), 2)) {
            assertFalse(oc.hasTextTower());
            assertFalse(hf.hasTextTower());
            assertEquals(2, hf.layers());
        }
    }

    @Test
    void headsFromOverride() throws IOException {
        String path = write("o", new ClipFixture(16, 1, 4, 5).openClip("F32", false));
        config(path, "config.json", "{\"vision_config\": {\"num_attention_heads\": 2}}");
        try (ClipCheckpoint c = open(path, 8)) {
            assertEquals(8, c.heads());
            assertEquals(2, c.headDim());
        }
        UserInputException e = assertThrows(UserInputException.class, () -> open(path, 5));
        assertTrue(e.getMessage().contains("head count given (5)") && e.getMessage().contains("16"), e.getMessage());
        assertFalse(e.getMessage().contains("--"), "core messages name no option: " + e.getMessage());
        assertEquals("heads", e.setting(), "the shell names the option");
        assertThrows(UserInputException.class, () -> open(path, 0));
    }

    @Test
    void headsAndActivationFromHfConfig() throws IOException {
        ClipFixture f = new ClipFixture(16, 1, 4, 6);
        String gelu = write("gelu", f.hf("F32", false));
        config(gelu, "config.json", "{\"architectures\": [\"CLIPModel\"], \"vision_config\": "
                + "{\"hidden_size\": 16, \"num_attention_heads\": 2, \"hidden_act\": \"gelu\"}}");
        try (ClipCheckpoint c = open(gelu, null)) {
            assertEquals(2, c.heads());
            assertEquals(8, c.headDim());
            assertEquals("gelu", c.activation());
        }
        String quick = write("quick", f.hf("F32", false));
        config(quick, "config.json", "{\"vision_config\": {\"num_attention_heads\": 4, \"hidden_act\": \"quick_gelu\"}}");
        // config.json wins over open_clip_config.json
        config(quick, "open_clip_config.json", "{\"model_cfg\": {\"vision_cfg\": {\"width\": 16, \"head_width\": 8}}}");
        try (ClipCheckpoint c = open(quick, null)) {
            assertEquals(4, c.heads());
            assertEquals("quick_gelu", c.activation());
        }
        String bad = write("bad", f.hf("F32", false));
        config(bad, "config.json", "{\"vision_config\": {\"num_attention_heads\": 3}}");
        UserInputException e = assertThrows(UserInputException.class, () -> open(bad, null));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("num_attention_heads"), e.getMessage());
        String broken = write("broken", f.hf("F32", false));
        config(broken, "config.json", "{\"vision_config\": ");
        e = assertThrows(UserInputException.class, () -> open(broken, null));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void headsAndActivationFromOpenClipConfig() throws IOException {
        ClipFixture f = new ClipFixture(16, 1, 4, 7);
        String nested = write("nested", f.openClip("F32", false));
        config(nested, "open_clip_config.json",
                "{\"model_cfg\": {\"embed_dim\": 4, \"quick_gelu\": true, \"vision_cfg\": {\"width\": 16, \"head_width\": 8}}}");
        try (ClipCheckpoint c = open(nested, null)) {
            assertEquals(2, c.heads());
            assertEquals("quick_gelu", c.activation());
        }
        String top = write("top", f.openClip("F32", false));
        config(top, "open_clip_config.json", "{\"vision_cfg\": {\"width\": 16, \"head_width\": 4}}");
        try (ClipCheckpoint c = open(top, null)) {
            assertEquals(4, c.heads());
            assertEquals("gelu", c.activation()); // OpenCLIP's default is nn.GELU
        }
        String wide = write("wide", new ClipFixture(128, 1, 4, 8).openClip("F32", false));
        config(wide, "open_clip_config.json", "{\"model_cfg\": {\"vision_cfg\": {\"width\": 128}}}");
        try (ClipCheckpoint c = open(wide, null)) {
            assertEquals(2, c.heads()); // head_width defaults to 64
        }
        String mismatch = write("mismatch", f.openClip("F32", false));
        config(mismatch, "open_clip_config.json", "{\"model_cfg\": {\"vision_cfg\": {\"width\": 32, \"head_width\": 8}}}");
        UserInputException e = assertThrows(UserInputException.class, () -> open(mismatch, null));
        assertTrue(e.getMessage().contains("open_clip_config.json"), e.getMessage());
    }

    @Test
    void defaultHeadWidthWithoutConfig() throws IOException {
        ClipFixture f = new ClipFixture(128, 1, 4, 9);
        try (ClipCheckpoint oc = open(write("oc", f.openClip("F32", false)), null);
             ClipCheckpoint hf = open(write("hf", f.hf("F32", false)), null)) {
            assertEquals(2, oc.heads());
            assertEquals(64, oc.headDim());
            assertEquals("quick_gelu", oc.activation()); // OpenAI weights
            assertEquals(2, hf.heads());
            assertEquals("gelu", hf.activation());
        }
        String small = write("small", new ClipFixture(16, 1, 4, 9).openClip("F32", false));
        UserInputException e = assertThrows(UserInputException.class, () -> open(small, null));
        assertTrue(e.getMessage().contains(small) && e.getMessage().contains("default head width"), e.getMessage());
        assertEquals("heads", e.setting(), e.getMessage());
    }

    @Test
    void layerOutOfRange() throws IOException {
        String path = write("l", new ClipFixture(16, 3, 4, 10).openClip("F32", false));
        try (ClipCheckpoint c = open(path, 2)) {
            UserInputException e = assertThrows(UserInputException.class, () -> c.outWeight(30));
            assertEquals("layer 30 out of range: checkpoint " + path + " has 3 layers", e.getMessage());
            assertThrows(UserInputException.class, () -> c.valueWeight(3));
            assertThrows(UserInputException.class, () -> c.ln1Weight(-1));
            assertThrows(UserInputException.class, () -> c.outWeightName(3));
        }
    }

    @Test
    void layersAreCountedConsecutivelyFromZero() throws IOException {
        LinkedHashMap<String, TensorData> t = new ClipFixture(16, 4, 4, 11).openClip("F32", false);
        t.keySet().removeIf(k -> k.startsWith("visual.transformer.resblocks.2."));
        try (ClipCheckpoint c = open(write("gap", t), 2)) {
            assertEquals(2, c.layers());
        }
    }

    @Test
    void notAClipVisionTransformer() throws IOException {
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        t.put("encoder.weight", TensorData.f32(new float[] {1, 2}, 2));
        String path = write("other", t);
        UserInputException e = assertThrows(UserInputException.class, () -> open(path, null));
        assertEquals("checkpoint " + path + ": not a CLIP vision transformer "
                + "(no visual.transformer.resblocks.*, vision_model.encoder.layers.* or timm's blocks.* tensors)", e.getMessage());
    }

    @Test
    void missingOrMisshapenTensorsAreNamed() throws IOException {
        ClipFixture f = new ClipFixture(16, 2, 4, 12);
        LinkedHashMap<String, TensorData> noPost = f.openClip("F32", false);
        noPost.remove("visual.ln_post.bias");
        String p1 = write("nopost", noPost);
        UserInputException e = assertThrows(UserInputException.class, () -> open(p1, 2));
        assertEquals("tensor 'visual.ln_post.bias' missing in " + p1, e.getMessage());

        LinkedHashMap<String, TensorData> noProj = f.hf("F32", false);
        noProj.remove("visual_projection.weight");
        String p2 = write("noproj", noProj);
        e = assertThrows(UserInputException.class, () -> open(p2, 2));
        assertTrue(e.getMessage().contains("'visual_projection.weight'"), e.getMessage());

        LinkedHashMap<String, TensorData> badOut = f.openClip("F32", false);
        String out = "visual.transformer.resblocks.1.attn.out_proj.weight";
        badOut.put(out, TensorData.f32(new float[16 * 8], 16, 8));
        String p3 = write("badout", badOut);
        e = assertThrows(UserInputException.class, () -> open(p3, 2));
        assertTrue(e.getMessage().contains("'" + out + "'") && e.getMessage().contains(p3)
                && e.getMessage().contains("[16,8]"), e.getMessage());

        LinkedHashMap<String, TensorData> badV = f.hf("F32", false);
        String v = "vision_model.encoder.layers.0.self_attn.v_proj.weight";
        badV.put(v, TensorData.f32(new float[8 * 16], 8, 16));
        String p4 = write("badv", badV);
        e = assertThrows(UserInputException.class, () -> open(p4, 2));
        assertTrue(e.getMessage().contains("'" + v + "'"), e.getMessage());

        LinkedHashMap<String, TensorData> badProj = f.openClip("F32", false);
        badProj.put("visual.proj", TensorData.f32(new float[4 * 16], 4, 16)); // HF orientation in an OpenCLIP file
        String p5 = write("badproj", badProj);
        e = assertThrows(UserInputException.class, () -> open(p5, 2));
        assertTrue(e.getMessage().contains("'visual.proj'"), e.getMessage());

        LinkedHashMap<String, TensorData> badLn = f.openClip("F32", false);
        badLn.put("visual.transformer.resblocks.1.ln_1.weight", TensorData.f32(new float[8], 8));
        String p6 = write("badln", badLn);
        e = assertThrows(UserInputException.class, () -> open(p6, 2));
        assertTrue(e.getMessage().contains("'visual.transformer.resblocks.1.ln_1.weight'"), e.getMessage());
    }

    @Test
    void nanInAWeightIsReportedWhenRead() throws IOException {
        ClipFixture f = new ClipFixture(16, 1, 4, 13);
        f.inProjW[0][2 * 16 * 16 + 5] = Float.NaN; // first v row, column 5
        String path = write("nan", f.openClip("F32", false));
        try (ClipCheckpoint c = open(path, 2)) {
            UserInputException e = assertThrows(UserInputException.class, () -> c.valueWeight(0));
            assertEquals("checkpoint " + path + ": tensor 'visual.transformer.resblocks.0.attn.in_proj_weight'"
                    + " has a non-finite value (NaN) at index " + (2 * 16 * 16 + 5), e.getMessage());
        }
    }
}
