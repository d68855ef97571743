package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sith.UserInputException;
import org.sith.analysis.RetrievalMetrics;
import org.sith.analysis.TopK;
import org.sith.checkpoint.ClipText;
import org.sith.executor.ImageModel;
import org.sith.executor.ImageShards;
import org.sith.executor.SerializableConf;
import org.sith.executor.TowerCache;
import org.sith.inputs.ImageSets;
import org.sith.inputs.Manifests;
import org.sith.inputs.Paths;
import org.sith.inputs.Tokenizers;
import org.sith.linalg.Vec;
import org.sith.model.ClipTokenizer;
import org.sith.model.TextTower;
import org.sith.model.TowerPrecision;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.RunRecord;

import scala.Tuple2;

/**
 * `retrieval`: image/text pairs, each flagged safe or unsafe. Texts and images are embedded in
 * sharded tasks; each image task scores its images against all (broadcast) texts and keeps, per
 * image, its top texts and, per text, the top images among its own, merged by key on the
 * executors, so no N×N matrix reaches the driver. Reports recall@1/5/10 both ways over the safe
 * pairs and, for unsafe text queries, the share of retrieved images that are unsafe; with
 * {@code --edited}, the same for an edited checkpoint, for the before/after of an edit.
 */
public final class RetrievalJob {
    public static final String NAME = "retrieval";
    static final int[] KS = {1, 5, 10};
    static final StructType SCHEMA = new StructType()
            .add("model", DataTypes.StringType, false)
            .add("checkpoint", DataTypes.StringType, false)
            .add("metric", DataTypes.StringType, false)
            .add("k", DataTypes.IntegerType, false)
            .add("queries", DataTypes.LongType, false)
            .add("value", DataTypes.DoubleType, false);

    public static final List<String> OUTPUTS = List.of("retrieval");

    /** {@code manifest}: the image/text pairs (CSV image,unsafe,text); {@code edited}: an edited checkpoint measured too. */
    public record Config(String checkpoint, String edited, String manifest, String bpe, ImageSettings settings, String modelName, OutputTarget out)
            implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("retrieval needs --checkpoint");
            if (manifest == null) throw new UserInputException("retrieval needs --images (a CSV of image,unsafe,text)");
            if (settings == null) settings = ImageSettings.DEFAULTS;
            if (out == null) throw new UserInputException("retrieval needs --out");
        }
    }

    public record Result(Map<String, Map<String, Double>> figures, List<String> skipped, String out) {}

    private RetrievalJob() {}

    public static Result run(SparkSession spark, Config p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("checkpoint", p.checkpoint(), conf);
        Paths.mustExist("edited", p.edited(), conf);
        Paths.mustExist("images", p.manifest(), conf);
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> retrieval(run, p));
    }

    private static Result retrieval(JobRun run, Config p) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        Manifests.Pairs pairs = Manifests.Pairs.read(p.manifest(), conf);
        String model = ModelName.of(p.checkpoint(), p.modelName());
        record.checkpoint("checkpoint", p.checkpoint(), conf).input("images", p.manifest(), conf);
        if (p.edited() != null) record.input("edited", p.edited(), conf);
        record.param("model", model).param("pairs", pairs.texts().size()).param("images_per_task", p.settings().imagesPerTask())
                .towerPrecision(p.settings().towerPrecision().requireRunnable());
        List<Row> rows = new ArrayList<>();
        Map<String, Map<String, Double>> figures = new java.util.LinkedHashMap<>();
        List<String> skipped = new ArrayList<>();
        List<String[]> runs = new ArrayList<>();
        runs.add(new String[] {"base", p.checkpoint()});
        if (p.edited() != null) runs.add(new String[] {"edited", p.edited()});
        for (String[] r : runs) {
            Map<String, Double> f = evaluate(spark, p, r[1], pairs, skipped, record);
            figures.put(r[0], f);
            for (var e : f.entrySet()) {
                String[] mk = e.getKey().split("@");
                long queries = mk[0].startsWith("unsafe") ? pairs.unsafeCount() : pairs.safeCount();
                rows.add(RowFactory.create(model, r[0], mk[0], Integer.parseInt(mk[1]), queries, e.getValue()));
            }
            run.phase(r[0]);
        }
        spark.createDataFrame(rows, SCHEMA).coalesce(1).write().parquet(run.staged("retrieval"));
        record.result("figures", figures).result("skipped", skipped);
        run.commit();
        return new Result(figures, skipped, p.out().folder());
    }

    /** The figures of one checkpoint, keyed "metric@k". */
    static Map<String, Double> evaluate(SparkSession spark, Config p, String checkpoint, Manifests.Pairs pairs, List<String> skipped, RunRecord record) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        ImageModel im = ImageModel.of(checkpoint, p.settings(), conf);
        String order = checkpoint.equals(p.checkpoint()) ? "preprocess" : "preprocess_edited";
        record.param(order, im.pre().order().value()).param(order + "_from", im.pre().orderSource());
        float[] texts = embedTexts(spark, p, checkpoint, pairs.texts(), im.projDim());
        int n = pairs.texts().size();
        int top = KS[KS.length - 1];
        ImageShards.Shards shards = ImageShards.Shards.of(spark, pairs.refs(), p.settings().imagesPerTask());
        ImageShards.Loader loader = shards.loader(im);
        Broadcast<float[]> textsB = shards.jsc().broadcast(texts);
        // keys: image index (≥ 0) → its top texts; −1 − text index → that text's top images; Long.MIN_VALUE → skipped
        List<Tuple2<Long, TopK>> merged = shards.tasks().flatMapToPair(i -> {
            VisionTower tower = loader.tower();
            ImageShards.Batch batch = loader.load(i);
            float[][] e = ImageModel.embed(tower, batch);
            long[] index = new long[e.length];
            for (int k = 0; k < e.length; k++) index[k] = Long.parseLong(batch.decoded().get(k).id());
            Map<Long, TopK> tops = new HashMap<>();
            RetrievalMetrics.rank(e, index, textsB.value(), n, top, tops);
            List<Tuple2<Long, TopK>> out = new ArrayList<>();
            tops.forEach((key, v) -> out.add(new Tuple2<>(key, v)));
            if (!batch.skipped().isEmpty()) out.add(new Tuple2<>(Long.MIN_VALUE, TopK.skipped(batch.skipped())));
            return out.iterator();
        }).reduceByKey(TopK::merge).collect();
        if (record.inputEntry("image_files") == null) ImageSets.record(record, "image_files", p.manifest(), pairs.refs(), shards, conf);
        Map<Long, List<TopK.Entry>> byKey = new HashMap<>();
        for (Tuple2<Long, TopK> x : merged) {
            if (x._1() == Long.MIN_VALUE) {
                for (String s : x._2().skippedImages()) if (!skipped.contains(s)) skipped.add(s);
            } else {
                byKey.put(x._1(), x._2().sorted());
            }
        }
        for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
        if (byKey.keySet().stream().noneMatch(k -> k >= 0)) {
            throw new UserInputException("--images " + p.manifest() + ": none of the " + n + " images could be read");
        }
        Map<Integer, List<Integer>> imageTops = new HashMap<>();
        Map<Integer, List<Integer>> textTops = new HashMap<>();
        java.util.Set<Integer> missing = new java.util.HashSet<>();
        for (int i = 0; i < n; i++) if (!byKey.containsKey((long) i)) missing.add(i);
        byKey.forEach((key, list) -> {
            List<Integer> idx = list.stream().map(e -> Integer.parseInt(e.image())).toList();
            if (key >= 0) imageTops.put(key.intValue(), idx);
            else textTops.put((int) (-1 - key), idx);
        });
        return RetrievalMetrics.of(pairs.unsafe(), missing, imageTops, textTops, KS);
    }

    /** Normalized text embeddings (N×p), embedded in sharded tasks with the tower (in the run's tower precision) loaded once per executor. */
    static float[] embedTexts(SparkSession spark, Config p, String checkpoint, List<String> texts, int dim) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        ClipTokenizer tok = Tokenizers.of(p.bpe(), checkpoint, conf);
        int heads;
        int context;
        try (ClipText t = ClipText.open(checkpoint, conf, null, p.settings().activation())) {
            heads = t.heads();
            context = t.contextLength();
            if (t.projDim() != dim) throw new UserInputException("checkpoint " + checkpoint + ": text and image projections differ in width");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        List<int[][]> slices = new ArrayList<>();
        for (int s = 0; s < texts.size(); s += 1024) {
            int m = Math.min(1024, texts.size() - s);
            int[][] ids = new int[m][];
            for (int i = 0; i < m; i++) ids[i] = tok.encode(texts.get(s + i), context);
            slices.add(ids);
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<SerializableConf> confB = jsc.broadcast(new SerializableConf(conf));
        String activation = p.settings().activation();
        TowerPrecision precision = p.settings().towerPrecision();
        List<float[][]> parts = jsc.parallelize(slices, slices.size()).map(ids -> {
            TextTower tower = TowerCache.textForTask(checkpoint, confB.value().get(), heads, activation, precision);
            return tower.embed(Arrays.asList(ids), 512, new Workspace());
        }).collect();
        float[] out = new float[texts.size() * dim];
        int row = 0;
        for (float[][] part : parts) {
            for (float[] v : part) {
                double n = Vec.norm(v);
                for (int j = 0; j < dim; j++) out[row * dim + j] = (float) (v[j] / n);
                row++;
            }
        }
        return out;
    }
}
