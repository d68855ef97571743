package org.sith.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.sith.checkpoint.ClipText;
import org.sith.checkpoint.TensorData;
import org.sith.checkpoint.TensorMap;
import org.sith.linalg.Gemm;
import org.sith.model.TextTower;
import org.sith.model.Workspace;

/**
 * Text-tower throughput on a random tower of a real model's shape, against the sgemm roofline
 * measured in the same process: concepts per second, and the fraction of the roofline reached
 * counting the Linear layers' flops of the tokens actually run.
 */
public final class TextBenchmark {
    private TextBenchmark() {}

    /** Random weights in OpenCLIP naming: width, layers, heads, projection p, 49,408 tokens, 77 positions. */
    public static LinkedHashMap<String, TensorData> randomTextTower(long seed, int width, int layers, int p) {
        Random rnd = new Random(seed);
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        int v = 49408;
        int ctx = 77;
        t.put("token_embedding.weight", TensorData.f32(gauss(rnd, v * width, 0.02), v, width));
        t.put("positional_embedding", TensorData.f32(gauss(rnd, ctx * width, 0.01), ctx, width));
        for (int l = 0; l < layers; l++) {
            String b = "transformer.resblocks." + l + ".";
            t.put(b + "ln_1.weight", TensorData.f32(ones(width), width));
            t.put(b + "ln_1.bias", TensorData.f32(new float[width], width));
            t.put(b + "attn.in_proj_weight", TensorData.f32(gauss(rnd, 3 * width * width, 0.02), 3L * width, width));
            t.put(b + "attn.in_proj_bias", TensorData.f32(new float[3 * width], 3L * width));
            t.put(b + "attn.out_proj.weight", TensorData.f32(gauss(rnd, width * width, 0.02), width, width));
            t.put(b + "attn.out_proj.bias", TensorData.f32(new float[width], width));
            t.put(b + "ln_2.weight", TensorData.f32(ones(width), width));
            t.put(b + "ln_2.bias", TensorData.f32(new float[width], width));
            t.put(b + "mlp.c_fc.weight", TensorData.f32(gauss(rnd, 4 * width * width, 0.02), 4L * width, width));
            t.put(b + "mlp.c_fc.bias", TensorData.f32(new float[4 * width], 4L * width));
            t.put(b + "mlp.c_proj.weight", TensorData.f32(gauss(rnd, 4 * width * width, 0.02), width, 4L * width));
            t.put(b + "mlp.c_proj.bias", TensorData.f32(new float[width], width));
        }
        t.put("ln_final.weight", TensorData.f32(ones(width), width));
        t.put("ln_final.bias", TensorData.f32(new float[width], width));
        t.put("text_projection", TensorData.f32(gauss(rnd, width * p, 0.02), width, p));
        return t;
    }

    /** Synthetic token sequences with the length profile of a word vocabulary: SOT, 1–5 tokens, EOT. */
    public static List<int[]> sequences(int n, long seed) {
        Random rnd = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 1 + Math.min(4, (int) Math.abs(rnd.nextGaussian() * 1.5));
            int[] s = new int[len + 2];
            s[0] = 49406;
            for (int j = 1; j <= len; j++) s[j] = rnd.nextInt(49406);
            s[len + 1] = 49407;
            out.add(s);
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        int width = 512;
        int layers = 12;
        int heads = 8;
        int p = 512;
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 4000;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        TextTower tower = TextTower.load(ClipText.of(new TensorMap("random ViT-B/32 text tower",
                randomTextTower(1, width, layers, p)), heads, "quick_gelu"));
        List<int[]> seqs = sequences(n, 2);
        long tokens = 0;
        for (int[] s : seqs) tokens += s.length;
        Benchmark b = new Benchmark(20000, 768, 512, System.out::println);
        double roof = b.roofline(Benchmark.unitRows(new Random(1), 20000, 768));
        for (int threads : new int[] {1, 2}) {
            Gemm.setBlasThreads(threads == 1 ? Runtime.getRuntime().availableProcessors() : 1);
            tower.embed(seqs.subList(0, Math.min(200, n)), batch, new Workspace()); // warm-up
            long t0 = System.nanoTime();
            Thread[] ts = new Thread[threads];
            for (int k = 0; k < threads; k++) {
                List<int[]> part = seqs.subList(k * n / threads, (k + 1) * n / threads);
                ts[k] = new Thread(() -> tower.embed(part, batch, new Workspace()));
                ts[k].start();
            }
            for (Thread th : ts) th.join();
            double s = (System.nanoTime() - t0) / 1e9;
            double gflops = (tokens * tower.flopsPerToken() + n * tower.projectionFlops()) / s / 1e9;
            System.out.printf(Locale.ROOT, "text tower %s: %d concepts (%.1f tokens each), %d rows/batch: %.2f s, %.0f concepts/s, %.1f GFLOP/s = %.0f %% of roofline%n",
                    threads == 1 ? "1 thread × all BLAS threads" : threads + " threads × 1 BLAS thread",
                    n, (double) tokens / n, batch, s, n / s, gflops, 100 * gflops / roof);
        }
    }

    private static float[] gauss(Random rnd, int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * std);
        return a;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }
}
