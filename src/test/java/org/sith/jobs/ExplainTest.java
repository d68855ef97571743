package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.TestData;
import org.sith.io.Npy;
import org.sith.run.Schemas;

import com.fasterxml.jackson.databind.ObjectMapper;

/** explain on real CLIP embeddings, and the concepts/ Parquet input path. */
class ExplainTest extends SparkTestBase {
    @TempDir
    Path tmp;

    /**
     * OpenAI CLIP ViT-B/32's ImageNet classifier (1000 real text embeddings, p=512) is the dictionary;
     * the vectors are positive mixtures of two class embeddings. The two classes must come back as the
     * two largest weights, through the .npy (p×N, F16) + vocabulary path with concept centering.
     */
    @Test
    void realClipEmbeddingsMixturesAreExplainedByTheirClasses() throws Exception {
        Path npy = TestData.require("embeddings/imagenet_zeroshot_openai_vit-b-32.npy");
        Path classes = TestData.require("embeddings/imagenet_classes.json");
        List<String> names = List.of(new ObjectMapper().readValue(classes.toFile(), String[].class));
        Path vocab = tmp.resolve("classes.txt");
        Files.writeString(vocab, String.join("\n", names) + "\n", StandardCharsets.UTF_8);
        Configuration conf = new Configuration();
        Npy.NpyArray e = Npy.read(npy.toString(), conf); // 512 × 1000, column = class
        int p = (int) e.shape()[0];
        int n = (int) e.shape()[1];
        int[][] pairs = {{1, 281}, {340, 817}, {937, 980}, {130, 508}, {207, 963}, {388, 430}};
        float[] v = new float[pairs.length * p];
        for (int i = 0; i < pairs.length; i++) {
            for (int j = 0; j < p; j++) {
                v[i * p + j] = 0.7f * e.data()[j * n + pairs[i][0]] + 0.5f * e.data()[j * n + pairs[i][1]];
            }
        }
        String vectors = tmp.resolve("mixtures.npy").toString();
        Npy.write(vectors, conf, new long[] {pairs.length, p}, v);
        String out = tmp.resolve("out").toString();
        Run run = cli("explain", "--vectors", vectors, "--concepts", npy.toString(), "--vocab", vocab.toString(), "--out", out);
        assertEquals(0, run.status(), run.stderr());
        // The ImageNet class list has duplicate names: dropped and reported.
        assertTrue(run.stderr().contains("duplicate concept dropped"), run.stderr());

        List<Row> rows = spark.read().parquet(out + "/explanations").orderBy("vector").collectAsList();
        assertEquals(pairs.length, rows.size());
        for (int i = 0; i < pairs.length; i++) {
            Row r = rows.get(i);
            assertEquals(i, (int) r.getAs("vector"));
            assertTrue(r.isNullAt(r.fieldIndex("head")) && r.isNullAt(r.fieldIndex("sv")) && r.isNullAt(r.fieldIndex("sigma")));
            List<Row> c = r.getList(r.fieldIndex("concepts"));
            Set<Integer> top2 = new HashSet<>(List.of(c.get(0).getInt(0), c.get(1).getInt(0)));
            assertEquals(Set.of(pairs[i][0], pairs[i][1]), top2, "mixture " + names.get(pairs[i][0]) + " + " + names.get(pairs[i][1]) + ": " + c);
            assertEquals(names.get(c.get(0).getInt(0)), c.get(0).getString(1));
            assertTrue((double) r.getAs("fidelity") > 0.9, "fidelity " + r.getAs("fidelity"));
        }
        String runJson = Files.readString(Path.of(out, "_run.json"));
        assertTrue(runJson.contains("\"center\" : \"concepts\""), runJson);
        assertTrue(runJson.contains(npy.getFileName().toString()), runJson);
    }

    @Test
    void conceptsParquetIsReadAndBadRowsAreNamed() throws Exception {
        int p = 16;
        java.util.Random rnd = new java.util.Random(4);
        List<Row> good = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            float[] emb = new float[p];
            for (int j = 0; j < p; j++) emb[j] = (float) rnd.nextGaussian();
            good.add(RowFactory.create(100 + i, "concept " + i, emb));
        }
        String concepts = tmp.resolve("concepts").toString();
        spark.createDataFrame(good, Schemas.CONCEPTS).coalesce(1).write().parquet(concepts);
        // vectors: exactly the raw embeddings of concepts 3 and 17; explained with --center none,
        // the top concept of the first is concept 3 (id 103).
        float[] v = new float[2 * p];
        float[] e3 = (float[]) good.get(3).get(2);
        float[] e17 = (float[]) good.get(17).get(2);
        System.arraycopy(e3, 0, v, 0, p);
        System.arraycopy(e17, 0, v, p, p);
        String vectors = tmp.resolve("v.npy").toString();
        Npy.write(vectors, new Configuration(), new long[] {2, p}, v);
        String out = tmp.resolve("out").toString();
        Run ok = cli("explain", "--vectors", vectors, "--concepts", concepts, "--method", "omp", "--k", "1", "--out", out);
        assertEquals(0, ok.status(), ok.stderr());
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
             ResultSet r = c.createStatement().executeQuery("SELECT vector, concepts[1].id, concepts[1].concept, method, k FROM read_parquet('"
                     + out + "/explanations/**/*.parquet', hive_partitioning = true) ORDER BY vector")) {
            r.next();
            assertEquals(0, r.getInt(1));
            assertEquals(103, r.getInt(2));
            assertEquals("concept 3", r.getString(3));
            assertEquals("omp", r.getString(4));
            assertEquals(1, r.getInt(5));
            r.next();
            assertEquals(117, r.getInt(2));
        }

        List<Row> bad = new ArrayList<>(good);
        bad.set(7, RowFactory.create(107, "concept 7", new float[p]));
        String zero = tmp.resolve("zero").toString();
        spark.createDataFrame(bad, Schemas.CONCEPTS).coalesce(1).write().parquet(zero);
        Run z = cli("explain", "--vectors", vectors, "--concepts", zero, "--out", tmp.resolve("o2").toString());
        assertEquals(2, z.status());
        assertTrue(z.stderr().contains("concept 7") && z.stderr().strip().lines().count() == 1, z.stderr());
        assertFalse(Files.exists(tmp.resolve("o2")));

        bad.set(7, RowFactory.create(107, "concept 7", new float[p + 1]));
        String wide = tmp.resolve("wide").toString();
        spark.createDataFrame(bad, Schemas.CONCEPTS).coalesce(1).write().parquet(wide);
        Run w = cli("explain", "--vectors", vectors, "--concepts", wide, "--out", tmp.resolve("o3").toString());
        assertEquals(2, w.status());
        assertTrue(w.stderr().contains("'concept 7'") && w.stderr().contains("width 17"), w.stderr());

        Run refuse = cli("explain", "--vectors", vectors, "--concepts", concepts, "--out", out);
        assertEquals(2, refuse.status());
        assertTrue(refuse.stderr().contains("--overwrite"), refuse.stderr());
        assertEquals(0, cli("explain", "--vectors", vectors, "--concepts", concepts, "--out", out, "--overwrite").status());
    }

    @Test
    void helpIsPrintedForEveryCommand() {
        for (String c : new String[] {"demo", "decompose", "explain", "benchmark"}) {
            Run r = cli(c, "--help");
            assertEquals(0, r.status());
            assertTrue(r.stdout().startsWith("usage: ./submit.sh " + c), r.stdout());
        }
        Run unknown = cli("frobnicate");
        assertEquals(2, unknown.status());
        assertTrue(unknown.stderr().contains("unknown command 'frobnicate'"));
    }

    /**
     * Defect found in review: a vectors folder of several Parquet files was numbered in the order Spark reads them
     * (largest file first), not the files'. Row i is the i-th row in file-name order: each vector here is a concept's own
     * embedding, so its top concept says which row it was.
     */
    @Test
    void vectorsOfSeveralFilesAreNumberedInFileOrder() throws Exception {
        java.util.Random rnd = new java.util.Random(9);
        int n = 20, p = 16;
        float[] emb = new float[n * p];
        for (int k = 0; k < emb.length; k++) emb[k] = (float) rnd.nextGaussian();
        String npy = tmp.resolve("dict.npy").toString();
        Npy.write(npy, new Configuration(), new long[] {n, p}, emb);
        List<String> names = new java.util.ArrayList<>();
        for (int k = 0; k < n; k++) names.add("c" + k);
        Path vocab = tmp.resolve("dict.txt");
        Files.writeString(vocab, String.join("\n", names) + "\n");
        int[][] files = {{7}, {3, 9, 1, 12, 5}}; // the first file is the smaller: Spark reads it last
        Path folder = Files.createDirectories(tmp.resolve("vectors"));
        for (int f = 0; f < files.length; f++) {
            List<Row> rows = new java.util.ArrayList<>();
            for (int c : files[f]) rows.add(org.apache.spark.sql.RowFactory.create((Object) java.util.Arrays.copyOfRange(emb, c * p, (c + 1) * p)));
            String part = tmp.resolve("part" + f).toString();
            spark.createDataFrame(rows, new org.apache.spark.sql.types.StructType().add("embedding",
                    org.apache.spark.sql.types.DataTypes.createArrayType(org.apache.spark.sql.types.DataTypes.FloatType))).coalesce(1).write().parquet(part);
            try (var ls = Files.list(Path.of(part))) {
                Path file = ls.filter(x -> x.toString().endsWith(".parquet")).findFirst().orElseThrow();
                Files.copy(file, folder.resolve(String.format("part-%05d.parquet", f)));
            }
        }
        String out = tmp.resolve("out-files").toString();
        Run run = cli("explain", "--vectors", folder.toString(), "--concepts", npy, "--vocab", vocab.toString(), "--k", "1", "--out", out);
        assertEquals(0, run.status(), run.stderr());
        List<Row> rows = spark.read().parquet(out + "/explanations").orderBy("vector").collectAsList();
        int[] expected = {7, 3, 9, 1, 12, 5};
        assertEquals(expected.length, rows.size());
        for (int i = 0; i < expected.length; i++) {
            Row r = rows.get(i);
            assertEquals(i, (int) r.getAs("vector"));
            assertEquals(expected[i], r.<Row>getList(r.fieldIndex("concepts")).get(0).getInt(0), "vector " + i);
        }
    }

    /**
     * SPEC §3b: a singular_vectors/ of `decompose --component all` (VO, QK query/key, MLP neurons with head null) as
     * `--vectors`. Its `joint` column is the target decompose coded, so with `--center none` and the same coder, row i of
     * explain's output has the concepts of the decompose explanation of row i of the folder (in file order): the rows are
     * neither dropped nor shuffled nor read from the d-wide `vector` column, and each carries its tower and component. The
     * paper's default singular_vectors/ (no such columns) still gives explanations/ without them.
     */
    @Test
    void aSingularVectorsFolderWithTowerAndComponentIsExplainedRowByRow() throws Exception {
        Path demo = tmp.resolve("demo");
        assertEquals(0, cli("demo", "--out", demo.toString()).status());
        Path all = tmp.resolve("all");
        Run d = cli("decompose", "--checkpoint", demo.resolve("model/demo-clip.safetensors").toString(), "--concepts", demo.resolve("concepts").toString(),
                "--component", "all", "--layers", "3", "--out", all.toString());
        assertEquals(0, d.status(), d.stderr());
        Path out = tmp.resolve("explained");
        Run e = cli("explain", "--vectors", all.resolve("singular_vectors").toString(), "--concepts", demo.resolve("concepts").toString(),
                "--center", "none", "--out", out.toString());
        assertEquals(0, e.status(), e.stderr());

        List<Row> inputs = spark.read().parquet(all.resolve("singular_vectors").toString())
                .selectExpr("tower", "component", "layer", "head", "sv", "side", "_metadata.file_path AS f", "_metadata.row_index AS r").orderBy("f", "r")
                .collectAsList();
        assertEquals(256 + 2 * 256 + 1024, inputs.size(), "layer 3: VO, QK query and key, MLP neurons");
        assertTrue(inputs.stream().anyMatch(r -> r.isNullAt(3)), "MLP rows have no head");
        java.util.Map<String, List<Integer>> decomposed = new java.util.HashMap<>();
        for (Row r : spark.read().parquet(all.resolve("explanations").toString()).selectExpr("tower", "component", "layer", "head", "sv", "side",
                "transform(concepts, c -> c.id) AS ids").collectAsList()) {
            decomposed.put(identity(r), r.getList(6));
        }
        assertEquals(inputs.size(), decomposed.size());
        List<Row> explained = spark.read().parquet(out.resolve("explanations").toString())
                .selectExpr("vector", "tower", "component", "layer", "head", "sv", "transform(concepts, c -> c.id) AS ids").orderBy("vector").collectAsList();
        assertEquals(inputs.size(), explained.size());
        Set<String> components = new HashSet<>();
        for (int i = 0; i < inputs.size(); i++) {
            Row x = explained.get(i);
            Row in = inputs.get(i);
            assertEquals(i, x.getInt(0));
            assertEquals(in.getString(0), x.getString(1), "tower of row " + i);
            assertEquals(in.getString(1), x.getString(2), "component of row " + i);
            assertTrue(x.isNullAt(3) && x.isNullAt(4) && x.isNullAt(5), "layer, head, sv stay null for explain's rows");
            assertEquals(decomposed.get(identity(in)), x.getList(6), "concepts of row " + i + " (" + identity(in) + ")");
            components.add(x.getString(2));
        }
        assertEquals(Set.of("vo", "qk", "mlp"), components);
        // as decompose writes them: last in the files (Spark lists the partition column, layer, after them)
        List<String> cols = new ArrayList<>(List.of(spark.read().parquet(out.resolve("explanations").toString()).columns()));
        cols.remove("layer");
        assertEquals(List.of("tower", "component"), cols.subList(cols.size() - 2, cols.size()), cols.toString());

        Path plain = tmp.resolve("plain");
        assertEquals(0, cli("explain", "--vectors", demo.resolve("singular_vectors").toString(), "--concepts", demo.resolve("concepts").toString(),
                "--out", plain.toString()).status());
        List<String> plainCols = List.of(spark.read().parquet(plain.resolve("explanations").toString()).columns());
        assertFalse(plainCols.contains("tower") || plainCols.contains("component"), plainCols.toString());
    }

    private static String identity(Row r) {
        return r.get(0) + "/" + r.get(1) + "/" + r.get(2) + "/" + r.get(3) + "/" + r.get(4) + "/" + r.get(5);
    }
}
