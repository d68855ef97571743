package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.sith.UserInputException;
import org.sith.coding.Method;
import org.sith.coding.Scoring;
import org.sith.concepts.ConceptDictionary;
import org.sith.executor.CodingContext;
import org.sith.executor.SerializableConf;
import org.sith.executor.SweepTask;
import org.sith.executor.UnitBatch;
import org.sith.heads.Component;
import org.sith.heads.JointSpace;
import org.sith.heads.TowerKind;
import org.sith.heads.TowerSource;
import org.sith.heads.WorkUnit;
import org.sith.inputs.ConceptsInput;
import org.sith.inputs.ImageMeans;
import org.sith.inputs.Paths;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.RunRecord;

/**
 * `sweep` (SPEC §13): the paper's Figure 3 trade-off. The selected units (by default the vision tower's VO heads) are read,
 * decomposed and mapped into the joint space once, sharded across tasks like `decompose`; each task then codes its targets
 * with every configuration of {@code --methods} × {@code --ks} (× {@code --lambdas} for comp) with the one coder it
 * borrows over the once-broadcast dictionary. `sweep/` holds one row per configuration: the means over the vectors of
 * fidelity, fidelity_residual, coherence and (with a judge) the judge's score. Each vector's numbers are those `decompose`
 * writes with the same method, K and λ.
 */
public final class SweepJob {
    public static final String NAME = "sweep";
    public static final List<String> OUTPUTS = List.of("sweep");
    public static final List<Method> DEFAULT_METHODS = List.of(Method.values());
    public static final List<Integer> DEFAULT_KS = List.of(1, 2, 3, 5, 8, 10);
    public static final List<Double> DEFAULT_LAMBDAS = List.of(Coding.DEFAULT_LAMBDA);

    /** The columns of sweep/: SPEC §13's (method, k, lambda, vectors, the four means), then what the rows are of. */
    public static final StructType SCHEMA = DataTypes.createStructType(new StructField[] {
            DataTypes.createStructField("method", DataTypes.StringType, false),
            DataTypes.createStructField("k", DataTypes.IntegerType, false),
            DataTypes.createStructField("lambda", DataTypes.DoubleType, false),
            DataTypes.createStructField("vectors", DataTypes.LongType, false),
            DataTypes.createStructField("fidelity", DataTypes.DoubleType, true),
            DataTypes.createStructField("fidelity_residual", DataTypes.DoubleType, true),
            DataTypes.createStructField("coherence", DataTypes.DoubleType, true),
            DataTypes.createStructField("judge_score", DataTypes.DoubleType, true),
            DataTypes.createStructField("judged", DataTypes.LongType, true),
            DataTypes.createStructField("model", DataTypes.StringType, false),
            DataTypes.createStructField("tower", DataTypes.StringType, false),
            DataTypes.createStructField("component", DataTypes.StringType, false),
            DataTypes.createStructField("side", DataTypes.StringType, false),
            DataTypes.createStructField("dictionary", DataTypes.StringType, false),
    });

    /**
     * The grid of codings: every method with every K; comp once per λ, the other coders (which have no λ) once with λ 0.
     * Lists are non-empty, without repeats; K ≥ 1, λ ≥ 0 and finite.
     */
    public record Grid(List<Method> methods, List<Integer> ks, List<Double> lambdas) implements Serializable, RunRecord.Recordable {
        public Grid {
            if (methods == null) methods = DEFAULT_METHODS;
            if (ks == null) ks = DEFAULT_KS;
            if (lambdas == null) lambdas = DEFAULT_LAMBDAS;
            if (methods.isEmpty()) throw new UserInputException("--methods is empty (give one or more of comp, nnomp, omp, mp, topk)");
            if (ks.isEmpty()) throw new UserInputException("--ks is empty (give one or more K, e.g. 1,2,3,5,8,10)");
            if (lambdas.isEmpty()) throw new UserInputException("--lambdas is empty (give one or more λ ≥ 0, e.g. 0.3)");
            for (int k : ks) if (k < 1) throw new UserInputException("--ks: " + k + " must be at least 1");
            for (double l : lambdas) {
                if (!Double.isFinite(l) || l < 0) throw new UserInputException("--lambdas: " + l + " must be a finite number ≥ 0");
            }
            refuseRepeats("--methods", methods);
            refuseRepeats("--ks", ks);
            refuseRepeats("--lambdas", lambdas);
            methods = List.copyOf(methods);
            ks = ks.stream().sorted().toList();
            lambdas = lambdas.stream().sorted().toList();
        }

        private static void refuseRepeats(String option, List<?> l) {
            LinkedHashSet<Object> seen = new LinkedHashSet<>();
            for (Object o : l) {
                if (!seen.add(o)) throw new UserInputException(option + ": " + (o instanceof Method m ? m.label() : o) + " is given twice");
            }
        }

        /** The codings in output order: by method as given, then K and λ ascending. */
        public List<SweepTask.Config> configs() {
            List<SweepTask.Config> out = new ArrayList<>();
            for (Method m : methods) {
                for (int k : ks) {
                    if (m == Method.COMP) for (double l : lambdas) out.add(new SweepTask.Config(m, k, l));
                    else out.add(new SweepTask.Config(m, k, 0.0));
                }
            }
            return out;
        }

        public int maxK() {
            return ks.get(ks.size() - 1);
        }

        public List<String> methodLabels() {
            return methods.stream().map(Method::label).toList();
        }

        @Override
        public void recordOptions(Map<String, Object> options) {
            options.put("methods", methodLabels());
            options.put("ks", ks);
            options.put("lambdas", lambdas);
        }
    }

    /** The options of sweep, typed and checked. {@code judge} null: no judge_score. */
    public record Config(String checkpoint, ConceptsInput concepts, String imageMean, HeadSelection heads, Grid grid, int batchRows, Scoring scoring,
                         String modelName, OutputTarget out, TowerKind tower, List<Component> components, ExplainJob.Center center,
                         org.sith.judge.JudgeClient.Settings judge) implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("sweep needs --checkpoint");
            if (concepts == null) throw new UserInputException("sweep needs --concepts");
            if (heads == null) heads = HeadSelection.DEFAULTS;
            if (grid == null) grid = new Grid(null, null, null);
            if (batchRows < 1) throw new UserInputException("--batch-rows " + batchRows + " must be at least 1");
            if (scoring == null) scoring = Coding.DEFAULT_SCORING;
            if (out == null) throw new UserInputException("sweep needs --out");
            if (tower == null) tower = TowerKind.VISION;
            if (components == null || components.isEmpty()) components = List.of(Component.VO);
            components = List.copyOf(components);
            center = DecomposeJob.targetCentering(tower, imageMean, center);
        }

        /** The paper's setting (vision VO, no judge) with default batch and scoring. */
        public Config(String checkpoint, ConceptsInput concepts, String imageMean, HeadSelection heads, Grid grid, String modelName, OutputTarget out) {
            this(checkpoint, concepts, imageMean, heads, grid, Coding.DEFAULT_BATCH_ROWS, Coding.DEFAULT_SCORING, modelName, out, null, null, null, null);
        }

        /**
         * The coding set-up the dictionary is prepared with (rows per product, scoring path); method, K and λ are decided per
         * coding, and the grid's largest K is checked against the dictionary by the run.
         */
        Coding coding() {
            return new Coding(grid.methods().get(0), Coding.DEFAULT_LAMBDA, 1, batchRows, scoring);
        }
    }

    public record Result(int units, long vectors, int configurations, long basesComputed, String out) {}

    private SweepJob() {}

    /**
     * The judge for `--judge-url`: the `judge` command's client (bounded concurrency, retries, the key from the environment),
     * asked SPEC §13's interpretability question for each concept list; a list it could not score is null. Close it after use.
     */
    public static ClientJudge connect(org.sith.judge.JudgeClient.Settings j) {
        return new ClientJudge(org.sith.judge.JudgeClient.fromEnvironment(j));
    }

    /** A {@link ConceptJudge} over a {@link org.sith.judge.JudgeClient}; failures per list are counted and reported. */
    public static final class ClientJudge implements ConceptJudge, AutoCloseable {
        private final org.sith.judge.JudgeClient client;

        ClientJudge(org.sith.judge.JudgeClient client) {
            this.client = client;
        }

        @Override
        public Integer[] score(List<List<String>> conceptLists) {
            List<org.sith.judge.JudgeClient.Outcome> r = client.interpretability(conceptLists, null);
            Integer[] out = new Integer[r.size()];
            int failed = 0;
            String example = null;
            for (int i = 0; i < out.length; i++) {
                out[i] = r.get(i).score();
                if (out[i] == null) {
                    failed++;
                    if (example == null) example = r.get(i).text();
                }
            }
            if (failed > 0) System.err.printf("sith sweep: the judge gave no score for %d of %d explanations (e.g. %s)%n", failed, out.length, example);
            return out;
        }

        @Override
        public String describe() {
            return "judge " + client.settings().model() + " at " + client.settings().endpoint();
        }

        @Override
        public void close() {
            client.close();
        }
    }

    /** The checks that need the checkpoint's header but no Spark: layers and rank against the model; the judge. */
    public static void preflight(Config c, org.apache.hadoop.conf.Configuration conf) {
        Paths.mustExist("checkpoint", c.checkpoint(), conf);
        // the key must be there before Spark starts (its value is not kept)
        if (c.judge() != null) org.sith.judge.JudgeClient.key(c.judge(), System::getenv);
        try (TowerSource ck = TowerSource.open(c.tower(), c.checkpoint(), conf, c.heads().heads())) {
            c.heads().resolve(ck.layers(), ck.heads(), ck.headDim(), ck.path());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Runs the sweep; with {@code --judge-url} through the wired judge client. */
    public static Result run(SparkSession spark, Config c) {
        if (c.judge() == null) return run(spark, c, null);
        try (ClientJudge judge = connect(c.judge())) {
            return run(spark, c, judge);
        }
    }

    /** Runs the sweep, {@code judge} (may be null) scoring every explanation of every configuration. */
    public static Result run(SparkSession spark, Config c, ConceptJudge judge) {
        Paths.mustExist("checkpoint", c.checkpoint(), spark.sparkContext().hadoopConfiguration());
        return JobRun.run(spark, NAME, c.out(), OUTPUTS, c, run -> sweep(run, c, judge));
    }

    private static Result sweep(JobRun run, Config c, ConceptJudge judge) {
        SparkSession spark = run.spark();
        RunRecord record = run.record();
        String model = ModelName.of(c.checkpoint(), c.modelName());
        TowerRead t;
        try (TowerSource ck = TowerSource.open(c.tower(), c.checkpoint(), run.hadoopConf(), c.heads().heads())) {
            t = TowerRead.of(ck, c.heads(), c.components());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        HeadSelection.Resolved sel = t.sel();
        int[] mlpWidths = t.mlpWidths();
        double[] imageMean = c.imageMean() == null ? null : ImageMeans.read(spark, c.imageMean(), t.p());
        t.record(record, model, c.heads().side());
        record.param("tower", c.tower().label()).param("component", Component.label(c.components()));
        if (c.tower() == TowerKind.TEXT) record.param("center", c.center().name().toLowerCase(Locale.ROOT));
        CodingContext coding = CodingContext.prepare(run, c.concepts(), t.p(), c.coding());
        ConceptDictionary dict = coding.dictionary();
        if (c.grid().maxK() > dict.size()) {
            throw new UserInputException("--ks " + c.grid().maxK() + " is larger than the dictionary (" + dict.size() + " concepts in " + c.concepts().concepts() + ")");
        }
        JointSpace joint = t.joint(JointSpace.pseudoInverse(t.projection(), t.width(), t.p()), c.tower(), c.center(), imageMean, dict);
        run.phase("prepare");

        record.checkpoint("checkpoint", c.checkpoint(), run.hadoopConf());
        coding.record(run, c.imageMean());
        // the dictionary's coding parameters are the grid's, not one coding's
        for (String single : List.of("method", "lambda", "k")) record.params().remove(single);
        List<SweepTask.Config> configs = c.grid().configs();
        record.param("methods", c.grid().methodLabels()).param("ks", c.grid().ks()).param("lambdas", c.grid().lambdas())
                .param("configurations", configs.size());
        if (judge != null) record.param("judge", judge.describe());
        run.phase("fingerprint");

        List<WorkUnit> units = WorkUnit.all(sel.layers(), c.components(), sel.heads(), mlpWidths);
        java.util.function.ToIntFunction<WorkUnit> rowsOf = u -> u.rows(sel.rank(), mlpWidths[u.layer()]);
        long vectors = 0;
        for (WorkUnit u : units) vectors += rowsOf.applyAsInt(u);
        List<UnitBatch> batches = UnitBatch.of(units, c.batchRows(), rowsOf);

        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<JointSpace> jointB = jsc.broadcast(joint);
        SweepTask.Counters counters = SweepTask.Counters.register(spark.sparkContext());
        SweepTask task = new SweepTask(new SweepTask.Settings(c.checkpoint(), c.heads().heads(), c.heads().side(), sel.rank(), c.tower(), configs, judge != null),
                new SerializableConf(run.hadoopConf()), coding, jointB, counters);
        JavaRDD<Row> rows = jsc.parallelize(batches, Math.max(1, batches.size())).mapPartitions(task);
        Dataset<Row> perVector = spark.createDataFrame(rows, SweepTask.SCHEMA);
        if (judge != null) perVector = perVector.persist(StorageLevel.MEMORY_AND_DISK());
        Map<Integer, Row> means = new HashMap<>();
        for (Row r : perVector.groupBy("config").agg(functions.count(functions.lit(1)), functions.avg("fidelity"), functions.avg("fidelity_residual"),
                functions.avg("coherence")).collectAsList()) {
            means.put(r.getInt(0), r);
        }
        Map<Integer, double[]> judged = judge == null ? Map.of() : judge(perVector, judge, dict);
        if (judge != null) perVector.unpersist();
        long bases = counters.bases().value();
        System.err.printf("sith sweep: %d %s bases computed once, coded with %d configurations (%d vectors each)%n", bases,
                c.components().equals(List.of(Component.VO)) ? "head" : "unit", configs.size(), vectors);
        run.phase("code");

        List<Row> out = new ArrayList<>();
        String component = Component.label(c.components());
        for (int i = 0; i < configs.size(); i++) {
            SweepTask.Config cfg = configs.get(i);
            Row m = means.get(i);
            if (m == null || m.getLong(1) != vectors) {
                throw new IllegalStateException("sweep: configuration " + i + " coded " + (m == null ? 0 : m.getLong(1)) + " vectors, expected " + vectors);
            }
            double[] j = judged.get(i);
            out.add(RowFactory.create(cfg.method().label(), cfg.k(), cfg.lambda(), m.getLong(1), m.get(2), m.get(3), m.get(4),
                    j == null || j[1] == 0 ? null : j[0] / j[1], judge == null ? null : (long) (j == null ? 0 : j[1]),
                    model, c.tower().label(), component, sideLabel(c), coding.label()));
        }
        spark.createDataFrame(out, SCHEMA).coalesce(1).write().parquet(run.staged("sweep"));
        Map<String, Double> taskTimes = new java.util.LinkedHashMap<>();
        for (int i = 0; i < SweepTask.Counters.PHASES.length; i++) {
            taskTimes.put(SweepTask.Counters.PHASES[i], Math.round(counters.nanos()[i].value() / 1e6) / 1e3);
        }
        String unitName = WorkUnit.plural(c.components());
        record.result(unitName, units.size()).result("bases_computed", bases).result("vectors", vectors).result("configurations", configs.size())
                .result("codings", vectors * configs.size()).result("task_time_s", taskTimes);
        run.phase("write");
        run.commit();
        return new Result(units.size(), vectors, configs.size(), bases, run.root().toString());
    }

    /** The explained side(s): `--side` for VO and MLP vectors, query and key for QK circuits. */
    private static String sideLabel(Config c) {
        List<String> s = new ArrayList<>();
        for (Component comp : c.components()) {
            String l = comp == Component.QK ? "query,key" : c.heads().side().label();
            if (!s.contains(l)) s.add(l);
        }
        return String.join(",", s);
    }

    /**
     * The judge's scores per configuration: [sum of the scores, number of vectors scored]. Each vector's concepts with a
     * non-zero weight, in weight order, as names; the judge sees every configuration's lists in one call.
     */
    private static Map<Integer, double[]> judge(Dataset<Row> perVector, ConceptJudge judge, ConceptDictionary dict) {
        List<Row> rows = perVector.select("config", "rows").orderBy("config", "component", "layer", "head", "side", "sv").collectAsList();
        List<List<String>> lists = new ArrayList<>(rows.size());
        for (Row r : rows) {
            List<String> names = new ArrayList<>();
            for (Object id : r.getList(1)) names.add(dict.concept((Integer) id));
            lists.add(names);
        }
        Integer[] scores = judge.score(lists);
        if (scores == null || scores.length != lists.size()) {
            throw new IllegalStateException("the judge returned " + (scores == null ? "nothing" : scores.length + " scores") + " for " + lists.size() + " concept lists");
        }
        Map<Integer, double[]> out = new HashMap<>();
        for (int i = 0; i < rows.size(); i++) {
            double[] acc = out.computeIfAbsent(rows.get(i).getInt(0), x -> new double[2]);
            if (scores[i] != null) {
                acc[0] += scores[i];
                acc[1]++;
            }
        }
        return out;
    }
}
