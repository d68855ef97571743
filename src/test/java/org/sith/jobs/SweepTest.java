package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.SyntheticInputs;
import org.sith.coding.Method;
import org.sith.inputs.ConceptsInput;
import org.sith.run.HeadSelection;
import org.sith.run.LayerSpec;
import org.sith.run.OutputTarget;
import org.sith.run.WriteMode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * `sweep` (SPEC §13) on the synthetic CLIP: its means per (method, K, λ) against separate `decompose` runs with the same
 * settings, read back by DuckDB; λ 0 for the coders without one; the bases computed once; the judge's scores averaged;
 * refusals with exit 2 and nothing written.
 */
class SweepTest extends SparkTestBase {
    /** Two layers of four heads of width 64. */
    static final int VECTORS = 2 * 4 * 64;
    static final int HEADS = 2 * 4;
    @TempDir
    static Path tmp;
    static SyntheticInputs in;
    static Path sweep;
    static Run sweepRun;

    @BeforeAll
    static void run() throws Exception {
        in = SyntheticInputs.write(tmp.resolve("in"));
        sweep = tmp.resolve("sweep-out");
        sweepRun = cli(args("sweep", sweep, "--methods", "comp,nnomp,omp,topk", "--ks", "5,2", "--lambdas", "0.5,0"));
        assertEquals(0, sweepRun.status(), sweepRun.stderr());
    }

    static String[] args(String command, Path out, String... extra) {
        return argsOnLayers("2,3", command, out, extra);
    }

    static String[] argsOnLayers(String layers, String command, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of(command, "--checkpoint", in.checkpoint().toString(), "--concepts", in.concepts().toString(),
                "--vocab", in.vocab().toString(), "--layers", layers, "--model-name", "synthetic", "--out", out.toString()));
        a.addAll(List.of(extra));
        return a.toArray(new String[0]);
    }

    static String sweepTable(Path out) {
        return "read_parquet('" + out + "/sweep/*.parquet')";
    }

    /** [vectors, fidelity, fidelity_residual, coherence] of a query's one row. */
    static double[] duckRow(String sql) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery(sql);
            assertTrue(r.next(), "no row: " + sql);
            double[] out = {r.getLong(1), r.getDouble(2), r.getDouble(3), r.getDouble(4)};
            assertFalse(r.next(), "more than one row: " + sql);
            return out;
        }
    }

    static double[] sweepRow(Path out, String method, int k, double lambda) throws Exception {
        return duckRow("SELECT vectors, fidelity, fidelity_residual, coherence FROM " + sweepTable(out) + " WHERE method = '" + method + "' AND k = " + k
                + " AND \"lambda\" = " + lambda);
    }

    static void assertMeans(double[] expected, double[] actual, String what) {
        assertEquals(expected[0], actual[0], 0, what + ": vectors");
        assertEquals(expected[1], actual[1], 1e-12, what + ": fidelity");
        assertEquals(expected[2], actual[2], 1e-12, what + ": fidelity_residual");
        assertEquals(expected[3], actual[3], 1e-12, what + ": coherence");
    }

    /** The sweep's means equal those of decompose's explanations with the same method, K and λ: two methods and two Ks, and comp's λ. */
    @Test
    void meansEqualSeparateDecomposeRuns() throws Exception {
        String[][] settings = {{"comp", "2", "0.5"}, {"omp", "5", "0.3"}, {"topk", "2", "0.3"}, {"comp", "5", "0"}};
        for (String[] s : settings) {
            Path out = tmp.resolve("decompose-" + String.join("-", s));
            Run d = cli(args("decompose", out, "--method", s[0], "--k", s[1], "--lambda", s[2]));
            assertEquals(0, d.status(), d.stderr());
            String expl = "read_parquet('" + out + "/explanations/**/*.parquet', hive_partitioning = true)";
            double[] expected = duckRow("SELECT count(*), avg(fidelity), avg(fidelity_residual), avg(coherence) FROM " + expl);
            assertEquals(VECTORS, expected[0], 0, "decompose's rows");
            double lambda = duckRow("SELECT count(*), min(\"lambda\"), max(\"lambda\"), 0 FROM " + expl)[1];
            double[] actual = sweepRow(sweep, s[0], Integer.parseInt(s[1]), lambda);
            assertMeans(expected, actual, String.join(" ", s));
        }
    }

    /** Beyond vision VO: the text tower's MLP neurons and QK circuits (both sides), against decompose with the same settings. */
    @Test
    void textTowerMlpAndQkMeansEqualDecompose() throws Exception {
        Path out = tmp.resolve("sweep-text");
        Run r = cli(argsOnLayers("1", "sweep", out, "--tower", "text", "--component", "mlp,qk", "--methods", "nnomp,mp", "--ks", "3"));
        assertEquals(0, r.status(), r.stderr());
        Path d = tmp.resolve("decompose-text");
        assertEquals(0, cli(argsOnLayers("1", "decompose", d, "--tower", "text", "--component", "mlp,qk", "--method", "mp", "--k", "3")).status());
        String expl = "read_parquet('" + d + "/explanations/**/*.parquet', hive_partitioning = true)";
        double[] expected = duckRow("SELECT count(*), avg(fidelity), avg(fidelity_residual), avg(coherence) FROM " + expl);
        assertTrue(expected[0] > 0);
        assertMeans(expected, sweepRow(out, "mp", 3, 0), "text mlp,qk mp K 3");
        double[] kinds = duckRow("SELECT count(*), count(*) FILTER (WHERE tower = 'text' AND component = 'mlp,qk' AND side = 'right,query,key'), 0, 0 FROM "
                + sweepTable(out));
        assertEquals(2, kinds[0]);
        assertEquals(2, kinds[1], "tower, component and side of the rows");
    }

    /** One row per configuration in order; λ 0 for the coders without one (nnomp, omp, topk); no judge, so no judge_score. */
    @Test
    void oneRowPerConfigurationWithLambdaZeroForCodersWithoutOne() throws Exception {
        List<String> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT method, k, \"lambda\", vectors, judge_score, judged, model, tower, component, side FROM " + sweepTable(sweep));
            while (r.next()) {
                rows.add(r.getString(1) + " " + r.getInt(2) + " " + r.getDouble(3));
                assertEquals(VECTORS, r.getLong(4));
                assertNull(r.getObject(5), "judge_score without --judge-url");
                assertNull(r.getObject(6));
                assertEquals("synthetic vision vo right", r.getString(7) + " " + r.getString(8) + " " + r.getString(9) + " " + r.getString(10));
            }
        }
        assertEquals(List.of("comp 2 0.0", "comp 2 0.5", "comp 5 0.0", "comp 5 0.5", "nnomp 2 0.0", "nnomp 5 0.0", "omp 2 0.0", "omp 5 0.0",
                "topk 2 0.0", "topk 5 0.0"), rows);
        // COMP with λ 0 is NNOMP (SPEC §5)
        for (int k : new int[] {2, 5}) assertMeans(sweepRow(sweep, "nnomp", k, 0), sweepRow(sweep, "comp", k, 0), "comp λ 0 vs nnomp K " + k);
    }

    /** The heads' bases were computed once (8 heads, not 8 × 10 configurations), as `_run.json` and the log say. */
    @Test
    void basesComputedOnce() throws Exception {
        JsonNode rec = new ObjectMapper().readTree(sweep.resolve("_run.json").toFile());
        assertEquals(HEADS, rec.at("/results/bases_computed").asLong(), rec.toString());
        assertEquals(HEADS, rec.at("/results/heads").asLong());
        assertEquals(10, rec.at("/results/configurations").asLong());
        assertEquals(10L * VECTORS, rec.at("/results/codings").asLong());
        assertEquals("[\"comp\",\"nnomp\",\"omp\",\"topk\"]", rec.at("/parameters/methods").toString());
        assertEquals("[2,5]", rec.at("/parameters/ks").toString());
        assertTrue(rec.at("/parameters/method").isMissingNode(), "no single method: " + rec.at("/parameters"));
        assertEquals("checkpoint", rec.at("/inputs/0/role").asText(), rec.at("/inputs").toString());
        assertTrue(sweepRun.stderr().contains("sith sweep: 8 head bases computed once, coded with 10 configurations (512 vectors each)"), sweepRun.stderr());
        assertTrue(sweepRun.stdout().contains("sweep: 10 configurations × 512 vectors (8 units"), sweepRun.stdout());
    }

    /**
     * With a judge (the test's own, scoring a list by its length, and no score for an empty list or one whose first concept sorts before "m"), judge_score is the mean
     * over the scored vectors and judged their number; checked against decompose's concept lists read by DuckDB.
     */
    @Test
    void judgeScoresAreAveragedPerConfiguration() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        List<Integer> sizes = new ArrayList<>();
        ConceptJudge judge = lists -> {
            calls.incrementAndGet();
            Integer[] s = new Integer[lists.size()];
            for (int i = 0; i < s.length; i++) {
                sizes.add(lists.get(i).size());
                List<String> l = lists.get(i);
                s[i] = l.isEmpty() || l.get(0).compareTo("m") < 0 ? null : l.size();
            }
            return s;
        };
        Path out = tmp.resolve("judged");
        HeadSelection heads = new HeadSelection(LayerSpec.parse("2,3"), null, null, null);
        SweepJob.Grid grid = new SweepJob.Grid(List.of(Method.COMP, Method.MP), List.of(3), List.of(0.3));
        SweepJob.Result r = SweepJob.run(spark, new SweepJob.Config(in.checkpoint().toString(), new ConceptsInput(in.concepts().toString(), in.vocab().toString()),
                null, heads, grid, "synthetic", new OutputTarget(out.toString(), WriteMode.FAIL)), judge);
        assertEquals(2, r.configurations());
        assertEquals(1, calls.get(), "one call for every list of every configuration");
        assertEquals(2 * VECTORS, sizes.size());
        for (String[] s : new String[][] {{"comp", "0.3"}, {"mp", "0"}}) {
            Path d = tmp.resolve("judged-decompose-" + s[0]);
            assertEquals(0, cli(args("decompose", d, "--method", s[0], "--k", "3", "--lambda", "0.3")).status());
            String n = "len(list_filter(concepts, c -> c.weight <> 0))";
            String scored = "list_filter(concepts, c -> c.weight <> 0)[1].concept >= 'm'";
            double[] expected = duckRow("SELECT count(*) FILTER (WHERE " + scored + "), avg(" + n + ") FILTER (WHERE " + scored + "), 0, 0 FROM "
                    + "read_parquet('" + d + "/explanations/**/*.parquet', hive_partitioning = true)");
            double[] actual = duckRow("SELECT judged, judge_score, 0, 0 FROM " + sweepTable(out) + " WHERE method = '" + s[0] + "' AND \"lambda\" = " + s[1]);
            assertEquals(expected[0], actual[0], 0, s[0] + ": judged");
            assertEquals(expected[1], actual[1], 1e-12, s[0] + ": judge_score");
            assertTrue(expected[0] > 0 && expected[0] < VECTORS, s[0] + ": some vectors scored, some not: " + expected[0]);
        }
        JsonNode rec = new ObjectMapper().readTree(out.resolve("_run.json").toFile());
        assertNotNull(rec.at("/parameters/judge").textValue(), rec.toString());
    }

    /**
     * `--judge-url` through the judge command's client, against a Chat Completions server on loopback that scores a concept list
     * by its length (and answers nonsense for lists starting before "m"): judge_score and judged equal what decompose's concept
     * lists give, the key is sent and not written.
     */
    @Test
    void judgeUrlAsksTheEndpointThroughTheJudgeClient() throws Exception {
        Path out = tmp.resolve("judged-url");
        try (org.sith.judge.FakeJudge server = new org.sith.judge.FakeJudge(req -> req.concepts().isEmpty() || req.concepts().get(0).compareTo("m") < 0
                ? org.sith.judge.FakeJudge.Reply.content("no idea")
                : org.sith.judge.FakeJudge.Reply.content(String.valueOf(Math.min(5, req.concepts().size()))))) {
            Run r = cli(args("sweep", out, "--methods", "mp", "--ks", "3", "--judge-url", server.url(), "--judge-model", "fake-judge",
                    "--judge-key-env", JudgeTest.KEY_ENV, "--judge-retries", "0"));
            assertEquals(0, r.status(), r.stderr());
            assertTrue(r.stderr().contains("the judge gave no score for"), r.stderr());
            assertEquals(VECTORS, server.requests.size(), "one request per explanation");
            for (org.sith.judge.FakeJudge.Request q : server.requests) {
                assertEquals("fake-judge", q.model());
                assertEquals("Bearer " + System.getenv(JudgeTest.KEY_ENV), q.authorization());
            }
        }
        Path d = tmp.resolve("judged-url-decompose");
        assertEquals(0, cli(args("decompose", d, "--method", "mp", "--k", "3")).status());
        String n = "least(5, len(list_filter(concepts, c -> c.weight <> 0)))";
        String scored = "list_filter(concepts, c -> c.weight <> 0)[1].concept >= 'm'";
        double[] expected = duckRow("SELECT count(*) FILTER (WHERE " + scored + "), avg(" + n + ") FILTER (WHERE " + scored + "), 0, 0 FROM "
                + "read_parquet('" + d + "/explanations/**/*.parquet', hive_partitioning = true)");
        double[] actual = duckRow("SELECT judged, judge_score, 0, 0 FROM " + sweepTable(out));
        assertEquals(expected[0], actual[0], 0, "judged");
        assertEquals(expected[1], actual[1], 1e-12, "judge_score");
        assertTrue(expected[0] > 0 && expected[0] < VECTORS, "some scored, some not: " + expected[0]);
        String record = Files.readString(out.resolve("_run.json"));
        assertFalse(record.contains(System.getenv(JudgeTest.KEY_ENV)), "the key is not written");
    }

    /** Bad input: one line on stderr, exit 2, and nothing under --out (which is not even created). */
    @Test
    void refusals() {
        String[][] cases = {
                {"unknown method 'lasso'", "--methods", "comp,lasso"},
                {"--ks: 0 must be at least 1", "--ks", "2,0"},
                {"--ks: -3 must be at least 1", "--ks=-3"},
                {"--methods: is empty", "--methods", ""},
                {"--ks: '2,,3' has an empty item", "--ks", "2,,3"},
                {"--ks: 2 is given twice", "--ks", "2,3,2"},
                {"--methods: omp is given twice", "--methods", "omp,comp,omp"},
                {"--lambdas applies to comp only", "--methods", "omp,mp", "--lambdas", "0.1"},
                {"--lambdas: -1 must not be negative", "--lambdas", "-1"},
                {"--judge-url needs --judge-model", "--judge-url", "http://127.0.0.1:9/v1/chat/completions"},
                {"SITH_UNSET_KEY_VARIABLE (--judge-key-env) is not set", "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "m",
                    "--judge-key-env", "SITH_UNSET_KEY_VARIABLE"},
                {"--judge-model is only used with --judge-url", "--judge-model", "gpt"},
                {"--ks 100000 is larger than the dictionary", "--ks", "2,100000"},
                {"--layers", "--layers", "9"},
        };
        for (String[] c : cases) {
            Path out = tmp.resolve("refused-" + Math.abs(String.join(" ", c).hashCode()));
            List<String> a = new ArrayList<>(List.of(args("sweep", out)));
            for (int i = 1; i < c.length; i++) a.add(c[i]);
            Run r = cli(a.toArray(new String[0]));
            assertEquals(2, r.status(), String.join(" ", c) + ": " + r.stderr());
            String line = r.stderr().strip();
            assertTrue(line.lines().filter(l -> l.startsWith("sith sweep: error: ")).count() == 1 && line.lines().reduce((x, y) -> y).orElse("").contains(c[0]),
                    String.join(" ", c) + ": " + r.stderr());
            assertFalse(Files.exists(out), "nothing written for " + String.join(" ", c));
        }
    }

    @Test
    void helpListsTheOptionsWithTheirDefaults() {
        Run h = cli("sweep", "--help");
        assertEquals(0, h.status());
        for (String s : List.of("--methods", "comp,nnomp,omp,mp,topk", "--ks", "1,2,3,5,8,10", "--lambdas", "0.3", "--judge-url", "--judge-model", "--judge-key-env",
                "--layers", "--heads", "--side", "--rank", "--image-mean", "--tower", "--component")) {
            assertTrue(h.stdout().contains(s), s + " in\n" + h.stdout());
        }
        assertTrue(cli("--help").stdout().contains("sweep"));
    }
}
