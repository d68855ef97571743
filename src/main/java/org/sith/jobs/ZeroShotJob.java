package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.io.Fs;
import org.sith.io.TextLines;
import org.sith.linalg.Vec;
import org.sith.model.ClipTokenizer;
import org.sith.model.TextTower;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;

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

    public record Params(String checkpoint, String manifest, String classes, String templates, String bpe, Integer heads,
                         Integer textHeads, String activation, String modelName, String out, boolean overwrite, int imagesPerTask)
            implements Serializable {}

    public record Result(long images, long correct, double accuracy, Double worstGroupAccuracy, List<String> skipped, String out) {}

    /** One image's prediction. */
    record Prediction(String id, int predicted) implements Serializable {}

    record SliceResult(int slice, List<Prediction> predictions, List<String> skipped) implements Serializable {}

    private ZeroShotJob() {}

    public static Result run(SparkSession spark, Params p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Inputs.mustExist("checkpoint", p.checkpoint(), conf);
        Inputs.mustExist("images", p.manifest(), conf);
        Inputs.mustExist("classes", p.classes(), conf);
        if (p.templates() != null) Inputs.mustExist("templates", p.templates(), conf);
        OutputDir dir = OutputDir.prepare(p.out(), List.of("zeroshot"), p.overwrite(), false, false, conf);
        RunRecord record = new RunRecord(NAME, spark).options(p);
        try {
            List<String> classes = listFile(p.classes(), conf, "--classes");
            List<String> templates = p.templates() == null ? List.of("a photo of a {}.") : listFile(p.templates(), conf, "--templates");
            for (String t : templates) {
                if (!t.contains("{}")) throw new UserInputException("--templates " + p.templates() + ": template '" + t + "' has no {} for the class name");
            }
            Manifest m = Manifest.read(p.manifest(), classes, conf);
            ImageMeanJob.ImageModel im = ImageMeanJob.ImageModel.of(p.checkpoint(), p.heads(), p.activation(), null, conf);
            float[] weights = classifier(p, conf, classes, templates, im.projDim());
            String model = p.modelName() != null ? p.modelName() : new Path(p.checkpoint()).getName();
            record.input("checkpoint", p.checkpoint(), conf).input("images", p.manifest(), conf).input("classes", p.classes(), conf);
            if (p.templates() != null) record.input("templates", p.templates(), conf);
            record.param("model", model).param("classes", classes.size()).param("templates", templates.size())
                    .param("images_per_task", p.imagesPerTask());
            record.phase("classifier");

            ImageInputs.Shards shards = ImageInputs.Shards.of(spark, m.refs(), p.imagesPerTask());
            ImageInputs.Loader loader = shards.loader(im.pre());
            LongAccumulator counter = shards.counter();
            Broadcast<float[]> weightsB = shards.jsc().broadcast(weights);
            String checkpoint = p.checkpoint();
            Integer heads = p.heads();
            String activation = im.activation();
            int nClasses = classes.size();
            List<SliceResult> results;
            try (Progress progress = new Progress("sith " + NAME, "images", m.refs().size(), 0, counter)) {
                results = new ArrayList<>(shards.tasks().map(i -> {
                    VisionTower tower = loader.tower(checkpoint, heads, activation);
                    ImageInputs.Batch batch = loader.load(i);
                    float[][] e = ImageMeanJob.ImageModel.embed(tower, batch);
                    List<Prediction> out = new ArrayList<>();
                    for (int k = 0; k < e.length; k++) out.add(new Prediction(batch.decoded().get(k).id(), argmax(e[k], weightsB.value(), nClasses)));
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
            spark.createDataFrame(rows, SCHEMA).coalesce(1).write().parquet(dir.staged("zeroshot"));
            ImageInputs.record(record, "image_files", p.manifest(), m.refs(), shards, conf);
            record.result("images", all.n).result("accuracy", all.accuracy()).result("worst_group_accuracy", worst).result("skipped", skipped);
            record.phase("classify");
            dir.commit(record.toJson());
            return new Result(all.n, all.correct, all.accuracy(), worst, skipped, p.out());
        } catch (Throwable e) { // Spark throws undeclared checked exceptions (SparkException) too
            DecomposeJob.waitForIdle(spark);
            dir.abort(NAME, false);
            throw e;
        }
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

    /** The class of largest cosine; weights are unit rows, so the image's norm does not matter. Ties: the lower class. */
    static int argmax(float[] e, float[] w, int classes) {
        int p = e.length;
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            double s = 0;
            for (int j = 0; j < p; j++) s += (double) e[j] * w[c * p + j];
            if (s > bestScore) {
                bestScore = s;
                best = c;
            }
        }
        return best;
    }

    /** w_c = normalize(mean_t normalize(text(template_t(class_c)))), C×p row-major. */
    static float[] classifier(Params p, Configuration conf, List<String> classes, List<String> templates, int projDim) {
        ClipTokenizer tok = Inputs.tokenizer(p.bpe(), p.checkpoint(), conf);
        TextTower text = TowerCache.text(p.checkpoint(), conf, textHeads(p, conf), p.activation());
        if (text.projDim() != projDim) {
            throw new UserInputException("checkpoint " + p.checkpoint() + ": text projection width " + text.projDim()
                    + " differs from the image projection width " + projDim);
        }
        List<int[]> seqs = new ArrayList<>();
        for (String c : classes) for (String t : templates) seqs.add(tok.encode(t.replace("{}", c), text.contextLength()));
        float[][] e = text.embed(seqs, 512, new Workspace());
        float[] w = new float[classes.size() * projDim];
        for (int c = 0; c < classes.size(); c++) {
            double[] mean = new double[projDim];
            for (int t = 0; t < templates.size(); t++) {
                float[] v = e[c * templates.size() + t];
                double n = Vec.norm(v);
                for (int j = 0; j < projDim; j++) mean[j] += v[j] / n;
            }
            System.arraycopy(Vec.toFloat(Vec.normalizeInPlace(mean)), 0, w, c * projDim, projDim);
        }
        return w;
    }

    private static int textHeads(Params p, Configuration conf) {
        try (org.sith.checkpoint.ClipText t = org.sith.checkpoint.ClipText.open(p.checkpoint(), conf, p.textHeads(), p.activation())) {
            return t.heads();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * One entry a line. A pasted Python list (as in CLIP's published prompts) works too: lines such as
     * {@code classes = [} and {@code ]} are skipped, and quotes and trailing commas are removed.
     */
    static List<String> listFile(String path, Configuration conf, String option) {
        List<String> out = new ArrayList<>();
        for (String line : TextLines.read(path, conf, option + " " + path)) {
            String s = line.strip();
            if (s.isEmpty() || s.endsWith("[") || s.equals("]")) continue;
            if (s.endsWith(",")) s = s.substring(0, s.length() - 1).strip();
            if (s.length() >= 2 && (s.charAt(0) == '\'' || s.charAt(0) == '"') && s.charAt(s.length() - 1) == s.charAt(0)) {
                s = s.substring(1, s.length() - 1);
            }
            out.add(s);
        }
        if (out.isEmpty()) throw new UserInputException(option + " " + path + " lists nothing");
        return out;
    }

    /** The labelled images: a CSV with a header naming image and label (class index or name) and optionally group. */
    record Manifest(List<ImageInputs.ImageRef> refs, int[] labels, String[] groups) {
        static Manifest read(String path, List<String> classes, Configuration conf) {
            String label = "--images " + path;
            String[] lines = TextLines.read(path, conf, label);
            List<String> header = Arrays.stream(lines[0].split(",", -1)).map(s -> s.strip().toLowerCase(java.util.Locale.ROOT)).toList();
            int image = header.indexOf("image");
            int lab = header.indexOf("label");
            int group = header.indexOf("group");
            if (image < 0 || lab < 0) throw new UserInputException(label + ": the header must name 'image' and 'label' columns (and optionally 'group')");
            Map<String, Integer> byName = new HashMap<>();
            for (int c = 0; c < classes.size(); c++) byName.putIfAbsent(classes.get(c), c);
            Path base = Fs.path(path).getParent();
            List<ImageInputs.ImageRef> refs = new ArrayList<>();
            List<Integer> labels = new ArrayList<>();
            List<String> groups = new ArrayList<>();
            for (int r = 1; r < lines.length; r++) {
                if (lines[r].isBlank()) continue;
                String[] f = lines[r].split(",", -1);
                String where = label + " line " + (r + 1);
                if (f.length != header.size()) throw new UserInputException(where + ": " + f.length + " fields, the header has " + header.size());
                String img = f[image].strip();
                String l = f[lab].strip();
                Integer c = byName.get(l);
                if (c == null) {
                    try {
                        c = Integer.parseInt(l);
                    } catch (NumberFormatException e) {
                        throw new UserInputException(where + ": label '" + l + "' is neither a class name nor a class index");
                    }
                    if (c < 0 || c >= classes.size()) throw new UserInputException(where + ": label " + c + " outside 0.." + (classes.size() - 1));
                }
                refs.add(ImageInputs.inManifest(img, img, base));
                labels.add(c);
                if (group >= 0) groups.add(f[group].strip());
            }
            if (refs.isEmpty()) throw new UserInputException(label + " lists no image");
            return new Manifest(refs, labels.stream().mapToInt(Integer::intValue).toArray(), group >= 0 ? groups.toArray(new String[0]) : null);
        }
    }
}
