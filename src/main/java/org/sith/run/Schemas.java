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

    /** SPEC §10 matches: the top images of each explained vector, rank 1 = best. */
    public static final StructType MATCHES = createStructType(new StructField[] {
        createStructField("model", StringType, false),
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, false),
        createStructField("sv", IntegerType, false),
        createStructField("rank", IntegerType, false),
        createStructField("image", StringType, false),
        createStructField("score", DoubleType, false)});

    /** SPEC §10 diff_heads: one row per head; NaN-valued (undefined) quantities are null. */
    public static final StructType DIFF_HEADS = createStructType(new StructField[] {
        createStructField("layer", IntegerType, false),
        createStructField("head", IntegerType, false),
        createStructField("rel_change", DoubleType, true),
        createStructField("in_basis", DoubleType, true),
        createStructField("diagonal", DoubleType, true),
        createStructField("principal_angles", createArrayType(DoubleType, false), false)});

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
        expl.coalesce(1).sortWithinPartitions("layer", "head", "sv", "vector").write().partitionBy("layer").parquet(path);
    }

    public static Column[] explanationColumns() {
        return Arrays.stream(EXPLANATIONS.fieldNames()).map(functions::col).toArray(Column[]::new);
    }

    public static Column[] singularVectorColumns() {
        return new Column[] {
            functions.col("model"), functions.col("layer"), functions.col("head"), functions.col("sv"),
            functions.col("side"), functions.col("sigma"),
            FLOATS.apply(functions.col("sv_vector")).as("vector"), FLOATS.apply(functions.col("sv_joint")).as("joint")};
    }
}
