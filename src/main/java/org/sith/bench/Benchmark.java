package org.sith.bench;

import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.heads.HeadBasis;
import org.sith.heads.VoFactors;
import org.sith.inputs.ConceptsInput;
import org.sith.io.Npy;
import org.sith.jobs.DecomposeJob;
import org.sith.linalg.Gemm;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.LayerSpec;
import org.sith.run.OutputTarget;
import org.sith.run.WriteMode;

/**
 * Figures measured in one process, so ratios are meaningful on a shared machine: the sgemm roofline
 * through OpenBLAS, COMP throughput against it, head SVD time, and a full decompose of a
 * random ViT-L/14-shaped vision tower with a large dictionary.
 */
public final class Benchmark {
    private final int n;
    private final int p;
    private final int batch;
    private final PrintLine out;

    public interface PrintLine {
        void line(String s);
    }

    public Benchmark(int n, int p, int batch, PrintLine out) {
        this.n = n;
        this.p = p;
        this.batch = batch;
        this.out = out;
    }

    static float[] unitRows(Random rnd, int rows, int cols) {
        float[] a = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            double s = 0;
            for (int j = 0; j < cols; j++) {
                float v = (float) rnd.nextGaussian();
                a[i * cols + j] = v;
                s += v * v;
            }
            float inv = (float) (1 / Math.sqrt(s));
            for (int j = 0; j < cols; j++) a[i * cols + j] *= inv;
        }
        return a;
    }

    /** Best GFLOP/s of a batch×p · p×N product through OpenBLAS cblas_sgemm into a preallocated row-major block. */
    public double roofline(float[] dict) {
        Gemm.Matrix d = Gemm.matrix(dict, n, p);
        Gemm.Matrix x = Gemm.matrix(unitRows(new Random(2), batch, p), batch, p);
        Gemm.Matrix o = new Gemm.Matrix(batch, n);
        double best = 0;
        for (int r = 0; r < 6; r++) {
            long t = System.nanoTime();
            Gemm.sgemm(true, x.pointer(), p, d.pointer(), p, o.pointer(), n, batch, n, p);
            best = Math.max(best, 2.0 * batch * p * n / ((System.nanoTime() - t) / 1e9) / 1e9);
        }
        out.line(String.format(Locale.ROOT, "sgemm roofline      %d×%d · %d×%d (OpenBLAS cblas_sgemm): %.1f GFLOP/s", batch, p, p, n, best));
        return best;
    }

    /** Milliseconds per head for folding, centering, factored SVD (d=1024, d_h=64). */
    public double headSvd(int heads) {
        int d = 1024;
        int dh = 64;
        Random rnd = new Random(5);
        float[] value = new float[d * d];
        float[] outW = new float[d * d];
        float[] gamma = new float[d];
        for (int i = 0; i < value.length; i++) {
            value[i] = (float) rnd.nextGaussian();
            outW[i] = (float) rnd.nextGaussian();
        }
        java.util.Arrays.fill(gamma, 1f);
        for (int w = 0; w < 48; w++) HeadBasis.compute(VoFactors.of(0, w % 16, d, dh, value, outW, gamma, true), dh);
        long t = System.nanoTime();
        for (int h = 0; h < heads; h++) HeadBasis.compute(VoFactors.of(0, h % 16, d, dh, value, outW, gamma, true), dh);
        double ms = (System.nanoTime() - t) / 1e6 / heads;
        out.line(String.format(Locale.ROOT, "head SVD            d=%d, d_h=%d, from thin factors: %.1f ms per head", d, dh, ms));
        return ms;
    }

    /** Writes a random ViT-L/14-shaped vision tower (the tensors decompose reads) and an N×p dictionary. */
    public static Map<String, String> writeVitL(String dir, int concepts, int p, Configuration conf) throws Exception {
        int d = 1024;
        int layers = 24;
        Random rnd = new Random(11);
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        for (int l = 0; l < layers; l++) {
            String b = "visual.transformer.resblocks." + l + ".";
            t.put(b + "ln_1.weight", new TensorData("F32", new long[] {d}, gauss(rnd, d, 0.1, 1)));
            t.put(b + "ln_1.bias", new TensorData("F32", new long[] {d}, gauss(rnd, d, 0.1, 0)));
            t.put(b + "attn.in_proj_weight", new TensorData("F32", new long[] {3 * d, d}, gauss(rnd, 3 * d * d, 0.02, 0)));
            t.put(b + "attn.in_proj_bias", new TensorData("F32", new long[] {3 * d}, gauss(rnd, 3 * d, 0.01, 0)));
            t.put(b + "attn.out_proj.weight", new TensorData("F32", new long[] {d, d}, gauss(rnd, d * d, 0.02, 0)));
            t.put(b + "attn.out_proj.bias", new TensorData("F32", new long[] {d}, gauss(rnd, d, 0.01, 0)));
        }
        t.put("visual.ln_post.weight", new TensorData("F32", new long[] {d}, gauss(rnd, d, 0.1, 1)));
        t.put("visual.ln_post.bias", new TensorData("F32", new long[] {d}, gauss(rnd, d, 0.1, 0)));
        t.put("visual.proj", new TensorData("F32", new long[] {d, p}, gauss(rnd, d * p, 0.03, 0)));
        String ck = dir + "/vit-l-14-random.safetensors";
        SafeTensorsWriter.write(ck, conf, t, Map.of());
        Files.writeString(java.nio.file.Path.of(dir, "open_clip_config.json"),
                "{\"model_cfg\": {\"embed_dim\": " + p + ", \"vision_cfg\": {\"width\": 1024, \"layers\": 24, \"head_width\": 64, \"patch_size\": 14, \"image_size\": 224}}}\n");
        String npy = dir + "/concepts.npy";
        Npy.write(npy, conf, new long[] {concepts, p}, gauss(rnd, concepts * p, 1, 0));
        String vocab = dir + "/concepts.txt";
        try (BufferedWriter w = new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(java.nio.file.Path.of(vocab)), StandardCharsets.UTF_8))) {
            for (int i = 0; i < concepts; i++) w.write("concept " + i + "\n");
        }
        return Map.of("checkpoint", ck, "concepts", npy, "vocab", vocab);
    }

    private static float[] gauss(Random rnd, int n, double scale, double offset) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (offset + rnd.nextGaussian() * scale);
        return x;
    }

    /** Full decompose of the random ViT-L/14 tower on the given session; returns seconds. */
    public double decompose(SparkSession spark, String layers, String workDir) throws Exception {
        Map<String, String> in = writeVitL(workDir, n, p, spark.sparkContext().hadoopConfiguration());
        String outDir = workDir + "/out-" + layers.replace(':', '_');
        long t = System.nanoTime();
        DecomposeJob.Result r = DecomposeJob.run(spark, new DecomposeJob.Config(in.get("checkpoint"), new ConceptsInput(in.get("concepts"), in.get("vocab")),
                null, HeadSelection.DEFAULTS.withLayers(LayerSpec.parse(layers)), Coding.DEFAULTS.withBatchRows(batch), "vit-l-14-random",
                new OutputTarget(outDir, WriteMode.OVERWRITE)));
        double s = (System.nanoTime() - t) / 1e9;
        out.line(String.format(Locale.ROOT, "decompose           ViT-L/14 shape, layers %s: %d heads, %d vectors, %d concepts: %.1f s (%.0f vectors/s, end to end incl. Parquet)",
                layers, r.heads(), r.vectors(), n, s, r.vectors() / s));
        return s;
    }

    /**
     * Parts of the benchmark: "coding" (roofline, COMP, SVD), "decompose" (layers 20-23, then all), "decompose-paper"
     * (layers 20-23 only: the paper's setting), "mlp" (every MLP neuron of a ViT-L/14, then its VO maps), "text" (tower), "embed"
     * (job over vocab + bpe), "vision" (tower), "match" (match-images over matchImages JPEGs).
     */
    public static List<String> run(SparkSession spark, int n, int p, int batch, java.util.Set<String> suites, String workDir,
                                   String vocab, String bpe, int matchImages) throws Exception {
        List<String> lines = new ArrayList<>();
        Benchmark b = new Benchmark(n, p, batch, s -> {
            System.out.println(s);
            lines.add(s);
        });
        Gemm.setBlasThreads(Runtime.getRuntime().availableProcessors());
        b.out.line("machine             " + CodingBenchmark.machine());
        float[] dict = unitRows(new Random(1), n, p);
        double roof = b.roofline(dict);
        if (suites.contains("coding")) new CodingBenchmark(b.out, n, p, batch).run(dict, 4096, Coding.DEFAULT_K);
        dict = null;
        if (suites.contains("coding")) b.headSvd(64);
        if (suites.contains("text")) TextBenchmark.tower(4000, 512, roof, b.out);
        if (suites.contains("embed")) TextBenchmark.embedJob(spark, vocab, bpe, workDir, b.out);
        if (suites.contains("vision") || suites.contains("match")) {
            String b32 = ImageBenchmark.writeVitB32(workDir, spark.sparkContext().hadoopConfiguration());
            if (suites.contains("vision")) ImageBenchmark.tower(b32, 64, roof, b.out);
            if (suites.contains("match")) ImageBenchmark.matchImages(spark, b32, matchImages, workDir, b.out);
        }
        if (suites.contains("decompose") || suites.contains("decompose-paper")) b.decompose(spark, "20,21,22,23", workDir);
        if (suites.contains("decompose")) b.decompose(spark, "all", workDir);
        if (suites.contains("mlp")) MlpBenchmark.run(spark, n, p, batch, workDir, b.out);
        return lines;
    }
}
