package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sith.UserInputException;
import org.sith.coding.Code;
import org.sith.executor.CodingContext;
import org.sith.heads.JointSpace;
import org.sith.inputs.ConceptsInput;
import org.sith.inputs.ImageMeans;
import org.sith.inputs.Vectors;
import org.sith.run.Coding;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.Rows;
import org.sith.run.Schemas;

/**
 * `explain`: sparse codes for arbitrary joint-space vectors (an .npy or a Parquet array column). A singular_vectors/ folder
 * is read by its `joint` column (the coded target); when it has SPEC §3b's `tower`/`component` columns, each output row
 * carries its input row's (appended last, as decompose writes them), layer, head and sv staying null as for any input.
 */
public final class ExplainJob {
    public static final String NAME = "explain";
    public static final List<String> OUTPUTS = List.of("explanations");

    /** The mean removed after normalizing each vector (SPEC §10): the dictionary's, none, or `--image-mean`. */
    public enum Center { CONCEPTS, NONE }

    /** {@code center} null: the image mean when given, else the concepts' mean. */
    public record Config(String vectors, ConceptsInput concepts, String imageMean, Center center, Coding coding, String modelName,
                         OutputTarget out) implements Serializable {
        public Config {
            if (vectors == null) throw new UserInputException("explain needs --vectors");
            if (concepts == null) throw new UserInputException("explain needs --concepts");
            if (imageMean != null && center == Center.CONCEPTS) throw new UserInputException("--center concepts and --image-mean exclude each other");
            if (coding == null) coding = Coding.DEFAULTS;
            if (out == null) throw new UserInputException("explain needs --out");
        }
    }

    /** A slice of the input vectors, with the row index of its first vector. */
    record Slice(int first, float[] data, int rows, int p, String[][] kinds) implements Serializable {}

    /**
     * explanations/ with `tower` and `component` last: what explain writes for vectors that carry them (a singular_vectors/
     * of a run other than the paper's vision VO), so the joint-space target's origin stays with its explanation.
     */
    static final StructType EXPLANATIONS_WITH_KINDS;

    static {
        List<StructField> f = new ArrayList<>(Arrays.asList(Schemas.EXPLANATIONS.fields()));
        for (String k : Schemas.KIND_COLUMNS) f.add(DataTypes.createStructField(k, DataTypes.StringType, true));
        EXPLANATIONS_WITH_KINDS = DataTypes.createStructType(f);
    }

    /** An explain row with the input row's tower and component appended. */
    static Row withKinds(Row r, String[] kind) {
        Object[] values = new Object[r.length() + 2];
        for (int i = 0; i < r.length(); i++) values[i] = r.get(i);
        values[r.length()] = kind[0];
        values[r.length() + 1] = kind[1];
        return RowFactory.create(values);
    }

    private ExplainJob() {}

    public static long run(SparkSession spark, Config c) {
        return JobRun.run(spark, NAME, c.out(), OUTPUTS, c, run -> explain(run, c));
    }

    private static long explain(JobRun run, Config c) {
        SparkSession spark = run.spark();
        Vectors.Input input = Vectors.readWithKinds(spark, c.vectors());
        float[][] v = input.rows();
        String[][] kinds = input.kinds();
        int dim = v[0].length;
        CodingContext coding = CodingContext.prepare(run, c.concepts(), dim, c.coding());
        double[] mean;
        String center;
        if (c.imageMean() != null) {
            mean = ImageMeans.read(spark, c.imageMean(), dim);
            center = "image-mean";
        } else {
            Center ce = c.center() == null ? Center.CONCEPTS : c.center();
            mean = ce == Center.CONCEPTS ? coding.dictionary().meanNormalized() : null;
            center = ce.name().toLowerCase(java.util.Locale.ROOT);
        }
        String model = ModelName.of(c.vectors(), c.modelName());
        run.record().input("vectors", c.vectors(), run.hadoopConf());
        coding.record(run, c.imageMean());
        run.record().param("model", model).param("center", center).param("vectors", v.length).param("kinds", kinds != null);
        run.phase("prepare");

        int batch = c.coding().batchRows();
        List<Slice> slices = new ArrayList<>();
        for (int s = 0; s < v.length; s += batch) {
            int n = Math.min(batch, v.length - s);
            float[] data = new float[n * dim];
            for (int i = 0; i < n; i++) System.arraycopy(v[s + i], 0, data, i * dim, dim);
            slices.add(new Slice(s, data, n, dim, kinds == null ? null : Arrays.copyOfRange(kinds, s, s + n)));
        }
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Coding cod = c.coding();
        var rows = jsc.parallelize(slices, Math.max(1, slices.size())).flatMap(slice -> {
            double[][] x = new double[slice.rows()][slice.p()];
            for (int i = 0; i < slice.rows(); i++) {
                for (int j = 0; j < slice.p(); j++) x[i][j] = slice.data()[i * slice.p() + j];
                JointSpace.prepare(x[i], mean);
            }
            Code[] codes = coding.withCoder(coder -> coder.code(x, cod.method(), cod.k(), cod.effectiveLambda()));
            List<Row> out = new ArrayList<>(codes.length);
            for (int i = 0; i < codes.length; i++) {
                Row r = Rows.explained(model, slice.first() + i, cod, coding.label(), codes[i], coding.dictionary());
                out.add(slice.kinds() == null ? r : withKinds(r, slice.kinds()[i]));
            }
            return out.iterator();
        });
        Schemas.writeExplanations(spark.createDataFrame(rows, kinds == null ? Schemas.EXPLANATIONS : EXPLANATIONS_WITH_KINDS), run.staged("explanations"), 1);
        run.record().result("vectors", v.length);
        run.phase("explain");
        run.commit();
        return v.length;
    }
}
