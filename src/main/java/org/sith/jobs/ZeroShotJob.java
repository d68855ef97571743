package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.executor.ImageModel;
import org.sith.executor.ImageShards;
import org.sith.executor.TowerCache;
import org.sith.inputs.ImageSets;
import org.sith.inputs.Manifests;
import org.sith.inputs.Paths;
import org.sith.inputs.Tokenizers;
import org.sith.model.ClipTokenizer;
import org.sith.model.TextTower;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
import org.sith.model.ZeroShot;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.RunRecord;

/**
 * `zero-shot` (SPEC §7): class weights w_c = normalize(mean_t normalize(text(template_t(class_c)))),
 * each image assigned the class of largest ⟨normalize(image), w_c⟩ (the logit scale does not change
 * the argmax). Images are embedded in fixed slices on the executors; the driver counts accuracy,
 * per-class and per-group accuracy and the worst group.
 */
public final class ZeroShotJob {
    public static final String NAME = "zero-shot";
    static final StructType SCHEMA = new StructType()
            .add("model", DataTypes.StringType, false)
            .add("scope", DataTypes.StringType, false)
            .add("name", DataTypes.StringType, true)
            .add("images", DataTypes.LongType, false)
            .add("correct", DataTypes.LongType, false)
            .add("accuracy", DataTypes.DoubleType, false)
            .add("worst_group_accuracy", DataTypes.DoubleType, true);

    public static final List<String> OUTPUTS = List.of("zeroshot");
    public static final String DEFAULT_TEMPLATE = "a photo of a {}.";

    /** {@code manifest}: the labelled images (CSV image,label[,group]); {@code templates} null: {@link #DEFAULT_TEMPLATE}. */
    public record Config(String checkpoint, String manifest, String classes, String templates, String bpe, Integer textHeads, ImageSettings settings,
                         String modelName, OutputTarget out) implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("zero-shot needs --checkpoint");
            if (manifest == null) throw new UserInputException("zero-shot needs --images (a CSV of image,label[,group])");
            if (classes == null) throw new UserInputException("zero-shot needs --classes");
            if (textHeads != null && textHeads < 1) throw new UserInputException("--text-heads " + textHeads + " must be at least 1");
            if (settings == null) settings = ImageSettings.DEFAULTS;
            if (out == null) throw new UserInputException("zero-shot needs --out");
        }
    }

    public record Result(long images, long correct, double accuracy, Double worstGroupAccuracy, List<String> skipped, String out) {}

    /** One image's prediction. */
    record Prediction(String id, int predicted) implements Serializable {}

    record SliceResult(int slice, List<Prediction> predictions, List<String> skipped) implements Serializable {}

    private ZeroShotJob() {}

    public static Result run(SparkSession spark, Config p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("checkpoint", p.checkpoint(), conf);
        Paths.mustExist("images", p.manifest(), conf);
        Paths.mustExist("classes", p.classes(), conf);
        Paths.mustExist("templates", p.templates(), conf);
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> classify(run, p));
    }

    private static Result classify(JobRun run, Config p) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        ImageSettings st = p.settings();
        List<String> classes = Manifests.listFile(p.classes(), conf, "--classes");
        List<String> templates = p.templates() == null ? List.of(DEFAULT_TEMPLATE) : Manifests.listFile(p.templates(), conf, "--templates");
        for (String t : templates) {
            if (!t.contains("{}")) throw new UserInputException("--templates " + p.templates() + ": template '" + t + "' has no {} for the class name");
        }
        Manifests.Manifest m = Manifests.Manifest.read(p.manifest(), classes, conf);
        ImageModel im = ImageModel.of(p.checkpoint(), st, conf);
        float[] weights = classifier(p, conf, classes, templates, im.projDim());
        String model = ModelName.of(p.checkpoint(), p.modelName());
        record.checkpoint("checkpoint", p.checkpoint(), conf).input("images", p.manifest(), conf).input("classes", p.classes(), conf);
        if (p.templates() != null) record.input("templates", p.templates(), conf);
        record.param("model", model).param("classes", classes.size()).param("templates", templates.size())
                .param("preprocess", im.pre().order().value()).param("preprocess_from", im.pre().orderSource())
                .param("images_per_task", st.imagesPerTask()).towerPrecision(im.precision());
        run.phase("classifier");

        ImageShards.Shards shards = ImageShards.Shards.of(spark, m.refs(), st.imagesPerTask());
        ImageShards.Loader loader = shards.loader(im);
        LongAccumulator counter = shards.counter();
        Broadcast<float[]> weightsB = shards.jsc().broadcast(weights);
        int nClasses = classes.size();
        List<SliceResult> results;
        try (Progress progress = new Progress("sith " + NAME, "images", m.refs().size(), 0, counter)) {
            results = new ArrayList<>(shards.tasks().map(i -> {
                VisionTower tower = loader.tower();
                ImageShards.Batch batch = loader.load(i);
                float[][] e = ImageModel.embed(tower, batch);
                List<Prediction> out = new ArrayList<>();
                for (int k = 0; k < e.length; k++) out.add(new Prediction(batch.decoded().get(k).id(), ZeroShot.classify(e[k], weightsB.value(), nClasses)));
                counter.add(batch.refs().size());
                return new SliceResult(i, out, batch.skipped());
            }).collect());
            progress.succeeded();
        }
        results.sort(Comparator.comparingInt(SliceResult::slice));
        List<String> skipped = new ArrayList<>();
        Map<String, Integer> predicted = new HashMap<>();
        for (SliceResult r : results) {
            skipped.addAll(r.skipped());
            for (Prediction x : r.predictions()) predicted.put(x.id(), x.predicted());
        }
        for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
        if (predicted.isEmpty()) throw new UserInputException("--images " + p.manifest() + ": none of the images could be decoded");
        Counts all = new Counts();
        TreeMap<Integer, Counts> perClass = new TreeMap<>();
        TreeMap<String, Counts> perGroup = new TreeMap<>();
        for (int k = 0; k < m.refs().size(); k++) {
            Integer pred = predicted.get(m.refs().get(k).id());
            if (pred == null) continue;
            boolean ok = pred == m.labels()[k];
            all.add(ok);
            perClass.computeIfAbsent(m.labels()[k], x -> new Counts()).add(ok);
            if (m.groups() != null) perGroup.computeIfAbsent(m.groups()[k], x -> new Counts()).add(ok);
        }
        Double worst = perGroup.isEmpty() ? null : perGroup.values().stream().mapToDouble(Counts::accuracy).min().getAsDouble();
        List<Row> rows = new ArrayList<>();
        rows.add(RowFactory.create(model, "all", null, all.n, all.correct, all.accuracy(), worst));
        perClass.forEach((c, n) -> rows.add(RowFactory.create(model, "class", classes.get(c), n.n, n.correct, n.accuracy(), null)));
        perGroup.forEach((g, n) -> rows.add(RowFactory.create(model, "group", g, n.n, n.correct, n.accuracy(), null)));
        spark.createDataFrame(rows, SCHEMA).coalesce(1).write().parquet(run.staged("zeroshot"));
        ImageSets.record(record, "image_files", p.manifest(), m.refs(), shards, conf);
        record.result("images", all.n).result("accuracy", all.accuracy()).result("worst_group_accuracy", worst).result("skipped", skipped);
        run.phase("classify");
        run.commit();
        return new Result(all.n, all.correct, all.accuracy(), worst, skipped, p.out().folder());
    }

    static final class Counts {
        long n;
        long correct;

        void add(boolean ok) {
            n++;
            if (ok) correct++;
        }

        double accuracy() {
            return n == 0 ? 0 : (double) correct / n;
        }
    }

    /** The class weights (SPEC §7) from the checkpoint's text tower (in the run's tower precision), C×p row-major. */
    static float[] classifier(Config p, Configuration conf, List<String> classes, List<String> templates, int projDim) {
        ClipTokenizer tok = Tokenizers.of(p.bpe(), p.checkpoint(), conf);
        TextTower text = TowerCache.text(p.checkpoint(), conf, textHeads(p, conf), p.settings().activation(), p.settings().towerPrecision());
        if (text.projDim() != projDim) {
            throw new UserInputException("checkpoint " + p.checkpoint() + ": text projection width " + text.projDim()
                    + " differs from the image projection width " + projDim);
        }
        List<int[]> seqs = new ArrayList<>();
        for (String c : classes) for (String t : templates) seqs.add(tok.encode(t.replace("{}", c), text.contextLength()));
        return ZeroShot.classWeights(text.embed(seqs, 512, new Workspace()), classes.size(), templates.size(), projDim);
    }

    private static int textHeads(Config p, Configuration conf) {
        try (org.sith.checkpoint.ClipText t = org.sith.checkpoint.ClipText.open(p.checkpoint(), conf, p.textHeads(), p.settings().activation())) {
            return t.heads();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

}
