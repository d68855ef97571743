package org.sith.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.checkpoint.CheckpointPatch;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.heads.HeadBasis;
import org.sith.heads.HeadEdit;
import org.sith.heads.VoFactors;
import org.sith.io.Fs;
import org.sith.io.TextLines;
import org.sith.linalg.Vec;

/**
 * `edit` by table: scale factors α per (layer, head, sv) applied as SPEC §8 says, exported as a
 * checkpoint in the input's own layout, names and dtypes (only the edited blocks' out_proj weight
 * and bias change; every other byte is copied), beside copies of its config and tokenizer files,
 * plus {@code edits/} recording each edit with the explanation that justified it when given.
 */
public final class EditJob {
    public static final String NAME = "edit";
    /** Files that travel with a checkpoint and are copied beside the edited one. */
    static final List<String> SIDECARS = List.of("config.json", "open_clip_config.json", "preprocessor_config.json",
            "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "vocab.json", "merges.txt",
            "bpe_simple_vocab_16e6.txt.gz");

    /**
     * Either {@code edits} (a table) or {@code query} (texts, or a file of them, one a line) with
     * {@code explanations} and {@code concepts}: suppress vectors whose relevance reaches
     * {@code threshold}, or with {@code amplify} scale every explained vector by max(α_min, R + β).
     */
    public record Params(String checkpoint, String edits, String explanations, Integer heads, String modelName, String out,
                         boolean overwrite, String query, String concepts, String vocab, String bpe, Double threshold,
                         boolean amplify, double alphaMin, double beta) implements Serializable {
        public Params(String checkpoint, String edits, String explanations, Integer heads, String modelName, String out, boolean overwrite) {
            this(checkpoint, edits, explanations, heads, modelName, out, overwrite, null, null, null, null, null, false, 0.8, 0.3);
        }
    }

    public record Result(String checkpoint, int edits, int blocks) {}

    /** One requested edit; relevance is null for a table edit. */
    record Edit(int layer, int head, int sv, double alpha, Double relevance) implements Serializable {
        Edit(int layer, int head, int sv, double alpha) {
            this(layer, head, sv, alpha, null);
        }
    }

    private EditJob() {}

    public static Result run(SparkSession spark, Params p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Inputs.mustExist("checkpoint", p.checkpoint(), conf);
        if ((p.edits() == null) == (p.query() == null)) throw new UserInputException("give either --edits (a table) or --query (concept texts)");
        if (p.edits() != null) Inputs.mustExist("edits", p.edits(), conf);
        if (p.query() != null) {
            if (p.explanations() == null || p.concepts() == null) {
                throw new UserInputException("--query needs --explanations (what each vector means) and --concepts (their embeddings)");
            }
            if (!p.amplify() && p.threshold() == null) throw new UserInputException("--query needs --threshold τ (suppress R ≥ τ) or --amplify");
        }
        if (p.explanations() != null) Inputs.mustExist("explanations", p.explanations(), conf);
        Path source = Fs.path(p.checkpoint());
        String fileName = source.getName();
        Path outRoot = Fs.path(p.out());
        FileSystem fs = Fs.fs(source, conf);
        // Fs.path gives folders a trailing slash; compare without it
        String inDir = fs.makeQualified(source.getParent()).toString().replaceAll("/+$", "");
        String outDir = Fs.fs(outRoot, conf).makeQualified(outRoot).toString().replaceAll("/+$", "");
        if (inDir.equals(outDir)) {
            throw new UserInputException("--out " + p.out() + " is the checkpoint's own folder: the edited " + fileName
                    + " would replace the input; choose another --out");
        }
        List<String> sidecars = new ArrayList<>();
        for (String s : SIDECARS) if (Fs.exists(new Path(source.getParent(), s).toString(), conf)) sidecars.add(s);
        List<String> outputs = new ArrayList<>(List.of(fileName, "edits"));
        outputs.addAll(sidecars);
        OutputDir dir = OutputDir.prepare(p.out(), outputs, p.overwrite(), false, false, conf);
        RunRecord record = new RunRecord(NAME, spark).options(p);
        try (ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), conf, p.heads())) {
            Map<String, Row> explained = p.explanations() == null ? Map.of() : explanations(spark, p.explanations());
            List<Edit> edits = p.edits() != null ? readEdits(spark, p.edits(), ck) : QueryEdits.select(spark, p, ck, explained);
            String model = p.modelName() != null ? p.modelName() : fileName;
            record.input("checkpoint", p.checkpoint(), conf);
            if (p.edits() != null) record.input("edits", p.edits(), conf);
            if (p.explanations() != null) record.input("explanations", p.explanations(), conf);
            if (p.concepts() != null) record.input("concepts", p.concepts(), conf);
            record.param("model", model).param("selection", p.edits() != null ? "table" : p.amplify() ? "query-amplify" : "query-suppress");
            if (p.query() != null) {
                record.param("query", p.query()).param("threshold", p.threshold()).param("alpha_min", p.alphaMin()).param("beta", p.beta());
            }

            // per layer, per head: sv → α
            TreeMap<Integer, TreeMap<Integer, Map<Integer, Double>>> byLayer = new TreeMap<>();
            for (Edit e : edits) byLayer.computeIfAbsent(e.layer(), k -> new TreeMap<>()).computeIfAbsent(e.head(), k -> new HashMap<>()).put(e.sv(), e.alpha());
            Map<String, float[]> replaced = new LinkedHashMap<>();
            Map<String, Double> sigmas = new HashMap<>();
            int d = ck.width();
            int dh = ck.headDim();
            for (var layer : byLayer.entrySet()) {
                int l = layer.getKey();
                float[] value = ck.valueWeight(l);
                float[] valueBias = ck.valueBias(l);
                float[] ln1Bias = ck.ln1Bias(l);
                float[] gamma = ck.ln1Weight(l);
                float[] outW = ck.outWeight(l);
                float[] outB = ck.outBias(l);
                double[] newW = new double[outW.length];
                for (int i = 0; i < outW.length; i++) newW[i] = outW[i];
                double[] newB = new double[outB.length];
                for (int i = 0; i < outB.length; i++) newB[i] = outB[i];
                for (var head : layer.getValue().entrySet()) {
                    int h = head.getKey();
                    VoFactors f = VoFactors.of(l, h, d, dh, value, outW, gamma, true);
                    HeadBasis b = HeadBasis.compute(f, dh);
                    for (int sv : head.getValue().keySet()) sigmas.put(l + "/" + h + "/" + sv, b.sigma()[sv]);
                    double[] delta = HeadEdit.outDelta(f, b, head.getValue());
                    double[] bv = HeadEdit.foldedValueBias(h, d, dh, value, valueBias, ln1Bias);
                    for (int o = 0; o < d; o++) {
                        double shift = 0;
                        for (int i = 0; i < dh; i++) {
                            newW[o * d + h * dh + i] -= delta[o * dh + i];
                            shift += delta[o * dh + i] * bv[i];
                        }
                        newB[o] += shift;
                    }
                }
                replaced.put(ck.outWeightName(l), Vec.toFloat(newW));
                replaced.put(ck.outBiasName(l), Vec.toFloat(newB));
            }
            CheckpointPatch.write(ck.tensors(), replaced, dir.staged(fileName), conf);
            for (String s : sidecars) copy(new Path(source.getParent(), s), Fs.path(dir.staged(s)), conf);

            List<Row> rows = new ArrayList<>();
            for (Edit e : edits) {
                Row x = explained.get(e.layer() + "/" + e.head() + "/" + e.sv());
                rows.add(RowFactory.create(model, e.layer(), e.head(), e.sv(), e.alpha(), sigmas.get(e.layer() + "/" + e.head() + "/" + e.sv()),
                        p.edits() != null ? "table" : p.amplify() ? "query-amplify" : "query-suppress", e.relevance(),
                        x == null ? null : x.get(0)));
            }
            spark.createDataFrame(rows, Schemas.EDITS).coalesce(1).write().parquet(dir.staged("edits"));
            record.result("edits", edits.size()).result("blocks", byLayer.size()).result("checkpoint", new Path(outRoot, fileName).toString());
            record.phase("edit");
            dir.commit(record.toJson());
            return new Result(new Path(outRoot, fileName).toString(), edits.size(), byLayer.size());
        } catch (IOException e) {
            dir.abort(NAME, false);
            throw new UncheckedIOException(e);
        } catch (Throwable e) {
            dir.abort(NAME, false);
            throw e;
        }
    }

    private static void copy(Path from, Path to, Configuration conf) throws IOException {
        try (InputStream in = Fs.fs(from, conf).open(from); OutputStream out = Fs.fs(to, conf).create(to, true)) {
            in.transferTo(out);
        }
    }

    /** The edits table: CSV with a header naming layer, head, sv, alpha (any order), or Parquet with those columns. */
    static List<Edit> readEdits(SparkSession spark, String path, ClipCheckpoint ck) {
        List<Edit> out = new ArrayList<>();
        String label = "--edits " + path;
        if (path.toLowerCase(Locale.ROOT).endsWith(".csv")) {
            String[] lines = TextLines.read(path, spark.sparkContext().hadoopConfiguration(), label);
            String[] header = lines[0].split(",", -1);
            Map<String, Integer> col = new HashMap<>();
            for (int i = 0; i < header.length; i++) col.put(header[i].strip().toLowerCase(Locale.ROOT), i);
            for (String c : List.of("layer", "head", "sv", "alpha")) {
                if (!col.containsKey(c)) throw new UserInputException(label + ": the header has no '" + c + "' column (need layer,head,sv,alpha)");
            }
            for (int r = 1; r < lines.length; r++) {
                if (lines[r].isBlank()) continue;
                String[] f = lines[r].split(",", -1);
                String where = label + " line " + (r + 1);
                if (f.length != header.length) throw new UserInputException(where + ": " + f.length + " fields, the header has " + header.length);
                out.add(new Edit(intField(f[col.get("layer")], where, "layer"), intField(f[col.get("head")], where, "head"),
                        intField(f[col.get("sv")], where, "sv"), doubleField(f[col.get("alpha")], where)));
            }
        } else {
            List<Row> rows;
            try {
                rows = spark.read().parquet(path).selectExpr("cast(layer as int)", "cast(head as int)", "cast(sv as int)", "cast(alpha as double)")
                        .collectAsList();
            } catch (Exception e) {
                throw new UserInputException(label + ": not a CSV (.csv) or a Parquet table with layer, head, sv, alpha (" + Inputs.firstLine(e) + ")");
            }
            for (int r = 0; r < rows.size(); r++) {
                Row x = rows.get(r);
                for (int c = 0; c < 4; c++) if (x.isNullAt(c)) throw new UserInputException(label + ": row " + r + " has a null value");
                double a = x.getDouble(3);
                if (!Double.isFinite(a)) throw new UserInputException(label + ": row " + r + ": alpha " + a + " is not finite");
                out.add(new Edit(x.getInt(0), x.getInt(1), x.getInt(2), a));
            }
        }
        if (out.isEmpty()) throw new UserInputException(label + " lists no edit");
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < out.size(); i++) {
            Edit e = out.get(i);
            String key = e.layer() + "/" + e.head() + "/" + e.sv();
            if (e.layer() < 0 || e.layer() >= ck.layers() || e.head() < 0 || e.head() >= ck.heads() || e.sv() < 0 || e.sv() >= ck.headDim()) {
                throw new UserInputException(label + ": edit " + (i + 1) + " (layer " + e.layer() + ", head " + e.head() + ", sv " + e.sv()
                        + ") is outside the checkpoint (" + ck.layers() + " layers, " + ck.heads() + " heads, " + ck.headDim() + " vectors each)");
            }
            if (seen.putIfAbsent(key, i) != null) throw new UserInputException(label + ": layer " + e.layer() + " head " + e.head() + " sv " + e.sv() + " is listed twice");
        }
        return out;
    }

    private static int intField(String s, String where, String name) {
        try {
            return Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            throw new UserInputException(where + ": " + name + " '" + s.strip() + "' is not an integer");
        }
    }

    private static double doubleField(String s, String where) {
        try {
            double v = Double.parseDouble(s.strip());
            if (!Double.isFinite(v)) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new UserInputException(where + ": alpha '" + s.strip() + "' is not a finite number");
        }
    }

    /** Each explained vector's concepts, keyed "layer/head/sv". */
    static Map<String, Row> explanations(SparkSession spark, String path) {
        Map<String, Row> out = new HashMap<>();
        for (Row r : spark.read().parquet(path).select("concepts", "layer", "head", "sv").collectAsList()) {
            if (r.isNullAt(1)) continue;
            out.put(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), r);
        }
        return out;
    }
}
