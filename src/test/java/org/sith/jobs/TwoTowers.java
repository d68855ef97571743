package org.sith.jobs;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Random;
import javax.imageio.ImageIO;

import org.sith.TestData;
import org.sith.checkpoint.TensorData;
import org.sith.model.TextFixtures;
import org.sith.model.VisionFixtures;

/**
 * A small random CLIP with both towers (vision 32 px, patch 8, width 48, 2 layers; text of the
 * real 49,408-token vocabulary, width 32, 2 layers; 4 heads each, p = 24) in OpenCLIP naming, and
 * random PNGs whose preprocessed pixels are known exactly (32×32, so resizing and cropping are the
 * identity). For the tests that need both towers and CLIP's real tokenizer.
 */
final class TwoTowers {
    static final String BPE_FILE = "tokenizer/openai/bpe_simple_vocab_16e6.txt.gz";
    static final Path BPE = TestData.DIR.resolve(BPE_FILE);
    static final int SIZE = 32;
    static final int HEADS = 4;
    static final int P = 24;
    static final double[] MEAN = {0.48145466, 0.4578275, 0.40821073};
    static final double[] STD = {0.26862954, 0.26130258, 0.27577711};

    record Model(VisionFixtures vision, TextFixtures text, LinkedHashMap<String, TensorData> tensors, Path checkpoint) {}

    private TwoTowers() {}

    /** CLIP's real tokenizer ({@link #BPE}) from the shared data: skipped without it, a failure under CI. */
    static void requireTokenizer() {
        TestData.require(BPE_FILE);
    }

    /** Vision weights from {@code seed}, text weights from {@code seed + 1}, written as dir/model.safetensors with its config. */
    static Model write(Path dir, long seed) {
        VisionFixtures vision = VisionFixtures.random(seed, SIZE, 8, 48, 2, HEADS, P);
        TextFixtures text = TextFixtures.random(seed + 1, 49408, 77, 32, 2, HEADS, P);
        LinkedHashMap<String, TensorData> all = new LinkedHashMap<>(vision.openClip());
        all.putAll(text.openClip());
        Path ckpt = TextFixtures.write(dir, "model.safetensors", all, "open_clip_config.json", text.openClipConfig(true, 48, HEADS, 2, SIZE, 8));
        return new Model(vision, text, all, ckpt);
    }

    /** Writes a random SIZE×SIZE RGB PNG and returns its CLIP-normalized pixels (3×S×S), computed here by hand. */
    static float[] randomPng(Path file, Random rnd) throws Exception {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        float[] px = new float[3 * SIZE * SIZE];
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                int[] rgb = {rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)};
                img.setRGB(x, y, (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
                for (int c = 0; c < 3; c++) px[(c * SIZE + y) * SIZE + x] = (float) ((rgb[c] / 255f - MEAN[c]) / STD[c]);
            }
        }
        ImageIO.write(img, "png", file.toFile());
        return px;
    }
}
