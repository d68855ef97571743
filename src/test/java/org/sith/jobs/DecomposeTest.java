package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.demo.SyntheticClip;
import org.sith.io.Npy;
import org.sith.run.JobRun;

/** decompose through the command line: layouts and dtypes, determinism, resume, refusals, bad input. */
class DecomposeTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static SyntheticClip clip;
    static String openclipF32;
    static String hfBf16;
    static String conceptsNpy;
    static SyntheticClip exact;
    static String exactF32;
    static String vocab;

    @BeforeAll
    static void writeInputs() throws IOException {
        clip = new SyntheticClip(21);
        clip.roundToBf16(); // so the F32 and BF16 files hold the same numbers
        Configuration conf = new Configuration();
        Path oc = Files.createDirectories(tmp.resolve("openclip"));
        openclipF32 = oc.resolve("model.safetensors").toString();
        SafeTensorsWriter.write(openclipF32, conf, clip.tensors, Map.of());
        Files.writeString(oc.resolve("open_clip_config.json"), clip.openClipConfig());
        Path hf = Files.createDirectories(tmp.resolve("hf"));
        hfBf16 = hf.resolve("model.safetensors").toString();
        LinkedHashMap<String, TensorData> bf16 = new LinkedHashMap<>();
        clip.huggingFace().forEach((k, v) -> bf16.put(k, new TensorData("BF16", v.shape(), v.data())));
        SafeTensorsWriter.write(hfBf16, conf, bf16, Map.of());
        Files.writeString(hf.resolve("config.json"), clip.hfConfig());
        exact = new SyntheticClip(21); // not rounded: its planted directions are exact
        Path ex = Files.createDirectories(tmp.resolve("exact"));
        exactF32 = ex.resolve("model.safetensors").toString();
        SafeTensorsWriter.write(exactF32, conf, exact.tensors, Map.of());
        Files.writeString(ex.resolve("open_clip_config.json"), exact.openClipConfig());
        conceptsNpy = tmp.resolve("concepts.npy").toString();
        Npy.write(conceptsNpy, conf, new long[] {clip.concepts.length, clip.p}, clip.embeddings);
        vocab = tmp.resolve("concepts.txt").toString();
        Files.writeString(Path.of(vocab), String.join("\n", clip.concepts) + "\n", StandardCharsets.UTF_8);
    }

    static String out(String name) {
        return tmp.resolve("out-" + name).toString();
    }

    static Run decompose(String checkpoint, String out, String... extra) {
        List<String> a = new ArrayList<>(List.of("decompose", "--checkpoint", checkpoint, "--concepts", conceptsNpy,
                "--vocab", vocab, "--model-name", "synthetic", "--out", out));
        a.addAll(List.of(extra));
        return cli(a.toArray(new String[0]));
    }

    static List<Row> explanations(String out) {
        return spark.read().parquet(out + "/explanations").orderBy("layer", "head", "sv").collectAsList();
    }

    @Test
    void openClipF32AndHuggingFaceBf16OfTheSameWeightsGiveTheSameExplanations() {
        assertEquals(0, decompose(openclipF32, out("oc"), "--layers", "2,3").status());
        assertEquals(0, decompose(hfBf16, out("hf"), "--layers", "2,3").status());
        List<Row> a = explanations(out("oc"));
        List<Row> b = explanations(out("hf"));
        assertEquals(2 * 4 * 64, a.size());
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            Row x = a.get(i);
            Row y = b.get(i);
            assertEquals(x.getAs("sigma"), (double) y.getAs("sigma"), 1e-9);
            List<Row> cx = x.getList(x.fieldIndex("concepts"));
            List<Row> cy = y.getList(y.fieldIndex("concepts"));
            // the loop below compares what is there: both lists must hold the K concepts first (two empty lists would pass it)
            assertEquals(5, cx.size(), "concepts of row " + i);
            assertEquals(cx.size(), cy.size(), "concepts of row " + i);
            for (int j = 0; j < cx.size(); j++) {
                assertEquals(cx.get(j).getInt(0), cy.get(j).getInt(0), "concept " + j + " of row " + i);
                assertEquals(cx.get(j).getDouble(2), cy.get(j).getDouble(2), 1e-6);
            }
        }
    }

    /**
     * Defect found in review: --batch-rows above 512 had no effect (the coder kept its own cap of 512). The 16 heads ×
     * 64 vectors of the model fill one product of 1024 rows now, and the numbers do not depend on the batch.
     */
    @Test
    void batchRowsAbove512GiveProductsOfThatManyRowsAndTheSameBytes() throws Exception {
        assertEquals(0, decompose(openclipF32, out("b512")).status());
        assertEquals(0, decompose(openclipF32, out("b1024"), "--batch-rows", "1024").status());
        var results = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Path.of(out("b1024"), "_run.json").toFile()).get("results");
        assertEquals(1024.0, results.get("rows_per_product").asDouble(), results.toString());
        assertEquals(5, results.get("coding_products").asLong(), "K products for the one batch: " + results);
        var small = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Path.of(out("b512"), "_run.json").toFile()).get("results");
        assertEquals(512.0, small.get("rows_per_product").asDouble(), small.toString());
        assertEquals(contents(out("b512")), contents(out("b1024")));
    }

    /** SPEC §12: every --scoring setting writes the same bytes; `_run.json` says which path the executors' products took. */
    @Test
    void everyScoringPathWritesTheSameBytesAndRecordsWhichRan() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        assertEquals(0, decompose(openclipF32, out("s-fp32"), "--scoring", "fp32").status());
        var fp32 = json.readTree(Path.of(out("s-fp32"), "_run.json").toFile());
        assertEquals("fp32", fp32.at("/results/scoring_path").asText(), fp32.toString());
        assertEquals("fp32", fp32.at("/options/scoring").asText());
        assertTrue(fp32.at("/results/rescored_per_choice").asDouble() >= 0);
        Run auto = decompose(openclipF32, out("s-auto"));
        assertEquals(0, auto.status(), auto.stderr());
        var autoRec = json.readTree(Path.of(out("s-auto"), "_run.json").toFile());
        boolean bf16Here = org.sith.linalg.OneDnn.unavailable() == null;
        assertEquals(bf16Here && org.sith.linalg.OneDnn.hasAmx() ? "bf16" : "fp32", autoRec.at("/results/scoring_path").asText(), autoRec.toString());
        assertEquals(contents(out("s-fp32")), contents(out("s-auto")));
        assertEquals(fp32.at("/parameters/parameter_key").asText(), autoRec.at("/parameters/parameter_key").asText(),
                "the scoring path is not a parameter of the numbers: --resume may switch it");
        Run bf16 = decompose(openclipF32, out("s-bf16"), "--scoring", "bf16");
        if (bf16Here) {
            assertEquals(0, bf16.status(), bf16.stderr());
            assertEquals("bf16", json.readTree(Path.of(out("s-bf16"), "_run.json").toFile()).at("/results/scoring_path").asText());
            assertEquals(contents(out("s-fp32")), contents(out("s-bf16")));
        } else {
            expectBadInput(bf16, out("s-bf16"), "--scoring bf16");
        }
        expectBadInput(decompose(openclipF32, out("s-bad"), "--scoring", "fp16"), out("s-bad"), "--scoring");
    }

    /**
     * Defect found in review: --resume found the earlier run's parameter key by a substring search of its _run.json text,
     * so the same record written compactly (as `jq -c` would) was refused, and a record naming the key anywhere else
     * was trusted. The record is parsed now.
     */
    @Test
    void resumeReadsTheParameterKeyOfTheRecordNotItsText() throws Exception {
        assertEquals(0, decompose(openclipF32, out("rk"), "--layers", "1,3").status());
        Path rec = Path.of(out("rk"), "explanations", "_run.json");
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var tree = mapper.readTree(rec.toFile());
        String key = tree.at("/parameters/parameter_key").asText();
        Files.writeString(rec, mapper.writeValueAsString(tree)); // compact: "parameter_key":"…"
        Run compact = decompose(openclipF32, out("rk"), "--resume");
        assertEquals(0, compact.status(), compact.stderr());
        assertTrue(compact.stderr().contains("8 of 16 heads already done"), compact.stderr());

        // the key quoted elsewhere in the record (a note, an option) while the parameters say otherwise: refused
        assertEquals(0, decompose(openclipF32, out("rk2"), "--layers", "1,3").status());
        Path rec2 = Path.of(out("rk2"), "explanations", "_run.json");
        var t2 = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(rec2.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) t2.get("parameters")).put("parameter_key", "0000000000000000");
        t2.put("note", "copied from a run with \"parameter_key\" : \"" + key + "\"");
        Files.writeString(rec2, mapper.writerWithDefaultPrettyPrinter().writeValueAsString(t2));
        Run other = decompose(openclipF32, out("rk2"), "--resume");
        assertEquals(2, other.status(), other.stderr());
        assertTrue(other.stderr().contains("parameter_key 0000000000000000 differs"), other.stderr());
    }

    @Test
    void identicalInputsGiveByteIdenticalParquetAndResumeCompletesToTheSameBytes() throws IOException {
        assertEquals(0, decompose(openclipF32, out("d1")).status());
        assertEquals(0, decompose(openclipF32, out("d2")).status());
        assertEquals(contents(out("d1")), contents(out("d2")));

        // Part of the layers first, then --resume computes only the missing heads.
        assertEquals(0, decompose(openclipF32, out("d3"), "--layers", "1,3").status());
        Run again = decompose(openclipF32, out("d3"));
        assertEquals(2, again.status());
        assertTrue(again.stderr().contains("explanations/ already exists"), again.stderr());
        Run resumed = decompose(openclipF32, out("d3"), "--resume");
        assertEquals(0, resumed.status(), resumed.stderr());
        assertTrue(resumed.stderr().contains("8 of 16 heads already done"), resumed.stderr());
        assertEquals(contents(out("d1")), contents(out("d3")));

        // A run that dies half-way keeps its finished waves; --resume computes only the rest.
        System.setProperty("sith.test.failAfterWaves", "1");
        Run died;
        try {
            died = decompose(openclipF32, out("d4"), "--batch-rows", "64");
        } finally {
            System.clearProperty("sith.test.failAfterWaves");
        }
        assertEquals(1, died.status(), died.stderr());
        assertTrue(died.stderr().contains("rerun with --resume"), died.stderr());
        assertFalse(Files.exists(Path.of(out("d4"), "explanations")));
        assertTrue(Files.isDirectory(Path.of(out("d4"), JobRun.WORK)));
        Run completed = decompose(openclipF32, out("d4"), "--resume");
        assertEquals(0, completed.status(), completed.stderr());
        assertTrue(completed.stderr().matches("(?s).*resuming, [1-9]\\d* of 16 heads already done.*"), completed.stderr());
        assertEquals(contents(out("d1")), contents(out("d4")));
        assertFalse(Files.exists(Path.of(out("d4"), JobRun.WORK)), "work folder removed after the commit");

        // A resume with other parameters is refused; --overwrite replaces.
        Run other = decompose(openclipF32, out("d3"), "--resume", "--k", "3");
        assertEquals(2, other.status());
        assertTrue(other.stderr().contains("parameter_key"), other.stderr());
        assertEquals(0, decompose(openclipF32, out("d3"), "--overwrite", "--k", "3", "--layers", "0").status());
        assertEquals(4 * 64, explanations(out("d3")).size()); // one layer, 4 heads
    }

    /**
     * The work of a run that died is kept as chunks in one layout; a chunk folder named otherwise (an older version's
     * layout) is not read by --resume: its heads are computed again.
     */
    @Test
    void resumeComputesAgainTheHeadsOfAChunkOfAnotherLayout() throws IOException {
        System.setProperty("sith.test.failAfterWaves", "1");
        Run died;
        try {
            died = decompose(openclipF32, out("old"), "--batch-rows", "64");
        } finally {
            System.clearProperty("sith.test.failAfterWaves");
        }
        assertEquals(1, died.status(), died.stderr());
        List<Path> chunks;
        try (Stream<Path> s = Files.walk(Path.of(out("old"), JobRun.WORK))) {
            chunks = s.filter(p -> p.getFileName().toString().startsWith(DecomposeJob.CHUNK)).toList();
        }
        assertEquals(1, chunks.size(), chunks.toString());
        Path chunk = chunks.get(0);
        Files.move(chunk, chunk.resolveSibling(chunk.getFileName().toString().replace(DecomposeJob.CHUNK, "chunk-")));
        Run resumed = decompose(openclipF32, out("old"), "--resume");
        assertEquals(0, resumed.status(), resumed.stderr());
        assertTrue(resumed.stderr().contains("resuming, 0 of 16 heads already done"), resumed.stderr());
        assertEquals(16 * 64, explanations(out("old")).size());
        assertFalse(Files.exists(Path.of(out("old"), JobRun.WORK)), "work folder removed after the commit");
    }

    /** Every Parquet file's bytes keyed by its folder (Spark's file names carry a random id). */
    static Map<String, List<Integer>> contents(String out) throws IOException {
        Map<String, List<Integer>> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(Path.of(out))) {
            for (Path p : s.filter(f -> f.toString().endsWith(".parquet")).toList()) {
                String key = Path.of(out).relativize(p.getParent()).toString();
                assertFalse(m.containsKey(key), "one file per folder: " + key);
                byte[] bytes = Files.readAllBytes(p);
                List<Integer> l = new ArrayList<>(List.of(bytes.length, java.util.Arrays.hashCode(bytes)));
                m.put(key, l);
            }
        }
        assertTrue(m.size() >= 2);
        return m;
    }

    @Test
    void leftSideExplainsReadDirectionsAndRankLimitsVectors() {
        assertEquals(0, decompose(openclipF32, out("left"), "--layers", "last:1", "--side", "left", "--rank", "3", "--method", "topk").status());
        List<Row> rows = explanations(out("left"));
        assertEquals(4 * 3, rows.size());
        for (Row r : rows) {
            assertEquals("left", r.getAs("side"));
            assertEquals("topk", r.getAs("method"));
            assertEquals(3, (int) r.getAs("layer"));
        }
        List<Row> sv = spark.read().parquet(out("left") + "/singular_vectors").collectAsList();
        assertEquals(12, sv.size());
    }

    @Test
    void badInputGetsExitTwoOneLineAndNoOutputFolder() throws IOException {
        byte[] good = Files.readAllBytes(Path.of(openclipF32));
        Path truncated = tmp.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(good, good.length / 2));
        Path garbage = tmp.resolve("garbage.safetensors");
        byte[] g = new byte[4096];
        new java.util.Random(1).nextBytes(g);
        Files.write(garbage, g);
        Path pastEnd = tmp.resolve("past-end.safetensors");
        byte[] pe = good.clone();
        java.nio.ByteBuffer.wrap(pe).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0, good.length + 100L);
        Files.write(pastEnd, pe);

        Configuration conf = new Configuration();
        LinkedHashMap<String, TensorData> nan = new LinkedHashMap<>(clip.tensors);
        float[] w = nan.get("visual.transformer.resblocks.1.attn.out_proj.weight").data().clone();
        w[77] = Float.NaN;
        nan.put("visual.transformer.resblocks.1.attn.out_proj.weight", new TensorData("F32", new long[] {clip.width, clip.width}, w));
        String nanFile = tmp.resolve("nan.safetensors").toString();
        SafeTensorsWriter.write(nanFile, conf, nan, Map.of());
        LinkedHashMap<String, TensorData> missing = new LinkedHashMap<>(clip.tensors);
        missing.remove("visual.ln_post.weight");
        String missingFile = tmp.resolve("missing.safetensors").toString();
        SafeTensorsWriter.write(missingFile, conf, missing, Map.of());
        String wide = tmp.resolve("wide.npy").toString();
        Npy.write(wide, conf, new long[] {clip.concepts.length, clip.p + 1}, new float[clip.concepts.length * (clip.p + 1)]);

        expectBadInput(decompose(truncated.toString(), out("bad1")), out("bad1"), "truncated.safetensors");
        expectBadInput(decompose(garbage.toString(), out("bad2")), out("bad2"), "garbage.safetensors");
        expectBadInput(decompose(pastEnd.toString(), out("bad3")), out("bad3"), "past-end.safetensors");
        expectBadInput(decompose(nanFile, out("bad4")), out("bad4"), "visual.transformer.resblocks.1.attn.out_proj.weight");
        expectBadInput(decompose(missingFile, out("bad5")), out("bad5"), "visual.ln_post.weight");
        expectBadInput(cli("decompose", "--checkpoint", openclipF32, "--concepts", wide, "--vocab", vocab, "--out", out("bad6")), out("bad6"), "wide.npy");
        expectBadInput(decompose(openclipF32, out("bad7"), "--k", "300"), out("bad7"), "--k 300");
        expectBadInput(decompose(openclipF32, out("bad8"), "--frobnicate", "1"), out("bad8"), "--frobnicate");
        expectBadInput(decompose(openclipF32, out("bad9"), "--layers", "9"), out("bad9"), "layer 9");
        expectBadInput(decompose(openclipF32, out("bad10"), "--rank", "65"), out("bad10"), "--rank 65");
        expectBadInput(decompose(openclipF32, out("bad11"), "--method", "lasso"), out("bad11"), "lasso");
        expectBadInput(decompose(tmp.resolve("nope.safetensors").toString(), out("bad12")), out("bad12"), "nope.safetensors");
    }

    static String listing(String out) {
        try (Stream<Path> s = Files.walk(Path.of(out))) {
            return s.map(Path::toString).toList().toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    static void expectBadInput(Run r, String out, String named) {
        assertEquals(2, r.status(), r.stderr());
        String[] lines = r.stderr().strip().split("\\R");
        assertEquals(1, lines.length, "one line: " + r.stderr());
        assertTrue(lines[0].startsWith("sith decompose: error: "), lines[0]);
        assertTrue(lines[0].contains(named), "names " + named + ": " + lines[0]);
        assertFalse(lines[0].contains("Exception"), lines[0]);
        assertFalse(Files.exists(Path.of(out)), () -> "no output folder for " + named + ": " + listing(out));
    }

    @Test
    void singularVectorsMatchTheFactoredBasisOfTheWrittenCheckpoint() {
        assertEquals(0, decompose(exactF32, out("sv"), "--layers", "3").status());
        Row r = spark.read().parquet(out("sv") + "/singular_vectors").where("head = 2 AND sv = 0").first();
        float[] v = toFloats(r.getList(r.fieldIndex("vector")));
        // Planted: layer 3 head 2's top write direction maps onto its planted concepts, with σ = 20.
        assertEquals(20.0, r.getDouble(r.fieldIndex("sigma")), 1e-4);
        assertEquals(clip.width, v.length);
        float[] joint = toFloats(r.getList(r.fieldIndex("joint")));
        assertEquals(clip.p, joint.length);
        double n = 0;
        for (float f : joint) n += f * f;
        assertEquals(1.0, n, 1e-5);
        // The coded target is the planted combination of prepared atoms, prepared here plainly.
        int p = clip.p;
        int count = clip.concepts.length;
        double[][] e = new double[count][p];
        double[] mean = new double[p];
        for (int i = 0; i < count; i++) {
            double s = 0;
            for (int j = 0; j < p; j++) s += clip.embeddings[i * p + j] * (double) clip.embeddings[i * p + j];
            for (int j = 0; j < p; j++) {
                e[i][j] = clip.embeddings[i * p + j] / Math.sqrt(s);
                mean[j] += e[i][j] / count;
            }
        }
        double[] target = new double[p];
        SyntheticClip.Plant plant = SyntheticClip.PLANTS.stream().filter(x -> x.layer() == 3 && x.head() == 2).findFirst().orElseThrow();
        for (int c = 0; c < plant.concepts().length; c++) {
            int row = List.of(clip.concepts).indexOf(plant.concepts()[c]);
            double[] atom = new double[p];
            double s = 0;
            for (int j = 0; j < p; j++) {
                atom[j] = e[row][j] - mean[j];
                s += atom[j] * atom[j];
            }
            for (int j = 0; j < p; j++) target[j] += plant.weights()[c] * atom[j] / Math.sqrt(s);
        }
        double tn = 0;
        for (double t : target) tn += t * t;
        float[] expected = new float[p];
        for (int j = 0; j < p; j++) expected[j] = (float) (target[j] / Math.sqrt(tn));
        assertArrayEquals(expected, joint, 1e-4f);
    }

    @Test
    void imageMeanIsSubtractedFromTheJointVectorsAndRenormalized() throws IOException {
        float[] mu = new float[clip.p];
        java.util.Random rnd = new java.util.Random(8);
        for (int j = 0; j < mu.length; j++) mu[j] = (float) (0.05 * rnd.nextGaussian());
        String meanFile = tmp.resolve("image_mean.npy").toString();
        Npy.write(meanFile, new Configuration(), new long[] {clip.p}, mu);
        assertEquals(0, decompose(exactF32, out("nomean"), "--layers", "2").status());
        assertEquals(0, decompose(exactF32, out("mean"), "--layers", "2", "--image-mean", meanFile).status());
        List<Row> a = spark.read().parquet(out("nomean") + "/singular_vectors").orderBy("head", "sv").collectAsList();
        List<Row> b = spark.read().parquet(out("mean") + "/singular_vectors").orderBy("head", "sv").collectAsList();
        for (int i = 0; i < a.size(); i += 17) {
            float[] x = toFloats(a.get(i).getList(a.get(i).fieldIndex("joint")));
            float[] y = toFloats(b.get(i).getList(b.get(i).fieldIndex("joint")));
            double[] expected = new double[x.length];
            double n = 0;
            for (int j = 0; j < x.length; j++) {
                expected[j] = x[j] - mu[j];
                n += expected[j] * expected[j];
            }
            for (int j = 0; j < x.length; j++) assertEquals(expected[j] / Math.sqrt(n), y[j], 1e-5);
        }
        assertTrue(Files.readString(Path.of(out("mean"), "_run.json")).contains("image_mean.npy"));
        expectBadInput(decompose(exactF32, out("badmean"), "--image-mean", conceptsNpy), out("badmean"), "--image-mean");
    }

    static float[] toFloats(List<Object> l) {
        float[] f = new float[l.size()];
        for (int i = 0; i < f.length; i++) f[i] = ((Number) l.get(i)).floatValue();
        return f;
    }
}
