package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.coding.Code;
import org.sith.coding.Method;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.JointSpace;
import org.sith.io.Npy;
import org.sith.linalg.Gemm;

/** `explain`: sparse codes for arbitrary joint-space vectors (an .npy or a Parquet array column). */
public final class ExplainJob {
    public static final String NAME = "explain";

    public record Params(String vectors, String concepts, String vocab, String imageMean, String center,
                         Method method, double lambda, int k, String modelName, String out,
                         boolean overwrite, int batchRows) implements Serializable {}

    /** A slice of the input vectors, with the row index of its first vector. */
    record Slice(int first, float[] data, int rows, int p) implements Serializable {}

    private ExplainJob() {}

    public static long run(SparkSession spark, Params p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Inputs.mustExist("vectors", p.vectors(), conf);
        OutputDir dir = OutputDir.prepare(p.out(), List.of("explanations"), p.overwrite(), false, false, conf);
        RunRecord record = new RunRecord(NAME, spark).options(p);
        try {
            float[][] v = readVectors(spark, p.vectors());
            int dim = v[0].length;
            ConceptDictionary dict = Inputs.dictionary(spark, NAME, p.concepts(), p.vocab(), dim, p.k());
            double[] mean;
            String center;
            if (p.imageMean() != null) {
                if ("concepts".equals(p.center())) throw new UserInputException("--center concepts and --image-mean exclude each other");
                mean = Inputs.imageMean(spark, p.imageMean(), dim);
                center = "image-mean";
            } else {
                center = p.center() == null ? "concepts" : p.center();
                mean = switch (center) {
                    case "concepts" -> dict.meanNormalized();
                    case "none" -> null;
                    default -> throw new UserInputException("--center: unknown value '" + center + "' (concepts or none)");
                };
            }
            String model = p.modelName() != null ? p.modelName() : new org.apache.hadoop.fs.Path(p.vectors()).getName();
            String dictLabel = DecomposeJob.dictionaryLabel(p.concepts(), dict);
            record.input("vectors", p.vectors(), conf).input("concepts", p.concepts(), conf);
            if (p.vocab() != null) record.input("vocab", p.vocab(), conf);
            if (p.imageMean() != null) record.input("image_mean", p.imageMean(), conf);
            record.inputFingerprint("dictionary", dictLabel, dict.fingerprint(), ConceptDictionary.FINGERPRINT);
            record.param("model", model).param("center", center).param("method", Rows.methodLabel(p.method()))
                    .param("lambda", p.lambda()).param("k", p.k()).param("dictionary", dictLabel).param("vectors", v.length);
            record.phase("prepare");

            List<Slice> slices = new ArrayList<>();
            for (int s = 0; s < v.length; s += p.batchRows()) {
                int n = Math.min(p.batchRows(), v.length - s);
                float[] data = new float[n * dim];
                for (int i = 0; i < n; i++) System.arraycopy(v[s + i], 0, data, i * dim, dim);
                slices.add(new Slice(s, data, n, dim));
            }
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Broadcast<ConceptDictionary> dictB = jsc.broadcast(dict);
            Method method = p.method();
            int k = p.k();
            double lambda = p.lambda();
            var rows = jsc.parallelize(slices, Math.max(1, slices.size())).flatMap(slice -> {
                TaskContext tc = TaskContext.get();
                int cpus = tc == null ? 1 : tc.cpus();
                Gemm.setBlasThreads(cpus);
                ConceptDictionary d = dictB.value();
                double[][] x = new double[slice.rows()][slice.p()];
                for (int i = 0; i < slice.rows(); i++) {
                    for (int j = 0; j < slice.p(); j++) x[i][j] = slice.data()[i * slice.p() + j];
                    JointSpace.prepare(x[i], mean);
                }
                var coder = ExecutorCache.borrow(d, cpus);
                Code[] codes;
                try {
                    codes = coder.code(x, method, k, lambda);
                } finally {
                    ExecutorCache.release(coder, d);
                }
                List<Row> out = new ArrayList<>(codes.length);
                for (int i = 0; i < codes.length; i++) {
                    out.add(Rows.explained(model, slice.first() + i, method, lambda, k, dictLabel, codes[i], d));
                }
                return out.iterator();
            });
            DecomposeJob.writeExplanations(spark.createDataFrame(rows, Schemas.EXPLANATIONS), dir.staged("explanations"), 1);
            record.result("vectors", v.length);
            record.phase("explain");
            dir.commit(record.toJson());
            return v.length;
        } catch (Throwable e) { // Spark throws undeclared checked exceptions (SparkException) too
            DecomposeJob.waitForIdle(spark);
            dir.abort(NAME, false);
            throw e;
        }
    }

    /** Rows of an .npy (N×p, or one p-vector) or of the vector column of a Parquet folder. */
    static float[][] readVectors(SparkSession spark, String path) {
        if (path.toLowerCase(Locale.ROOT).endsWith(".npy")) {
            Npy.NpyArray a = Npy.read(path, spark.sparkContext().hadoopConfiguration());
            long[] s = a.shape();
            int n = s.length == 1 ? 1 : (int) s[0];
            int dim = (int) s[s.length - 1];
            if (n == 0 || dim == 0) throw new UserInputException("--vectors " + path + " is empty");
            float[][] out = new float[n][dim];
            for (int i = 0; i < n; i++) System.arraycopy(a.data(), i * dim, out[i], 0, dim);
            checkRows(out, path);
            return out;
        }
        Dataset<Row> df = spark.read().parquet(path);
        String col = Inputs.firstArrayColumn(df, path, "vectors");
        List<Row> rows = df.select(col).collectAsList();
        if (rows.isEmpty()) throw new UserInputException("--vectors " + path + " is empty");
        float[][] out = new float[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            List<Object> l = rows.get(i).getList(0);
            out[i] = new float[l.size()];
            for (int j = 0; j < l.size(); j++) out[i][j] = ((Number) l.get(j)).floatValue();
            if (out[i].length != out[0].length) {
                throw new UserInputException("--vectors " + path + ": row " + i + " has " + out[i].length + " values, row 0 has " + out[0].length);
            }
        }
        checkRows(out, path);
        return out;
    }

    private static void checkRows(float[][] v, String path) {
        for (int i = 0; i < v.length; i++) {
            double n = 0;
            for (float f : v[i]) {
                if (!Float.isFinite(f)) throw new UserInputException("--vectors " + path + ": row " + i + " has a non-finite value");
                n += f * f;
            }
            if (n == 0) throw new UserInputException("--vectors " + path + ": row " + i + " is zero");
        }
    }
}
