package org.sith.inputs;

import java.util.List;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.io.Npy;

/** `--image-mean`: the p-vector SITH subtracts in the joint space, from an `.npy` (p or 1×p) or a Parquet folder of one row. */
public final class ImageMeans {
    private ImageMeans() {}

    public static double[] read(SparkSession spark, String path, int p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("image-mean", path, conf);
        String label = "--image-mean " + path;
        float[] v;
        if (path.toLowerCase(Locale.ROOT).endsWith(".npy")) {
            v = Npy.read("image-mean", path, conf).data();
        } else {
            Dataset<Row> df = ParquetInputs.open(spark, path, label, "an image_mean/ Parquet folder or an .npy");
            String col = ParquetInputs.vectorColumn(df, label, List.of("mean", "image_mean", "embedding", "joint", "vector"));
            List<Row> rows = ParquetInputs.collect(df.select(col), label);
            if (rows.size() != 1) throw new UserInputException(label + ": expected one row, found " + rows.size());
            List<Object> l = rows.get(0).getList(0);
            v = new float[l.size()];
            for (int i = 0; i < v.length; i++) v[i] = ((Number) l.get(i)).floatValue();
        }
        if (v.length != p) throw new UserInputException(label + " has " + v.length + " values, the model's p is " + p);
        double[] out = new double[p];
        for (int i = 0; i < p; i++) {
            if (!Float.isFinite(v[i])) throw new UserInputException(label + ": non-finite value at index " + i);
            out[i] = v[i];
        }
        return out;
    }
}
