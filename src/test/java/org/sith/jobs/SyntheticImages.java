package org.sith.jobs;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;

import org.sith.checkpoint.TensorData;
import org.sith.model.ReferenceVisionForward;
import org.sith.model.VisionFixtures;

/**
 * The image commands' inputs on disk: a small random vision tower (32 px, patches of 8, width 48, 3 layers of
 * {@link #HEADS} heads, p = 24, QuickGELU) in OpenCLIP naming as {@code model/model.safetensors}, and a folder of
 * nine 32×32 PNGs (so resizing and cropping are the identity and their pixels are known exactly, here by hand),
 * one corrupt {@code broken.png} and a {@code notes.txt} that is not an image.
 */
record SyntheticImages(VisionFixtures model, LinkedHashMap<String, TensorData> tensors, Path checkpoint, Path images,
                       Map<String, float[]> pixels) {
    static final int SIZE = 32;
    static final int HEADS = 4;
    static final int P = 24;
    static final double[] MEAN = {0.48145466, 0.4578275, 0.40821073};
    static final double[] STD = {0.26862954, 0.26130258, 0.27577711};

    static SyntheticImages write(Path dir) throws Exception {
        VisionFixtures model = VisionFixtures.random(17, SIZE, 8, 48, 3, HEADS, P);
        Path ckpt = model.writeOpenClip(dir.resolve("model"), true);
        Path images = Files.createDirectories(dir.resolve("images"));
        Map<String, float[]> pixels = new LinkedHashMap<>(); // image id → 3×S×S
        Random rnd = new Random(3);
        for (int i = 0; i < 9; i++) {
            BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
            float[] px = new float[3 * SIZE * SIZE];
            for (int y = 0; y < SIZE; y++) {
                for (int x = 0; x < SIZE; x++) {
                    int r = rnd.nextInt(256), g = rnd.nextInt(256), b = (x * 8 + y * i) & 255;
                    img.setRGB(x, y, (r << 16) | (g << 8) | b);
                    int[] rgb = {r, g, b};
                    for (int c = 0; c < 3; c++) px[(c * SIZE + y) * SIZE + x] = (float) ((rgb[c] / 255f - MEAN[c]) / STD[c]);
                }
            }
            String name = "img" + i + ".png";
            ImageIO.write(img, "png", images.resolve(name).toFile());
            pixels.put(name, px);
        }
        Files.writeString(images.resolve("broken.png"), "not a png", StandardCharsets.UTF_8);
        Files.writeString(images.resolve("notes.txt"), "ignored: not an image name", StandardCharsets.UTF_8);
        return new SyntheticImages(model, model.openClip(), ckpt, images, pixels);
    }

    /** The raw embedding LN_post(x_CLS)·P of one image by the double-precision reference forward pass. */
    double[] referenceEmbedding(float[] px) {
        return ReferenceVisionForward.embed(tensors, false, HEADS, true, px);
    }
}
