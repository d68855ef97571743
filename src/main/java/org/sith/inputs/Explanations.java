package org.sith.inputs;

import static org.sith.inputs.ParquetInputs.column;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.checkpoint.VisionWeights;
import org.sith.heads.VectorId;

/** An `explanations/` folder given with `--explanations` (the output of decompose). */
public final class Explanations {
    private Explanations() {}

    /** One explained vector: its σ and its concepts (rows of id int, concept string, weight double; weight-descending). */
    public record Explained(double sigma, List<Row> concepts) {}

    /**
     * Every explained head vector, by (layer, head, sv) in numeric order; rows of `explain` (no layer) are skipped. Each
     * must be a vector of {@code model}.
     */
    public static TreeMap<VectorId, Explained> read(SparkSession spark, String path, VisionWeights model) {
        String label = "--explanations " + path;
        Paths.mustExist("explanations", path, spark.sparkContext().hadoopConfiguration());
        Dataset<Row> df = ParquetInputs.open(spark, path, label, "an explanations/ Parquet folder");
        ParquetInputs.require(df, label, column("layer", ParquetInputs.INTEGER), column("head", ParquetInputs.INTEGER),
                column("sv", ParquetInputs.INTEGER), column("sigma", ParquetInputs.NUMBER), column("concepts", ParquetInputs.CONCEPT_LIST));
        List<Row> rows = ParquetInputs.collect(df.selectExpr("cast(layer as int)", "cast(head as int)", "cast(sv as int)", "cast(sigma as double)",
                "concepts"), label);
        TreeMap<VectorId, Explained> out = new TreeMap<>();
        boolean unkeyed = false;
        for (Row r : rows) {
            if (r.isNullAt(0) || r.isNullAt(1) || r.isNullAt(2)) {
                unkeyed = true;
                continue;
            }
            List<Row> concepts = new java.util.ArrayList<>();
            for (Row x : r.<Row>getList(4)) {
                concepts.add(org.apache.spark.sql.RowFactory.create(((Number) x.getAs("id")).intValue(), x.getAs("concept"),
                        ((Number) x.getAs("weight")).doubleValue()));
            }
            VectorId v = new VectorId(r.getInt(0), r.getInt(1), r.getInt(2));
            if (!v.within(model)) throw new UserInputException(label + " has " + v + ", outside checkpoint " + model.path() + " " + VectorId.shape(model));
            out.put(v, new Explained(r.isNullAt(3) ? Double.NaN : r.getDouble(3), concepts));
        }
        if (out.isEmpty()) {
            throw new UserInputException(label + (unkeyed ? ": rows without layer/head/sv (the output of explain, not decompose)" : " is empty"));
        }
        return out;
    }

    /** The vectors grouped by head, in order. */
    public static Map<org.sith.heads.HeadId, List<Integer>> byHead(Map<VectorId, Explained> vectors) {
        Map<org.sith.heads.HeadId, List<Integer>> out = new TreeMap<>();
        for (VectorId v : vectors.keySet()) out.computeIfAbsent(v.headId(), h -> new java.util.ArrayList<>()).add(v.sv());
        return out;
    }
}
