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
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.heads.Component;
import org.sith.heads.VectorEdit;
import org.sith.heads.VectorId;

/**
 * `--edits`: a CSV with a header naming layer, head, sv, alpha (any order), or a Parquet table with those columns. An
 * optional `component` column says what a row scales: `vo` (the default, also for an empty field) a head's singular
 * vector, `mlp` neuron sv of block layer's MLP (its head empty, or null in Parquet). Only the vision tower is edited: a
 * `tower` column, when present, must say `vision` (or be empty).
 */
public final class EditTable {
    private EditTable() {}

    /** The edits in the table's order, each checked against the model's layers, heads, head width and MLP widths. */
    public static List<VectorEdit> read(SparkSession spark, String path, ClipCheckpoint model) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("edits", path, conf);
        String label = "--edits " + path;
        List<VectorEdit> out = path.toLowerCase(Locale.ROOT).endsWith(".csv") ? csv(path, conf, label) : parquet(spark, path, label);
        if (out.isEmpty()) throw new UserInputException(label + " lists no edit");
        Set<VectorId> seen = new HashSet<>();
        for (int i = 0; i < out.size(); i++) {
            VectorEdit e = out.get(i);
            VectorId v = e.id();
            if (e.component() == Component.MLP) {
                if (v.layer() < 0 || v.layer() >= model.layers()) {
                    throw new UserInputException(label + ": edit " + (i + 1) + " (" + e.describe() + ") is outside the checkpoint (" + model.layers() + " layers)");
                }
                int hidden = model.mlpWidth(v.layer());
                if (v.sv() < 0 || v.sv() >= hidden) {
                    throw new UserInputException(label + ": edit " + (i + 1) + " (" + e.describe() + ") is outside the checkpoint (neurons 0.."
                            + (hidden - 1) + " in block " + v.layer() + ")");
                }
            } else if (!v.within(model)) {
                throw new UserInputException(label + ": edit " + (i + 1) + " (" + v + ") is outside the checkpoint " + VectorId.shape(model));
            }
            if (!seen.add(v)) throw new UserInputException(label + ": " + e.describe() + " is listed twice");
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
        int componentCol = csv.column("component");
        int towerCol = csv.column("tower");
        for (CsvFile.Line l : csv.records(false)) {
            if (towerCol >= 0) tower(l.get(towerCol), l.where());
            Component c = componentCol < 0 ? Component.VO : component(l.get(componentCol), l.where());
            int layer = intField(l.get(col[0]), l.where(), "layer");
            int sv = intField(l.get(col[2]), l.where(), "sv");
            String head = l.get(col[1]);
            int h;
            if (c == Component.MLP) {
                if (!head.isEmpty()) throw new UserInputException(l.where() + ": an mlp row has head '" + head + "' (leave it empty: sv is the neuron)");
                h = VectorId.MLP_HEAD;
            } else {
                h = intField(head, l.where(), "head");
            }
            out.add(new VectorEdit(new VectorId(layer, h, sv), alpha(l.get(col[3]), l.where()), null, c));
        }
        return out;
    }

    private static List<VectorEdit> parquet(SparkSession spark, String path, String label) {
        Dataset<Row> df = ParquetInputs.open(spark, path, label, "a CSV (.csv) or a Parquet table with layer, head, sv, alpha");
        ParquetInputs.require(df, label, column("layer", ParquetInputs.INTEGER), column("head", ParquetInputs.INTEGER),
                column("sv", ParquetInputs.INTEGER), column("alpha", ParquetInputs.NUMBER));
        List<String> names = List.of(df.columns());
        if (names.contains("component")) ParquetInputs.require(df, label, column("component", ParquetInputs.STRING));
        if (names.contains("tower")) ParquetInputs.require(df, label, column("tower", ParquetInputs.STRING));
        List<Row> rows = ParquetInputs.collect(df.selectExpr("cast(layer as int)", "cast(head as int)", "cast(sv as int)", "cast(alpha as double)",
                names.contains("component") ? "component" : "cast(null as string)", names.contains("tower") ? "tower" : "cast(null as string)"), label);
        List<VectorEdit> out = new ArrayList<>();
        for (int r = 0; r < rows.size(); r++) {
            Row x = rows.get(r);
            String where = label + ": row " + r;
            if (!x.isNullAt(5)) tower(x.getString(5), where);
            Component c = x.isNullAt(4) ? Component.VO : component(x.getString(4), where);
            for (int k = 0; k < 4; k++) {
                if (k == 1 && c == Component.MLP) continue;
                if (x.isNullAt(k)) throw new UserInputException(where + " has a null value");
            }
            if (c == Component.MLP && !x.isNullAt(1)) {
                throw new UserInputException(where + ": an mlp row has head " + x.getInt(1) + " (leave it null: sv is the neuron)");
            }
            double a = x.getDouble(3);
            if (!Double.isFinite(a)) throw new UserInputException(where + ": alpha " + a + " is not finite");
            out.add(new VectorEdit(new VectorId(x.getInt(0), c == Component.MLP ? VectorId.MLP_HEAD : x.getInt(1), x.getInt(2)), a, null, c));
        }
        return out;
    }

    private static Component component(String s, String where) {
        String v = s.strip().toLowerCase(Locale.ROOT);
        if (v.isEmpty() || v.equals("vo")) return Component.VO;
        if (v.equals("mlp")) return Component.MLP;
        throw new UserInputException(where + ": component '" + s.strip() + "' is not vo or mlp (qk circuits are not edited)");
    }

    private static void tower(String s, String where) {
        String v = s.strip().toLowerCase(Locale.ROOT);
        if (!v.isEmpty() && !v.equals("vision")) throw new UserInputException(where + ": tower '" + s.strip() + "': only the vision tower is edited");
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
