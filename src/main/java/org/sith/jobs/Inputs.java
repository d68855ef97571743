package org.sith.jobs;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import org.apache.hadoop.conf.Configuration;
import static org.apache.spark.sql.functions.col;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.sith.UserInputException;
import org.sith.concepts.ConceptDictionary;
import org.sith.io.Fs;
import org.sith.io.Npy;
import org.sith.model.ClipTokenizer;

/** Reading and checking what the user points the commands at. */
public final class Inputs {
    private Inputs() {}

    public static void mustExist(String option, String path, Configuration conf) {
        if (!Fs.exists(path, conf)) throw new UserInputException("--" + option + ": " + path + " does not exist");
    }

    /** `all`, `last:4`, or a list such as `20,21,22,23` or `20-23`; every layer checked against the model. */
    public static int[] layers(String spec, int nLayers, String checkpoint) {
        TreeSet<Integer> out = new TreeSet<>();
        String s = spec.trim();
        if (s.equalsIgnoreCase("all")) {
            for (int l = 0; l < nLayers; l++) out.add(l);
        } else if (s.startsWith("last:")) {
            int n = parseLayer(s.substring(5), spec);
            if (n < 1 || n > nLayers) {
                throw new UserInputException("--layers " + spec + ": checkpoint " + checkpoint + " has " + nLayers + " layers");
            }
            for (int l = nLayers - n; l < nLayers; l++) out.add(l);
        } else {
            for (String part : s.split(",")) {
                part = part.trim();
                int dash = part.indexOf('-', 1);
                int lo = dash > 0 ? parseLayer(part.substring(0, dash), spec) : parseLayer(part, spec);
                int hi = dash > 0 ? parseLayer(part.substring(dash + 1), spec) : lo;
                for (int l = lo; l <= hi; l++) {
                    if (l < 0 || l >= nLayers) {
                        throw new UserInputException("--layers: layer " + l + " out of range (checkpoint " + checkpoint
                                + " has layers 0.." + (nLayers - 1) + ")");
                    }
                    out.add(l);
                }
            }
        }
        if (out.isEmpty()) throw new UserInputException("--layers " + spec + " selects no layer");
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int parseLayer(String s, String spec) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new UserInputException("--layers: '" + spec + "' is not all, last:N or a list of layer numbers");
        }
    }

    /** A `concepts/` Parquet folder, or an `.npy` with a vocabulary file in the same order. */
    public static ConceptDictionary concepts(SparkSession spark, String path, String vocab, int p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        mustExist("concepts", path, conf);
        if (path.toLowerCase(java.util.Locale.ROOT).endsWith(".npy")) {
            if (vocab == null) throw new UserInputException("--concepts " + path + " is an .npy: give its concept strings with --vocab");
            mustExist("vocab", vocab, conf);
            return ConceptDictionary.fromNpy(path, vocab, conf, p);
        }
        if (vocab != null) throw new UserInputException("--vocab is only for .npy concepts; " + path + " is a concepts/ Parquet folder");
        Dataset<Row> df;
        try {
            df = spark.read().parquet(path);
        } catch (RuntimeException e) {
            if (spark.sparkContext().isStopped()) throw e; // the cluster failed (no executors): not the input's fault
            throw new UserInputException("--concepts " + path + ": not a concepts/ Parquet folder or .npy (" + firstLine(e) + ")");
        }
        for (String c : new String[] {"id", "concept", "embedding"}) {
            if (!List.of(df.columns()).contains(c)) {
                throw new UserInputException("--concepts " + path + ": no column '" + c + "' (need id, concept, embedding)");
            }
        }
        List<ConceptRow> rows;
        try {
            rows = df.select(col("id").cast("int"), col("concept").cast("string"), col("embedding").cast("array<float>"))
                    .orderBy("id").as(Encoders.bean(ConceptRow.class)).collectAsList();
        } catch (RuntimeException e) {
            throw new UserInputException("--concepts " + path + ": columns id, concept, embedding are not int, string, array<float> ("
                    + firstLine(e) + ")");
        }
        int n = rows.size();
        if (n == 0) throw new UserInputException("--concepts " + path + " holds no concepts");
        int[] ids = new int[n];
        String[] names = new String[n];
        float[] emb = new float[n * p];
        for (int i = 0; i < n; i++) {
            ConceptRow r = rows.get(i);
            if (r.getId() == null || r.getConcept() == null || r.getEmbedding() == null) {
                throw new UserInputException("--concepts " + path + ": row " + i + " has a null id, concept or embedding");
            }
            ids[i] = r.getId();
            names[i] = r.getConcept();
            float[] e = r.getEmbedding();
            if (e.length != p) {
                throw new UserInputException("--concepts " + path + ": concept " + ids[i] + " ('" + names[i] + "') has width "
                        + e.length + ", the model's p is " + p);
            }
            System.arraycopy(e, 0, emb, i * p, p);
            rows.set(i, null); // let each row go as soon as it is copied
        }
        return ConceptDictionary.fromRows(ids, names, emb, p, path);
    }

    /** The dictionary of a coding command: loaded, checked against --k, duplicates reported on stderr. */
    public static ConceptDictionary dictionary(SparkSession spark, String command, String path, String vocab, int p, int k) {
        ConceptDictionary dict = concepts(spark, path, vocab, p);
        if (k > dict.size()) {
            throw new UserInputException("--k " + k + " is larger than the dictionary (" + dict.size() + " concepts in " + path + ")");
        }
        for (String dup : dict.droppedDuplicates()) System.err.println("sith " + command + ": duplicate concept dropped: " + dup);
        return dict;
    }

    /** An image mean (p values): an `.npy` (p or 1×p) or a Parquet folder holding one array row. */
    public static double[] imageMean(SparkSession spark, String path, int p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        mustExist("image-mean", path, conf);
        float[] v;
        if (path.toLowerCase(java.util.Locale.ROOT).endsWith(".npy")) {
            Npy.NpyArray a = Npy.read(path, conf);
            v = a.data();
        } else {
            Dataset<Row> df = spark.read().parquet(path);
            String col = firstArrayColumn(df, path, "image-mean");
            List<Row> rows = df.select(col).collectAsList();
            if (rows.size() != 1) throw new UserInputException("--image-mean " + path + ": expected one row, found " + rows.size());
            List<Object> l = rows.get(0).getList(0);
            v = new float[l.size()];
            for (int i = 0; i < v.length; i++) v[i] = ((Number) l.get(i)).floatValue();
        }
        if (v.length != p) throw new UserInputException("--image-mean " + path + " has " + v.length + " values, the model's p is " + p);
        double[] out = new double[p];
        for (int i = 0; i < p; i++) {
            if (!Float.isFinite(v[i])) throw new UserInputException("--image-mean " + path + ": non-finite value at index " + i);
            out[i] = v[i];
        }
        return out;
    }

    /** The tokenizer of --bpe, else the one saved beside the checkpoint; neither is a user error. */
    static ClipTokenizer tokenizer(String bpe, String checkpoint, Configuration conf) {
        if (bpe != null) return ClipTokenizer.load(bpe, conf);
        ClipTokenizer t = ClipTokenizer.besideCheckpoint(checkpoint, conf);
        if (t == null) {
            throw new UserInputException("no tokenizer beside checkpoint " + checkpoint
                    + " (vocab.json + merges.txt, tokenizer.json or bpe_simple_vocab_16e6.txt.gz): pass --bpe FILE");
        }
        return t;
    }

    static String firstArrayColumn(Dataset<Row> df, String path, String option) {
        List<String> preferred = List.of("joint", "embedding", "mean", "image_mean", "vector");
        List<String> arrays = new ArrayList<>();
        for (StructField f : df.schema().fields()) {
            DataType t = f.dataType();
            if (t instanceof ArrayType at && (at.elementType().equals(DataTypes.FloatType) || at.elementType().equals(DataTypes.DoubleType))) {
                arrays.add(f.name());
            }
        }
        for (String p : preferred) if (arrays.contains(p)) return p;
        if (arrays.size() == 1) return arrays.get(0);
        throw new UserInputException("--" + option + " " + path + ": cannot tell which column holds the vectors "
                + (arrays.isEmpty() ? "(no array<float> column)" : arrays.toString()));
    }

    static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
