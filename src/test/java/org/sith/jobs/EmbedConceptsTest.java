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
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.TestData;
import org.sith.checkpoint.TensorData;
import org.sith.executor.TowerCache;
import org.sith.model.ClipTokenizer;
import org.sith.model.PythonOracle;
import org.sith.model.ReferenceTextForward;
import org.sith.model.TextFixtures;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * embed-concepts end to end with CLIP's real tokenizer files and a small random text tower of the
 * real vocabulary size: every concept's embedding against an independent double-precision forward
 * pass over token ids from an independent tokenizer (Python, when present), both layouts.
 */
class EmbedConceptsTest extends SparkTestBase {
    static final Path HF_TOKENIZER = TestData.DIR.resolve("tokenizer/hf-clip-vit-base-patch32");
    static final Path OPENAI_BPE = TestData.DIR.resolve("tokenizer/openai/bpe_simple_vocab_16e6.txt.gz");
    static final int HEADS = 4;

    @TempDir
    static Path tmp;
    static TextFixtures model;
    static Path vocab;
    static List<String> lines;

    @BeforeAll
    static void inputs() throws Exception {
        // CLIP's real tokenizer files: without them the class is skipped, under CI it fails
        TestData.require("tokenizer/openai/bpe_simple_vocab_16e6.txt.gz");
        TestData.require("tokenizer/hf-clip-vit-base-patch32/vocab.json");
        TestData.require("tokenizer/hf-clip-vit-base-patch32/merges.txt");
        Path mscoco = TestData.require("vocab/splice_mscoco.txt");
        model = TextFixtures.random(3, 49408, 77, 32, 2, HEADS, 16);
        lines = new ArrayList<>(List.of(
                "dog", "  a photo of a cat  ", "", "Dog", "rock'n'roll & blues!", "C'est la vie — déjà vu",
                "cafe\u0301 au lait", "café au lait", "東京タワー", "北京烤鸭", "🍕 pizza party 🎉", "naïve façade",
                "AT&amp;T", "3.14159 π", "   ", "<b>bold</b>", "I'LL BE THERE", "ŽŁÓĆ żółć", "مرحبا", "नमस्ते"));
        StringBuilder longA = new StringBuilder("first");
        StringBuilder longB = new StringBuilder("second");
        for (int i = 0; i < 120; i++) {
            longA.append(" word").append(i);
            longB.append(" word").append(i);
        }
        lines.add(longA.toString());
        lines.add(longB.toString());
        lines.add(longA + " tail that only changes tokens past the context"); // truncates to longA's tokens
        List<String> coco = Files.readAllLines(mscoco, StandardCharsets.UTF_8);
        Set<String> fixture = new HashSet<>();
        for (String l : lines) fixture.add(l.strip().toLowerCase(java.util.Locale.ROOT));
        for (int i = 0; i < coco.size(); i += coco.size() / 150) {
            if (!fixture.contains(coco.get(i).strip().toLowerCase(java.util.Locale.ROOT))) lines.add(coco.get(i));
        }
        vocab = tmp.resolve("vocab.txt");
        Files.writeString(vocab, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);
    }

    /** Token ids by a route that shares no code with ClipTokenizer when python3 is present. */
    static List<int[]> independentTokens() throws Exception {
        List<String> stripped = lines.stream().map(String::strip).toList();
        boolean python = true;
        try {
            PythonOracle.assumeModules("regex");
        } catch (org.opentest4j.TestAbortedException e) {
            python = false;
        }
        if (python) return PythonOracle.clipTokens(HF_TOKENIZER.resolve("vocab.json"), HF_TOKENIZER.resolve("merges.txt"), stripped, tmp);
        System.err.println("python3 with regex not available: token ids from ClipTokenizer itself (its own tests compare it)");
        ClipTokenizer t = ClipTokenizer.load(OPENAI_BPE.toString(), new Configuration());
        return stripped.stream().map(t::encode).toList();
    }

    @Test
    void huggingFaceLayoutWithTokenizerFilesBesideTheCheckpoint() throws Exception {
        Path dir = tmp.resolve("hf");
        Path ckpt = model.writeHuggingFace(dir, false); // config says gelu
        Files.copy(HF_TOKENIZER.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(HF_TOKENIZER.resolve("merges.txt"), dir.resolve("merges.txt"));
        int loadsBefore = TowerCache.TEXT.loads();
        String out = tmp.resolve("out-hf").toString();
        Run run = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", vocab.toString(), "--out", out,
                "--concepts-per-task", "40");
        assertEquals(0, run.status(), run.stderr());
        assertEquals(1, TowerCache.TEXT.loads() - loadsBefore, "weights read once, though the job ran several tasks");
        check(out, model.huggingFace(), true, false, run.stderr());
    }

    @Test
    void openClipLayoutWithBpeOption() throws Exception {
        Path ckpt = model.writeOpenClip(tmp.resolve("openclip"), true); // quick_gelu
        String out = tmp.resolve("out-openclip").toString();
        Run run = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", vocab.toString(), "--out", out,
                "--bpe", OPENAI_BPE.toString());
        assertEquals(0, run.status(), run.stderr());
        check(out, model.openClip(), false, true, run.stderr());

        Run again = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", vocab.toString(), "--out", out,
                "--bpe", OPENAI_BPE.toString());
        assertEquals(2, again.status());
        assertTrue(again.stderr().contains("--overwrite"), again.stderr());
        assertEquals("f32", new ObjectMapper().readTree(Path.of(out, "_run.json").toFile()).path("parameters").path("tower_precision").asText());

        // --tower-precision bf16: the same rows, each within a cosine of 0.999 of the f32 one and none equal to it
        if (org.sith.linalg.OneDnn.unavailable() == null) {
            String outBf16 = tmp.resolve("out-openclip-bf16").toString();
            Run bf16 = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", vocab.toString(), "--out", outBf16,
                    "--bpe", OPENAI_BPE.toString(), "--tower-precision", "bf16");
            assertEquals(0, bf16.status(), bf16.stderr());
            Map<Integer, double[]> f32 = embeddings(out);
            Map<Integer, double[]> got = embeddings(outBf16);
            assertEquals(f32.keySet(), got.keySet());
            double worst = 1;
            for (int id : f32.keySet()) {
                double[] a = f32.get(id);
                double[] b = got.get(id);
                assertFalse(Arrays.equals(a, b), "concept " + id + ": bf16 wrote the f32 embedding");
                double ab = 0, aa = 0, bb = 0;
                for (int j = 0; j < a.length; j++) {
                    ab += a[j] * b[j];
                    aa += a[j] * a[j];
                    bb += b[j] * b[j];
                }
                worst = Math.min(worst, ab / Math.sqrt(aa * bb));
            }
            assertTrue(worst >= 0.999, "worst cosine " + worst);
            JsonNode params = new ObjectMapper().readTree(Path.of(outBf16, "concepts", "_run.json").toFile()).path("parameters");
            assertEquals("bf16", params.path("tower_precision").asText());
            assertTrue(params.path("tower_precision_note").asText().startsWith("approximate"), params.toString());
        }
    }

    static Map<Integer, double[]> embeddings(String out) throws Exception {
        Map<Integer, double[]> m = new LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT id, embedding FROM read_parquet('" + out + "/concepts/*.parquet') ORDER BY id");
            while (r.next()) {
                Object[] e = (Object[]) r.getArray(2).getArray();
                double[] v = new double[e.length];
                for (int j = 0; j < v.length; j++) v[j] = ((Number) e[j]).doubleValue();
                m.put(r.getInt(1), v);
            }
        }
        return m;
    }

    /** Rows read back by DuckDB: the kept lines, in order, each equal to the reference forward pass. */
    private void check(String out, LinkedHashMap<String, TensorData> tensors, boolean hf, boolean quickGelu, String stderr) throws Exception {
        List<int[]> tokens = independentTokens();
        List<Integer> expectedIds = new ArrayList<>();
        List<Integer> blank = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) blank.add(i + 1);
            else if (seen.add(Arrays.toString(tokens.get(i)))) expectedIds.add(i);
        }
        assertEquals(List.of(3, 15), blank);
        assertEquals(lines.size() - 2 - 3, expectedIds.size(), "the fixture's 3 duplicates by tokens: Dog, NFC café, truncated phrase");
        Map<Integer, double[]> want = new LinkedHashMap<>();
        for (int id : expectedIds) want.put(id, ReferenceTextForward.embed(tensors, hf, HEADS, quickGelu, tokens.get(id)));

        List<Integer> ids = new ArrayList<>();
        double worst = 0;
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT id, concept, embedding FROM read_parquet('" + out + "/concepts/*.parquet') ORDER BY id");
            while (r.next()) {
                int id = r.getInt(1);
                ids.add(id);
                assertEquals(lines.get(id).strip(), r.getString(2));
                Object[] e = (Object[]) r.getArray(3).getArray();
                double[] w = want.get(id);
                assertEquals(w.length, e.length);
                double num = 0;
                double den = 0;
                for (int j = 0; j < w.length; j++) {
                    double g = ((Number) e[j]).doubleValue();
                    num += (g - w[j]) * (g - w[j]);
                    den += w[j] * w[j];
                }
                worst = Math.max(worst, Math.sqrt(num / den));
            }
        }
        assertEquals(expectedIds, ids);
        assertTrue(worst < 1e-4, "worst relative error " + worst);

        assertTrue(stderr.contains("skipped 2 blank line(s)") && stderr.contains("skipped 3 duplicate(s)"), stderr);
        assertTrue(stderr.contains("line 4 'Dog' duplicates line 1 'dog' (same tokens)"), stderr);
        assertTrue(stderr.contains("truncated"), stderr);
        JsonNode run = new ObjectMapper().readTree(Path.of(out, "_run.json").toFile());
        assertEquals(expectedIds.size(), run.path("results").path("concepts").asInt());
        assertEquals(blank.toString(), run.path("results").path("blank_lines").toString().replace(",", ", "));
        assertEquals(3, run.path("results").path("duplicates").size());
        assertEquals("tokenizer", run.path("inputs").get(2).path("role").asText());
    }

    @Test
    void aVisionOnlyCheckpointIsRefusedInOneLine() throws Exception {
        LinkedHashMap<String, TensorData> vision = new LinkedHashMap<>();
        vision.put("visual.class_embedding", TensorData.f32(new float[8], 8));
        Path ckpt = TextFixtures.write(tmp.resolve("vision-only"), "v.safetensors", vision, null, null);
        String out = tmp.resolve("out-vision").toString();
        Run run = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", vocab.toString(), "--out", out,
                "--bpe", OPENAI_BPE.toString());
        assertEquals(2, run.status());
        assertEquals(1, run.stderr().strip().lines().count(), run.stderr());
        assertTrue(run.stderr().contains("has no text tower"), run.stderr());
        assertFalse(Files.exists(Path.of(out)), "no output folder");
    }

    @Test
    void aMissingTokenizerIsRefusedInOneLine() throws Exception {
        Path ckpt = model.writeOpenClip(tmp.resolve("no-tokenizer"), true);
        String out = tmp.resolve("out-no-tokenizer").toString();
        Run run = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", vocab.toString(), "--out", out);
        assertEquals(2, run.status());
        assertEquals(1, run.stderr().strip().lines().count(), run.stderr());
        assertTrue(run.stderr().contains("pass --bpe"), run.stderr());
        assertFalse(Files.exists(Path.of(out)));
    }
}
