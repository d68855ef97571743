package org.sith.bench;

import java.io.BufferedWriter;
import java.io.File;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.heads.Component;
import org.sith.heads.TowerKind;
import org.sith.heads.TowerSource;
import org.sith.inputs.ConceptsInput;
import org.sith.io.Npy;
import org.sith.jobs.DecomposeJob;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.LayerSpec;
import org.sith.run.OutputTarget;
import org.sith.run.WriteMode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The mlp suite: `decompose --component mlp` of every MLP neuron of a random ViT-L/14-shaped vision tower (24 layers ×
 * 4096 = 98,304 neurons) against an N-concept dictionary through {@link DecomposeJob} on the session's Spark, then
 * the VO decompose of the same model (24 × 16 heads × 64 = 24,576 vectors) for comparison, each with the figures
 * its `_run.json` records (phase timings, task time per phase, scoring path, rows per product).
 */
final class MlpBenchmark {
    /** The shape of the tower: OpenCLIP ViT-L/14. */
    static final int WIDTH = 1024;
    static final int LAYERS = 24;
    static final int HEADS = 16;
    static final int HIDDEN = 4 * WIDTH;
    static final int PATCH = 14;
    static final int IMAGE = 224;

    private static final ObjectMapper JSON = new ObjectMapper();

    private MlpBenchmark() {}

    /** The suite; p is the joint space's width, n the dictionary's size, batch the rows per product. */
    static void run(SparkSession spark, int n, int p, int batch, String workDir, Benchmark.PrintLine out) throws Exception {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        String dir = workDir + "/vit-l-14-mlp";
        Files.createDirectories(Path.of(dir));
        long t0 = System.nanoTime();
        boolean reused = Files.exists(Path.of(dir, "open_clip_model.safetensors"));
        String checkpoint = writeTower(dir, p, conf);
        out.line(String.format(Locale.ROOT, "mlp model           random ViT-L/14 vision tower (width %d, %d layers, %d heads, MLP %d, patch %d, image %d, p=%d), "
                + "OpenCLIP names, F32 safetensors, %d MB: %s",
                WIDTH, LAYERS, HEADS, HIDDEN, PATCH, IMAGE, p, new File(checkpoint).length() >> 20,
                reused ? "reused " + checkpoint : String.format(Locale.ROOT, "written to %s in %.1f s", checkpoint, (System.nanoTime() - t0) / 1e9)));
        Dictionary dict = dictionary(dir, n, p, conf);
        out.line("mlp dictionary      " + dict.what());
        ConceptsInput concepts = new ConceptsInput(dict.npy(), dict.vocab());

        // one layer's VO (1,024 vectors) first, untimed: Spark's first jobs and the JIT warm up before either timed run
        decompose(spark, checkpoint, concepts, Component.VO, "23", batch, dir + "/out-warmup");
        Run mlp = decompose(spark, checkpoint, concepts, Component.MLP, "all", batch, dir + "/out-mlp");
        print(out, "mlp decompose", "neurons", n, mlp);
        Run vo = decompose(spark, checkpoint, concepts, Component.VO, "all", batch, dir + "/out-vo");
        print(out, "vo decompose", "VO vectors", n, vo);
        out.line(String.format(Locale.ROOT, "mlp / vo            per-vector rate %.2f× (%.0f neurons/s vs %.0f VO vectors/s, same process, MLP run first)",
                mlp.rate() / vo.rate(), mlp.rate(), vo.rate()));
    }

    /** One decompose run: its vectors, wall seconds, `_run.json` and the blocks its tasks read in this JVM. */
    record Run(long vectors, int units, double seconds, JsonNode record, int blockReads) {
        double rate() {
            return vectors / seconds;
        }
    }

    static Run decompose(SparkSession spark, String checkpoint, ConceptsInput concepts, Component component, String layers, int batch, String outDir) {
        DecomposeJob.Config c = new DecomposeJob.Config(checkpoint, concepts, null, HeadSelection.DEFAULTS.withLayers(LayerSpec.parse(layers)),
                Coding.DEFAULTS.withBatchRows(batch), "vit-l-14-random", new OutputTarget(outDir, WriteMode.OVERWRITE), TowerKind.VISION,
                List.of(component), null);
        int reads = TowerSource.sharedReads();
        long t = System.nanoTime();
        DecomposeJob.Result r = DecomposeJob.run(spark, c);
        double s = (System.nanoTime() - t) / 1e9;
        reads = TowerSource.sharedReads() - reads;
        JsonNode record;
        try {
            record = JSON.readTree(new File(outDir, "_run.json"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return new Run(r.vectors(), r.heads(), s, record, reads);
    }

    private static void print(Benchmark.PrintLine out, String label, String what, int concepts, Run r) {
        JsonNode res = r.record().path("results");
        double rows = res.path("rows_per_product").asDouble(0);
        out.line(String.format(Locale.ROOT, "%-19s all %d layers: %d %s (%d units), %d concepts, K=%d: %.1f s wall, %.0f %s/s, end to end incl. Parquet",
                label, LAYERS, r.vectors(), what, r.units(), concepts, Coding.DEFAULT_K, r.seconds(), r.rate(), what));
        out.line(String.format(Locale.ROOT, "                    _run.json timings_s: %s", pairs(r.record().path("timings_s"))));
        out.line(String.format(Locale.ROOT, "                    task_time_s (summed over tasks): %s", pairs(res.path("task_time_s"))));
        if (r.blockReads() > 0) {
            // (counted in this JVM: the embedded run's executor; 0 when the executors run elsewhere, and not printed)
            out.line(String.format(Locale.ROOT, "                    block reads by the tasks: %d whole blocks for %d units (shared per executor JVM)",
                    r.blockReads(), r.units()));
        }
        out.line(String.format(Locale.ROOT, "                    scoring path %s, %d products, %.1f rows per product (%s 512), re-scored %.2f atoms per choice",
                res.path("scoring_path").asText("?"), res.path("coding_products").asLong(), rows, rows >= 512 ? "≥" : "BELOW",
                res.path("rescored_per_choice").asDouble(Double.NaN)));
    }

    private static String pairs(JsonNode obj) {
        StringBuilder b = new StringBuilder();
        obj.fields().forEachRemaining(e -> {
            if (b.length() > 0) b.append(", ");
            b.append(e.getKey()).append(' ').append(String.format(Locale.ROOT, "%.1f", e.getValue().asDouble()));
        });
        return b.toString();
    }

    /**
     * The random tower under dir (open_clip_model.safetensors and open_clip_config.json), written once: a complete
     * file is only ever moved into place, so one that is there is reused.
     */
    static String writeTower(String dir, int p, Configuration conf) throws Exception {
        Path ck = Path.of(dir, "open_clip_model.safetensors");
        Path cfg = Path.of(dir, "open_clip_config.json");
        Files.writeString(cfg, "{\"model_cfg\": {\"embed_dim\": " + p + ", \"vision_cfg\": {\"width\": " + WIDTH + ", \"layers\": " + LAYERS
                + ", \"head_width\": 64, \"mlp_ratio\": 4.0, \"patch_size\": " + PATCH + ", \"image_size\": " + IMAGE + "}}}\n");
        if (Files.exists(ck)) return ck.toString();
        int d = WIDTH;
        int tokens = 1 + (IMAGE / PATCH) * (IMAGE / PATCH);
        SplittableRandom rnd = new SplittableRandom(31);
        LinkedHashMap<String, TensorData> t = RandomVision.tensors(d, LAYERS, PATCH, tokens, HIDDEN, p, 0.02, (n, std, offset) -> uniform(rnd, n, std, offset));
        Path tmp = Path.of(dir, "open_clip_model.safetensors.partial");
        SafeTensorsWriter.write(tmp.toString(), conf, t, Map.of());
        Files.move(tmp, ck, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return ck.toString();
    }

    /** Uniform values of the given standard deviation around offset (the distribution of random weights does not matter here; speed does). */
    private static float[] uniform(SplittableRandom rnd, int n, double std, double offset) {
        double half = std * Math.sqrt(3);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (offset + (2 * rnd.nextDouble() - 1) * half);
        return x;
    }

    /** The dictionary's .npy and vocabulary, and what it is. */
    record Dictionary(String npy, String vocab, String what) {}

    /**
     * A p-wide set of at least n real CLIP text embeddings from the shared data folder ({@code -Dsith.shared.data},
     * default ../shared/data: its embeddings/*.npy, rows or columns), when there is one; else n random unit rows.
     */
    static Dictionary dictionary(String dir, int n, int p, Configuration conf) throws Exception {
        String shared = System.getProperty("sith.shared.data", "../shared/data");
        File[] files = new File(shared, "embeddings").listFiles((f, name) -> name.endsWith(".npy"));
        StringBuilder seen = new StringBuilder();
        if (files != null) {
            java.util.Arrays.sort(files);
            for (File f : files) {
                long[] shape;
                try {
                    shape = Npy.openRows("embeddings", f.getPath(), conf, 2).shape();
                } catch (RuntimeException e) {
                    continue;
                }
                if (shape.length != 2) continue;
                seen.append(seen.length() == 0 ? "" : ", ").append(f.getName()).append(' ').append(shape[0]).append('×').append(shape[1]);
                boolean rows = shape[1] == p && shape[0] >= n;
                boolean cols = shape[0] == p && shape[1] >= n;
                if (!rows && !cols) continue;
                Npy.NpyArray a = Npy.read(f.getPath(), conf);
                float[] e = new float[n * p];
                float[] v = a.data();
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < p; j++) e[i * p + j] = rows ? v[i * p + j] : v[j * (int) shape[1] + i];
                }
                String npy = dir + "/concepts-real.npy";
                Npy.write(npy, conf, new long[] {n, p}, e);
                String vocab = writeVocab(dir + "/concepts-real.txt", n);
                return new Dictionary(npy, vocab, String.format(Locale.ROOT, "%d real CLIP text embeddings, p=%d, the first rows of %s", n, p, f));
            }
        }
        String npy = dir + "/concepts-random-" + n + "x" + p + ".npy";
        if (!new File(npy).isFile()) {
            Npy.write(npy + ".partial", conf, new long[] {n, p}, Benchmark.unitRows(new java.util.Random(41), n, p));
            Files.move(Path.of(npy + ".partial"), Path.of(npy), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        String vocab = writeVocab(dir + "/concepts-random-" + n + ".txt", n);
        return new Dictionary(npy, vocab, String.format(Locale.ROOT, "%d random unit rows, p=%d (no real p=%d set of ≥ %d rows in %s%s)", n, p, p, n,
                new File(shared, "embeddings"), seen.length() == 0 ? "" : ": " + seen));
    }

    private static String writeVocab(String path, int n) throws java.io.IOException {
        try (BufferedWriter w = new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(Path.of(path)), StandardCharsets.UTF_8))) {
            for (int i = 0; i < n; i++) w.write("concept " + i + "\n");
        }
        return path;
    }
}
