package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.UserInputException;
import org.sith.executor.ImageModel;
import org.sith.io.Npy;
import org.sith.run.ImageSettings;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The two preprocessing orders against Pillow itself: {@code modes/} holds small PNGs made by Pillow 9.4 (palette
 * with and without transparency, RGBA, LA, 1-bit, and RGB and L controls) and what Pillow + numpy made of them in
 * each order, as float32 .npy (pil_mode_fixtures.py beside them made them all; Python is not needed here). Equal
 * floats mean equal bytes before normalization: the normalization is one strictly increasing table per channel.
 */
class PreprocessOrderTest {
    static final Configuration CONF = new Configuration();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static Path modes() {
        try {
            return Path.of(PreprocessOrderTest.class.getResource("modes/manifest.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode manifest() throws IOException {
        return JSON.readTree(modes().resolve("manifest.json").toFile());
    }

    static List<String> names(JsonNode m) {
        List<String> names = new ArrayList<>();
        m.get("images").forEach(n -> names.add(n.asText()));
        return names;
    }

    static ImageDecoder.Decoded decode(String name) throws IOException {
        return ImageDecoder.decode(Files.readAllBytes(modes().resolve(name + ".png")), name + ".png");
    }

    /** resize (shortest edge) and crop sides as a preprocessor_config.json says them. */
    static Preprocessor preprocessor(int resize, int crop, PreprocessOrder order) {
        ObjectMapper j = new ObjectMapper();
        var root = j.createObjectNode();
        root.putObject("size").put("shortest_edge", resize);
        root.put("crop_size", crop);
        return Preprocessor.fromHf("fixture", root).withOrder(order, "test");
    }

    static float[] expected(JsonNode m, String order, int resize, int crop) {
        String file = m.get("files").get(order + " " + resize + " " + crop).asText();
        Npy.RowFile f = Npy.openRows("fixture", modes().resolve(file).toString(), CONF, 4);
        assertArrayEquals(new long[] {names(m).size(), 3, crop, crop}, f.shape(), file);
        return Npy.readRows(f, CONF, 0, names(m).size());
    }

    @Test
    void fixturesComeFromPillow94AndOpenInTheirModes() throws IOException {
        JsonNode m = manifest();
        assertTrue(m.get("pillow").asText().startsWith("9.4"), m.get("pillow").asText());
        Map<String, String> pil = Map.of("p4_opaque", "P", "p8_trns", "P", "rgba", "RGBA", "la", "LA", "bit1", "1", "rgb", "RGB", "l", "L");
        for (String n : names(m)) {
            ImageDecoder.Decoded d = decode(n);
            assertEquals(pil.get(n), m.get("modes").get(n).asText(), n);
            assertEquals(pil.get(n), d.image().mode().pil, n + " keeps Pillow's mode");
            assertEquals(m.get("sizes").get(n).get(0).asInt(), d.width(), n);
            assertEquals(m.get("sizes").get(n).get(1).asInt(), d.height(), n);
            // the mode's own RGB conversion is the decoder's (the one the hf order uses)
            assertArrayEquals(d.rgb(), d.image().toRgb(), n);
        }
    }

    @Test
    void bothOrdersMatchPillowByteForByte() throws IOException {
        JsonNode m = manifest();
        List<String> names = names(m);
        int compared = 0;
        for (JsonNode c : m.get("configs")) {
            int resize = c.get("resize").asInt(), crop = c.get("crop").asInt();
            for (PreprocessOrder order : PreprocessOrder.values()) {
                float[] want = expected(m, order.value(), resize, crop);
                Preprocessor pre = preprocessor(resize, crop, order);
                int block = 3 * crop * crop;
                for (int i = 0; i < names.size(); i++) {
                    float[] got = pre.apply(decode(names.get(i)));
                    assertEquals(block, got.length);
                    int bad = 0, first = -1;
                    for (int k = 0; k < block; k++) {
                        if (Float.floatToRawIntBits(got[k]) != Float.floatToRawIntBits(want[i * block + k])) {
                            bad++;
                            if (first < 0) first = k;
                        }
                    }
                    String where = order.value() + " resize " + resize + " crop " + crop + " " + names.get(i);
                    assertEquals(0, bad, where + ": " + bad + " of " + block + " values differ from Pillow's, first at " + first
                            + (first < 0 ? "" : " (" + got[first] + " vs " + want[i * block + first] + ")"));
                    compared++;
                }
            }
        }
        assertEquals(3 * 2 * 7, compared);
    }

    /** The fixtures show what the option changes: every image with a palette, 1 bit or alpha, and only those. */
    @Test
    void theOrdersDifferExactlyOnPaletteBilevelAndAlphaImages() throws IOException {
        JsonNode m = manifest();
        List<String> names = names(m);
        for (JsonNode c : m.get("configs")) {
            int resize = c.get("resize").asInt(), crop = c.get("crop").asInt();
            float[] oc = expected(m, "openclip", resize, crop);
            float[] hf = expected(m, "hf", resize, crop);
            Preprocessor pre = preprocessor(resize, crop, PreprocessOrder.HF);
            int block = 3 * crop * crop;
            for (int i = 0; i < names.size(); i++) {
                ImageDecoder.Decoded d = decode(names.get(i));
                float[] a = pre.apply(d, PreprocessOrder.OPENCLIP), b = pre.apply(d, PreprocessOrder.HF);
                int differ = 0, differPil = 0;
                for (int k = 0; k < block; k++) {
                    if (a[k] != b[k]) differ++;
                    if (oc[i * block + k] != hf[i * block + k]) differPil++;
                }
                String where = names.get(i) + " resize " + resize + " crop " + crop;
                assertEquals(differPil, differ, where);
                if (d.image().mode().orderMatters()) {
                    assertTrue(differ > block / 2, where + ": only " + differ + " of " + block + " values differ");
                } else {
                    assertEquals(0, differ, where + ": RGB and gray are the same computation in both orders");
                }
            }
        }
    }

    /** Convert.c's MULDIV255 against the rounded quotient it stands for, for every pair of bytes. */
    @Test
    void mulDiv255IsTheRoundedProductOverTwoFiftyFive() {
        for (int a = 0; a < 256; a++) {
            for (int b = 0; b < 256; b++) assertEquals(Math.round(a * b / 255.0), PilImage.mulDiv255(a, b), a + "*" + b);
        }
    }

    /**
     * Hand-computed cases: a 2×1 RGBA image with alpha 255 and 1, widened to 3 pixels. Premultiplied, the second
     * pixel's colour (200, 100, 7) becomes (1, 0, 0); after resampling and unpremultiplying by the resampled alpha the
     * colour is far from what resizing the unpremultiplied colour gives.
     */
    @Test
    void alphaOneKeepsAlmostNothingOfItsColour() {
        byte[] rgba = {(byte) 10, (byte) 20, (byte) 30, (byte) 255, (byte) 200, (byte) 100, (byte) 7, (byte) 1};
        PilImage im = new PilImage(PilImage.Mode.RGBA, 2, 1, rgba, null);
        byte[] own = im.resizeWindow(2, 1, 0, 0, 2, 1).toRgb();
        assertArrayEquals(new byte[] {10, 20, 30, (byte) 200, 100, 7}, own, "the same size is a copy: nothing is premultiplied");
        byte[] after = im.resizeWindow(4, 1, 0, 0, 4, 1).toRgb();
        byte[] before = PilImage.rgb(2, 1, im.toRgb()).resizeWindow(4, 1, 0, 0, 4, 1).toRgb();
        // the last output pixel sits over the alpha-1 pixel: converted first it is close to (200, 100, 7)
        assertTrue((before[9] & 0xFF) > 150, "hf: " + (before[9] & 0xFF));
        // premultiplied, (200, 100, 7) · 1/255 rounds to (1, 0, 0): the colour of the opaque neighbour dominates
        assertTrue((after[9] & 0xFF) < 60, "openclip: " + (after[9] & 0xFF));
    }

    /** Nearest for a palette image keeps palette colours only: no colour in the output is a blend. */
    @Test
    void paletteImagesAreResizedByIndexNotByColour() throws IOException {
        ImageDecoder.Decoded d = decode("p4_opaque");
        PilImage own = d.image().resizedCrop(40, 28, 28);
        byte[] rgb = own.toRgb();
        java.util.Set<Integer> palette = new java.util.HashSet<>();
        byte[] all = d.rgb();
        for (int i = 0; i < all.length; i += 3) palette.add(((all[i] & 0xFF) << 16) | ((all[i + 1] & 0xFF) << 8) | (all[i + 2] & 0xFF));
        for (int i = 0; i < rgb.length; i += 3) {
            int c = ((rgb[i] & 0xFF) << 16) | ((rgb[i + 1] & 0xFF) << 8) | (rgb[i + 2] & 0xFF);
            assertTrue(palette.contains(c), "pixel " + i / 3 + " colour " + Integer.toHexString(c) + " is not in the image");
        }
        // an index table that steps through the source: 31 → 40 repeats some columns, never skips back
        int[] xs = PilImage.nearestIndices(31, 40);
        assertEquals(0, xs[0]);
        assertEquals(30, xs[39]);
        for (int i = 1; i < xs.length; i++) assertTrue(xs[i] - xs[i - 1] == 0 || xs[i] - xs[i - 1] == 1, "step at " + i);
    }

    /** A palette PNG written by the JDK (8-bit, tRNS with alpha) decodes to its indices and palette. */
    @Test
    void jdkWrittenPaletteWithAlphaKeepsItsIndices() throws IOException {
        byte[] r = {0, (byte) 255, 0}, g = {0, 0, (byte) 255}, b = {(byte) 255, 0, 0}, a = {(byte) 255, 0, (byte) 128};
        java.awt.image.IndexColorModel icm = new java.awt.image.IndexColorModel(8, 3, r, g, b, a);
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(5, 3, java.awt.image.BufferedImage.TYPE_BYTE_INDEXED, icm);
        for (int y = 0; y < 3; y++) for (int x = 0; x < 5; x++) img.getRaster().setSample(x, y, 0, (x + y) % 3);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        ImageDecoder.Decoded d = ImageDecoder.decode(out.toByteArray(), "jdk-palette.png");
        assertEquals(PilImage.Mode.P, d.image().mode());
        assertArrayEquals(d.rgb(), d.image().toRgb());
        assertEquals(0, d.rgb()[0]);
        assertEquals((byte) 255, d.rgb()[2], "index 0 is blue");
    }

    @Test
    void theOptionValues() {
        assertEquals(PreprocessOrder.OPENCLIP, PreprocessOrder.parse("openclip"));
        assertEquals(PreprocessOrder.HF, PreprocessOrder.parse(" HF "));
        UserInputException e = assertThrows(UserInputException.class, () -> PreprocessOrder.parse("torchvision"));
        assertTrue(e.getMessage().startsWith("unknown order 'torchvision'"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    /** The image commands' model: the checkpoint's layout decides, --preprocess overrides, and both are said. */
    @Test
    void theCheckpointsLayoutChoosesTheOrderUnlessTheOptionDoes() {
        VisionFixtures f = VisionFixtures.random(3, 8, 4, 16, 1, 2, 8);
        String oc = f.writeOpenClip(tmp.resolve("oc"), false).toString();
        String hf = f.writeHuggingFace(tmp.resolve("hf"), false).toString();
        ImageSettings dflt = ImageSettings.DEFAULTS;
        ImageSettings forceHf = new ImageSettings(null, null, 8, ImageSettings.DEFAULT_IMAGES_PER_TASK, PreprocessOrder.HF);
        ImageSettings forceOc = new ImageSettings(null, null, 8, ImageSettings.DEFAULT_IMAGES_PER_TASK, PreprocessOrder.OPENCLIP);
        ImageSettings sized = new ImageSettings(null, null, 8, ImageSettings.DEFAULT_IMAGES_PER_TASK, null);
        assertEquals(PreprocessOrder.OPENCLIP, ImageModel.of(oc, sized, CONF).pre().order());
        assertEquals(PreprocessOrder.HF, ImageModel.of(hf, sized, CONF).pre().order());
        assertEquals(PreprocessOrder.HF, ImageModel.of(oc, forceHf, CONF).pre().order());
        assertEquals(PreprocessOrder.OPENCLIP, ImageModel.of(hf, forceOc, CONF).pre().order());
        assertTrue(ImageModel.of(oc, sized, CONF).pre().orderSource().contains("OpenCLIP"), ImageModel.of(oc, sized, CONF).pre().orderSource());
        assertTrue(ImageModel.of(hf, forceOc, CONF).pre().orderSource().contains("--preprocess"));
        assertEquals(null, dflt.preprocess());
        // a timm file is read in the OpenCLIP layout but follows timm's convert-first order
        ImageSettings timmSized = new ImageSettings(null, null, 8, ImageSettings.DEFAULT_IMAGES_PER_TASK, null);
        String timm = Path.of("src/test/resources/org/sith/checkpoint/formats/timm/model.safetensors").toString();
        assertEquals(PreprocessOrder.HF, ImageModel.of(timm, timmSized, CONF).pre().order());
        assertTrue(ImageModel.of(timm, timmSized, CONF).pre().orderSource().contains("timm"));
        assertEquals(PreprocessOrder.OPENCLIP, ImageModel.of("src/test/resources/org/sith/checkpoint/formats/openclip_bin", timmSized, CONF)
                .pre().order());
    }
}
