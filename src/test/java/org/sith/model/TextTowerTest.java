package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Random;

import org.apache.commons.math3.special.Erf;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sith.RelativeError;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipText;
import org.sith.checkpoint.Layout;
import org.sith.checkpoint.TensorData;
import org.sith.checkpoint.TensorMap;

/** The text tower against the plain double-precision forward pass of {@link ReferenceTextForward}. */
class TextTowerTest {
    @TempDir
    static Path tmp;

    static final int VOCAB = 300;
    static final int CTX = 20;

    /** Sequences SOT … EOT of lengths 2 to the full context, ids below EOT = VOCAB - 1. */
    static List<int[]> sequences(long seed, int n) {
        Random rnd = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = i == 0 ? 2 : i == 1 ? CTX : 2 + rnd.nextInt(CTX - 1);
            int[] s = new int[len];
            s[0] = VOCAB - 2;
            for (int t = 1; t < len - 1; t++) s[t] = rnd.nextInt(VOCAB - 2);
            s[len - 1] = VOCAB - 1;
            out.add(s);
        }
        return out;
    }

    /** Written to disk with its config, opened as a user would: heads and activation come from the config. */
    @ParameterizedTest
    @CsvSource({"OPENCLIP,true", "OPENCLIP,false", "HF,true", "HF,false"})
    void equalsTheReferenceForwardInBothLayoutsAndActivations(Layout layout, boolean quickGelu) throws Exception {
        TextFixtures f = TextFixtures.random(5, VOCAB, CTX, 48, 3, 4, 24);
        boolean hf = layout == Layout.HF;
        Path dir = tmp.resolve(layout + "-" + quickGelu);
        Path ckpt = hf ? f.writeHuggingFace(dir, quickGelu) : f.writeOpenClip(dir, quickGelu);
        LinkedHashMap<String, TensorData> tensors = hf ? f.huggingFace() : f.openClip();
        List<int[]> seqs = sequences(11, 40);
        float[][] got;
        try (ClipText text = ClipText.open(ckpt.toString(), new Configuration(), null, null)) {
            assertEquals(layout, text.layout());
            assertEquals(4, text.heads());
            assertEquals(quickGelu ? "quick_gelu" : "gelu", text.activation());
            assertEquals(CTX, text.contextLength());
            // a small batch forces several batches, with sequences packed several to a batch
            got = TextTower.load(text).embed(seqs, 64, new Workspace());
        }
        double worst = 0;
        for (int i = 0; i < seqs.size(); i++) {
            double[] want = ReferenceTextForward.embed(tensors, hf, 4, quickGelu, seqs.get(i));
            worst = Math.max(worst, RelativeError.of(got[i], want));
        }
        assertTrue(worst < 1e-5, "worst relative error " + worst);
    }

    @Test
    void batchingDoesNotChangeTheResultBeyondRounding() {
        TextFixtures f = TextFixtures.random(6, VOCAB, CTX, 32, 2, 2, 16);
        TextTower tower = TextTower.load(ClipText.of(new TensorMap("fixture", f.openClip()), 2, "gelu"));
        List<int[]> seqs = sequences(3, 30);
        float[][] together = tower.embed(seqs, 4096, new Workspace());
        for (int i = 0; i < seqs.size(); i++) {
            float[] alone = tower.embed(List.of(seqs.get(i)), 4096, new Workspace())[0];
            double[] a = new double[alone.length];
            for (int j = 0; j < a.length; j++) a[j] = alone[j];
            assertTrue(RelativeError.of(together[i], a) < 1e-5, "sequence " + i);
        }
    }

    @Test
    void featuresAreTakenAtTheEotAndLaterTokensAreIgnored() {
        TextFixtures f = TextFixtures.random(7, VOCAB, CTX, 32, 2, 2, 16);
        TextTower tower = TextTower.load(ClipText.of(new TensorMap("fixture", f.openClip()), 2, "quick_gelu"));
        int[] s = {VOCAB - 2, 5, 9, VOCAB - 1};
        int[] padded = {VOCAB - 2, 5, 9, VOCAB - 1, 0, 0, 3};
        float[][] e = tower.embed(List.of(s, padded), 512, new Workspace());
        double[] want = ReferenceTextForward.embed(f.openClip(), false, 2, true, padded);
        assertTrue(RelativeError.of(e[0], want) < 1e-5);
        assertTrue(RelativeError.of(e[1], want) < 1e-5);
    }

    @Test
    void wrongHeadCountOrActivationChangesTheOutput() {
        TextFixtures f = TextFixtures.random(8, VOCAB, CTX, 32, 2, 4, 16);
        List<int[]> seqs = sequences(4, 3);
        double[] want = ReferenceTextForward.embed(f.openClip(), false, 4, true, seqs.get(2));
        float[] right = TextTower.load(ClipText.of(new TensorMap("f", f.openClip()), 4, "quick_gelu")).embed(seqs, 512, new Workspace())[2];
        float[] heads = TextTower.load(ClipText.of(new TensorMap("f", f.openClip()), 2, "quick_gelu")).embed(seqs, 512, new Workspace())[2];
        float[] act = TextTower.load(ClipText.of(new TensorMap("f", f.openClip()), 4, "gelu")).embed(seqs, 512, new Workspace())[2];
        assertTrue(RelativeError.of(right, want) < 1e-5);
        assertTrue(RelativeError.of(heads, want) > 1e-3);
        assertTrue(RelativeError.of(act, want) > 1e-3);
    }

    @Test
    void overridesBeatTheConfig() throws Exception {
        TextFixtures f = TextFixtures.random(9, VOCAB, CTX, 32, 1, 4, 16);
        Path ckpt = f.writeHuggingFace(tmp.resolve("override"), true);
        try (ClipText t = ClipText.open(ckpt.toString(), new Configuration(), 2, "gelu")) {
            assertEquals(2, t.heads());
            assertEquals("gelu", t.activation());
        }
    }

    /** CLIPTextModelWithProjection saves a text-only file with a bare CLIPTextConfig. */
    @Test
    void aTextOnlyHuggingFaceCheckpointTakesItsBareTextConfig() throws Exception {
        TextFixtures f = TextFixtures.random(14, VOCAB, CTX, 32, 1, 2, 16);
        Path ckpt = TextFixtures.write(tmp.resolve("text-only"), "model.safetensors", f.huggingFace(), "config.json",
                "{\"model_type\": \"clip_text_model\", \"hidden_size\": 32, \"num_attention_heads\": 2, \"hidden_act\": \"gelu\"}");
        try (ClipText t = ClipText.open(ckpt.toString(), new Configuration(), null, null)) {
            assertEquals(2, t.heads());
            assertEquals("gelu", t.activation());
            List<int[]> seqs = sequences(15, 4);
            float[] got = TextTower.load(t).embed(seqs, 512, new Workspace())[3];
            assertTrue(RelativeError.of(got, ReferenceTextForward.embed(f.huggingFace(), true, 2, false, seqs.get(3))) < 1e-5);
        }
    }

    @Test
    void aVisionOnlyCheckpointIsAUserErrorSayingSo() {
        TextFixtures f = TextFixtures.random(10, VOCAB, CTX, 16, 1, 2, 8);
        LinkedHashMap<String, TensorData> vision = new LinkedHashMap<>();
        vision.put("visual.class_embedding", TensorData.f32(new float[16], 16));
        vision.put("logit_scale", f.openClip().get("logit_scale"));
        Path ckpt = TextFixtures.write(tmp.resolve("vision-only"), "v.safetensors", vision, null, null);
        UserInputException e = assertThrows(UserInputException.class,
                () -> ClipText.open(ckpt.toString(), new Configuration(), null, null));
        assertTrue(e.getMessage().contains("has no text tower") && e.getMessage().contains(ckpt.toString()), e.getMessage());
    }

    @Test
    void aMisshapenTextTensorIsNamed() {
        TextFixtures f = TextFixtures.random(12, VOCAB, CTX, 16, 1, 2, 8);
        LinkedHashMap<String, TensorData> t = f.openClip();
        t.put("transformer.resblocks.0.mlp.c_proj.weight", TensorData.f32(new float[16 * 60], 16, 60));
        UserInputException e = assertThrows(UserInputException.class,
                () -> ClipText.of(new TensorMap("bad", t), 2, "gelu").block(0));
        assertTrue(e.getMessage().contains("transformer.resblocks.0.mlp.c_proj.weight"), e.getMessage());
    }

    @Test
    void erfcHasSmallRelativeErrorOverTheWholeRange() {
        double worst = 0;
        for (double x = -6; x <= 9; x += 0.001) {
            double want = Erf.erfc(x);
            worst = Math.max(worst, Math.abs(Activation.erfc(x) - want) / want);
        }
        assertTrue(worst < 2e-7, "worst relative error " + worst);
        for (double x = -8; x <= 8; x += 0.01) {
            double want = 0.5 * x * (1 + Erf.erf(x / Math.sqrt(2)));
            assertEquals(want, Activation.gelu(x), 2e-7 * Math.max(1e-3, Math.abs(want)) + 1e-12);
        }
    }
}
