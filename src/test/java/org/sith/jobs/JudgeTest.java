package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.TensorData;
import org.sith.judge.FakeJudge;
import org.sith.model.ReferenceMatchScores;

/**
 * `judge` and `edit --judge` on a real decompose output of a small two-tower CLIP, against a loopback Chat Completions
 * server ({@link FakeJudge}). The API key comes from the environment variable SITH_TEST_JUDGE_KEY (set by the pom's
 * surefire configuration): it must reach the server as a Bearer token and appear in no output, record or message.
 */
class JudgeTest extends SparkTestBase {
    static final String KEY_ENV = "SITH_TEST_JUDGE_KEY";
    @TempDir
    static Path tmp;
    static TwoTowers.Model model;
    static String out;
    /** "layer/head/sv" → the explanation's concepts (nonzero weight, weight order), read by DuckDB. */
    static final Map<String, List<String>> concepts = new TreeMap<>();

    @BeforeAll
    static void decomposed() throws Exception {
        TwoTowers.requireTokenizer();
        model = TwoTowers.write(tmp.resolve("model"), 83);
        Files.copy(TwoTowers.BPE, tmp.resolve("model/bpe_simple_vocab_16e6.txt.gz"));
        List<String> words = List.of("dog", "cat", "water", "beach", "forest", "car", "red", "blue", "snow", "mountain", "boat", "bird",
                "tree", "city", "night", "grass", "sand", "sky", "road", "house", "flower", "horse", "train", "bridge");
        Files.writeString(tmp.resolve("vocab.txt"), String.join("\n", words) + "\n");
        out = tmp.resolve("out").toString();
        String ckpt = model.checkpoint().toString();
        assertEquals(0, cli("embed-concepts", "--checkpoint", ckpt, "--vocab", tmp.resolve("vocab.txt").toString(), "--out", out).status());
        assertEquals(0, cli("decompose", "--checkpoint", ckpt, "--concepts", out + "/concepts", "--layers", "1", "--rank", "4", "--k", "3",
                "--out", out).status());
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, list_transform(list_filter(concepts, x -> x.weight <> 0), x -> x.concept) FROM read_parquet('"
                    + out + "/explanations/**/*.parquet', hive_partitioning = true)");
            while (r.next()) {
                List<String> cs = new ArrayList<>();
                for (Object o : (Object[]) r.getArray(4).getArray()) cs.add((String) o);
                concepts.put(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), cs);
            }
        }
        assertEquals(16, concepts.size());
    }

    static String key() {
        String k = System.getenv(KEY_ENV);
        assertNotNull(k, KEY_ENV + " is set by the pom's surefire configuration; run through Maven");
        return k;
    }

    /** The fake judge's interpretability score: a function of the concept list the test can recompute. */
    static int score(List<String> cs) {
        int n = 0;
        for (String c : cs) n += c.length();
        return n % 5 + 1;
    }

    record Judged(Integer score, String raw, String tower, String component, String side, String judgeModel, String model) {}

    static Map<String, Judged> judgements(String dir) throws Exception {
        Map<String, Judged> m = new TreeMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, score, raw, tower, component, side, judge_model, model, vector FROM read_parquet('" + dir
                    + "/judgements/*.parquet')");
            while (r.next()) {
                assertNull(r.getObject(11), "decompose rows have no vector");
                Object sc = r.getObject(4);
                m.put(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), new Judged(sc == null ? null : ((Number) sc).intValue(), r.getString(5),
                        r.getString(6), r.getString(7), r.getString(8), r.getString(9), r.getString(10)));
            }
            ResultSet cols = s.executeQuery("SELECT string_agg(column_name, ',') FROM (DESCRIBE SELECT * FROM read_parquet('" + dir + "/judgements/*.parquet'))");
            cols.next();
            assertEquals("model,vector,layer,head,sv,tower,component,side,score,raw,judge_model", cols.getString(1));
        }
        return m;
    }

    /** No file under {@code dir} holds the key's bytes. */
    static void keyWrittenNowhere(Path dir, String key) throws Exception {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                assertFalse(text.contains(key), "the key is in " + f);
            }
        }
    }

    @Test
    void judgeScoresEveryVectorReportsFailuresPerRowResumesAndNeverWritesTheKey() throws Exception {
        String key = key();
        List<String> failing = concepts.get("1/0/0");
        try (FakeJudge s = new FakeJudge(r -> r.concepts().equals(failing)
                ? FakeJudge.Reply.status(500, "internal error; request had " + r.authorization())
                : FakeJudge.Reply.content(String.valueOf(score(r.concepts()))))) {
            Path jout = tmp.resolve("judge");
            Run run = cli("judge", "--explanations", out + "/explanations", "--judge-url", s.url(), "--judge-model", "fake-judge-1",
                    "--judge-key-env", KEY_ENV, "--judge-retries", "1", "--judge-concurrency", "3", "--out", jout.toString());
            assertEquals(0, run.status(), run.stderr());
            int failingVectors = (int) concepts.values().stream().filter(failing::equals).count();
            assertEquals(16 + failingVectors, s.requests.size(), "one retry of each failing vector");
            for (FakeJudge.Request r : s.requests) {
                assertEquals("Bearer " + key, r.authorization());
                assertEquals("fake-judge-1", r.model());
                assertTrue(concepts.containsValue(r.concepts()), r.concepts().toString());
            }
            Map<String, Judged> got = judgements(jout.toString());
            assertEquals(concepts.keySet(), got.keySet());
            for (var e : concepts.entrySet()) {
                Judged j = got.get(e.getKey());
                assertEquals("vision", j.tower());
                assertEquals("vo", j.component());
                assertEquals("right", j.side());
                assertEquals("fake-judge-1", j.judgeModel());
                assertEquals("model", j.model(), "the explanation's own model column (the folder of model.safetensors)");
                if (e.getValue().equals(failing)) {
                    assertNull(j.score(), e.getKey());
                    assertTrue(j.raw().startsWith("error: HTTP 500: internal error; request had Bearer [key] (after 2 attempts)"), j.raw());
                } else {
                    assertEquals(score(e.getValue()), j.score(), e.getKey());
                    assertEquals(String.valueOf(score(e.getValue())), j.raw());
                }
            }
            assertTrue(run.stderr().contains(failingVectors + " of 16 vector(s) got no score") && run.stderr().contains("layer 1 head 0 sv 0 right"), run.stderr());
            keyWrittenNowhere(jout, key);
            assertFalse(run.stderr().contains(key) || run.stdout().contains(key));
            String record = Files.readString(jout.resolve("_run.json"));
            assertTrue(record.contains("\"judge-key-env\" : \"" + KEY_ENV + "\"") || record.contains("\"judge-key-env\":\"" + KEY_ENV + "\""), record);

            // --resume asks only for the vectors without a score
            s.behave(r -> FakeJudge.Reply.content(String.valueOf(score(r.concepts()))));
            int before = s.requests.size();
            Run resumed = cli("judge", "--explanations", out + "/explanations", "--judge-url", s.url(), "--judge-model", "fake-judge-1",
                    "--judge-key-env", KEY_ENV, "--resume", "--out", jout.toString());
            assertEquals(0, resumed.status(), resumed.stderr());
            assertEquals(failingVectors, s.requests.size() - before);
            for (var e : judgements(jout.toString()).entrySet()) assertEquals(score(concepts.get(e.getKey())), e.getValue().score(), e.getKey());
            keyWrittenNowhere(jout, key);

            Run otherModel = cli("judge", "--explanations", out + "/explanations", "--judge-url", s.url(), "--judge-model", "another",
                    "--judge-key-env", KEY_ENV, "--resume", "--out", jout.toString());
            assertEquals(2, otherModel.status());
            assertTrue(otherModel.stderr().contains("made by judge model 'fake-judge-1'"), otherModel.stderr());

            Run again = cli("judge", "--explanations", out + "/explanations", "--judge-url", s.url(), "--judge-model", "fake-judge-1",
                    "--judge-key-env", KEY_ENV, "--out", jout.toString());
            assertEquals(2, again.status());
            assertTrue(again.stderr().contains("--overwrite") && again.stderr().contains("--resume"), again.stderr());
        }
    }

    @Test
    void anUnreachableJudgeGivesNullScoresAndAMissingKeyIsRefused() throws Exception {
        int port;
        try (ServerSocket ss = new ServerSocket(0)) {
            port = ss.getLocalPort();
        }
        Path jout = tmp.resolve("judge-unreachable");
        Run run = cli("judge", "--explanations", out + "/explanations", "--judge-url", "http://127.0.0.1:" + port + "/v1", "--judge-model", "m",
                "--judge-key-env", KEY_ENV, "--judge-retries", "0", "--out", jout.toString());
        assertEquals(0, run.status(), run.stderr());
        Map<String, Judged> got = judgements(jout.toString());
        assertEquals(16, got.size());
        for (Judged j : got.values()) {
            assertNull(j.score());
            assertTrue(j.raw().startsWith("error: cannot connect to http://127.0.0.1:" + port + "/v1/chat/completions"), j.raw());
        }

        Path none = tmp.resolve("judge-nokey");
        Run noKey = cli("judge", "--explanations", out + "/explanations", "--judge-url", "http://127.0.0.1:" + port + "/v1", "--judge-model", "m",
                "--judge-key-env", "SITH_TEST_NO_SUCH_VARIABLE", "--out", none.toString());
        assertEquals(2, noKey.status());
        assertEquals(1, noKey.stderr().strip().lines().count(), noKey.stderr());
        assertTrue(noKey.stderr().contains("environment variable SITH_TEST_NO_SUCH_VARIABLE (--judge-key-env) is not set"), noKey.stderr());
        assertFalse(Files.exists(none));

        Run badUrl = cli("judge", "--explanations", out + "/explanations", "--judge-url", "https://user:pw@example.com/v1", "--judge-model", "m",
                "--out", none.toString());
        assertEquals(2, badUrl.status());
        assertTrue(badUrl.stderr().contains("must not hold credentials"), badUrl.stderr());
        assertFalse(Files.exists(none));
    }

    @Test
    void editByJudgeSuppressesExactlyTheVectorsRatedAtOrAboveTheThreshold() throws Exception {
        String key = key();
        String word = concepts.get("1/0/0").get(0);
        String category = "photos of " + word + " scenes";
        Set<String> expected = new HashSet<>();
        for (var e : concepts.entrySet()) if (e.getValue().contains(word)) expected.add(e.getKey());
        assertTrue(!expected.isEmpty() && expected.size() < 16, expected.toString());
        // a fake judge: 5 when a concept is a word of the category, else 1
        try (FakeJudge s = new FakeJudge(r -> {
            Set<String> cat = Set.of(r.category().split(" "));
            return FakeJudge.Reply.content(r.concepts().stream().anyMatch(cat::contains) ? "5" : "1");
        })) {
            Path eout = tmp.resolve("edited");
            Run run = cli("edit", "--checkpoint", model.checkpoint().toString(), "--explanations", out + "/explanations", "--judge",
                    "--judge-category", category, "--judge-url", s.url(), "--judge-model", "fake-judge-2", "--judge-key-env", KEY_ENV,
                    "--out", eout.toString());
            assertEquals(0, run.status(), run.stderr());
            assertEquals(16, s.requests.size());
            for (FakeJudge.Request r : s.requests) {
                assertEquals(category, r.category());
                assertEquals("Bearer " + key, r.authorization());
            }
            Map<String, double[]> edits = new TreeMap<>();
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement()) {
                ResultSet r = st.executeQuery("SELECT layer, head, sv, alpha, relevance, selection FROM read_parquet('" + eout + "/edits/*.parquet')");
                while (r.next()) {
                    assertEquals("judge", r.getString(6));
                    edits.put(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), new double[] {r.getDouble(4), r.getDouble(5)});
                }
            }
            assertEquals(expected, edits.keySet());
            for (double[] e : edits.values()) {
                assertEquals(0.0, e[0]);
                assertEquals(5.0, e[1]);
            }
            // the exported checkpoint: u_jᵀ M' v_j is 0 for exactly the suppressed vectors, σ_j for the others
            LinkedHashMap<String, TensorData> after = EditTest.load(eout.resolve("model.safetensors"));
            for (int h = 0; h < TwoTowers.HEADS; h++) {
                ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(model.tensors(), false, 1, h, TwoTowers.HEADS);
                double[][] m2 = ReferenceMatchScores.foldedCenteredVO(after, false, 1, h, TwoTowers.HEADS);
                for (int j = 0; j < 4; j++) {
                    double uMv = 0;
                    for (int i = 0; i < m2.length; i++) for (int o = 0; o < m2.length; o++) uMv += svd.u()[j][i] * m2[i][o] * svd.v()[j][o];
                    boolean edited = expected.contains("1/" + h + "/" + j);
                    assertEquals(edited ? 0 : svd.sigma()[j], uMv, 1e-4 * svd.sigma()[0], "head " + h + " sv " + j + (edited ? " suppressed" : " kept"));
                }
            }
            keyWrittenNowhere(eout, key);
            assertFalse(run.stderr().contains(key) || run.stdout().contains(key));

            // nothing at or above the threshold: exit 2, nothing written
            s.behave(r -> FakeJudge.Reply.content("2"));
            Path none = tmp.resolve("edited-none");
            Run nothing = cli("edit", "--checkpoint", model.checkpoint().toString(), "--explanations", out + "/explanations", "--judge",
                    "--judge-category", category, "--judge-url", s.url(), "--judge-model", "fake-judge-2", "--judge-key-env", KEY_ENV,
                    "--out", none.toString());
            assertEquals(2, nothing.status());
            assertTrue(nothing.stderr().contains("the judge rated no explained vector 4 or more") && nothing.stderr().contains("highest score was 2"),
                    nothing.stderr());
            assertFalse(Files.exists(none));
        }
        Run noCategory = cli("edit", "--checkpoint", model.checkpoint().toString(), "--explanations", out + "/explanations", "--judge",
                "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "m", "--out", tmp.resolve("x").toString());
        assertEquals(2, noCategory.status());
        assertTrue(noCategory.stderr().contains("--judge-category"), noCategory.stderr());
        Run urlWithoutJudge = cli("edit", "--checkpoint", model.checkpoint().toString(), "--edits", tmp.resolve("e.csv").toString(),
                "--judge-url", "http://127.0.0.1:9/v1", "--out", tmp.resolve("x").toString());
        assertEquals(2, urlWithoutJudge.status());
        assertTrue(urlWithoutJudge.stderr().contains("--judge-url is only used with --judge"), urlWithoutJudge.stderr());
    }
}
