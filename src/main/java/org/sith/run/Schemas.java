package org.sith.run;

import static org.apache.spark.sql.types.DataTypes.BinaryType;
import static org.apache.spark.sql.types.DataTypes.BooleanType;
import static org.apache.spark.sql.types.DataTypes.DoubleType;
import static org.apache.spark.sql.types.DataTypes.FloatType;
import static org.apache.spark.sql.types.DataTypes.IntegerType;
import static org.apache.spark.sql.types.DataTypes.StringType;
import static org.apache.spark.sql.types.DataTypes.createArrayType;
import static org.apache.spark.sql.types.DataTypes.createStructField;
import static org.apache.spark.sql.types.DataTypes.createStructType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sith.io.FloatBits;

/** The Parquet schemas of SPEC §10; column names and types are part of the user-facing contract. */
public final class Schemas {
    private Schemas() {}

    public static final StructType CONCEPT = createStructType(new StructField[] {
        createStructField("id", IntegerType, false),
        createStructField("concept", StringType, false),
        createStructField("weight", DoubleType, false)});

    public static final StructType EXPLANATIONS = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("vector", IntegerType, true),
        createStructField("layer", IntegerType, true),
        createStructField("head", IntegerType, true),
        createStructField("sv", IntegerType, true),
        createStructField("side", StringType, true),
        createStructField("sigma", DoubleType, true),
        createStructField("method", StringType, false),
        createStructField("lambda", DoubleType, false),
        createStructField("k", IntegerType, false),
        createStructField("concepts", createArrayType(CONCEPT, false), false),
        createStructField("fidelity", DoubleType, false),
        createStructField("fidelity_residual", DoubleType, true),
        createStructField("coherence", DoubleType, false),
        createStructField("degenerate", BooleanType, true),
        createStructField("dictionary", StringType, false)});

    public static final StructType SINGULAR_VECTORS = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, false),
        createStructField("sv", IntegerType, false),
        createStructField("side", StringType, false),
        createStructField("sigma", DoubleType, false),
        createStructField("vector", createArrayType(FloatType, false), false),
        createStructField("joint", createArrayType(FloatType, false), false)});

    public static final StructType CONCEPTS = createStructType(new StructField[] {
        createStructField("id", IntegerType, false),
        createStructField("concept", StringType, false),
        createStructField("embedding", createArrayType(FloatType, false), false)});

    /**
     * `image_embeddings` (SPEC §11): one row per decoded image, in image id order: e/‖e‖ for e = LN_post(x_CLS)·P, and
     * ‖e‖ in `norm`, so the raw embedding (OpenCLIP's encode_image) is embedding · norm.
     */
    public static final StructType IMAGE_EMBEDDINGS = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("image", StringType, false),
        createStructField("embedding", createArrayType(FloatType, false), false),
        createStructField("norm", DoubleType, false)});

    /**
     * `image_contributions` (SPEC §11): per image, the `--top` vectors by signed share of the embedding (rank 1…N; a head's
     * singular vector, component `vo`, or with `--contributions vo,mlp` an MLP neuron, component `mlp` with head null and sv
     * the neuron; score = σ_j⟨z_h,u_j⟩ or act_i·‖w_i‖), then one row per remaining kind with the rest summed (rank, layer,
     * head, sv and score null); the shares of an image add to 1. `concepts`: the vector's explanation, when given.
     */
    public static final StructType IMAGE_CONTRIBUTIONS = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("image", StringType, false),
        createStructField("rank", IntegerType, true),
        createStructField("layer", IntegerType, true),
        createStructField("head", IntegerType, true),
        createStructField("sv", IntegerType, true),
        createStructField("component", StringType, false),
        createStructField("score", DoubleType, true),
        createStructField("share", DoubleType, false),
        createStructField("concepts", createArrayType(CONCEPT, false), true)});

    /**
     * `image_explanations` (SPEC §11): the columns of {@link #EXPLANATIONS} (vector, layer, head, sv, side, sigma,
     * fidelity_residual and degenerate null) and `image` last: the sparse code of an image's normalized embedding.
     */
    public static final StructType IMAGE_EXPLANATIONS;

    static {
        List<StructField> f = new ArrayList<>(Arrays.asList(EXPLANATIONS.fields()));
        f.add(createStructField("image", StringType, false));
        IMAGE_EXPLANATIONS = createStructType(f);
    }

    /** Each applied edit: its α, the vector's σ, how it was selected, and the explanation behind it (when known). */
    public static final StructType EDITS = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, false),
        createStructField("sv", IntegerType, false),
        createStructField("alpha", DoubleType, false),
        createStructField("sigma", DoubleType, false),
        createStructField("selection", StringType, false),
        createStructField("relevance", DoubleType, true),
        createStructField("concepts", createArrayType(CONCEPT, false), true)});

    /** edits/ when the table scales MLP neurons: as {@link #EDITS}, head null for a neuron (sv the neuron), plus `component` (vo/mlp). */
    public static final StructType EDITS_WITH_COMPONENT = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, true),
        createStructField("sv", IntegerType, false),
        createStructField("alpha", DoubleType, false),
        createStructField("sigma", DoubleType, false),
        createStructField("selection", StringType, false),
        createStructField("relevance", DoubleType, true),
        createStructField("concepts", createArrayType(CONCEPT, false), true),
        createStructField("component", StringType, false)});

    /** SPEC §10 matches: the top images of each explained vector, rank 1 = best. */
    public static final StructType MATCHES = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, false),
        createStructField("sv", IntegerType, false),
        createStructField("rank", IntegerType, false),
        createStructField("image", StringType, false),
        createStructField("score", DoubleType, false)});

    /**
     * matches/ of a run that is not the paper's default (`match-images --component mlp|all`): as {@link #MATCHES} plus
     * `component` (`vo`, or `mlp` with head null and sv the neuron).
     */
    public static final StructType MATCHES_WITH_COMPONENT = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, true),
        createStructField("sv", IntegerType, false),
        createStructField("rank", IntegerType, false),
        createStructField("image", StringType, false),
        createStructField("score", DoubleType, false),
        createStructField("component", StringType, false)});

    /** SPEC §10 diff_heads: one row per head; NaN-valued (undefined) quantities are null. */
    public static final StructType DIFF_HEADS = createStructType(new StructField[] {
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, false),
        createStructField("rel_change", DoubleType, true),
        createStructField("in_basis", DoubleType, true),
        createStructField("diagonal", DoubleType, true),
        createStructField("principal_angles", createArrayType(DoubleType, false), false)});

    /** diff_mlp (`diff --component mlp`): one row per block, the comparison of its MLP write matrices ({@link org.sith.analysis.MlpDiff}). */
    public static final StructType DIFF_MLP = createStructType(new StructField[] {
        createStructField("layer", IntegerType, false),
        createStructField("neurons", IntegerType, false),
        createStructField("rel_change", DoubleType, true),
        createStructField("in_basis", DoubleType, true),
        createStructField("basis_rank", IntegerType, false),
        createStructField("diagonal", DoubleType, true),
        createStructField("reweighting", DoubleType, true),
        createStructField("mean_cos", DoubleType, true),
        createStructField("min_cos", DoubleType, true),
        createStructField("min_cos_neuron", IntegerType, true),
        createStructField("changed", IntegerType, false)});

    /** SPEC §10 diff_vectors: one row per fine-tuned vector; the concept columns are null without --concepts. */
    public static final StructType DIFF_VECTORS = createStructType(new StructField[] {
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, false),
        createStructField("sv", IntegerType, false),
        createStructField("sigma_base", DoubleType, false),
        createStructField("sigma_ft", DoubleType, false),
        createStructField("reweight", DoubleType, true),
        createStructField("match", IntegerType, false),
        createStructField("match_cos", DoubleType, false),
        createStructField("jaccard", DoubleType, true),
        createStructField("gained", createArrayType(StringType, false), true),
        createStructField("lost", createArrayType(StringType, false), true)});

    /**
     * One decomposed vector as decompose keeps it in its resumable work (chunks read back only by decompose): the
     * explanation columns followed by the two singular_vectors arrays as the little-endian bytes of their float32
     * values. Parquet writes a binary value at once where it writes an array<float> value by value (and tries a
     * dictionary of them); the arrays are made once, in singular_vectors/ ({@link #singularVectorColumns}).
     */
    public static final StructType DECOMPOSED;

    static {
        List<StructField> f = new ArrayList<>(Arrays.asList(EXPLANATIONS.fields()));
        f.add(createStructField("tower", StringType, true));
        f.add(createStructField("component", StringType, true));
        f.add(createStructField("sv_vector", BinaryType, false));
        f.add(createStructField("sv_joint", BinaryType, false));
        DECOMPOSED = createStructType(f);
    }

    /**
     * Float32 little-endian bytes to array<float>: nullable, with nullable elements, as the column of a Parquet
     * file read back is (what singular_vectors/ was written from when its chunks held the arrays themselves).
     */
    private static final UserDefinedFunction FLOATS = functions.udf((UDF1<byte[], float[]>) FloatBits::fromLittleEndian,
            createArrayType(FloatType, true));

    /**
     * The two columns SPEC §3b adds, `tower` (vision/text) and `component` (vo/mlp/qk). Outputs of the paper's setting
     * (vision VO) are written without them, byte for byte as before they existed; a reader takes a missing column as
     * vision / vo ({@link #withKinds}).
     */
    public static final List<String> KIND_COLUMNS = List.of("tower", "component");

    /** A read output with the kind columns: as stored, or filled with vision / vo where they are absent. */
    public static org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> withKinds(org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> df) {
        if (!Arrays.asList(df.columns()).contains("tower")) df = df.withColumn("tower", functions.lit("vision"));
        return withComponent(df);
    }

    /** A read output with its `component` column: as stored, or vo where it is absent (matches/ of a VO-only run). */
    public static org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> withComponent(org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> df) {
        return Arrays.asList(df.columns()).contains("component") ? df : df.withColumn("component", functions.lit("vo"));
    }

    /** One file per layer folder, rows sorted: identical inputs give byte-identical files. */
    public static void writeExplanations(org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> expl, String path, int nLayers) {
        expl.repartition(Math.max(1, nLayers), functions.col("layer")).sortWithinPartitions("layer", "head", "sv", "vector")
                .write().partitionBy("layer").parquet(path);
    }

    /**
     * As {@link #writeExplanations}, for rows read from files (cheap to read again, so one task may read them all):
     * one task sorts all rows and writes each layer's file in turn, without a shuffle. The same files, byte for
     * byte; a computed Dataset would be computed in that one task, so it is not for those.
     */
    public static void writeExplanationsOfFiles(org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> expl, String path) {
        expl.coalesce(1).sortWithinPartitions(sortColumns(expl)).write().partitionBy("layer").parquet(path);
    }

    /**
     * The order of decompose's rows: layer, head, sv, vector, and with the kind columns also component and side (a VO
     * vector and a QK pair share a layer, head and sv; null heads, MLP neurons, come first).
     */
    public static Column[] sortColumns(org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> df) {
        List<String> names = Arrays.asList(df.columns());
        List<Column> c = new ArrayList<>();
        for (String n : new String[] {"layer", "head", "sv", "vector", "component", "side"}) if (names.contains(n)) c.add(functions.col(n));
        return c.toArray(new Column[0]);
    }

    public static Column[] explanationColumns() {
        return explanationColumns(false);
    }

    /** The explanations/ columns, with `tower` and `component` last when {@code kinds}. */
    public static Column[] explanationColumns(boolean kinds) {
        List<Column> c = new ArrayList<>();
        for (String n : EXPLANATIONS.fieldNames()) c.add(functions.col(n));
        if (kinds) for (String n : KIND_COLUMNS) c.add(functions.col(n));
        return c.toArray(new Column[0]);
    }

    public static Column[] singularVectorColumns() {
        return singularVectorColumns(false);
    }

    /** The singular_vectors/ columns of decompose's work rows, with `tower` and `component` last when {@code kinds}. */
    public static Column[] singularVectorColumns(boolean kinds) {
        List<Column> c = new ArrayList<>(List.of(
            functions.col("model"), functions.col("layer"), functions.col("head"), functions.col("sv"),
            functions.col("side"), functions.col("sigma"),
            FLOATS.apply(functions.col("sv_vector")).as("vector"), FLOATS.apply(functions.col("sv_joint")).as("joint")));
        if (kinds) for (String n : KIND_COLUMNS) c.add(functions.col(n));
        return c.toArray(new Column[0]);
    }
}
