package org.sith.inputs;

import java.util.List;
import java.util.Locale;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.io.Npy;
import org.sith.run.Schemas;

/**
 * `explain`'s `--vectors`: the rows of an `.npy` (N×p, or one p-vector), or the vector column of a Parquet
 * folder. Row i of a folder of several files is the i-th row in file-name order (part-00000 first), whatever
 * order Spark reads the files in, so the `vector` column of the output points back at the right row. A folder's
 * `tower`/`component` columns (SPEC §3b), when it has them, come with the rows.
 */
public final class Vectors {
    private Vectors() {}

    /**
     * The vectors, and for a Parquet input with SPEC §3b's `tower`/`component` columns (a singular_vectors/ of a run other
     * than the paper's vision VO) each row's tower and component; {@code kinds} is null when the input has neither column.
     */
    public record Input(float[][] rows, String[][] kinds) {}

    public static float[][] read(SparkSession spark, String path) {
        return readWithKinds(spark, path).rows();
    }

    public static Input readWithKinds(SparkSession spark, String path) {
        Paths.mustExist("vectors", path, spark.sparkContext().hadoopConfiguration());
        String label = "--vectors " + path;
        Input in = path.toLowerCase(Locale.ROOT).endsWith(".npy") ? new Input(npy(spark, path, label), null) : parquet(spark, path, label);
        float[][] out = in.rows();
        for (int i = 0; i < out.length; i++) {
            double n = 0;
            for (float f : out[i]) {
                if (!Float.isFinite(f)) throw new UserInputException(label + ": row " + i + " has a non-finite value");
                n += f * f;
            }
            if (n == 0) throw new UserInputException(label + ": row " + i + " is zero");
        }
        return in;
    }

    private static float[][] npy(SparkSession spark, String path, String label) {
        Npy.NpyArray a = Npy.read("vectors", path, spark.sparkContext().hadoopConfiguration());
        long[] s = a.shape();
        int n = s.length == 1 ? 1 : (int) s[0];
        int dim = (int) s[s.length - 1];
        if (s.length > 2) throw new UserInputException(label + ": need a 2-D array of vectors (N×p), got " + s.length + " dimensions");
        if (n == 0 || dim == 0) throw new UserInputException(label + " is empty");
        float[][] out = new float[n][dim];
        for (int i = 0; i < n; i++) System.arraycopy(a.data(), i * dim, out[i], 0, dim);
        return out;
    }

    private static Input parquet(SparkSession spark, String path, String label) {
        Dataset<Row> df = ParquetInputs.open(spark, path, label, "an .npy or a Parquet folder with a vector column");
        String col = ParquetInputs.vectorColumn(df, label, List.of("joint", "embedding", "vector", "mean"));
        List<String> names = List.of(df.columns());
        boolean kinds = names.stream().anyMatch(Schemas.KIND_COLUMNS::contains);
        if (kinds) df = Schemas.withKinds(df);
        List<Row> rows = ParquetInputs.collect(df.selectExpr("cast(`" + col + "` as array<float>)", "_metadata.file_path AS f", "_metadata.row_index AS r",
                (kinds ? "coalesce(cast(tower as string), 'vision')" : "cast(null as string)") + " AS t",
                (kinds ? "coalesce(cast(component as string), 'vo')" : "cast(null as string)") + " AS c")
                .orderBy("f", "r"), label);
        if (rows.isEmpty()) throw new UserInputException(label + " is empty");
        float[][] out = new float[rows.size()][];
        String[][] kind = kinds ? new String[rows.size()][] : null;
        for (int i = 0; i < out.length; i++) {
            if (rows.get(i).isNullAt(0)) throw new UserInputException(label + ": row " + i + " has no vector");
            List<Object> l = rows.get(i).getList(0);
            out[i] = new float[l.size()];
            for (int j = 0; j < l.size(); j++) {
                Object x = l.get(j);
                if (x == null) throw new UserInputException(label + ": row " + i + " has a null value at index " + j);
                out[i][j] = ((Number) x).floatValue();
            }
            if (out[i].length != out[0].length) {
                throw new UserInputException(label + ": row " + i + " has " + out[i].length + " values, row 0 has " + out[0].length);
            }
            if (kinds) kind[i] = new String[] {rows.get(i).getString(3), rows.get(i).getString(4)};
        }
        return new Input(out, kind);
    }
}
