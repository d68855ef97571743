package org.sith.inputs;

import java.util.List;
import java.util.Locale;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.io.Npy;

/**
 * `explain`'s `--vectors`: the rows of an `.npy` (N×p, or one p-vector), or the vector column of a Parquet
 * folder. Row i of a folder of several files is the i-th row in file-name order (part-00000 first), whatever
 * order Spark reads the files in, so the `vector` column of the output points back at the right row.
 */
public final class Vectors {
    private Vectors() {}

    public static float[][] read(SparkSession spark, String path) {
        Paths.mustExist("vectors", path, spark.sparkContext().hadoopConfiguration());
        String label = "--vectors " + path;
        float[][] out = path.toLowerCase(Locale.ROOT).endsWith(".npy") ? npy(spark, path, label) : parquet(spark, path, label);
        for (int i = 0; i < out.length; i++) {
            double n = 0;
            for (float f : out[i]) {
                if (!Float.isFinite(f)) throw new UserInputException(label + ": row " + i + " has a non-finite value");
                n += f * f;
            }
            if (n == 0) throw new UserInputException(label + ": row " + i + " is zero");
        }
        return out;
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

    private static float[][] parquet(SparkSession spark, String path, String label) {
        Dataset<Row> df = ParquetInputs.open(spark, path, label, "an .npy or a Parquet folder with a vector column");
        String col = ParquetInputs.vectorColumn(df, label, List.of("joint", "embedding", "vector", "mean"));
        List<Row> rows = ParquetInputs.collect(df.selectExpr("cast(`" + col + "` as array<float>)", "_metadata.file_path AS f", "_metadata.row_index AS r")
                .orderBy("f", "r"), label);
        if (rows.isEmpty()) throw new UserInputException(label + " is empty");
        float[][] out = new float[rows.size()][];
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
        }
        return out;
    }
}
