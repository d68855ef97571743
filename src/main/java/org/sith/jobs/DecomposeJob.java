package org.sith.jobs;

import static org.apache.spark.sql.functions.col;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.Future;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.executor.CodingContext;
import org.sith.executor.HeadTask;
import org.sith.executor.UnitBatch;
import org.sith.executor.SerializableConf;
import org.sith.heads.Component;
import org.sith.heads.TowerKind;
import org.sith.heads.TowerSource;
import org.sith.heads.WorkUnit;
import org.sith.heads.JointSpace;
import org.sith.inputs.ConceptsInput;
import org.sith.inputs.ImageMeans;
import org.sith.inputs.Paths;
import org.sith.run.Background;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.RunRecord;
import org.sith.run.Schemas;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * `decompose`: every selected head's singular vectors explained by sparse codes over the concept
 * dictionary. Heads are sharded across tasks; the prepared dictionary is broadcast once. Work is done
 * in waves whose results are kept under `--out/.sith-work/` until the final outputs are committed, so a
 * killed run can be completed with --resume.
 */
public final class DecomposeJob {
    public static final String NAME = "decompose";
    public static final List<String> OUTPUTS = List.of("explanations", "singular_vectors");
    /** How the folders of finished waves under the work folder are named (rows of {@link Schemas#DECOMPOSED}). */
    static final String CHUNK = "chunk-b-";

    /** The options of decompose, typed and checked. */
    public record Config(String checkpoint, ConceptsInput concepts, String imageMean, HeadSelection heads, Coding coding,
                        String modelName, OutputTarget out, TowerKind tower, List<Component> components, ExplainJob.Center center)
            implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("decompose needs --checkpoint");
            if (concepts == null) throw new UserInputException("decompose needs --concepts");
            if (heads == null) heads = HeadSelection.DEFAULTS;
            if (coding == null) coding = Coding.DEFAULTS;
            if (out == null) throw new UserInputException("decompose needs --out");
            if (tower == null) tower = TowerKind.VISION;
            if (components == null || components.isEmpty()) components = List.of(Component.VO);
            components = List.copyOf(components);
            center = targetCentering(tower, imageMean, center);
        }

        /** The paper's setting: the vision tower's VO maps. */
        public Config(String checkpoint, ConceptsInput concepts, String imageMean, HeadSelection heads, Coding coding, String modelName, OutputTarget out) {
            this(checkpoint, concepts, imageMean, heads, coding, modelName, out, null, null, null);
        }

        /** Whether the outputs carry the `tower` and `component` columns: every setting but the paper's (vision VO). */
        public boolean kinds() {
            return tower != TowerKind.VISION || !components.equals(List.of(Component.VO));
        }
    }

    /**
     * What a run did: its units ({@code heads} — a head's VO map or QK circuit, or a block of 256 MLP neurons — and how many
     * were computed rather than resumed), the vectors explained, the output root, and what the units are called ("heads" when
     * only VO maps were explained, else "units").
     */
    public record Result(int heads, int computedHeads, long vectors, String out, String unitName) {}

    /**
     * How a tower's coding targets are centered (SPEC §3b): the vision tower's with --image-mean (no --center), the text
     * tower's with the concept mean unless --center none (no --image-mean). Returns the text tower's centering, null for vision.
     */
    static ExplainJob.Center targetCentering(TowerKind tower, String imageMean, ExplainJob.Center center) {
        if (tower == TowerKind.TEXT && imageMean != null) {
            throw new UserInputException("--image-mean applies to the vision tower; --tower text centers its targets with the concept mean (--center concepts|none)");
        }
        if (tower == TowerKind.VISION && center != null) {
            throw new UserInputException("--center applies to --tower text; the vision tower's targets are centered with --image-mean");
        }
        return tower == TowerKind.TEXT && center == null ? ExplainJob.Center.CONCEPTS : center;
    }

    private DecomposeJob() {}

    /**
     * The checks that need the checkpoint's header but no Spark: layers and rank against the model. Once they pass,
     * starts the {@link HeadStart} that {@link #run(SparkSession, Config, HeadStart)} takes (the caller closes it).
     */
    public static HeadStart preflight(Config c, org.apache.hadoop.conf.Configuration conf) {
        Paths.mustExist("checkpoint", c.checkpoint(), conf);
        try (TowerSource ck = TowerSource.open(c.tower(), c.checkpoint(), conf, c.heads().heads())) {
            c.heads().resolve(ck.layers(), ck.heads(), ck.headDim(), ck.path());
            float[] projection = ck.projection();
            int d = ck.width();
            int p = ck.projDim();
            Background bg = Background.start("sith-decompose");
            return new HeadStart(bg, bg.submit(() -> JointSpace.pseudoInverse(projection, d, p)), c, conf);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Driver work that needs the inputs but no Spark, started as soon as they are known (by {@link #preflight}, so
     * that it runs while Spark starts; else when the run starts) beside the main thread, whose preparation of the
     * dictionary is single-threaded while the executors idle: the pseudo-inverse of the model's projection (a
     * dense SVD, a second or two) and the fingerprints of the checkpoint and dictionary files (each read in full).
     * Its thread then writes singular_vectors/ while the main thread writes explanations/. Closing it cancels what
     * is left.
     */
    public static final class HeadStart implements AutoCloseable {
        private final Background bg;
        private final Future<float[]> pinv; // null: started when the run has read the projection
        private final Future<RunRecord.Taken> checkpoint;
        private final Future<RunRecord.Taken> concepts;
        private final Future<RunRecord.Taken> vocab;
        private final Future<RunRecord.Taken> imageMean;

        HeadStart(Background bg, Future<float[]> pinv, Config c, org.apache.hadoop.conf.Configuration conf) {
            this.bg = bg;
            this.pinv = pinv;
            this.checkpoint = bg.submit(RunRecord.checkpointPrint(c.checkpoint(), conf));
            this.concepts = bg.submit(RunRecord.inputPrint(c.concepts().concepts(), conf));
            this.vocab = c.concepts().vocab() == null ? null : bg.submit(RunRecord.inputPrint(c.concepts().vocab(), conf));
            this.imageMean = c.imageMean() == null ? null : bg.submit(RunRecord.inputPrint(c.imageMean(), conf));
        }

        /** Hands the fingerprints to the run's record: its checkpoint() and input() calls take them. */
        void ahead(RunRecord record, Config c) {
            record.checkpointAhead(c.checkpoint(), checkpoint).inputAhead(c.concepts().concepts(), concepts);
            if (vocab != null) record.inputAhead(c.concepts().vocab(), vocab);
            if (imageMean != null) record.inputAhead(c.imageMean(), imageMean);
        }

        @Override
        public void close() {
            bg.close();
        }
    }

    /** As {@link #run(SparkSession, Config, HeadStart)}, starting its own head start. */
    public static Result run(SparkSession spark, Config c) {
        return run(spark, c, null);
    }

    /** The command line ran {@link #preflight} already; the run resolves the same selection against the model it opens. */
    public static Result run(SparkSession spark, Config c, HeadStart head) {
        org.apache.hadoop.conf.Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("checkpoint", c.checkpoint(), conf);
        try (HeadStart h = head != null ? head : new HeadStart(Background.start("sith-decompose"), null, c, conf)) {
            return JobRun.run(spark, NAME, c.out(), OUTPUTS, true, c, run -> decompose(run, c, h));
        }
    }

    private static Result decompose(JobRun run, Config c, HeadStart head) {
        SparkSession spark = run.spark();
        RunRecord record = run.record();
        head.ahead(record, c);
        TowerRead t;
        try (TowerSource ck = TowerSource.open(c.tower(), c.checkpoint(), run.hadoopConf(), c.heads().heads())) {
            t = TowerRead.of(ck, c.heads(), c.components());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        HeadSelection.Resolved sel = t.sel();
        int[] mlpWidths = t.mlpWidths();
        Future<float[]> pinv = head.pinv != null ? head.pinv : head.bg.submit(() -> JointSpace.pseudoInverse(t.projection(), t.width(), t.p()));
        double[] imageMean = c.imageMean() == null ? null : ImageMeans.read(spark, c.imageMean(), t.p());
        String model = ModelName.of(c.checkpoint(), c.modelName());
        t.record(record, model, c.heads().side());
        if (c.kinds()) {
            // (not recorded for the paper's setting, whose parameter_key stays what earlier outputs carry)
            record.param("tower", c.tower().label()).param("component", Component.label(c.components()));
            if (c.tower() == TowerKind.TEXT) record.param("center", c.center().name().toLowerCase(Locale.ROOT));
        }
        CodingContext coding = CodingContext.prepare(run, c.concepts(), t.p(), c.coding());
        JointSpace joint = t.joint(Background.await(pinv), c.tower(), c.center(), imageMean, coding.dictionary());
        run.phase("prepare");

        record.checkpoint("checkpoint", c.checkpoint(), run.hadoopConf());
        coding.record(run, c.imageMean());
        String key = parameterKey(record);
        record.param("parameter_key", key);
        run.phase("fingerprint");

        // --resume: the heads already in the outputs and in finished chunks of a run that died
        Path work = new Path(run.work(), key);
        Set<WorkUnit> done = new TreeSet<>();
        List<String> chunks = new ArrayList<>();
        boolean existingFinal = run.target().resume() && run.exists("explanations");
        if (run.target().resume()) {
            if (existingFinal) done.addAll(existingHeads(run, key));
            for (FileStatus st : run.list(work)) {
                Path chunk = st.getPath();
                // (a chunk of another layout, from an older version, is not read: its heads are computed again)
                if (chunk.getName().startsWith(CHUNK) && run.list(chunk).length > 0 && run.exists(new Path(chunk, "_SUCCESS"))) {
                    chunks.add(chunk.toString());
                }
            }
            if (!chunks.isEmpty()) done.addAll(unitIds(spark.read().schema(Schemas.DECOMPOSED).parquet(chunks.toArray(new String[0]))));
        } else {
            run.deleteWork();
        }
        List<WorkUnit> all = WorkUnit.all(sel.layers(), c.components(), sel.heads(), mlpWidths);
        List<WorkUnit> missing = new ArrayList<>();
        for (WorkUnit u : all) if (!done.contains(u)) missing.add(u);
        int resumedChunks = chunks.size();
        int total = all.size();
        String unitName = WorkUnit.plural(c.components());
        if (run.target().resume()) System.err.printf("sith decompose: resuming, %d of %d %s already done%n", total - missing.size(), total, unitName);
        java.util.function.ToIntFunction<WorkUnit> rowsOf = u -> u.rows(sel.rank(), mlpWidths[u.layer()]);
        List<UnitBatch> batches = UnitBatch.of(missing, c.coding().batchRows(), rowsOf);

        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<JointSpace> jointB = jsc.broadcast(joint);
        HeadTask.Counters counters = counters(spark);
        HeadTask task = new HeadTask(new HeadTask.Settings(c.checkpoint(), c.heads().heads(), c.heads().side(), sel.rank(), model, c.tower()),
                new SerializableConf(run.hadoopConf()), coding, jointB, counters);
        int slots = Math.max(1, spark.sparkContext().defaultParallelism() / Math.max(1, spark.sparkContext().getConf().getInt("spark.task.cpus", 1)));
        // Each wave is one Spark job writing one resumable chunk (about a second of overhead): at most
        // ~8 waves, each at least 4 batches per task slot.
        int wave = Math.max(4 * slots, (batches.size() + 7) / 8);
        try (Progress progress = new Progress("sith decompose", unitName, total, total - missing.size(), counters.heads())) {
            for (int start = 0, w = chunks.size(); start < batches.size(); start += wave, w++) {
                List<UnitBatch> slice = batches.subList(start, Math.min(batches.size(), start + wave));
                JavaRDD<Row> rows = jsc.parallelize(slice, slice.size()).mapPartitions(task);
                String chunk = new Path(work, String.format(Locale.ROOT, CHUNK + "%05d-%s", w, UUID.randomUUID().toString().substring(0, 8))).toString();
                // A chunk is work in progress, read back only by this command: its values are written plain, without
                // Parquet's attempt at a dictionary of them (of the vectors' bytes, each distinct).
                spark.createDataFrame(rows, Schemas.DECOMPOSED).write().option("parquet.enable.dictionary", "false").parquet(chunk);
                chunks.add(chunk);
                run.keepWorkOnFailure();
                injectFailure(w + 1 - resumedChunks);
            }
            progress.succeeded();
        }
        run.phase("explain");
        Map<String, Double> taskTimes = new LinkedHashMap<>();
        for (int i = 0; i < HeadTask.Counters.PHASES.length; i++) {
            taskTimes.put(HeadTask.Counters.PHASES[i], Math.round(counters.nanos()[i].value() / 1e6) / 1e3);
        }
        record.result("task_time_s", taskTimes);
        long products = counters.products().value();
        record.result("coding_products", products).result("rows_per_product", products == 0 ? null : (double) counters.productRows().value() / products);
        record.result("scoring_path", counters.scoringPath());
        long choices = counters.choices().value();
        record.result("rescored_per_choice", choices == 0 ? null : (double) counters.rescoredAtoms().value() / choices);

        Dataset<Row> fresh = spark.read().schema(Schemas.DECOMPOSED).parquet(chunks.toArray(new String[0]));
        boolean kinds = c.kinds();
        Dataset<Row> expl = fresh.select(Schemas.explanationColumns(kinds));
        Dataset<Row> sv = fresh.select(Schemas.singularVectorColumns(kinds));
        if (existingFinal) {
            expl = expl.unionByName(spark.read().parquet(run.existing("explanations")).select(Schemas.explanationColumns(kinds)));
            List<org.apache.spark.sql.Column> svCols = new ArrayList<>(List.of(col("model"), col("layer"), col("head"),
                    col("sv"), col("side"), col("sigma"), col("vector"), col("joint")));
            if (kinds) for (String k : Schemas.KIND_COLUMNS) svCols.add(col(k));
            sv = sv.unionByName(spark.read().parquet(run.existing("singular_vectors")).select(svCols.toArray(new org.apache.spark.sql.Column[0])));
        }
        // Read from the chunk files, the rows need no shuffle: one task reads, sorts and writes each output (one
        // file per layer folder, one of singular_vectors), the bytes a repartition by layer would write. The two
        // run as concurrent jobs, singular_vectors/ (the larger) from the head start's thread.
        Dataset<Row> svOut = sv;
        Future<?> svWritten = head.bg.submit(() -> {
            svOut.coalesce(1).sortWithinPartitions(Schemas.sortColumns(svOut)).write().parquet(run.staged("singular_vectors"));
            return null;
        });
        try {
            Schemas.writeExplanationsOfFiles(expl, run.staged("explanations"));
        } catch (RuntimeException | Error e) {
            // the other job ends before the run's abort clears the staging folder it writes into
            try {
                Background.await(svWritten);
            } catch (RuntimeException | Error also) {
                e.addSuppressed(also);
            }
            throw e;
        }
        Background.await(svWritten);
        long vectors = 0;
        for (WorkUnit u : all) vectors += rowsOf.applyAsInt(u);
        record.result(unitName, total).result(unitName + "_computed", missing.size()).result("vectors", vectors)
                .result(unitName + "_resumed", total - missing.size()).result("chunks_resumed", resumedChunks)
                .result("chunks_written", chunks.size() - resumedChunks);
        run.phase("write");
        run.commit();
        run.deleteWork();
        return new Result(total, missing.size(), vectors, run.root().toString(), unitName);
    }

    static HeadTask.Counters counters(SparkSession spark) {
        return HeadTask.Counters.register(spark.sparkContext());
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

    /** The units whose rows a table holds (rows without a component, from before there was a choice, are VO). */
    static Set<WorkUnit> unitIds(Dataset<Row> df) {
        Dataset<Row> k = Schemas.withKinds(df);
        Set<WorkUnit> s = new TreeSet<>();
        for (Row r : k.selectExpr("coalesce(component, 'vo')", "layer", "head", "case when component = 'mlp' then sv end").distinct().collectAsList()) {
            s.add(WorkUnit.ofRow(Component.of(r.getString(0)), r.getInt(1), r.isNullAt(2) ? null : r.getInt(2), r.isNullAt(3) ? 0 : r.getInt(3)));
        }
        return s;
    }


    /** The heads of the outputs an earlier run committed, when that run's parameters were these. */
    private static Set<WorkUnit> existingHeads(JobRun run, String key) {
        Path record = new Path(run.existing("explanations"), "_run.json");
        JsonNode earlier = RunRecord.read(record, run.hadoopConf());
        JsonNode k = earlier == null ? null : earlier.at("/parameters/parameter_key");
        String theirs = k != null && k.isTextual() ? k.asText() : null;
        if (!key.equals(theirs)) {
            throw new UserInputException("--resume: " + run.existing("explanations") + " was made from other inputs or parameters (its _run.json "
                    + (theirs == null ? "has no parameter_key" : "parameter_key " + theirs + " differs from " + key) + "); use --overwrite to replace it");
        }
        Set<WorkUnit> s = unitIds(run.spark().read().parquet(run.existing("explanations")));
        s.retainAll(unitIds(run.spark().read().parquet(run.existing("singular_vectors"))));
        return s;
    }

    /** Everything that decides the numbers: inputs' content and the parameters (not the layer selection or batch size). */
    static String parameterKey(RunRecord r) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            StringBuilder b = new StringBuilder();
            for (String role : new String[] {"checkpoint", "dictionary", "image_mean"}) b.append(role).append('=').append(r.inputSha(role)).append(';');
            for (var e : r.params().entrySet()) {
                // The layer selection and batch size do not change any head's numbers: --resume may extend the layers.
                if (e.getKey().equals("batch_rows") || e.getKey().equals("layers") || e.getKey().equals("parameter_key")) continue;
                Object v = e.getValue();
                b.append(e.getKey()).append('=').append(v instanceof int[] a ? java.util.Arrays.toString(a) : String.valueOf(v)).append(';');
            }
            return HexFormat.of().formatHex(md.digest(b.toString().getBytes(StandardCharsets.UTF_8))).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
