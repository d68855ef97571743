package org.sith.inputs;

import static org.sith.inputs.ParquetInputs.column;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.checkpoint.VisionWeights;
import org.sith.heads.VectorEdit;
import org.sith.heads.VectorId;

/** `--edits`: a CSV with a header naming layer, head, sv, alpha (any order), or a Parquet table with those columns. */
public final class EditTable {
    private EditTable() {}

    /** The edits in the table's order, each checked against the model's layers, heads and head width. */
    public static List<VectorEdit> read(SparkSession spark, String path, VisionWeights model) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("edits", path, conf);
        String label = "--edits " + path;
        List<VectorEdit> out = path.toLowerCase(Locale.ROOT).endsWith(".csv") ? csv(path, conf, label) : parquet(spark, path, label);
        if (out.isEmpty()) throw new UserInputException(label + " lists no edit");
        Set<VectorId> seen = new HashSet<>();
        for (int i = 0; i < out.size(); i++) {
            VectorId v = out.get(i).id();
            if (!v.within(model)) throw new UserInputException(label + ": edit " + (i + 1) + " (" + v + ") is outside the checkpoint " + VectorId.shape(model));
            if (!seen.add(v)) throw new UserInputException(label + ": " + v + " is listed twice");
        }
        return out;
    }

    private static List<VectorEdit> csv(String path, Configuration conf, String label) {
        List<VectorEdit> out = new ArrayList<>();
        CsvFile csv = CsvFile.read(path, conf, label);
        int[] col = new int[4];
        List<String> names = List.of("layer", "head", "sv", "alpha");
        for (int i = 0; i < 4; i++) {
            col[i] = csv.column(names.get(i));
            if (col[i] < 0) throw new UserInputException(label + ": the header has no '" + names.get(i) + "' column (need layer,head,sv,alpha)");
        }
        for (CsvFile.Line l : csv.records(false)) {
            VectorId id = new VectorId(intField(l.get(col[0]), l.where(), "layer"), intField(l.get(col[1]), l.where(), "head"),
                    intField(l.get(col[2]), l.where(), "sv"));
            out.add(new VectorEdit(id, alpha(l.get(col[3]), l.where()), null));
        }
        return out;
    }

    private static List<VectorEdit> parquet(SparkSession spark, String path, String label) {
        Dataset<Row> df = ParquetInputs.open(spark, path, label, "a CSV (.csv) or a Parquet table with layer, head, sv, alpha");
        ParquetInputs.require(df, label, column("layer", ParquetInputs.INTEGER), column("head", ParquetInputs.INTEGER),
                column("sv", ParquetInputs.INTEGER), column("alpha", ParquetInputs.NUMBER));
        List<Row> rows = ParquetInputs.collect(df.selectExpr("cast(layer as int)", "cast(head as int)", "cast(sv as int)", "cast(alpha as double)"), label);
        List<VectorEdit> out = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            Row x = rows.get(r);
            for (int c = 0; c < 4; c++) if (x.isNullAt(c)) throw new UserInputException(label + ": row " + r + " has a null value");
            double a = x.getDouble(3);
            if (!Double.isFinite(a)) throw new UserInputException(label + ": row " + r + ": alpha " + a + " is not finite");
            out.add(new VectorEdit(new VectorId(x.getInt(0), x.getInt(1), x.getInt(2)), a, null));
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

    private static double alpha(String s, String where) {
        try {
            double v = Double.parseDouble(s.strip());
            if (Double.isFinite(v)) return v;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UserInputException(where + ": alpha '" + s.strip() + "' is not a finite number");
    }
}
