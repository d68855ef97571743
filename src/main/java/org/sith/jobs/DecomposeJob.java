package org.sith.jobs;

import static org.apache.spark.sql.functions.col;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.coding.Method;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;

/**
 * `decompose`: every selected head's singular vectors explained by sparse codes over the concept
 * dictionary. Heads are sharded across tasks; the prepared dictionary is broadcast once. Work is done
 * in waves whose results are kept under `--out/.sith-work/` until the final outputs are committed, so a
 * killed run can be completed with --resume.
 */
public final class DecomposeJob {
    public static final String NAME = "decompose";
    public static final List<String> OUTPUTS = List.of("explanations", "singular_vectors");

    public record Params(String checkpoint, String concepts, String vocab, String imageMean, String layers,
                         Integer heads, Side side, Integer rank, Method method, double lambda, int k,
                         String modelName, String out, boolean overwrite, boolean resume, int batchRows)
            implements Serializable {}

    public record Result(int heads, int computedHeads, long vectors, String out) {}

    private DecomposeJob() {}

    public static Result run(SparkSession spark, Params p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Inputs.mustExist("checkpoint", p.checkpoint(), conf);
        OutputDir dir = OutputDir.prepare(p.out(), OUTPUTS, p.overwrite(), p.resume(), conf);
        RunRecord record = new RunRecord(NAME, spark).options(p);
        boolean chunksWritten = false;
        try {
            ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), conf, p.heads());
            int[] layers;
            int rank;
            int p3;
            JointSpace joint;
            try {
                layers = Inputs.layers(p.layers(), ck.layers(), p.checkpoint());
                rank = p.rank() == null ? ck.headDim() : p.rank();
                if (rank < 1 || rank > ck.headDim()) {
                    throw new UserInputException("--rank " + rank + " outside 1.." + ck.headDim() + " (the head width of " + p.checkpoint() + ")");
                }
                p3 = ck.projDim();
                double[] mean = p.imageMean() == null ? null : Inputs.imageMean(spark, p.imageMean(), p3);
                joint = new JointSpace(ck.lnPostWeight(), ck.lnPostBias(), ck.projection(), p3, mean);
            } finally {
                closeQuietly(ck);
            }
            ConceptDictionary dict = Inputs.dictionary(spark, NAME, p.concepts(), p.vocab(), p3, p.k());
            String model = p.modelName() != null ? p.modelName() : modelName(p.checkpoint());
            String dictLabel = dictionaryLabel(p.concepts(), dict);
            record.phase("prepare");

            record.input("checkpoint", p.checkpoint(), conf);
            record.input("concepts", p.concepts(), conf);
            if (p.vocab() != null) record.input("vocab", p.vocab(), conf);
            if (p.imageMean() != null) record.input("image_mean", p.imageMean(), conf);
            record.inputFingerprint("dictionary", dictLabel + " (" + dict.size() + " concepts, "
                    + dict.droppedDuplicates().size() + " duplicates dropped)", dict.fingerprint(), ConceptDictionary.FINGERPRINT);
            record.param("model", model).param("layers", layers).param("heads", ck.heads()).param("head_dim", ck.headDim())
                    .param("width", ck.width()).param("p", p3).param("layout", ck.layout().name().toLowerCase(Locale.ROOT))
                    .param("side", p.side().label()).param("rank", rank).param("method", Rows.methodLabel(p.method()))
                    .param("lambda", p.lambda()).param("k", p.k()).param("dictionary", dictLabel)
                    .param("batch_rows", p.batchRows());
            String key = paramKey(record);
            record.param("parameter_key", key);
            record.phase("fingerprint");

            Path work = new Path(dir.work(NAME), key);
            Set<Long> done = new TreeSet<>();
            List<String> chunks = new ArrayList<>();
            boolean existingFinal = p.resume() && dir.exists("explanations");
            if (p.resume()) {
                if (existingFinal) done.addAll(existingHeads(spark, dir, key));
                for (FileStatus st : dir.list(work)) {
                    Path c = st.getPath();
                    if (dir.list(c).length > 0 && dirHas(dir, new Path(c, "_SUCCESS"))) {
                        chunks.add(c.toString());
                    }
                }
                if (!chunks.isEmpty()) done.addAll(headKeys(spark.read().schema(Schemas.DECOMPOSED).parquet(chunks.toArray(new String[0]))));
            } else {
                dir.deleteWork(NAME);
            }

            List<long[]> missing = new ArrayList<>();
            for (int l : layers) {
                for (int h = 0; h < ck.heads(); h++) {
                    if (!done.contains(headKey(l, h))) missing.add(new long[] {l, h});
                }
            }
            int resumedChunks = chunks.size();
            int total = layers.length * ck.heads();
            if (p.resume()) System.err.printf("sith decompose: resuming, %d of %d heads already done%n", total - missing.size(), total);
            int headsPerBatch = Math.max(1, (p.batchRows() + rank - 1) / rank);
            List<HeadBatch> batches = batches(missing, headsPerBatch);

            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Broadcast<ConceptDictionary> dictB = jsc.broadcast(dict);
            Broadcast<JointSpace> jointB = jsc.broadcast(joint);
            LongAccumulator counter = spark.sparkContext().longAccumulator("heads");
            String[] phaseNames = {"read_and_svd", "joint_projection", "coding", "fidelity_residual", "task_setup"};
            LongAccumulator[] nanos = new LongAccumulator[phaseNames.length];
            for (int i = 0; i < nanos.length; i++) nanos[i] = spark.sparkContext().longAccumulator("nanos_" + phaseNames[i]);
            HeadTask task = new HeadTask(new Params(p.checkpoint(), p.concepts(), p.vocab(), p.imageMean(), p.layers(), p.heads(),
                    p.side(), rank, p.method(), p.lambda(), p.k(), model, p.out(), p.overwrite(), p.resume(), p.batchRows()),
                    new SerializableConf(conf), model, dictLabel, dictB, jointB, counter, nanos);

            int slots = Math.max(1, spark.sparkContext().defaultParallelism()
                    / Math.max(1, spark.sparkContext().getConf().getInt("spark.task.cpus", 1)));
            // Each wave is one Spark job writing one resumable chunk (about a second of overhead): at most
            // ~8 waves, each at least 4 batches per task slot.
            int wave = Math.max(4 * slots, (batches.size() + 7) / 8);
            try (Progress progress = new Progress("sith decompose", "heads", total, total - missing.size(), counter)) {
                for (int start = 0, w = chunks.size(); start < batches.size(); start += wave, w++) {
                    List<HeadBatch> slice = batches.subList(start, Math.min(batches.size(), start + wave));
                    JavaRDD<Row> rows = jsc.parallelize(slice, slice.size()).mapPartitions(task);
                    String chunk = new Path(work, String.format(Locale.ROOT, "chunk-%05d-%s", w, java.util.UUID.randomUUID().toString().substring(0, 8))).toString();
                    spark.createDataFrame(rows, Schemas.DECOMPOSED).write().parquet(chunk);
                    chunks.add(chunk);
                    chunksWritten = true;
                    injectFailure(w + 1 - resumedChunks);
                }
                progress.succeeded();
            }
            record.phase("explain");
            java.util.Map<String, Double> taskTimes = new java.util.LinkedHashMap<>();
            for (int i = 0; i < nanos.length; i++) taskTimes.put(phaseNames[i], Math.round(nanos[i].value() / 1e6) / 1e3);
            record.result("task_time_s", taskTimes);

            Dataset<Row> fresh = spark.read().schema(Schemas.DECOMPOSED).parquet(chunks.toArray(new String[0]));
            Dataset<Row> expl = fresh.select(Schemas.explanationColumns());
            Dataset<Row> sv = fresh.select(Schemas.singularVectorColumns());
            if (existingFinal) {
                expl = expl.unionByName(spark.read().parquet(dir.existing("explanations")).select(Schemas.explanationColumns()));
                sv = sv.unionByName(spark.read().parquet(dir.existing("singular_vectors")).select(col("model"), col("layer"), col("head"),
                        col("sv"), col("side"), col("sigma"), col("vector"), col("joint")));
            }
            writeExplanations(expl, dir.staged("explanations"), layers.length);
            sv.repartition(1).sortWithinPartitions("layer", "head", "sv").write().parquet(dir.staged("singular_vectors"));
            long vectors = (long) total * rank;
            record.result("heads", total).result("heads_computed", missing.size()).result("vectors", vectors)
                    .result("heads_resumed", total - missing.size()).result("chunks_resumed", resumedChunks)
                    .result("chunks_written", chunks.size() - resumedChunks);
            record.phase("write");
            dir.commit(record.toJson());
            dir.deleteWork(NAME);
            return new Result(total, missing.size(), vectors, dir.root().toString());
        } catch (Throwable e) { // Spark throws undeclared checked exceptions (SparkException) too
            boolean input = UserInputException.find(e) != null;
            boolean keep = chunksWritten && !input;
            waitForIdle(spark);
            dir.abort(NAME, keep);
            if (keep) System.err.println("sith decompose: finished work kept under " + dir.work(NAME) + "; rerun with --resume to complete it");
            throw e;
        }
    }

    /**
     * After a failed job, Spark may still be running (or killing) the failed stage's other tasks, which
     * would write into the output folder after it was cleaned. Wait until no task runs (bounded).
     */
    static void waitForIdle(SparkSession spark) {
        var tracker = spark.sparkContext().statusTracker();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            int running = 0;
            for (var e : tracker.getExecutorInfos()) running += e.numRunningTasks();
            if (running == 0 && tracker.getActiveStageIds().length == 0) return;
            try {
                Thread.sleep(100);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    static void closeQuietly(ClipCheckpoint ck) {
        try {
            ck.tensors().close();
        } catch (java.io.IOException e) {
            // read-only handle: nothing was written that a failed close could lose
        }
    }

    /**
     * Fault injection for the tests of --resume after a run that died half-way (a JVM kill cannot be
     * staged inside a unit test): the system property sith.test.failAfterWaves=N fails the run after
     * N waves were written.
     */
    private static void injectFailure(int wavesWritten) {
        String n = System.getProperty("sith.test.failAfterWaves");
        if (n != null && wavesWritten >= Integer.parseInt(n)) {
            throw new IllegalStateException("injected failure after " + wavesWritten + " waves (sith.test.failAfterWaves)");
        }
    }

    /** One file per layer folder, rows sorted: identical inputs give byte-identical files. */
    static void writeExplanations(Dataset<Row> expl, String path, int nLayers) {
        expl.repartition(Math.max(1, nLayers), col("layer")).sortWithinPartitions("layer", "head", "sv", "vector")
                .write().partitionBy("layer").parquet(path);
    }

    static List<HeadBatch> batches(List<long[]> heads, int perBatch) {
        List<HeadBatch> out = new ArrayList<>();
        for (int i = 0; i < heads.size(); i += perBatch) {
            int n = Math.min(perBatch, heads.size() - i);
            int[] l = new int[n];
            int[] h = new int[n];
            for (int j = 0; j < n; j++) {
                l[j] = (int) heads.get(i + j)[0];
                h[j] = (int) heads.get(i + j)[1];
            }
            out.add(new HeadBatch(l, h));
        }
        return out;
    }

    static long headKey(long layer, long head) {
        return layer * 100_000L + head;
    }

    static Set<Long> headKeys(Dataset<Row> df) {
        Set<Long> s = new TreeSet<>();
        for (Row r : df.select("layer", "head").distinct().collectAsList()) s.add(headKey(r.getInt(0), r.getInt(1)));
        return s;
    }

    private static Set<Long> existingHeads(SparkSession spark, OutputDir dir, String key) {
        Path run = new Path(dir.existing("explanations"), "_run.json");
        if (!dirHas(dir, run) || !dir.readText(run).contains("\"parameter_key\" : \"" + key + "\"")) {
            throw new UserInputException("--resume: " + dir.existing("explanations")
                    + " was made from other inputs or parameters (its _run.json parameter_key differs); use --overwrite to replace it");
        }
        Set<Long> s = headKeys(spark.read().parquet(dir.existing("explanations")));
        Set<Long> sv = headKeys(spark.read().parquet(dir.existing("singular_vectors")));
        s.retainAll(sv);
        return s;
    }

    private static boolean dirHas(OutputDir dir, Path p) {
        try {
            return dir.fs().exists(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Everything that decides the numbers: inputs' content and the parameters. */
    static String paramKey(RunRecord r) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            StringBuilder b = new StringBuilder();
            for (String role : new String[] {"checkpoint", "dictionary", "image_mean"}) b.append(role).append('=').append(r.inputSha(role)).append(';');
            for (var e : r.params().entrySet()) {
                // The layer selection and batch size do not change any head's numbers: --resume may extend the layers.
                if (e.getKey().equals("batch_rows") || e.getKey().equals("layers")) continue;
                Object v = e.getValue();
                b.append(e.getKey()).append('=').append(v instanceof int[] a ? java.util.Arrays.toString(a) : String.valueOf(v)).append(';');
            }
            return HexFormat.of().formatHex(md.digest(b.toString().getBytes(StandardCharsets.UTF_8))).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The checkpoint's file name, or its folder's when the file name is a generic one. */
    static String modelName(String checkpoint) {
        Path path = new Path(checkpoint);
        String name = path.getName().replaceAll("\\.safetensors$", "");
        Set<String> generic = Set.of("model", "pytorch_model", "open_clip_model", "open_clip_pytorch_model", "weights");
        if (generic.contains(name) && path.getParent() != null && !path.getParent().getName().isEmpty()) {
            return path.getParent().getName();
        }
        return name;
    }

    static String dictionaryLabel(String concepts, ConceptDictionary dict) {
        String name = new Path(concepts).getName().replaceAll("\\.npy$", "");
        return name + "@" + dict.fingerprint().substring(0, 12);
    }
}
