package org.sith.jobs;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.sith.UserInputException;
import org.sith.executor.SerializableConf;
import org.sith.inputs.ImageSets;
import org.sith.inputs.OutputFolders;
import org.sith.io.Fs;
import org.sith.io.Npy;
import org.sith.report.ReportPage;
import org.sith.report.Thumbnails;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.RunRecord;
import org.sith.run.Schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * `report`: one self-contained {@code report/index.html} from the outputs found under `--out` (or `--in`).
 * Folders are recognised by their columns, not their names, so `--in base=/a/zeroshot,edited=/b/zeroshot`
 * puts two zero-shot runs side by side. The driver collects the (small) tables into one JSON blob that the
 * page's inline script renders; matched images become JPEG thumbnails (data: URIs) made on the executors.
 */
public final class ReportJob {
    public static final String NAME = "report";
    /** Up to this many explained vectors the page builds every head's table at load; above it, when a head is opened. */
    static final int EAGER_VECTORS = 4096;
    /** Rows of `explain` output (no layer) shown; the rest are counted. */
    static final int MAX_INPUT_VECTORS = 2000;

    public static final List<String> OUTPUTS = List.of("report");
    public static final int DEFAULT_THUMBS = 3;
    public static final int DEFAULT_THUMB_SIZE = 64;
    public static final String DEFAULT_TITLE = "SITH report";
    /** MLP neurons shown per layer (the largest σ first); the rest are counted. */
    public static final int DEFAULT_NEURONS = 20;
    /** Images of explain-images' outputs shown (the first by id); the rest are counted. */
    public static final int DEFAULT_IMAGES_SHOWN = 50;

    /** {@code in}: the Parquet folders to show instead of those under {@code out} (where report/ is written). */
    public record Config(String in, String images, int thumbs, int thumbSize, String title, int neurons, int imagesShown, OutputTarget out)
            implements java.io.Serializable {
        public Config {
            if (neurons < 1) throw new UserInputException("--neurons " + neurons + " must be at least 1");
            if (imagesShown < 1) throw new UserInputException("--images-shown " + imagesShown + " must be at least 1");
            if (thumbs < 0) throw new UserInputException("--thumbs " + thumbs + " must be 0 or more");
            if (thumbSize < 1) throw new UserInputException("--thumb-size " + thumbSize + " must be at least 1");
            if (title == null) title = DEFAULT_TITLE;
            if (out == null) throw new UserInputException("report needs --out (where report/ is written)");
        }
    }

    public record Result(String file, long bytes, int vectors, int thumbnails, List<String> unreadableImages, List<String> shown, List<String> ignored) {}

    enum Kind { EXPLANATIONS, MATCHES, EDITS, ZEROSHOT, RETRIEVAL, DIFF_HEADS, DIFF_VECTORS, IMAGE_CONTRIBUTIONS, IMAGE_EXPLANATIONS, SWEEP }

    private ReportJob() {}

    /** The columns of sweep/ (SPEC §13) the report needs. */
    static final List<String> SWEEP_COLUMNS = List.of("method", "k", "lambda", "vectors", "fidelity", "fidelity_residual", "coherence", "judge_score");

    static Kind kind(Set<String> cols) {
        // explain-images' tables (SPEC §11) first: they also hold the columns of explanations and matches
        if (cols.containsAll(List.of("image", "component", "share"))) return Kind.IMAGE_CONTRIBUTIONS;
        if (cols.containsAll(List.of("image", "concepts", "fidelity"))) return Kind.IMAGE_EXPLANATIONS;
        if (cols.containsAll(List.of("layer", "head", "sv", "concepts", "fidelity", "sigma"))) return Kind.EXPLANATIONS;
        if (cols.containsAll(SWEEP_COLUMNS)) return Kind.SWEEP;
        if (cols.containsAll(List.of("layer", "head", "sv", "rank", "image", "score"))) return Kind.MATCHES;
        if (cols.containsAll(List.of("layer", "head", "sv", "alpha", "sigma"))) return Kind.EDITS;
        if (cols.containsAll(List.of("scope", "name", "accuracy"))) return Kind.ZEROSHOT;
        if (cols.containsAll(List.of("checkpoint", "metric", "k", "value"))) return Kind.RETRIEVAL;
        if (cols.containsAll(List.of("layer", "head", "rel_change", "in_basis", "diagonal", "principal_angles"))) return Kind.DIFF_HEADS;
        if (cols.containsAll(List.of("layer", "head", "sv", "sigma_base", "sigma_ft", "reweight"))) return Kind.DIFF_VECTORS;
        return null;
    }

    public static Result run(SparkSession spark, Config p) {
        List<OutputFolders.Folder> folders = OutputFolders.resolve(p.in(), p.out().folder(), spark.sparkContext().hadoopConfiguration());
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> report(run, p, folders));
    }

    private static Result report(JobRun run, Config p, List<OutputFolders.Folder> folders) throws IOException {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        Map<Kind, List<Source>> byKind = new LinkedHashMap<>();
        List<String> shown = new ArrayList<>();
        List<String> ignored = new ArrayList<>();
        for (OutputFolders.Folder f : folders) {
            Dataset<Row> df;
            try {
                df = spark.read().parquet(f.path());
            } catch (RuntimeException e) {
                throw new UserInputException(f.path() + ": not readable as Parquet: " + e.getMessage().lines().findFirst().orElse(""));
            }
            Kind k = kind(Set.of(df.columns()));
            if (k == null) {
                ignored.add(f.name());
                continue;
            }
            shown.add(f.name());
            byKind.computeIfAbsent(k, x -> new ArrayList<>()).add(new Source(f, df));
            record.input(k.name().toLowerCase(java.util.Locale.ROOT), f.path(), conf);
        }
        if (shown.isEmpty()) throw new UserInputException("no reportable outputs (explanations, matches, edits, zeroshot, retrieval, diff_heads, diff_vectors, "
                + "image_contributions, image_explanations, sweep) in " + folders.stream().map(OutputFolders.Folder::path).toList());
        run.phase("list");

        Map<String, Object> data = new LinkedHashMap<>();
        data.put("title", p.title());
        List<Map<String, Object>> sources = new ArrayList<>();
        for (OutputFolders.Folder f : folders) {
            sources.add(map("name", f.name(), "path", f.path(), "shown", shown.contains(f.name())));
        }
        data.put("sources", sources);
        Strings concepts = new Strings();
        Strings images = new Strings();
        Map<String, List<Object[]>> matches = matches(byKind.get(Kind.MATCHES), p.thumbs(), images);
        int vectors = 0;
        int rendered = 0;
        List<Object> expl = new ArrayList<>();
        for (Source s : byKind.getOrDefault(Kind.EXPLANATIONS, List.of())) {
            Map<String, Object> e = explanations(s, concepts, matches, p.neurons());
            vectors += (Integer) e.remove("count");
            rendered += (Integer) e.remove("rendered");
            expl.add(e);
        }
        data.put("explanations", expl);
        data.put("eager", rendered <= EAGER_VECTORS);
        data.put("edits", rows(byKind.get(Kind.EDITS), concepts, "layer", "head", "sv", "alpha", "sigma", "selection", "relevance", "concepts"));
        data.put("zeroshot", rows(byKind.get(Kind.ZEROSHOT), concepts, "model", "scope", "name", "images", "correct", "accuracy", "worst_group_accuracy"));
        data.put("retrieval", rows(byKind.get(Kind.RETRIEVAL), concepts, "model", "checkpoint", "metric", "k", "queries", "value"));
        data.put("diff_heads", rows(byKind.get(Kind.DIFF_HEADS), concepts, "layer", "head", "rel_change", "in_basis", "diagonal", "principal_angles"));
        data.put("diff_vectors", rows(byKind.get(Kind.DIFF_VECTORS), concepts, "layer", "head", "sv", "sigma_base", "sigma_ft", "reweight",
                "match", "match_cos", "jaccard", "gained", "lost"));
        // the key only when explain-images' outputs are there: a report without them is the one it always was
        Map<String, Object> perImage = ReportImages.section(byKind.get(Kind.IMAGE_CONTRIBUTIONS), byKind.get(Kind.IMAGE_EXPLANATIONS),
                byKind.get(Kind.EXPLANATIONS), p.imagesShown(), concepts, images);
        if (perImage != null) data.put("per_image", perImage);
        // likewise the trade-off plot only when a sweep/ folder is there
        if (byKind.containsKey(Kind.SWEEP)) data.put("sweep", sweep(byKind.get(Kind.SWEEP)));
        run.phase("collect");

        List<String> unreadable = new ArrayList<>();
        String root = p.images();
        for (Kind k : List.of(Kind.MATCHES, Kind.IMAGE_CONTRIBUTIONS, Kind.IMAGE_EXPLANATIONS)) if (root == null) root = imagesRoot(byKind.get(k), conf);
        List<Map<String, Object>> imgs = thumbnails(spark, images.list(), root, p.thumbSize(), conf, unreadable);
        data.put("images", imgs);
        data.put("concepts", concepts.list());
        data.put("unreadable_images", unreadable);
        run.phase("thumbnails");

        String html = ReportPage.html(p.title(), new ObjectMapper().writeValueAsString(data));
        Path staged = new Path(run.staged("report"), "index.html");
        byte[] bytes = html.getBytes(StandardCharsets.UTF_8);
        try (OutputStream o = run.fs().create(staged, false)) {
            o.write(bytes);
        }
        int thumbs = (int) imgs.stream().filter(m -> m.get("src") != null).count();
        record.param("thumbs", p.thumbs()).param("neurons", p.neurons()).param("images_shown", p.imagesShown()).param("thumb_size", p.thumbSize()).param("images", root).result("shown", shown).result("ignored", ignored)
                .result("vectors", vectors).result("thumbnails", thumbs).result("unreadable_images", unreadable).result("bytes", bytes.length);
        run.commit();
        return new Result(new Path(run.existing("report"), "index.html").toString(), bytes.length, vectors, thumbs, unreadable, shown, ignored);
    }

    record Source(OutputFolders.Folder folder, Dataset<Row> df) {}

    /** A string table: each distinct string once in the JSON, referred to by index. */
    static final class Strings {
        private final Map<String, Integer> index = new LinkedHashMap<>();

        int of(String s) {
            return index.computeIfAbsent(s, x -> index.size());
        }

        List<String> list() {
            return new ArrayList<>(index.keySet());
        }
    }

    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** Four decimals are plenty on a page and keep the blob small; NaN becomes null. */
    static Double r4(Object v) {
        if (v == null) return null;
        double d = ((Number) v).doubleValue();
        return Double.isFinite(d) ? Math.round(d * 1e4) / 1e4 : null;
    }

    /** σ to four significant digits. */
    static Double sig4(double d) {
        if (!Double.isFinite(d) || d == 0) return Double.isFinite(d) ? 0.0 : null;
        return new java.math.BigDecimal(d).round(new java.math.MathContext(4)).doubleValue();
    }

    /**
     * A matched vector's key: component (`vo`, or `mlp` with head null), layer, head, sv. matches/ written before the
     * component column existed hold VO vectors only.
     */
    static String key(Object component, Object layer, Object head, Object sv) {
        return (component == null ? "vo" : component) + "/" + layer + "/" + head + "/" + sv;
    }

    /** Per vector: [image index, score] pairs by rank, the first {@code thumbs}. */
    static Map<String, List<Object[]>> matches(List<Source> sources, int thumbs, Strings images) {
        Map<String, List<Object[]>> out = new HashMap<>();
        if (sources == null || thumbs == 0) return out;
        for (Source s : sources) {
            Dataset<Row> df = Schemas.withComponent(s.df());
            List<Row> rows = df.filter(functions.col("rank").leq(thumbs)).select(functions.col("component"), functions.col("layer"), functions.col("head"),
                    functions.col("sv"), functions.col("rank"), functions.col("image"), functions.col("score"))
                    .orderBy("component", "layer", "head", "sv", "rank").collectAsList();
            for (Row r : rows) {
                out.computeIfAbsent(key(r.get(0), r.get(1), r.get(2), r.get(3)), k -> new ArrayList<>()).add(new Object[] {images.of(r.getString(5)), r4(r.get(6))});
            }
        }
        return out;
    }

    /** The parts of an explanations/ folder (SPEC §3b): VO heads, QK pairs and MLP neurons of each tower. */
    static final class Tower {
        final TreeMap<Integer, TreeMap<Integer, Map<String, List<Object>>>> vo = new TreeMap<>();
        /** layer → head → sv → {sigma, query explanation, key explanation}. */
        final TreeMap<Integer, TreeMap<Integer, TreeMap<Integer, Map<String, Object>>>> qk = new TreeMap<>();
        final List<Object> mlp = new ArrayList<>();
    }

    /** Concepts of one explanation as [concept index, weight, ...]. */
    static List<Object> conceptList(Row r, int i, Strings concepts) {
        List<Object> c = new ArrayList<>();
        for (Row k : r.<Row>getList(i)) {
            c.add(concepts.of(k.getString(k.fieldIndex("concept"))));
            c.add(r4(k.get(k.fieldIndex("weight"))));
        }
        return c;
    }

    private static List<Object> flatMatches(List<Object[]> m) {
        List<Object> flat = new ArrayList<>();
        if (m != null) for (Object[] pair : m) flat.addAll(Arrays.asList(pair));
        return flat;
    }

    /**
     * One explanations/ folder as the page draws it. Rows without a vector identity (explain's input vectors) are listed
     * by row; the vision tower's VO vectors by layer and head, as before SPEC §3b (and under the same keys, so a default
     * run's page is unchanged); QK rows as query/key pairs per head; MLP neurons per layer, the {@code neurons} largest by
     * σ with the number left out; the text tower's rows under `text`. Outputs without `tower`/`component` are vision VO.
     */
    static Map<String, Object> explanations(Source s, Strings concepts, Map<String, List<Object[]>> matches, int neurons) {
        Dataset<Row> df = Schemas.withKinds(s.df());
        boolean hasRes = Arrays.asList(df.columns()).contains("fidelity_residual");
        boolean hasDeg = Arrays.asList(df.columns()).contains("degenerate");
        boolean hasVector = Arrays.asList(df.columns()).contains("vector");
        org.apache.spark.sql.Column tower = functions.coalesce(functions.col("tower"), functions.lit("vision"));
        org.apache.spark.sql.Column component = functions.coalesce(functions.col("component"), functions.lit("vo"));
        org.apache.spark.sql.Column side = Arrays.asList(df.columns()).contains("side") ? functions.col("side") : functions.lit(null).cast("string");
        df = df.select(functions.col("layer"), functions.col("head"), functions.col("sv"), functions.col("sigma"), functions.col("fidelity"),
                hasRes ? functions.col("fidelity_residual") : functions.lit(null).as("r"), functions.col("coherence"),
                hasDeg ? functions.col("degenerate") : functions.lit(false).as("d"), functions.col("concepts"),
                (hasVector ? functions.col("vector") : functions.lit(null).cast("int")).as("v"), tower.as("t"), component.as("c"), side.as("s"));
        // an input vector (explain's rows): no layer or sv, or no head where a head is needed
        org.apache.spark.sql.Column input = functions.col("layer").isNull().or(functions.col("sv").isNull())
                .or(functions.col("head").isNull().and(functions.col("c").notEqual("mlp")));
        org.apache.spark.sql.Column mlp = functions.not(input).and(functions.col("c").equalTo("mlp"));
        List<Row> rows = df.filter(functions.not(mlp))
                .orderBy(functions.col("layer").asc_nulls_last(), functions.col("head"), functions.col("sv"), functions.col("v").asc_nulls_last(),
                        functions.col("t"), functions.col("c"), functions.col("s"))
                .collectAsList();
        Map<String, Tower> towers = new LinkedHashMap<>();
        towers.put("vision", new Tower());
        towers.put("text", new Tower());
        List<Object> inputVectors = new ArrayList<>();
        int inputCount = 0;
        int rendered = 0;
        TreeMap<String, Integer> skipped = new TreeMap<>();
        for (Row r : rows) {
            List<Object> c = conceptList(r, 8, concepts);
            if (r.isNullAt(0) || r.isNullAt(1) || r.isNullAt(2)) {
                inputCount++;
                if (inputVectors.size() < MAX_INPUT_VECTORS) {
                    inputVectors.add(map("vector", r.get(9), "fid", r4(r.get(4)), "coh", r4(r.get(6)), "c", c));
                    rendered++;
                }
                continue;
            }
            Tower t = towers.get(r.getString(10));
            String comp = r.getString(11);
            if (t == null || !(comp.equals("vo") || comp.equals("qk"))) {
                skipped.merge(r.getString(10) + " " + comp, 1, Integer::sum);
                continue;
            }
            if (comp.equals("qk")) {
                Map<String, Object> pair = t.qk.computeIfAbsent(r.getInt(0), x -> new TreeMap<>()).computeIfAbsent(r.getInt(1), x -> new TreeMap<>())
                        .computeIfAbsent(r.getInt(2), x -> new LinkedHashMap<>());
                if (pair.isEmpty()) rendered++;
                pair.putIfAbsent("sigma", r.isNullAt(3) ? null : sig4(r.getDouble(3)));
                String which = "key".equals(r.getString(12)) ? "k" : "q";
                pair.put(which, map("fid", r4(r.get(4)), "res", r4(r.get(5)), "coh", r4(r.get(6)), "c", c));
                if (!r.isNullAt(7) && r.getBoolean(7)) pair.put("deg", true);
                continue;
            }
            rendered++;
            Map<String, List<Object>> h = t.vo.computeIfAbsent(r.getInt(0), x -> new TreeMap<>()).computeIfAbsent(r.getInt(1), x -> new LinkedHashMap<>());
            h.computeIfAbsent("sv", x -> new ArrayList<>()).add(r.getInt(2));
            h.computeIfAbsent("sigma", x -> new ArrayList<>()).add(r.isNullAt(3) ? null : sig4(r.getDouble(3)));
            h.computeIfAbsent("fid", x -> new ArrayList<>()).add(r4(r.get(4)));
            h.computeIfAbsent("res", x -> new ArrayList<>()).add(r4(r.get(5)));
            h.computeIfAbsent("coh", x -> new ArrayList<>()).add(r4(r.get(6)));
            if (!r.isNullAt(7) && r.getBoolean(7)) h.computeIfAbsent("deg", x -> new ArrayList<>()).add(r.getInt(2));
            h.computeIfAbsent("c", x -> new ArrayList<>()).add(c);
            // images are matched to vision vectors only
            h.computeIfAbsent("m", x -> new ArrayList<>()).add(flatMatches(t == towers.get("vision") ? matches.get(key("vo", r.get(0), r.get(1), r.get(2))) : null));
        }
        int mlpCount = mlpNeurons(df.filter(mlp), neurons, concepts, matches, towers);
        for (Object layer : towers.get("vision").mlp) rendered += ((List<?>) ((Map<?, ?>) layer).get("sv")).size();
        for (Object layer : towers.get("text").mlp) rendered += ((List<?>) ((Map<?, ?>) layer).get("sv")).size();

        List<String> models = s.df().select("model").distinct().orderBy("model").as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
        Map<String, Object> out = map("name", s.folder().name(), "models", models, "layers", voLayers(towers.get("vision")), "vectors", inputVectors,
                "vector_count", inputCount, "count", rows.size() + mlpCount, "rendered", rendered);
        // keys of SPEC §3b's rows only when there are such rows: a default run's page is the one it always was
        Tower vision = towers.get("vision");
        if (!vision.qk.isEmpty()) out.put("qk", qkLayers(vision));
        if (!vision.mlp.isEmpty()) out.put("mlp", vision.mlp);
        Tower text = towers.get("text");
        if (!text.vo.isEmpty() || !text.qk.isEmpty() || !text.mlp.isEmpty()) {
            out.put("text", map("layers", voLayers(text), "qk", qkLayers(text), "mlp", text.mlp));
        }
        if (!skipped.isEmpty()) out.put("skipped", skipped);
        return out;
    }

    /** The VO heads of a tower by layer, as the page's heat maps and head tables take them. */
    private static List<Object> voLayers(Tower t) {
        List<Object> layerList = new ArrayList<>();
        t.vo.forEach((layer, heads) -> {
            List<Object> hl = new ArrayList<>();
            heads.forEach((head, cols) -> {
                Map<String, Object> h = new LinkedHashMap<>();
                h.put("head", head);
                h.putAll(cols);
                if (cols.get("m").stream().allMatch(x -> ((List<?>) x).isEmpty())) h.remove("m");
                hl.add(h);
            });
            layerList.add(map("layer", layer, "heads", hl));
        });
        return layerList;
    }

    /** QK pairs per layer and head: sv, σ, and the query and key explanations (null when that side is absent). */
    private static List<Object> qkLayers(Tower t) {
        List<Object> layerList = new ArrayList<>();
        t.qk.forEach((layer, heads) -> {
            List<Object> hl = new ArrayList<>();
            heads.forEach((head, pairs) -> {
                Map<String, Object> h = map("head", head, "sv", new ArrayList<>(pairs.keySet()));
                List<Object> sigma = new ArrayList<>();
                List<Object> q = new ArrayList<>();
                List<Object> k = new ArrayList<>();
                List<Object> deg = new ArrayList<>();
                pairs.forEach((sv, pair) -> {
                    sigma.add(pair.get("sigma"));
                    q.add(pair.get("q"));
                    k.add(pair.get("k"));
                    if (pair.containsKey("deg")) deg.add(sv);
                });
                h.put("sigma", sigma);
                h.put("q", q);
                h.put("k", k);
                if (!deg.isEmpty()) h.put("deg", deg);
                hl.add(h);
            });
            layerList.add(map("layer", layer, "heads", hl));
        });
        return layerList;
    }

    /**
     * MLP neurons (SPEC §3b): per tower, layer and side, the {@code neurons} largest by σ (the norm of the neuron's centered
     * write or read vector; ties: lower neuron first) and how many there are; the ranking runs in Spark, so only the
     * shown rows reach the driver. Returns the number of MLP rows.
     */
    private static int mlpNeurons(Dataset<Row> df, int neurons, Strings concepts, Map<String, List<Object[]>> matches, Map<String, Tower> towers) {
        org.apache.spark.sql.expressions.WindowSpec part = org.apache.spark.sql.expressions.Window.partitionBy("t", "layer", "s");
        List<Row> rows = df.withColumn("rk", functions.row_number().over(part.orderBy(functions.col("sigma").desc_nulls_last(), functions.col("sv"))))
                .withColumn("n", functions.count(functions.lit(1)).over(part))
                .filter(functions.col("rk").leq(neurons))
                .orderBy(functions.col("t"), functions.col("layer"), functions.col("s").desc_nulls_first(), functions.col("rk")).collectAsList();
        Map<String, Map<String, Object>> groups = new LinkedHashMap<>();
        int total = 0;
        for (Row r : rows) {
            Tower t = towers.get(r.getString(10));
            String side = r.isNullAt(12) ? "right" : r.getString(12);
            String g = r.getString(10) + "/" + r.getInt(0) + "/" + side;
            Map<String, Object> layer = groups.get(g);
            if (layer == null) {
                if (t == null) continue;
                layer = map("layer", r.getInt(0), "side", side, "total", r.getLong(r.fieldIndex("n")), "sv", new ArrayList<>(), "sigma", new ArrayList<>(),
                        "fid", new ArrayList<>(), "res", new ArrayList<>(), "coh", new ArrayList<>(), "c", new ArrayList<>(), "m", new ArrayList<>());
                groups.put(g, layer);
                t.mlp.add(layer);
                total += (int) r.getLong(r.fieldIndex("n"));
            }
            add(layer, "sv", r.getInt(2));
            add(layer, "sigma", r.isNullAt(3) ? null : sig4(r.getDouble(3)));
            add(layer, "fid", r4(r.get(4)));
            add(layer, "res", r4(r.get(5)));
            add(layer, "coh", r4(r.get(6)));
            add(layer, "c", conceptList(r, 8, concepts));
            add(layer, "m", flatMatches(t == towers.get("vision") ? matches.get(key("mlp", r.get(0), null, r.get(2))) : null));
        }
        for (Map<String, Object> layer : groups.values()) {
            if (((List<?>) layer.get("m")).stream().allMatch(x -> ((List<?>) x).isEmpty())) layer.remove("m");
        }
        return total;
    }

    @SuppressWarnings("unchecked")
    private static void add(Map<String, Object> m, String key, Object v) {
        ((List<Object>) m.get(key)).add(v);
    }

    /**
     * Each sweep/ folder: its name, model and rows (method, K, λ, vectors and the means, at full precision: the page places
     * the plot's points by them), ordered by method, λ and K.
     */
    static List<Map<String, Object>> sweep(List<Source> sources) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Source s : sources) {
            List<String> cols = Arrays.asList(s.df().columns());
            List<Map<String, Object>> rows = new ArrayList<>();
            for (Row r : s.df().select("method", "k", "lambda", "vectors", "fidelity", "fidelity_residual", "coherence", "judge_score")
                    .orderBy("method", "lambda", "k").collectAsList()) {
                rows.add(map("method", r.getString(0), "k", r.getInt(1), "lambda", r.get(2), "vectors", r.get(3), "fid", finite(r.get(4)),
                        "res", finite(r.get(5)), "coh", finite(r.get(6)), "judge", finite(r.get(7))));
            }
            Map<String, Object> m = map("name", s.folder().name(), "rows", rows);
            for (String c : List.of("model", "tower", "component", "side")) {
                if (cols.contains(c)) m.put(c, s.df().select(c).distinct().orderBy(c).as(org.apache.spark.sql.Encoders.STRING()).collectAsList());
            }
            out.add(m);
        }
        return out;
    }

    private static Double finite(Object v) {
        return v == null || !Double.isFinite(((Number) v).doubleValue()) ? null : ((Number) v).doubleValue();
    }

    /** The named columns (those present) of every source of a kind, each row tagged with its source's name. */
    static List<Map<String, Object>> rows(List<Source> sources, Strings concepts, String... columns) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (sources == null) return out;
        for (Source s : sources) {
            List<String> present = Arrays.stream(columns).filter(Arrays.asList(s.df().columns())::contains).toList();
            for (Row r : s.df().select(present.stream().map(functions::col).toArray(org.apache.spark.sql.Column[]::new)).collectAsList()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("run", s.folder().name());
                for (int i = 0; i < present.size(); i++) m.put(present.get(i), jsonValue(r.get(i)));
                out.add(m);
            }
        }
        return out;
    }

    private static Object jsonValue(Object v) {
        if (v instanceof Double || v instanceof Float) return r4(v);
        if (v instanceof Row r) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < r.length(); i++) m.put(r.schema().fields()[i].name(), jsonValue(r.get(i)));
            return m;
        }
        if (v instanceof scala.collection.Iterable<?> it) {
            List<Object> l = new ArrayList<>();
            for (Object o : scala.jdk.javaapi.CollectionConverters.asJava(it)) l.add(jsonValue(o));
            return l;
        }
        return v;
    }

    /** Where match-images (or explain-images) read its images: from the folder's _run.json (the first folder that has one). */
    static String imagesRoot(List<Source> matches, Configuration conf) {
        if (matches == null) return null;
        for (Source s : matches) {
            JsonNode root = RunRecord.read(new Path(s.folder().path(), "_run.json"), conf);
            if (root == null) continue;
            for (JsonNode i : root.path("inputs")) if ("images".equals(i.path("role").asText())) return i.path("path").asText();
        }
        return null;
    }

    /** Thumbnails of the images by id, read and re-encoded on the executors; ids that cannot be read are listed. */
    static List<Map<String, Object>> thumbnails(SparkSession spark, List<String> ids, String root, int size, Configuration conf, List<String> unreadable) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (ids.isEmpty()) return out;
        Map<String, String> found = new HashMap<>();
        if (root != null) {
            boolean pixels = ImageSets.isPixelArray(root);
            boolean folder;
            try {
                Path rp = Fs.path(root);
                folder = !pixels && Fs.fs(rp, conf).exists(rp) && Fs.fs(rp, conf).getFileStatus(rp).isDirectory();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            SerializableConf sc = new SerializableConf(conf);
            int slices = Math.max(1, Math.min(ids.size() / 64 + 1, spark.sparkContext().defaultParallelism() * 4));
            List<String[]> loaded = JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(ids, slices)
                    .mapPartitions(it -> load(it, root, pixels, folder, size, sc)).collect();
            for (String[] l : loaded) if (l[1] != null) found.put(l[0], l[1]);
        }
        for (String id : ids) {
            String src = found.get(id);
            if (src == null) unreadable.add(id);
            out.add(map("id", id, "src", src));
        }
        return out;
    }

    private static Iterator<String[]> load(Iterator<String> ids, String root, boolean pixels, boolean folder, int size, SerializableConf sc) {
        Configuration conf = sc.get();
        List<String[]> out = new ArrayList<>();
        Npy.RowFile rows = pixels ? Npy.openRows("images", root, conf, 4) : null;
        while (ids.hasNext()) {
            String id = ids.next();
            try {
                if (pixels) {
                    long row = Long.parseLong(id);
                    int side = (int) rows.shape()[2];
                    out.add(new String[] {id, Thumbnails.fromPixels(Npy.readRows(rows, conf, row, 1), side, size)});
                } else {
                    Path p = folder ? new Path(Fs.path(root), id) : Fs.path(id);
                    byte[] bytes;
                    try (var in = Fs.fs(p, conf).open(p)) {
                        bytes = in.readAllBytes();
                    }
                    out.add(new String[] {id, Thumbnails.fromFile(bytes, id, size)});
                }
            } catch (Exception e) { // a missing or undecodable image is listed in the report, never fatal
                out.add(new String[] {id, null});
            }
        }
        return out.iterator();
    }
}
