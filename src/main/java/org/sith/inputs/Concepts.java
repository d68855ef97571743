package org.sith.inputs;

import static org.apache.spark.sql.functions.col;

import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.concepts.ConceptDictionary;

/** The concept dictionary of `--concepts`: a `concepts/` Parquet folder, or an `.npy` with `--vocab` (SPEC §4, §10). */
public final class Concepts {
    private Concepts() {}

    /** Loads and prepares the dictionary for a model whose joint space is {@code p} wide. */
    public static ConceptDictionary read(SparkSession spark, ConceptsInput in, int p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("concepts", in.concepts(), conf);
        if (in.npy()) {
            Paths.mustExist("vocab", in.vocab(), conf);
            return ConceptDictionary.fromNpy(in.concepts(), in.vocab(), conf, p);
        }
        String label = "--concepts " + in.concepts();
        Dataset<Row> df = ParquetInputs.open(spark, in.concepts(), label, "a concepts/ Parquet folder or an .npy");
        ParquetInputs.require(df, label, ParquetInputs.column("id", ParquetInputs.INTEGER), ParquetInputs.column("concept", ParquetInputs.STRING),
                ParquetInputs.column("embedding", ParquetInputs.FLOAT_ARRAY));
        List<ConceptRow> rows = ParquetInputs.collect(df.select(col("id").cast("int"), col("concept"), col("embedding").cast("array<float>"))
                .orderBy("id").as(Encoders.bean(ConceptRow.class)), label);
        int n = rows.size();
        if (n == 0) throw new UserInputException(label + " holds no concepts");
        int[] ids = new int[n];
        String[] names = new String[n];
        float[] emb = new float[n * p];
        for (int i = 0; i < n; i++) {
            ConceptRow r = rows.get(i);
            if (r.getId() == null || r.getConcept() == null || r.getEmbedding() == null) {
                throw new UserInputException(label + ": row " + i + " has a null id, concept or embedding");
            }
            ids[i] = r.getId();
            names[i] = r.getConcept();
            float[] e = r.getEmbedding();
            if (e.length != p) {
                throw new UserInputException(label + ": concept " + ids[i] + " ('" + names[i] + "') has width " + e.length + ", the model's p is " + p);
            }
            System.arraycopy(e, 0, emb, i * p, p);
            rows.set(i, null); // let each row go as soon as it is copied
        }
        return ConceptDictionary.fromRows(ids, names, emb, p, in.concepts());
    }

    /** The dictionary of a coding command: loaded, checked against K, duplicates reported on stderr. */
    public static ConceptDictionary forCoding(SparkSession spark, String command, ConceptsInput in, int p, int k) {
        ConceptDictionary dict = read(spark, in, p);
        if (k > dict.size()) throw new UserInputException("--k " + k + " is larger than the dictionary (" + dict.size() + " concepts in " + in.concepts() + ")");
        for (String dup : dict.droppedDuplicates()) System.err.println("sith " + command + ": duplicate concept dropped: " + dup);
        return dict;
    }
}
