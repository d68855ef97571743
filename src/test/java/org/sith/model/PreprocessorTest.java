package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.TestData;
import org.sith.UserInputException;

class PreprocessorTest {
    static final Configuration CONF = new Configuration();

    @TempDir
    Path dir;

    private String checkpointWith(String file, String json) throws IOException {
        Files.writeString(dir.resolve(file), json);
        return dir.resolve("model.safetensors").toString();
    }

    private UserInputException rejected(String file, String json) throws IOException {
        String ckpt = checkpointWith(file, json);
        UserInputException e = assertThrows(UserInputException.class, () -> Preprocessor.fromConfig(ckpt, CONF, null));
        assertTrue(e.getMessage().contains(dir.resolve(file).getFileName().toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e;
    }

    @Test
    void sharedHuggingFaceConfig() {
        Path hf = TestData.require("tokenizer/hf-clip-vit-base-patch32/preprocessor_config.json").getParent();
        Preprocessor p = Preprocessor.fromConfig(hf.resolve("model.safetensors").toString(), CONF, null);
        assertEquals(224, p.size());
        assertEquals(224, p.resizeSize());
        assertArrayEquals(Preprocessor.CLIP_MEAN, p.mean());
        assertArrayEquals(Preprocessor.CLIP_STD, p.std());
        assertTrue(p.source().endsWith("preprocessor_config.json"), p.source());
        // the folder itself works as the checkpoint path too
        assertEquals(p.source(), Preprocessor.fromConfig(hf.toString(), CONF, null).source());
    }

    @Test
    void openClipConfig() throws IOException {
        String ckpt = checkpointWith("open_clip_config.json", """
                {"model_cfg": {"embed_dim": 768, "vision_cfg": {"image_size": 336, "layers": 24, "width": 1024, "patch_size": 14}},
                 "preprocess_cfg": {"mean": [0.5, 0.25, 0.125], "std": [0.2, 0.3, 0.4], "interpolation": "bicubic", "resize_mode": "shortest"}}
                """);
        Preprocessor p = Preprocessor.fromConfig(ckpt, CONF, null);
        assertEquals(336, p.size());
        assertEquals(336, p.resizeSize());
        assertArrayEquals(new double[] {0.5, 0.25, 0.125}, p.mean());
        assertArrayEquals(new double[] {0.2, 0.3, 0.4}, p.std());
        assertTrue(p.source().endsWith("open_clip_config.json"), p.source());
        // a caller's size wins over the file's; mean and std stay
        Preprocessor q = Preprocessor.fromConfig(ckpt, CONF, 448);
        assertEquals(448, q.size());
        assertArrayEquals(new double[] {0.5, 0.25, 0.125}, q.mean());
        assertTrue(q.source().contains("448"), q.source());
        // open_clip's defaults when preprocess_cfg is absent: CLIP mean/std
        Preprocessor d = Preprocessor.fromConfig(checkpointWith("open_clip_config.json", "{\"model_cfg\": {\"vision_cfg\": {\"image_size\": [240, 240]}}}"), CONF, null);
        assertEquals(240, d.size());
        assertArrayEquals(Preprocessor.CLIP_MEAN, d.mean());
    }

    @Test
    void huggingFaceFormsAndPrecedence() throws IOException {
        String ckpt = checkpointWith("preprocessor_config.json", "{\"size\": 256, \"crop_size\": 240, \"resample\": 3}");
        Preprocessor p = Preprocessor.fromConfig(ckpt, CONF, null);
        assertEquals(256, p.resizeSize());
        assertEquals(240, p.size());
        checkpointWith("preprocessor_config.json", "{\"size\": {\"shortest_edge\": 288}, \"crop_size\": {\"height\": 288, \"width\": 288}, \"image_mean\": [0.1, 0.2, 0.3]}");
        checkpointWith("open_clip_config.json", "{\"model_cfg\": {\"vision_cfg\": {\"image_size\": 99}}}");
        Preprocessor q = Preprocessor.fromConfig(ckpt, CONF, null);
        assertEquals(288, q.size()); // preprocessor_config.json is read first
        assertArrayEquals(new double[] {0.1, 0.2, 0.3}, q.mean());
        assertArrayEquals(Preprocessor.CLIP_STD, q.std());
    }

    @Test
    void defaults() {
        String ckpt = dir.resolve("model.safetensors").toString();
        Preprocessor p = Preprocessor.fromConfig(ckpt, CONF, null);
        assertEquals(224, p.size());
        assertArrayEquals(new double[] {0.48145466, 0.4578275, 0.40821073}, p.mean());
        assertArrayEquals(new double[] {0.26862954, 0.26130258, 0.27577711}, p.std());
        assertTrue(p.source().contains("defaults"), p.source());
        assertEquals(336, Preprocessor.fromConfig(ckpt, CONF, 336).size());
        Preprocessor given = Preprocessor.of(64, new double[] {0, 0, 0}, new double[] {1, 1, 1});
        assertEquals(64, given.size());
        assertEquals(64, given.resizeSize());
    }

    @Test
    void unsupportedSettingsAreOneLineErrorsNamingTheFile() throws IOException {
        assertTrue(rejected("preprocessor_config.json", "{\"resample\": 2}").getMessage().contains("resample"));
        rejected("preprocessor_config.json", "{\"resample\": \"bicubic\"}");
        rejected("preprocessor_config.json", "{\"size\": {\"height\": 224, \"width\": 224}}"); // HF would squash, not keep aspect
        rejected("preprocessor_config.json", "{\"do_center_crop\": false}");
        rejected("preprocessor_config.json", "{\"rescale_factor\": 1.0}");
        rejected("preprocessor_config.json", "{\"image_std\": [0.2, 0.0, 0.3]}");
        rejected("preprocessor_config.json", "{\"image_mean\": [0.2, 0.3]}");
        rejected("preprocessor_config.json", "{\"crop_size\": {\"height\": 224, \"width\": 200}}");
        rejected("preprocessor_config.json", "{not json");
        Files.delete(dir.resolve("preprocessor_config.json"));
        rejected("open_clip_config.json", "{\"preprocess_cfg\": {\"interpolation\": \"bilinear\"}}");
        rejected("open_clip_config.json", "{\"preprocess_cfg\": {\"resize_mode\": \"squash\"}}");
    }

    /** torchvision's CenterCrop: round((h - size) / 2) with Python's half-to-even. */
    @Test
    void cropOffsetsRoundHalfToEven() {
        assertEquals(0, PilResize.cropOffset(224, 224));
        assertEquals(0, PilResize.cropOffset(225, 224)); // 0.5 -> 0
        assertEquals(1, PilResize.cropOffset(226, 224));
        assertEquals(2, PilResize.cropOffset(227, 224)); // 1.5 -> 2
        assertEquals(2, PilResize.cropOffset(229, 224)); // 2.5 -> 2
        assertEquals(4, PilResize.cropOffset(231, 224)); // 3.5 -> 4
        assertEquals(54, PilResize.cropOffset(331, 224)); // motorcycle_left: 53.5 -> 54 (HF's floor would give 53)
        for (int d = 0; d < 200; d++) assertEquals(PilReference.pyRound(d / 2.0), PilResize.cropOffset(224 + d, 224), "d=" + d);
        // a 5 x 3 image cropped to 4: left offset round(0.5) = 0 (one column cut on the right); rows padded (4-3)//2 = 0 above, 1 below
        byte[] img = new byte[5 * 3 * 3];
        for (int i = 0; i < 15; i++) Arrays.fill(img, i * 3, i * 3 + 3, (byte) (i + 1));
        byte[] c = PilResize.centerCrop(img, 5, 3, 4);
        int[] expected = {1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 0, 0, 0, 0};
        for (int i = 0; i < 16; i++) assertEquals(expected[i], c[i * 3], "pixel " + i);
        // 2 x 2 cropped to 5: padding (5-2)//2 = 1 before, 2 after, on both axes
        byte[] small = {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4};
        byte[] s = PilResize.centerCrop(small, 2, 2, 5);
        int[] exp5 = {0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        for (int i = 0; i < 25; i++) assertEquals(exp5[i], s[i * 3], "pixel " + i);
    }

    @Test
    void applyMatchesAPlainComputationOnShippedPhotos() throws IOException {
        Preprocessor p = Preprocessor.fromConfig(dir.resolve("none.safetensors").toString(), CONF, null);
        for (String name : new String[] {"chelsea.png", "motorcycle_left.png", "rocket.jpg", "camera.png", "astronaut.png"}) {
            ImageDecoder.Decoded d = ImageDecoder.decode(Files.readAllBytes(TestData.require("images/" + name)), name);
            float[] x = p.apply(d);
            assertEquals(3 * 224 * 224, x.length, name);
            float[] expected = PilReference.preprocess(d.rgb(), d.width(), d.height(), 224, Preprocessor.CLIP_MEAN, Preprocessor.CLIP_STD);
            for (int i = 0; i < x.length; i++) {
                if (Float.floatToIntBits(x[i]) != Float.floatToIntBits(expected[i])) {
                    throw new AssertionError(name + ": element " + i + " is " + x[i] + ", plain computation " + expected[i]);
                }
            }
        }
    }

    @Test
    void applyOnSmallAndPaddedCases() {
        Random rnd = new Random(3);
        byte[] rgb = new byte[50 * 31 * 3];
        rnd.nextBytes(rgb);
        ImageDecoder.Decoded d = new ImageDecoder.Decoded(50, 31, rgb);
        Preprocessor p = Preprocessor.of(24, new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5});
        assertArrayEquals(PilReference.preprocess(rgb, 50, 31, 24, p.mean(), p.std()), p.apply(d));
        // resize 20, crop 24 (an HF config may say so): zero padding, which normalises to (0 - mean) / std
        Preprocessor padded = Preprocessor.fromHf("x.json", jsonOf("{\"size\": 20, \"crop_size\": 24, \"image_mean\": [0.5, 0.5, 0.5], \"image_std\": [0.5, 0.5, 0.5]}"));
        float[] x = padded.apply(d);
        assertEquals(3 * 24 * 24, x.length);
        assertEquals(-1.0f, x[0]); // top-left lies in the padding
        int[] wh = PilResize.resizeShorterSide(50, 31, 20);
        byte[] crop = PilResize.centerCrop(PilResize.resize(rgb, 50, 31, wh[0], wh[1]), wh[0], wh[1], 24);
        assertEquals(((crop[(12 * 24 + 12) * 3] & 0xFF) / 255f - 0.5f) / 0.5f, x[12 * 24 + 12]);
    }

    private static com.fasterxml.jackson.databind.JsonNode jsonOf(String s) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(s);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void serializable() throws Exception {
        Preprocessor p = Preprocessor.of(32, new double[] {0.1, 0.2, 0.3}, new double[] {0.4, 0.5, 0.6});
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(p);
        }
        Preprocessor q;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            q = (Preprocessor) in.readObject();
        }
        assertEquals(p.toString(), q.toString());
        ImageDecoder.Decoded d = new ImageDecoder.Decoded(40, 35, new byte[40 * 35 * 3]);
        assertArrayEquals(p.apply(d), q.apply(d));
    }

    /** Timing only, printed: decode + resize + crop + normalise of a 640 x 480 JPEG (no assertion on time). */
    @Test
    void timing() throws IOException {
        BufferedImage img = new BufferedImage(640, 480, BufferedImage.TYPE_3BYTE_BGR);
        Random rnd = new Random(5);
        for (int y = 0; y < 480; y++) {
            for (int x = 0; x < 640; x++) {
                img.getRaster().setPixel(x, y, new int[] {(x + rnd.nextInt(40)) % 256, (y + rnd.nextInt(40)) % 256, (x * y / 97 + rnd.nextInt(40)) % 256});
            }
        }
        byte[] jpeg = ImageDecoderTest.jpeg(img, 0.9f);
        time("640x480 synthetic JPEG (" + jpeg.length / 1024 + " KiB)", jpeg);
        Path rocket = TestData.DIR.resolve("images/rocket.jpg"); // optional: timed only when present
        if (Files.isRegularFile(rocket)) time("rocket.jpg 640x427", Files.readAllBytes(rocket));
    }

    private static void time(String what, byte[] file) {
        Preprocessor p = Preprocessor.of(224, Preprocessor.CLIP_MEAN, Preprocessor.CLIP_STD);
        int n = 60;
        long[] dec = new long[n], pre = new long[n];
        for (int i = 0; i < 30 + n; i++) {
            long t0 = System.nanoTime();
            ImageDecoder.Decoded d = ImageDecoder.decode(file, "t.jpg");
            long t1 = System.nanoTime();
            float[] x = p.apply(d);
            long t2 = System.nanoTime();
            assertEquals(3 * 224 * 224, x.length);
            if (i >= 30) {
                dec[i - 30] = t1 - t0;
                pre[i - 30] = t2 - t1;
            }
        }
        long[] tot = new long[n];
        for (int i = 0; i < n; i++) tot[i] = dec[i] + pre[i];
        System.out.printf("timing %s: decode median %.2f ms, resize+crop+normalize median %.2f ms, total median %.2f ms (p90 %.2f ms)%n",
                what, median(dec), median(pre), median(tot), pct(tot, 0.9));
    }

    private static double median(long[] v) {
        return pct(v, 0.5);
    }

    private static double pct(long[] v, double q) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.floor(q * s.length))] / 1e6;
    }
}
