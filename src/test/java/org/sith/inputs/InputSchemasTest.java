package org.sith.inputs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.SyntheticInputs;

/** Parquet inputs of the wrong shape: each command names the column, its type and the type it needs, in one line. */
class InputSchemasTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static String checkpoint;
    static String concepts;
    static String vocab;

    @BeforeAll
    static void inputs() throws Exception {
        SyntheticInputs in = SyntheticInputs.write(tmp.resolve("model"));
        checkpoint = in.checkpoint().toString();
        concepts = in.concepts().toString();
        vocab = in.vocab().toString();
    }

    static String parquet(String name, StructType schema, Row... rows) {
        String p = tmp.resolve(name).toString();
        spark.createDataFrame(List.of(rows), schema).coalesce(1).write().parquet(p);
        return p;
    }

    static void refused(Run r, String out, String expected) {
        assertEquals(2, r.status(), r.stderr());
        assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
        assertTrue(r.stderr().contains(expected), "'" + expected + "' in: " + r.stderr());
        assertFalse(Files.exists(Path.of(out)), "nothing written");
    }

    @Test
    void explanationsEditsVectorsAndConceptsOfTheWrongTypeAreNamed() {
        StructType explanations = new StructType().add("layer", DataTypes.IntegerType).add("head", DataTypes.IntegerType)
                .add("sv", DataTypes.IntegerType).add("sigma", DataTypes.StringType)
                .add("concepts", DataTypes.createArrayType(new StructType().add("id", DataTypes.IntegerType).add("concept", DataTypes.StringType)
                        .add("weight", DataTypes.DoubleType)));
        String e = parquet("expl-text-sigma", explanations, RowFactory.create(0, 0, 0, "1.5", scala.jdk.javaapi.CollectionConverters.asScala(
                List.of(RowFactory.create(1, "a", 1.0)))));
        String out = tmp.resolve("out-1").toString();
        refused(cli("match-images", "--checkpoint", checkpoint, "--images", tmp.toString(), "--explanations", e, "--out", out), out,
                "--explanations " + e + ": column 'sigma' is string, expected double");

        StructType noConcepts = new StructType().add("layer", DataTypes.IntegerType).add("head", DataTypes.IntegerType)
                .add("sv", DataTypes.IntegerType).add("sigma", DataTypes.DoubleType);
        String nc = parquet("expl-no-concepts", noConcepts, RowFactory.create(0, 0, 0, 1.5));
        refused(cli("match-images", "--checkpoint", checkpoint, "--images", tmp.toString(), "--explanations", nc, "--out", out), out,
                "--explanations " + nc + ": no column 'concepts'");

        StructType good = new StructType().add("layer", DataTypes.IntegerType).add("head", DataTypes.IntegerType)
                .add("sv", DataTypes.IntegerType).add("sigma", DataTypes.DoubleType).add("concepts", explanations.apply("concepts").dataType());
        String beyond = parquet("expl-layer-9", good, RowFactory.create(9, 0, 0, 1.5, scala.jdk.javaapi.CollectionConverters.asScala(
                List.of(RowFactory.create(1, "a", 1.0)))));
        refused(cli("match-images", "--checkpoint", checkpoint, "--images", tmp.toString(), "--explanations", beyond, "--out", out), out,
                "--explanations " + beyond + " has layer 9 head 0 sv 0, outside checkpoint " + checkpoint + " (4 layers, 4 heads, 64 vectors each)");

        StructType edits = new StructType().add("layer", DataTypes.IntegerType).add("head", DataTypes.IntegerType)
                .add("sv", DataTypes.IntegerType).add("alpha", DataTypes.StringType);
        String ed = parquet("edits-text-alpha", edits, RowFactory.create(0, 0, 0, "0"));
        refused(cli("edit", "--checkpoint", checkpoint, "--edits", ed, "--out", out), out, "--edits " + ed + ": column 'alpha' is string, expected double");

        String vec = parquet("vectors-text", new StructType().add("v", DataTypes.StringType), RowFactory.create("[1, 2]"));
        refused(cli("explain", "--vectors", vec, "--concepts", concepts, "--vocab", vocab, "--out", out), out,
                "--vectors " + vec + ": no column of type array<float> holds vectors (columns: v string)");

        StructType textIds = new StructType().add("id", DataTypes.StringType).add("concept", DataTypes.StringType)
                .add("embedding", DataTypes.createArrayType(DataTypes.FloatType));
        String ci = parquet("concepts-text-id", textIds, RowFactory.create("x", "a", new float[] {1f}));
        refused(cli("decompose", "--checkpoint", checkpoint, "--concepts", ci, "--out", out), out,
                "--concepts " + ci + ": column 'id' is string, expected int");
    }
}
