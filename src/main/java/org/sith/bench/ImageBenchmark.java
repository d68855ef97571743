package org.sith.bench;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.inputs.ConceptsInput;
import org.sith.io.Npy;
import org.sith.jobs.DecomposeJob;
import org.sith.jobs.MatchImagesJob;
import org.sith.linalg.Gemm;
import org.sith.linalg.OneDnn;
import org.sith.model.TowerPrecision;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.ImageSettings;
import org.sith.run.LayerSpec;
import org.sith.run.OutputTarget;
import org.sith.run.WriteMode;

/**
 * Vision-tower throughput on a random ViT-B/32-shaped tower (224 px, d=768, 12 layers, 12 heads,
 * p=512) against the roofline measured in the same process, and match-images end to end.
 */
public final class ImageBenchmark {
    private ImageBenchmark() {}

    /** Writes the random tower (OpenCLIP naming, QuickGELU config) and returns its path. */
    public static String writeVitB32(String dir, Configuration conf) throws Exception {
        int d = 768;
        int layers = 12;
        int patch = 32;
        int tokens = 50;
        int p = 512;
        Random rnd = new Random(21);
        LinkedHashMap<String, TensorData> t = RandomVision.tensors(d, layers, patch, tokens, 4 * d, p, 0.03, (n, std, offset) -> gauss(rnd, n, std, offset));
        String ck = dir + "/vit-b-32-vision-random.safetensors";
        SafeTensorsWriter.write(ck, conf, t, Map.of());
        Files.writeString(Path.of(dir, "open_clip_config.json"), "{\"model_cfg\": {\"embed_dim\": 512, \"quick_gelu\": true, "
                + "\"vision_cfg\": {\"width\": 768, \"layers\": 12, \"head_width\": 64, \"patch_size\": 32, \"image_size\": 224}}}\n");
        return ck;
    }

    /**
     * Images per second through the tower, as one thread with all BLAS threads and as one single-threaded worker per core;
     * then the tower with --tower-precision bf16 (oneDNN) in the same process: its rate, the speed-up over f32, and the
     * error of its embeddings against f32's (1 − cosine, max and mean over the images).
     */
    public static void tower(String checkpoint, int n, double roofline, Benchmark.PrintLine out) throws Exception {
        VisionTower tower;
        VisionTower bf16 = null;
        String why = OneDnn.unavailable();
        try (ClipCheckpoint ck = ClipCheckpoint.open(checkpoint, new Configuration(), null)) {
            tower = VisionTower.load(ck, null);
            if (why == null) bf16 = VisionTower.load(ck, null, TowerPrecision.BF16);
        }
        int block = 3 * 224 * 224;
        Random rnd = new Random(4);
        float[] pixels = new float[n * block];
        for (int i = 0; i < pixels.length; i++) pixels[i] = (float) rnd.nextGaussian();
        int batch = Math.max(1, 512 / tower.tokens());
        int cores = Runtime.getRuntime().availableProcessors();
        for (int threads : cores > 1 ? new int[] {1, cores} : new int[] {1}) {
            Gemm.setBlasThreads(threads == 1 ? cores : 1);
            String how = threads == 1 ? "1 thread × " + cores + " BLAS threads" : threads + " threads × 1 BLAS thread";
            float[][] want = new float[n][];
            double s = timed(tower, pixels, n, batch, threads, want);
            double gflops = (double) n * tower.flopsPerImage() / s / 1e9;
            out.line(String.format(Locale.ROOT, "vision tower        ViT-B/32 shape, %s: %d images, %d images/product: %.1f images/s, %.1f GFLOP/s = %.0f %% of roofline",
                    how, n, batch, n / s, gflops, 100 * gflops / roofline));
            if (bf16 == null) {
                out.line("vision tower bf16   not run: oneDNN cannot run here (" + why + ")");
                continue;
            }
            float[][] got = new float[n][];
            double sb = timed(bf16, pixels, n, batch, threads, got);
            out.line(String.format(Locale.ROOT, "vision tower bf16   ViT-B/32 shape, %s, oneDNN %s: %.1f images/s = %.2f× f32 (same process); "
                    + "embedding error vs f32 1−cos max %.1e, mean %.1e; ISA %s",
                    how, TextBenchmark.ompThreads(), n / sb, s / sb, TextBenchmark.maxOneMinusCos(want, got), TextBenchmark.meanOneMinusCos(want, got),
                    OneDnn.isaName()));
        }
        Gemm.setBlasThreads(cores);
    }

    /** Seconds to embed n images split over {@code threads} threads (after a warm-up), the embeddings into {@code into}. */
    private static double timed(VisionTower tower, float[] pixels, int n, int batch, int threads, float[][] into) throws InterruptedException {
        int block = 3 * tower.imageSize() * tower.imageSize();
        tower.embed(pixels, Math.min(n, 2 * batch), batch, new Workspace()); // warm-up
        long t0 = System.nanoTime();
        Thread[] ts = new Thread[threads];
        for (int k = 0; k < threads; k++) {
            int from = k * n / threads;
            int to = (k + 1) * n / threads;
            float[] part = java.util.Arrays.copyOfRange(pixels, from * block, to * block);
            ts[k] = new Thread(() -> {
                float[][] e = tower.embed(part, to - from, batch, new Workspace());
                System.arraycopy(e, 0, into, from, e.length);
            });
            ts[k].start();
        }
        for (Thread th : ts) th.join();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** match-images over n JPEGs for the last 4 layers × 12 heads of the random tower, end to end. */
    public static void matchImages(SparkSession spark, String checkpoint, int n, String work, Benchmark.PrintLine out) throws Exception {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Random rnd = new Random(6);
        int concepts = 10000;
        float[] e = gauss(rnd, concepts * 512, 1, 0);
        Npy.write(work + "/concepts-512.npy", conf, new long[] {concepts, 512}, e);
        StringBuilder vocab = new StringBuilder();
        for (int i = 0; i < concepts; i++) vocab.append("concept ").append(i).append('\n');
        Files.writeString(Path.of(work, "concepts-512.txt"), vocab);
        DecomposeJob.run(spark, new DecomposeJob.Config(checkpoint, new ConceptsInput(work + "/concepts-512.npy", work + "/concepts-512.txt"), null,
                HeadSelection.DEFAULTS.withLayers(LayerSpec.parse("8-11")), Coding.DEFAULTS, "vit-b-32-random", new OutputTarget(work + "/out-b32", WriteMode.OVERWRITE)));
        File dir = new File(work, "images-" + n);
        if (!dir.isDirectory() || dir.list().length < n) {
            dir.mkdirs();
            for (int i = 0; i < n; i++) ImageIO.write(smoothImage(rnd, 256, 256), "jpg", new File(dir, String.format("img%05d.jpg", i)));
        }
        long t = System.nanoTime();
        MatchImagesJob.Result r = MatchImagesJob.run(spark, new MatchImagesJob.Config(checkpoint, dir.toString(), work + "/out-b32/explanations",
                MatchImagesJob.DEFAULT_TOP, ImageSettings.DEFAULTS, "vit-b-32-random", new OutputTarget(work + "/out-b32", WriteMode.OVERWRITE)));
        double s = (System.nanoTime() - t) / 1e9;
        out.line(String.format(Locale.ROOT, "match-images        ViT-B/32 shape, layers 8-11 × 12 heads (%d vectors), %d JPEGs 256×256: %.1f s (%.1f images/s), end to end incl. decoding, resizing and Parquet",
                r.vectors(), r.images(), s, r.images() / s));
    }

    /** Random low-frequency colour fields: compress like photographs, not like noise. */
    static BufferedImage smoothImage(Random rnd, int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        double[][] f = new double[3][6];
        for (double[] c : f) for (int k = 0; k < c.length; k++) c[k] = rnd.nextDouble() * 6;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = 0;
                for (int c = 0; c < 3; c++) {
                    double v = 128 + 60 * Math.sin(f[c][0] * x / w + f[c][1]) + 60 * Math.cos(f[c][2] * y / h + f[c][3])
                            + 7 * Math.sin(f[c][4] * (x + y) / 8.0);
                    rgb = (rgb << 8) | Math.max(0, Math.min(255, (int) v));
                }
                img.setRGB(x, y, rgb);
            }
        }
        return img;
    }

    private static float[] gauss(Random rnd, int n, double scale, double offset) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (offset + rnd.nextGaussian() * scale);
        return x;
    }
}
