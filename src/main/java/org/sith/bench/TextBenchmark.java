package org.sith.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sith.checkpoint.ClipText;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.checkpoint.TensorMap;
import org.sith.jobs.EmbedConceptsJob;
import org.sith.linalg.Gemm;
import org.sith.linalg.OneDnn;
import org.sith.model.TextTower;
import org.sith.model.TowerPrecision;
import org.sith.model.Workspace;
import org.sith.run.OutputTarget;
import org.sith.run.WriteMode;

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

    /**
     * Concepts per second through a random ViT-B/32-shaped text tower (width 512, 12 layers, 8
     * heads, p=512), as one thread with all BLAS threads and as one single-BLAS-thread worker per
     * core (how Spark tasks run it); prints the fraction of the roofline each reaches. Then the same
     * tower with --tower-precision bf16 (oneDNN) in the same process: its rate, the speed-up over f32,
     * and the error of its embeddings against f32's (1 − cosine, max and mean over the concepts).
     */
    public static void tower(int n, int batchTokens, double roofline, Benchmark.PrintLine out) throws InterruptedException {
        ClipText text = ClipText.of(new TensorMap("random ViT-B/32 text tower", randomTextTower(1, 512, 12, 512)), 8, "quick_gelu");
        TextTower tower = TextTower.load(text);
        String why = OneDnn.unavailable();
        TextTower bf16 = why == null ? TextTower.load(text, TowerPrecision.BF16) : null;
        List<int[]> seqs = sequences(n, 2);
        long tokens = 0;
        for (int[] s : seqs) tokens += s.length;
        int cores = Runtime.getRuntime().availableProcessors();
        for (int threads : cores > 1 ? new int[] {1, cores} : new int[] {1}) {
            Gemm.setBlasThreads(threads == 1 ? cores : 1);
            String how = threads == 1 ? "1 thread × " + cores + " BLAS threads" : threads + " threads × 1 BLAS thread";
            float[][] want = new float[n][];
            double s = timed(tower, seqs, threads, batchTokens, want);
            double gflops = (tokens * tower.flopsPerToken() + n * tower.projectionFlops()) / s / 1e9;
            out.line(String.format(Locale.ROOT, "text tower          ViT-B/32 shape, %s: %d concepts of %.1f tokens, %d rows/product: %.0f concepts/s, %.1f GFLOP/s = %.0f %% of roofline",
                    how, n, (double) tokens / n, batchTokens, n / s, gflops, 100 * gflops / roofline));
            if (bf16 == null) {
                out.line("text tower bf16     not run: oneDNN cannot run here (" + why + ")");
                continue;
            }
            float[][] got = new float[n][];
            double sb = timed(bf16, seqs, threads, batchTokens, got);
            out.line(String.format(Locale.ROOT, "text tower bf16     ViT-B/32 shape, %s, oneDNN %s: %.0f concepts/s = %.2f× f32 (same process); "
                    + "embedding error vs f32 1−cos max %.1e, mean %.1e; ISA %s",
                    how, ompThreads(), n / sb, s / sb, maxOneMinusCos(want, got), meanOneMinusCos(want, got), OneDnn.isaName()));
        }
        Gemm.setBlasThreads(cores);
    }

    /** Seconds to embed {@code seqs} split over {@code threads} threads (after a warm-up), the embeddings into {@code into}. */
    private static double timed(TextTower tower, List<int[]> seqs, int threads, int batchTokens, float[][] into) throws InterruptedException {
        int n = seqs.size();
        tower.embed(seqs.subList(0, Math.min(200, n)), batchTokens, new Workspace()); // warm-up
        long t0 = System.nanoTime();
        Thread[] ts = new Thread[threads];
        for (int k = 0; k < threads; k++) {
            int from = k * n / threads;
            List<int[]> part = seqs.subList(from, (k + 1) * n / threads);
            ts[k] = new Thread(() -> {
                float[][] e = tower.embed(part, batchTokens, new Workspace());
                System.arraycopy(e, 0, into, from, e.length);
            });
            ts[k].start();
        }
        for (Thread th : ts) th.join();
        return (System.nanoTime() - t0) / 1e9;
    }

    /** oneDNN's thread team as OpenMP sets it: OMP_NUM_THREADS, else every core. */
    static String ompThreads() {
        String omp = System.getenv("OMP_NUM_THREADS");
        return "OMP_NUM_THREADS=" + (omp == null ? "unset (" + Runtime.getRuntime().availableProcessors() + " cores)" : omp);
    }

    static double oneMinusCos(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return 1 - ab / Math.sqrt(aa * bb);
    }

    static double maxOneMinusCos(float[][] a, float[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, oneMinusCos(a[i], b[i]));
        return m;
    }

    static double meanOneMinusCos(float[][] a, float[][] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += oneMinusCos(a[i], b[i]);
        return s / a.length;
    }

    /** Writes a random text-only ViT-B/32-shaped checkpoint (F32, OpenCLIP naming, QuickGELU config). */
    public static String writeTextCheckpoint(String dir, Configuration conf) throws java.io.IOException {
        String ck = dir + "/vit-b-32-text-random.safetensors";
        SafeTensorsWriter.write(ck, conf, randomTextTower(1, 512, 12, 512), java.util.Map.of());
        java.nio.file.Files.writeString(java.nio.file.Path.of(dir, "open_clip_config.json"),
                "{\"model_cfg\": {\"embed_dim\": 512, \"quick_gelu\": true, \"text_cfg\": {\"width\": 512, \"heads\": 8, \"layers\": 12, \"context_length\": 77}}}\n");
        return ck;
    }

    /** The whole embed-concepts job over a real vocabulary and tokenizer on the given session. */
    public static void embedJob(SparkSession spark, String vocab, String bpe, String workDir, Benchmark.PrintLine out) throws Exception {
        String ck = writeTextCheckpoint(workDir, spark.sparkContext().hadoopConfiguration());
        long t = System.nanoTime();
        EmbedConceptsJob.Result r = EmbedConceptsJob.run(spark, EmbedConceptsJob.Config.of(ck, vocab, bpe,
                new OutputTarget(workDir + "/out-embed", WriteMode.OVERWRITE)));
        double s = (System.nanoTime() - t) / 1e9;
        out.line(String.format(Locale.ROOT, "embed-concepts      ViT-B/32 text shape, %s: %d concepts in %.1f s (%.0f concepts/s; 50,000 would take %.1f min), end to end incl. tokenizing and Parquet",
                new org.apache.hadoop.fs.Path(vocab).getName(), r.embedded(), s, r.embedded() / s, 50000 / (r.embedded() / s) / 60));
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
