package org.sith.jobs;

import static org.apache.spark.sql.types.DataTypes.IntegerType;
import static org.apache.spark.sql.types.DataTypes.StringType;
import static org.apache.spark.sql.types.DataTypes.createStructField;
import static org.apache.spark.sql.types.DataTypes.createStructType;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructType;
import org.sith.UserInputException;
import org.sith.inputs.ParquetInputs;
import org.sith.inputs.Paths;
import org.sith.judge.JudgeClient;
import org.sith.judge.JudgePrompts;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.RunRecord;
import org.sith.run.Schemas;

/**
 * `judge` (SPEC §13): every vector of an `explanations/` folder is shown to a judge model (an OpenAI-compatible Chat
 * Completions endpoint, {@link JudgeClient}) which rates 1–5 how well its concept list names one coherent concept.
 * The requests run on the driver: the work is waiting on the network, a few requests in flight are all an endpoint's
 * rate limit allows, and the API key then never leaves the driver process (executors would need it in their task
 * closures). Writes `judgements/` (one file, rows in (layer, head, sv, vector, tower, component, side) order); a vector
 * the judge could not score gets a row with a null score and the error in `raw`, and the run still succeeds.
 * `--resume` keeps the scored rows of an earlier run with the same judge model and asks again only for the others.
 */
public final class JudgeJob {
    public static final String NAME = "judge";
    public static final List<String> OUTPUTS = List.of("judgements");
    private static final int LISTED = 5;

    /** SPEC §13's judgements/ columns: the explanation's own keys, the score, the answer, the judge model. */
    public static final StructType JUDGEMENTS = createStructType(new org.apache.spark.sql.types.StructField[] {
        createStructField("model", StringType, true),
        createStructField("vector", IntegerType, true),
        createStructField("layer", IntegerType, true),
        createStructField("head", IntegerType, true),
        createStructField("sv", IntegerType, true),
        createStructField("tower", StringType, false),
        createStructField("component", StringType, false),
        createStructField("side", StringType, true),
        createStructField("score", IntegerType, true),
        createStructField("raw", StringType, true),
        createStructField("judge_model", StringType, false)});

    public record Config(String explanations, JudgeClient.Settings judge, OutputTarget out) implements Serializable {
        public Config {
            if (explanations == null) throw new UserInputException("judge needs --explanations (an explanations/ folder)");
            if (judge == null) throw new UserInputException("judge needs --judge-url and --judge-model");
            if (out == null) throw new UserInputException("judge needs --out");
        }
    }

    public record Result(int vectors, int scored, int failed, int resumed, Double meanScore, String out) {}

    /** An explained vector's keys (the explanation's own, nulls kept) and its concepts as the judge reads them. */
    public record Item(String model, Integer vector, Integer layer, Integer head, Integer sv, String tower, String component, String side,
                       List<String> concepts) {
        String key() {
            return Arrays.asList(model, vector, layer, head, sv, tower, component, side).toString();
        }
    }

    private JudgeJob() {}

    public static Result run(SparkSession spark, Config c) {
        Paths.mustExist("explanations", c.explanations(), spark.sparkContext().hadoopConfiguration());
        String key = JudgeClient.key(c.judge(), System::getenv); // before anything is claimed: a missing key leaves --out as it was
        return JobRun.run(spark, NAME, c.out(), OUTPUTS, true, c, run -> judge(run, c, key));
    }

    private static Result judge(JobRun run, Config c, String key) {
        SparkSession spark = run.spark();
        RunRecord record = run.record();
        List<Item> items = read(spark, c.explanations());
        record.input("explanations", c.explanations(), run.hadoopConf());
        record.param("judge_model", c.judge().model()).param("judge_endpoint", c.judge().endpoint().toString())
                .param("judge_prompt_system", JudgePrompts.SYSTEM).param("judge_prompt", JudgePrompts.interpretabilityTemplate());

        // --resume: the earlier run's scored rows stay, the rest is asked again
        Map<String, Row> kept = new HashMap<>();
        if (c.out().resume() && run.exists("judgements")) {
            Dataset<Row> old = ParquetInputs.open(spark, run.existing("judgements"), "--out " + c.out().folder() + ": judgements/", "a judgements/ folder");
            for (Row r : ParquetInputs.collect(old.selectExpr(JUDGEMENTS.fieldNames()), "judgements/")) {
                String judgeModel = r.getString(10);
                if (!c.judge().model().equals(judgeModel)) {
                    throw new UserInputException("--resume: judgements/ under " + c.out().folder() + " were made by judge model '" + judgeModel
                            + "', not --judge-model '" + c.judge().model() + "' (use --overwrite to judge again)");
                }
                if (r.isNullAt(8)) continue;
                Item k = new Item(r.getString(0), intOrNull(r, 1), intOrNull(r, 2), intOrNull(r, 3), intOrNull(r, 4), r.getString(5), r.getString(6),
                        r.getString(7), List.of());
                kept.put(k.key(), r);
            }
        }
        List<Item> todo = new ArrayList<>();
        List<Row> rows = new ArrayList<>();
        int resumed = 0;
        for (Item it : items) {
            Row old = kept.get(it.key());
            if (old != null) {
                rows.add(old);
                resumed++;
            } else {
                todo.add(it);
            }
        }
        run.phase("read");

        List<JudgeClient.Outcome> outcomes;
        AtomicInteger done = new AtomicInteger();
        try (JudgeClient client = new JudgeClient(c.judge(), key); Ticker t = new Ticker("sith " + NAME + ": vectors", todo.size(), resumed, done)) {
            outcomes = client.interpretability(todo.stream().map(Item::concepts).toList(), done);
            t.succeeded();
        }
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < todo.size(); i++) {
            Item it = todo.get(i);
            JudgeClient.Outcome o = outcomes.get(i);
            if (!o.ok()) failures.add(label(it) + ": " + o.error());
            rows.add(RowFactory.create(it.model(), it.vector(), it.layer(), it.head(), it.sv(), it.tower(), it.component(), it.side(), o.score(), o.text(),
                    c.judge().model()));
        }
        rows.sort(ORDER);
        spark.createDataFrame(rows, JUDGEMENTS).coalesce(1).write().parquet(run.staged("judgements"));
        int scored = 0;
        double sum = 0;
        for (Row r : rows) {
            if (!r.isNullAt(8)) {
                scored++;
                sum += r.getInt(8);
            }
        }
        Double mean = scored == 0 ? null : sum / scored;
        if (!failures.isEmpty()) {
            System.err.println("sith " + NAME + ": " + failures.size() + " of " + todo.size() + " vector(s) got no score (rows with a null score): "
                    + String.join("; ", failures.subList(0, Math.min(LISTED, failures.size()))) + (failures.size() > LISTED ? "; … (" + (failures.size() - LISTED)
                            + " more in judgements/)" : ""));
        }
        record.result("vectors", items.size()).result("asked", todo.size()).result("resumed", resumed).result("scored", scored)
                .result("failed", failures.size()).result("mean_score", mean)
                .result("requests", outcomes.stream().mapToInt(JudgeClient.Outcome::attempts).sum());
        run.phase("judge");
        run.commit();
        return new Result(items.size(), scored, failures.size(), resumed, mean, c.out().folder());
    }

    private static final Comparator<Integer> INT = Comparator.nullsFirst(Comparator.naturalOrder());
    private static final Comparator<String> STR = Comparator.nullsFirst(Comparator.naturalOrder());
    static final Comparator<Row> ORDER = Comparator.<Row, Integer>comparing(r -> intOrNull(r, 2), INT).thenComparing(r -> intOrNull(r, 3), INT)
            .thenComparing(r -> intOrNull(r, 4), INT).thenComparing(r -> intOrNull(r, 1), INT).thenComparing(r -> r.getString(5), STR)
            .thenComparing(r -> r.getString(6), STR).thenComparing(r -> r.getString(7), STR).thenComparing(r -> r.getString(0), STR);

    static Integer intOrNull(Row r, int i) {
        return r.isNullAt(i) ? null : ((Number) r.get(i)).intValue();
    }

    private static String label(Item it) {
        if (it.layer() == null) return "vector " + it.vector();
        String kind = it.tower().equals("vision") && it.component().equals("vo") ? "" : it.tower() + " " + it.component() + " ";
        return kind + "layer " + it.layer() + (it.head() == null ? "" : " head " + it.head()) + " sv " + it.sv() + (it.side() == null ? "" : " " + it.side());
    }

    /**
     * Every row of an explanations/ folder (decompose's or explain's), with its keys; a folder without `tower` /
     * `component` holds vision VO rows ({@link Schemas#withKinds}). The concepts as the judge reads them: weight-descending
     * as stored, those of weight 0 left out (unless all are), a negative weight marked "(opposite)".
     */
    public static List<Item> read(SparkSession spark, String path) {
        String label = "--explanations " + path;
        Dataset<Row> df = ParquetInputs.open(spark, path, label, "an explanations/ Parquet folder");
        ParquetInputs.require(df, label, ParquetInputs.column("concepts", ParquetInputs.CONCEPT_LIST));
        List<String> names = List.of(df.columns());
        for (String k : List.of("vector", "layer", "head", "sv")) {
            if (names.contains(k)) ParquetInputs.require(df, label, ParquetInputs.column(k, ParquetInputs.INTEGER));
            else df = df.withColumn(k, functions.lit(null).cast("int"));
        }
        for (String k : List.of("model", "side", "tower", "component")) {
            if (names.contains(k)) ParquetInputs.require(df, label, ParquetInputs.column(k, ParquetInputs.STRING));
        }
        if (!names.contains("model")) df = df.withColumn("model", functions.lit(null).cast("string"));
        if (!names.contains("side")) df = df.withColumn("side", functions.lit(null).cast("string"));
        df = Schemas.withKinds(df);
        List<Row> rows = ParquetInputs.collect(df.selectExpr("model", "cast(vector as int)", "cast(layer as int)", "cast(head as int)", "cast(sv as int)",
                "coalesce(tower, 'vision')", "coalesce(component, 'vo')", "side", "concepts"), label);
        List<Item> out = new ArrayList<>();
        for (Row r : rows) {
            List<Row> cs = r.getList(8);
            List<String> all = new ArrayList<>();
            List<String> nonzero = new ArrayList<>();
            for (Row x : cs) {
                String name = Objects.toString(x.getAs("concept"), "");
                double w = ((Number) x.getAs("weight")).doubleValue();
                String shown = w < 0 ? "(opposite) " + name : name;
                all.add(shown);
                if (w != 0) nonzero.add(shown);
            }
            if (all.isEmpty()) throw new UserInputException(label + ": a row (" + r.mkString(", ") + ") has no concepts");
            out.add(new Item(r.getString(0), intOrNull(r, 1), intOrNull(r, 2), intOrNull(r, 3), intOrNull(r, 4), r.getString(5), r.getString(6),
                    r.getString(7), nonzero.isEmpty() ? all : nonzero));
        }
        if (out.isEmpty()) throw new UserInputException(label + " has no rows");
        return out;
    }

    /** "vectors 12/40 done (3.1/s, ETA 9 s)" on stderr every 3 s while the judge works. */
    static final class Ticker implements AutoCloseable {
        private final String what;
        private final int total;
        private final int offset;
        private final AtomicInteger done;
        private final long start = System.nanoTime();
        private final Thread thread;
        private volatile boolean stop;
        private boolean succeeded;

        Ticker(String what, int todo, int offset, AtomicInteger done) {
            this.what = what;
            this.total = todo + offset;
            this.offset = offset;
            this.done = done;
            this.thread = new Thread(() -> {
                int last = -1;
                while (!stop) {
                    try {
                        Thread.sleep(3000);
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (done.get() != last) {
                        last = done.get();
                        print();
                    }
                }
            }, "sith-judge-progress");
            thread.setDaemon(true);
            thread.start();
        }

        void succeeded() {
            succeeded = true;
        }

        private synchronized void print() {
            int n = done.get();
            double secs = (System.nanoTime() - start) / 1e9;
            double rate = secs > 0 ? n / secs : 0;
            int left = total - offset - n;
            String eta = rate > 0 && left > 0 ? String.format(Locale.ROOT, ", ETA %.0f s", left / rate) : "";
            System.err.printf(Locale.ROOT, "%s %d/%d done (%.1f/s%s)%n", what, offset + n, total, rate, eta);
        }

        @Override
        public void close() {
            stop = true;
            thread.interrupt();
            if (succeeded) print();
        }
    }
}
