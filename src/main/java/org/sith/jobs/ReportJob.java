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
import org.sith.heads.VectorId;
import org.sith.inputs.ImageSets;
import org.sith.inputs.OutputFolders;
import org.sith.io.Fs;
import org.sith.io.Npy;
import org.sith.report.ReportPage;
import org.sith.report.Thumbnails;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.RunRecord;

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

    /** {@code in}: the Parquet folders to show instead of those under {@code out} (where report/ is written). */
    public record Config(String in, String images, int thumbs, int thumbSize, String title, OutputTarget out) implements java.io.Serializable {
        public Config {
            if (thumbs < 0) throw new UserInputException("--thumbs " + thumbs + " must be 0 or more");
            if (thumbSize < 1) throw new UserInputException("--thumb-size " + thumbSize + " must be at least 1");
            if (title == null) title = DEFAULT_TITLE;
            if (out == null) throw new UserInputException("report needs --out (where report/ is written)");
        }
    }

    public record Result(String file, long bytes, int vectors, int thumbnails, List<String> unreadableImages, List<String> shown, List<String> ignored) {}

    enum Kind { EXPLANATIONS, MATCHES, EDITS, ZEROSHOT, RETRIEVAL, DIFF_HEADS, DIFF_VECTORS }

    private ReportJob() {}

    static Kind kind(Set<String> cols) {
        if (cols.containsAll(List.of("layer", "head", "sv", "concepts", "fidelity", "sigma"))) return Kind.EXPLANATIONS;
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
        if (shown.isEmpty()) throw new UserInputException("no reportable outputs (explanations, matches, edits, zeroshot, retrieval, diff_heads, diff_vectors) in " + folders.stream().map(OutputFolders.Folder::path).toList());
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
        Map<VectorId, List<Object[]>> matches = matches(byKind.get(Kind.MATCHES), p.thumbs(), images);
        int vectors = 0;
        List<Object> expl = new ArrayList<>();
        for (Source s : byKind.getOrDefault(Kind.EXPLANATIONS, List.of())) {
            Map<String, Object> e = explanations(s, concepts, matches);
            vectors += (Integer) e.remove("count");
            expl.add(e);
        }
        data.put("explanations", expl);
        data.put("eager", vectors <= EAGER_VECTORS);
        data.put("edits", rows(byKind.get(Kind.EDITS), concepts, "layer", "head", "sv", "alpha", "sigma", "selection", "relevance", "concepts"));
        data.put("zeroshot", rows(byKind.get(Kind.ZEROSHOT), concepts, "model", "scope", "name", "images", "correct", "accuracy", "worst_group_accuracy"));
        data.put("retrieval", rows(byKind.get(Kind.RETRIEVAL), concepts, "model", "checkpoint", "metric", "k", "queries", "value"));
        data.put("diff_heads", rows(byKind.get(Kind.DIFF_HEADS), concepts, "layer", "head", "rel_change", "in_basis", "diagonal", "principal_angles"));
        data.put("diff_vectors", rows(byKind.get(Kind.DIFF_VECTORS), concepts, "layer", "head", "sv", "sigma_base", "sigma_ft", "reweight",
                "match", "match_cos", "jaccard", "gained", "lost"));
        run.phase("collect");

        List<String> unreadable = new ArrayList<>();
        String root = p.images() != null ? p.images() : imagesRoot(byKind.get(Kind.MATCHES), conf);
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
        record.param("thumbs", p.thumbs()).param("thumb_size", p.thumbSize()).param("images", root).result("shown", shown).result("ignored", ignored)
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

    static VectorId key(Object layer, Object head, Object sv) {
        return new VectorId(((Number) layer).intValue(), ((Number) head).intValue(), ((Number) sv).intValue());
    }

    /** Per vector: [image index, score] pairs by rank, the first {@code thumbs}. */
    static Map<VectorId, List<Object[]>> matches(List<Source> sources, int thumbs, Strings images) {
        Map<VectorId, List<Object[]>> out = new HashMap<>();
        if (sources == null || thumbs == 0) return out;
        for (Source s : sources) {
            // MLP neurons' matches (match-images --component mlp) have no head: the report shows heads' vectors only
            List<Row> rows = s.df().filter(functions.col("rank").leq(thumbs).and(functions.col("head").isNotNull()))
                    .select("layer", "head", "sv", "rank", "image", "score")
                    .orderBy("layer", "head", "sv", "rank").collectAsList();
            for (Row r : rows) {
                out.computeIfAbsent(key(r.get(0), r.get(1), r.get(2)), k -> new ArrayList<>()).add(new Object[] {images.of(r.getString(4)), r4(r.get(5))});
            }
        }
        return out;
    }

    static Map<String, Object> explanations(Source s, Strings concepts, Map<VectorId, List<Object[]>> matches) {
        Dataset<Row> df = s.df();
        boolean hasRes = Arrays.asList(df.columns()).contains("fidelity_residual");
        boolean hasDeg = Arrays.asList(df.columns()).contains("degenerate");
        boolean hasVector = Arrays.asList(df.columns()).contains("vector");
        List<Row> rows = df.select(functions.col("layer"), functions.col("head"), functions.col("sv"), functions.col("sigma"), functions.col("fidelity"),
                hasRes ? functions.col("fidelity_residual") : functions.lit(null).as("r"), functions.col("coherence"),
                hasDeg ? functions.col("degenerate") : functions.lit(false).as("d"), functions.col("concepts"),
                (hasVector ? functions.col("vector") : functions.lit(null).cast("int")).as("v"))
                .orderBy(functions.col("layer").asc_nulls_last(), functions.col("head"), functions.col("sv"), functions.col("v").asc_nulls_last()).collectAsList();
        TreeMap<Integer, TreeMap<Integer, Map<String, List<Object>>>> layers = new TreeMap<>();
        List<Object> inputVectors = new ArrayList<>();
        int inputCount = 0;
        for (Row r : rows) {
            List<Object> c = new ArrayList<>();
            for (Row k : r.<Row>getList(8)) {
                c.add(concepts.of(k.getString(k.fieldIndex("concept"))));
                c.add(r4(k.get(k.fieldIndex("weight"))));
            }
            if (r.isNullAt(0) || r.isNullAt(1) || r.isNullAt(2)) {
                inputCount++;
                if (inputVectors.size() < MAX_INPUT_VECTORS) {
                    inputVectors.add(map("vector", r.get(9), "fid", r4(r.get(4)), "coh", r4(r.get(6)), "c", c));
                }
                continue;
            }
            Map<String, List<Object>> h = layers.computeIfAbsent(r.getInt(0), x -> new TreeMap<>()).computeIfAbsent(r.getInt(1), x -> new LinkedHashMap<>());
            h.computeIfAbsent("sv", x -> new ArrayList<>()).add(r.getInt(2));
            h.computeIfAbsent("sigma", x -> new ArrayList<>()).add(r.isNullAt(3) ? null : sig4(r.getDouble(3)));
            h.computeIfAbsent("fid", x -> new ArrayList<>()).add(r4(r.get(4)));
            h.computeIfAbsent("res", x -> new ArrayList<>()).add(r4(r.get(5)));
            h.computeIfAbsent("coh", x -> new ArrayList<>()).add(r4(r.get(6)));
            if (!r.isNullAt(7) && r.getBoolean(7)) h.computeIfAbsent("deg", x -> new ArrayList<>()).add(r.getInt(2));
            h.computeIfAbsent("c", x -> new ArrayList<>()).add(c);
            List<Object[]> m = matches.get(key(r.get(0), r.get(1), r.get(2)));
            List<Object> flat = new ArrayList<>();
            if (m != null) for (Object[] pair : m) flat.addAll(Arrays.asList(pair));
            h.computeIfAbsent("m", x -> new ArrayList<>()).add(flat);
        }
        List<Object> layerList = new ArrayList<>();
        layers.forEach((layer, heads) -> {
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
        List<String> models = df.select("model").distinct().orderBy("model").as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
        return map("name", s.folder().name(), "models", models, "layers", layerList, "vectors", inputVectors, "vector_count", inputCount,
                "count", rows.size());
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

    /** Where match-images read its images: from matches/_run.json (the first matches folder that has one). */
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
