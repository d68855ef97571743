package org.sith.inputs;

import static org.sith.inputs.ParquetInputs.column;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.checkpoint.VisionWeights;
import org.sith.heads.VectorId;
import org.sith.run.Schemas;

/**
 * An `explanations/` folder given with `--explanations` (the output of decompose). Rows carry a `tower` and a
 * `component` (SPEC §3b); a folder without those columns holds vision VO rows ({@link Schemas#withKinds}).
 */
public final class Explanations {
    private Explanations() {}

    /** One explained vector: its σ and its concepts (rows of id int, concept string, weight double; weight-descending). */
    public record Explained(double sigma, List<Row> concepts) {}

    /** One explained vision MLP neuron: block {@code layer}, neuron {@code neuron}, the side explained and its σ (that vector's norm). */
    public record Neuron(int layer, int neuron, String side, double sigma, List<Row> concepts) {}

    /**
     * Everything of a folder the image-side commands can use: the vision VO vectors by (layer, head, sv), the vision
     * MLP neurons (one entry per row: a neuron explained on both sides comes twice) in (layer, neuron, side) order,
     * and how many rows were of no use to them (text tower, QK circuits, or `explain`'s rows without a layer).
     */
    public record Contents(TreeMap<VectorId, Explained> vo, List<Neuron> mlp, int textRows, int qkRows, int unkeyedRows) {
        /** "3 text-tower rows, 12 qk rows": what was left out, for a message; empty when nothing was. */
        public String leftOut() {
            List<String> parts = new ArrayList<>();
            if (textRows > 0) parts.add(textRows + " text-tower row" + (textRows == 1 ? "" : "s"));
            if (qkRows > 0) parts.add(qkRows + " qk row" + (qkRows == 1 ? "" : "s"));
            if (unkeyedRows > 0) parts.add(unkeyedRows + " row" + (unkeyedRows == 1 ? "" : "s") + " without layer/head/sv");
            return String.join(", ", parts);
        }
    }

    /**
     * Every explained vision VO vector, by (layer, head, sv) in numeric order; rows of `explain` (no layer), of the
     * text tower and of other components are skipped. Each must be a vector of {@code model}; none at all is an error.
     */
    public static TreeMap<VectorId, Explained> read(SparkSession spark, String path, VisionWeights model) {
        return requireVo(readAll(spark, path, model), path);
    }

    /** The folder's vision VO vectors; none is an error saying what the folder has instead. */
    public static TreeMap<VectorId, Explained> requireVo(Contents c, String path) {
        if (c.vo().isEmpty()) throw new UserInputException("--explanations " + path + " has no vision VO vector (" + describe(c) + ")");
        return c.vo();
    }

    /** What a folder holds, for a message saying why nothing in it fits. */
    public static String describe(Contents c) {
        List<String> parts = new ArrayList<>();
        if (!c.vo().isEmpty()) parts.add(c.vo().size() + " vision vo vectors");
        if (!c.mlp().isEmpty()) parts.add(c.mlp().size() + " vision mlp rows");
        String rest = c.leftOut();
        if (!rest.isEmpty()) parts.add(rest);
        if (c.unkeyedRows() > 0 && c.vo().isEmpty() && c.mlp().isEmpty() && c.textRows() == 0 && c.qkRows() == 0) {
            return "its rows have no layer/head/sv: the output of explain, not decompose";
        }
        return parts.isEmpty() ? "it is empty" : "it has " + String.join(", ", parts);
    }

    /**
     * The folder's vision VO vectors and vision MLP neurons, each checked against {@code model}'s shape (the neuron
     * index against the MLP width is the caller's check: {@link VisionWeights} does not know it); may be empty.
     */
    public static Contents readAll(SparkSession spark, String path, VisionWeights model) {
        String label = "--explanations " + path;
        Paths.mustExist("explanations", path, spark.sparkContext().hadoopConfiguration());
        Dataset<Row> df = ParquetInputs.open(spark, path, label, "an explanations/ Parquet folder");
        ParquetInputs.require(df, label, column("layer", ParquetInputs.INTEGER), column("head", ParquetInputs.INTEGER),
                column("sv", ParquetInputs.INTEGER), column("sigma", ParquetInputs.NUMBER), column("concepts", ParquetInputs.CONCEPT_LIST));
        List<String> names = List.of(df.columns());
        if (names.contains("tower")) ParquetInputs.require(df, label, column("tower", ParquetInputs.STRING));
        if (names.contains("component")) ParquetInputs.require(df, label, column("component", ParquetInputs.STRING));
        if (!names.contains("side")) df = df.withColumn("side", org.apache.spark.sql.functions.lit(null).cast("string"));
        else ParquetInputs.require(df, label, column("side", ParquetInputs.STRING));
        df = Schemas.withKinds(df);
        List<Row> rows = ParquetInputs.collect(df.selectExpr("cast(layer as int)", "cast(head as int)", "cast(sv as int)", "cast(sigma as double)",
                "concepts", "tower", "component", "side"), label);
        TreeMap<VectorId, Explained> vo = new TreeMap<>();
        List<Neuron> mlp = new ArrayList<>();
        int text = 0;
        int qk = 0;
        int unkeyed = 0;
        for (Row r : rows) {
            String tower = r.isNullAt(5) ? "vision" : r.getString(5);
            String component = r.isNullAt(6) ? "vo" : r.getString(6);
            if (!tower.equals("vision")) {
                text++;
                continue;
            }
            if (r.isNullAt(0) || r.isNullAt(2) || (component.equals("vo") && r.isNullAt(1))) {
                unkeyed++;
                continue;
            }
            double sigma = r.isNullAt(3) ? Double.NaN : r.getDouble(3);
            switch (component) {
                case "vo" -> {
                    VectorId v = new VectorId(r.getInt(0), r.getInt(1), r.getInt(2));
                    if (!v.within(model)) throw new UserInputException(label + " has " + v + ", outside checkpoint " + model.path() + " " + VectorId.shape(model));
                    vo.put(v, new Explained(sigma, concepts(r)));
                }
                case "mlp" -> {
                    int layer = r.getInt(0);
                    if (!r.isNullAt(1)) throw new UserInputException(label + ": an mlp row of layer " + layer + " has head " + r.getInt(1) + " (mlp rows have none)");
                    if (layer < 0 || layer >= model.layers() || r.getInt(2) < 0) {
                        throw new UserInputException(label + " has mlp layer " + layer + " neuron " + r.getInt(2) + ", outside checkpoint " + model.path()
                                + " (" + model.layers() + " layers)");
                    }
                    mlp.add(new Neuron(layer, r.getInt(2), r.isNullAt(7) ? "right" : r.getString(7), sigma, concepts(r)));
                }
                case "qk" -> qk++;
                default -> throw new UserInputException(label + ": unknown component '" + component + "' (vo, mlp or qk)");
            }
        }
        mlp.sort((a, b) -> a.layer() != b.layer() ? Integer.compare(a.layer(), b.layer())
                : a.neuron() != b.neuron() ? Integer.compare(a.neuron(), b.neuron()) : a.side().compareTo(b.side()));
        return new Contents(vo, mlp, text, qk, unkeyed);
    }

    private static List<Row> concepts(Row r) {
        List<Row> concepts = new ArrayList<>();
        for (Row x : r.<Row>getList(4)) {
            concepts.add(RowFactory.create(((Number) x.getAs("id")).intValue(), x.getAs("concept"), ((Number) x.getAs("weight")).doubleValue()));
        }
        return concepts;
    }

    /** The vectors grouped by head, in order. */
    public static Map<org.sith.heads.HeadId, List<Integer>> byHead(Map<VectorId, Explained> vectors) {
        Map<org.sith.heads.HeadId, List<Integer>> out = new TreeMap<>();
        for (VectorId v : vectors.keySet()) out.computeIfAbsent(v.headId(), h -> new java.util.ArrayList<>()).add(v.sv());
        return out;
    }
}
