package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * `sql` over the demo's outputs and match-images' matches: the README's three queries through the CLI
 * in every format, each compared with the same query computed by DuckDB over the same Parquet files.
 */
class SqlTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static Path out;

    /** The README's queries with the demo's last layer (3) for ViT-L/14's 23. */
    static final String TOP_CONCEPTS = "SELECT c.concept, count(*) AS vectors, round(sum(c.weight), 3) AS total_weight\n"
            + "FROM explanations LATERAL VIEW explode(concepts) t AS c\n"
            + "WHERE layer = 3 AND c.weight > 0\n"
            + "GROUP BY c.concept ORDER BY vectors DESC, c.concept LIMIT 10";
    static final String TOP_CONCEPTS_DUCK = "SELECT c.concept, count(*) AS vectors, round(sum(c.weight), 3) AS total_weight "
            + "FROM (SELECT layer, unnest(concepts) AS c FROM %s) WHERE layer = 3 AND c.weight > 0 "
            + "GROUP BY c.concept ORDER BY vectors DESC, c.concept LIMIT 10";

    static final String WORST_HEADS = "SELECT layer, head, count(*) AS vectors, round(avg(fidelity), 4) AS mean_fidelity,\n"
            + "       round(sum(sigma * fidelity) / sum(sigma), 4) AS sigma_weighted_fidelity\n"
            + "FROM explanations GROUP BY layer, head\n"
            + "ORDER BY sigma_weighted_fidelity, layer, head LIMIT 5";
    static final String WORST_HEADS_DUCK = "SELECT layer, head, count(*) AS vectors, round(avg(fidelity), 4) AS mean_fidelity, "
            + "round(sum(sigma * fidelity) / sum(sigma), 4) AS sigma_weighted_fidelity FROM %s GROUP BY layer, head "
            + "ORDER BY sigma_weighted_fidelity, layer, head LIMIT 5";

    static final String TOP_IMAGES = "SELECT m.rank, m.image, round(m.score, 4) AS score, e.concepts[0].concept AS top_concept\n"
            + "FROM matches m JOIN explanations e ON m.layer = e.layer AND m.head = e.head AND m.sv = e.sv\n"
            + "WHERE m.layer = 3 AND m.head = 1 AND m.sv = 0 ORDER BY m.rank";
    static final String TOP_IMAGES_DUCK = "SELECT m.rank, m.image, round(m.score, 4) AS score, e.concepts[1].concept AS top_concept "
            + "FROM read_parquet('%s/matches/*.parquet') m JOIN %s e ON m.layer = e.layer AND m.head = e.head AND m.sv = e.sv "
            + "WHERE m.layer = 3 AND m.head = 1 AND m.sv = 0 ORDER BY m.rank";

    /** The README's query of SPEC §3b's rows: the QK pairs with the largest σ, what the query side looks for and the key side offers. */
    static final String QK_PAIRS = "SELECT q.tower, q.layer, q.head, q.sv, round(q.sigma, 4) AS sigma,\n"
            + "       q.concepts[0].concept AS looks_for, k.concepts[0].concept AS attends_to\n"
            + "FROM explanations q JOIN explanations k\n"
            + "  ON q.tower = k.tower AND q.layer = k.layer AND q.head = k.head AND q.sv = k.sv\n"
            + "WHERE q.component = 'qk' AND q.side = 'query' AND k.component = 'qk' AND k.side = 'key'\n"
            + "ORDER BY q.sigma DESC, q.tower, q.layer, q.head, q.sv LIMIT 10";
    static final String QK_PAIRS_DUCK = "SELECT q.tower, q.layer, q.head, q.sv, round(q.sigma, 4) AS sigma, q.concepts[1].concept, k.concepts[1].concept "
            + "FROM %1$s q JOIN %1$s k ON q.tower = k.tower AND q.layer = k.layer AND q.head = k.head AND q.sv = k.sv "
            + "WHERE q.component = 'qk' AND q.side = 'query' AND k.component = 'qk' AND k.side = 'key' "
            + "ORDER BY q.sigma DESC, q.tower, q.layer, q.head, q.sv LIMIT 10";

    @BeforeAll
    static void outputs() throws Exception {
        out = tmp.resolve("run");
        DemoOutputs.make(out, SparkTestBase::cli);
    }

    static String explanations() {
        return "read_parquet('" + out + "/explanations/**/*.parquet', hive_partitioning = true)";
    }

    static List<List<Object>> duck(String sql) throws Exception {
        List<List<Object>> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet rs = s.executeQuery(sql);
            ResultSetMetaData md = rs.getMetaData();
            while (rs.next()) {
                List<Object> r = new ArrayList<>();
                for (int i = 1; i <= md.getColumnCount(); i++) r.add(rs.getObject(i));
                rows.add(r);
            }
        }
        return rows;
    }

    /** An RFC 4180 reader, written here so the command's writer is not checked against itself. */
    static List<List<String>> parseCsv(String text) {
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder f = new StringBuilder();
        int i = 0;
        boolean quoted = false;
        while (i < text.length()) {
            char ch = text.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    f.append('"');
                    i += 2;
                    continue;
                }
                if (ch == '"') quoted = false;
                else f.append(ch);
                i++;
            } else if (ch == '"') {
                assertEquals(0, f.length(), "a quote inside an unquoted field");
                quoted = true;
                i++;
            } else if (ch == ',') {
                row.add(f.toString());
                f.setLength(0);
                i++;
            } else if (ch == '\r') {
                assertEquals('\n', text.charAt(i + 1), "CR without LF");
                row.add(f.toString());
                f.setLength(0);
                rows.add(row);
                row = new ArrayList<>();
                i += 2;
            } else {
                assertFalse(ch == '\n', "bare LF ends a record");
                f.append(ch);
                i++;
            }
        }
        assertEquals(0, f.length() + row.size(), "the last record ends with CRLF");
        return rows;
    }

    static void assertSameRows(List<List<Object>> want, List<List<String>> got, String what) {
        assertEquals(want.size(), got.size(), what + ": rows " + got);
        assertFalse(want.isEmpty(), what + ": no rows to compare");
        for (int r = 0; r < want.size(); r++) {
            assertEquals(want.get(r).size(), got.get(r).size(), what + " row " + r);
            for (int c = 0; c < want.get(r).size(); c++) {
                Object w = want.get(r).get(c);
                String g = got.get(r).get(c);
                if (w instanceof Number n) assertEquals(n.doubleValue(), Double.parseDouble(g), 1e-9, what + " row " + r + " column " + c);
                else assertEquals(String.valueOf(w), g, what + " row " + r + " column " + c);
            }
        }
    }

    @Test
    void readmeQueriesAsCsvEqualDuckDb() throws Exception {
        String[][] queries = {
            {TOP_CONCEPTS, String.format(TOP_CONCEPTS_DUCK, explanations()), "concept,vectors,total_weight"},
            {WORST_HEADS, String.format(WORST_HEADS_DUCK, explanations()), "layer,head,vectors,mean_fidelity,sigma_weighted_fidelity"},
            {TOP_IMAGES, String.format(TOP_IMAGES_DUCK, out, explanations()), "rank,image,score,top_concept"}};
        for (String[] q : queries) {
            Run run = cli("sql", "--out", out.toString(), "--format", "csv", q[0]);
            assertEquals(0, run.status(), run.stderr());
            List<List<String>> rows = parseCsv(run.stdout());
            assertEquals(List.of(q[2].split(",")), rows.get(0), "header");
            assertSameRows(duck(q[1]), rows.subList(1, rows.size()), q[0]);
            Run table = cli("sql", "--out", out.toString(), q[0]); // as the README shows it
            assertEquals(0, table.status(), table.stderr());
            List<String> lines = table.stdout().lines().toList();
            assertEquals(rows.size() + 2, lines.size(), table.stdout()); // header, rule, rows, count
            assertEquals("(" + (rows.size() - 1) + " rows)", lines.get(lines.size() - 1));
            assertEquals(List.of(q[2].split(",")), List.of(lines.get(0).trim().split("\\s+")), "table header");
        }
        // the demo's planted concepts lead layer 3, the matched vector has 3 images
        assertEquals(3, duck(String.format(TOP_IMAGES_DUCK, out, explanations())).size());
    }

    /**
     * SPEC §3b: explanations/ of the paper's setting are written without `tower` and `component`; their views have them
     * (vision / vo), so one query covers a default output and a `decompose --component all` output. Also the README's QK
     * query on the latter, against DuckDB.
     */
    @Test
    void towerAndComponentWorkAcrossADefaultAndAComponentAllOutput() throws Exception {
        Path all = tmp.resolve("all");
        Run d = cli("decompose", "--checkpoint", out.resolve("model/demo-clip.safetensors").toString(), "--concepts", out.resolve("concepts").toString(),
                "--component", "all", "--layers", "3", "--out", all.toString());
        assertEquals(0, d.status(), d.stderr());
        String allExpl = "read_parquet('" + all + "/explanations/**/*.parquet', hive_partitioning = true)";
        assertTrue(duck("SELECT * FROM read_parquet('" + out + "/explanations/**/*.parquet', hive_partitioning = true) LIMIT 0").isEmpty());
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet cols = s.executeQuery("SELECT count(*) FROM (DESCRIBE SELECT * FROM " + explanations() + ") WHERE column_name IN ('tower', 'component')");
            cols.next();
            assertEquals(0, cols.getInt(1), "the default output has no kind columns in its files");
        }

        String across = "SELECT run, tower, component, side, count(*) AS n FROM (\n"
                + "  SELECT 'paper' AS run, tower, component, side FROM paper WHERE layer = 3\n"
                + "  UNION ALL SELECT 'every', tower, component, side FROM every WHERE layer = 3)\n"
                + "GROUP BY run, tower, component, side ORDER BY run, component, side";
        Run run = cli("sql", "--in", "paper=" + out.resolve("explanations") + ",every=" + all.resolve("explanations"), "--format", "csv", across);
        assertEquals(0, run.status(), run.stderr());
        List<List<String>> rows = parseCsv(run.stdout());
        assertEquals(List.of("run", "tower", "component", "side", "n"), rows.get(0));
        List<List<Object>> want = duck("SELECT run, tower, component, side, count(*) AS n FROM ("
                + "SELECT 'paper' AS run, 'vision' AS tower, 'vo' AS component, side FROM " + explanations() + " WHERE layer = 3 "
                + "UNION ALL SELECT 'every', tower, component, side FROM " + allExpl + " WHERE layer = 3) "
                + "GROUP BY run, tower, component, side ORDER BY run, component, side");
        assertSameRows(want, rows.subList(1, rows.size()), across);
        assertEquals(List.of("every", "vision", "mlp", "right", "1024"), rows.get(1), "one row per MLP neuron of layer 3");
        assertEquals(List.of("paper", "vision", "vo", "right", String.valueOf(4 * 64)), rows.get(rows.size() - 1));

        // the views of the other outputs of a default run: singular_vectors/ as explanations/, matches/ with its component
        Run kinds = cli("sql", "--out", out.toString(), "--format", "csv", "SELECT 's' AS v, tower, component, count(*) AS n FROM singular_vectors GROUP BY 1, 2, 3 "
                + "UNION ALL SELECT 'm', 'vision', component, count(*) FROM matches GROUP BY 1, 2, 3 ORDER BY 1 DESC");
        assertEquals(0, kinds.status(), kinds.stderr());
        assertEquals("v,tower,component,n\r\ns,vision,vo," + 4 * 4 * 64 + "\r\nm,vision,vo,"
                + duck("SELECT count(*) FROM read_parquet('" + out + "/matches/*.parquet')").get(0).get(0) + "\r\n", kinds.stdout());

        Run qk = cli("sql", "--out", all.toString(), "--format", "csv", QK_PAIRS);
        assertEquals(0, qk.status(), qk.stderr());
        List<List<String>> pairs = parseCsv(qk.stdout());
        assertEquals(List.of("tower", "layer", "head", "sv", "sigma", "looks_for", "attends_to"), pairs.get(0));
        assertSameRows(duck(String.format(QK_PAIRS_DUCK, allExpl)), pairs.subList(1, pairs.size()), QK_PAIRS);
        assertEquals(11, pairs.size());
    }

    @Test
    void jsonLinesCarryNestedValues() throws Exception {
        Run run = cli("sql", "--out", out.toString(), "--format", "json",
                "SELECT layer, head, sv, sigma, concepts, degenerate FROM explanations WHERE layer = 3 AND head = 1 ORDER BY sv LIMIT 4");
        assertEquals(0, run.status(), run.stderr());
        String[] lines = run.stdout().split("\n");
        List<List<Object>> want = duck("SELECT sv, sigma, concepts[1].concept, concepts[1].weight, len(concepts), degenerate FROM " + explanations()
                + " WHERE layer = 3 AND head = 1 ORDER BY sv LIMIT 4");
        assertEquals(4, lines.length, run.stdout());
        ObjectMapper m = new ObjectMapper();
        for (int i = 0; i < 4; i++) {
            JsonNode n = m.readTree(lines[i]);
            assertEquals(3, n.get("layer").asInt());
            assertEquals(((Number) want.get(i).get(0)).intValue(), n.get("sv").asInt());
            assertEquals(((Number) want.get(i).get(1)).doubleValue(), n.get("sigma").asDouble(), 0.0, "full precision");
            assertEquals(want.get(i).get(2), n.get("concepts").get(0).get("concept").asText());
            assertEquals(((Number) want.get(i).get(3)).doubleValue(), n.get("concepts").get(0).get("weight").asDouble(), 0.0);
            assertEquals(((Number) want.get(i).get(4)).intValue(), n.get("concepts").size());
            assertEquals(want.get(i).get(5), n.get("degenerate").asBoolean());
        }
    }

    @Test
    void tableIsAlignedAndPrintsStructsReadably() throws Exception {
        Run run = cli("sql", "--out", out.toString(), "--max-width", "0",
                "SELECT head, sv, round(sigma, 2) AS sigma, concepts FROM explanations WHERE layer = 3 AND head = 1 AND sv < 2 ORDER BY sv");
        assertEquals(0, run.status(), run.stderr());
        String[] lines = run.stdout().split("\n");
        assertEquals(5, lines.length, run.stdout()); // header, rule, 2 rows, count
        assertTrue(lines[0].matches("head\\s+sv\\s+sigma\\s+concepts"), lines[0]);
        assertTrue(lines[1].matches("-+  -+  -+  -+"), lines[1]);
        assertEquals("(2 rows)", lines[4]);
        int conceptsAt = lines[0].indexOf("concepts");
        List<List<Object>> want = duck("SELECT concepts[1].id, concepts[1].concept, concepts[1].weight FROM " + explanations()
                + " WHERE layer = 3 AND head = 1 ORDER BY sv LIMIT 2");
        for (int r = 0; r < 2; r++) {
            String line = lines[2 + r];
            assertEquals('[', line.charAt(conceptsAt), "columns aligned: " + line);
            assertTrue(line.substring(conceptsAt).startsWith("[{id: " + want.get(r).get(0) + ", concept: " + want.get(r).get(1) + ", weight: "),
                    line);
            assertTrue(line.matches("\\s+1\\s+" + r + "\\s+[\\d.]+\\s+\\[.*\\]"), line);
        }
        assertEquals("golden retriever", want.get(0).get(1)); // the demo's planted concept of layer 3 head 1

        Run cut = cli("sql", "--out", out.toString(), "SELECT concepts FROM explanations WHERE layer = 3 AND head = 1 AND sv = 0");
        assertEquals(0, cut.status(), cut.stderr());
        String row = cut.stdout().split("\n")[2];
        assertEquals(80, row.length(), row);
        assertTrue(row.endsWith("…"), row);
    }

    @Test
    void csvQuotesCommasQuotesAndLineBreaks() {
        Run run = cli("sql", "--out", out.toString(), "--format", "csv",
                "SELECT 'a,b' AS `x,y`, 'say \"hi\"' AS q, 'two\nlines' AS n, CAST(NULL AS STRING) AS z, array(1, 2) AS a, 'plain' AS p");
        assertEquals(0, run.status(), run.stderr());
        assertEquals("\"x,y\",q,n,z,a,p\r\n\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,\"[1,2]\",plain\r\n", run.stdout());
        List<List<String>> rows = parseCsv(run.stdout());
        assertEquals(List.of("a,b", "say \"hi\"", "two\nlines", "", "[1,2]", "plain"), rows.get(1));
    }

    @Test
    void inPathsAreNamedAfterTheirFolderOrGivenNames() throws Exception {
        Path odd = tmp.resolve("diff-heads");
        java.nio.file.Files.createDirectories(odd);
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT range::INT AS layer, 0 AS head, range / 10.0 AS rel_change FROM range(3)) TO '" + odd + "/part-0.parquet' (FORMAT parquet)");
        }
        Run run = cli("sql", "--in", odd + ",e=" + out + "/explanations", "--format", "csv",
                "SELECT d.layer, d.rel_change, count(*) AS n FROM diff_heads d JOIN e ON d.layer = e.layer GROUP BY 1, 2 ORDER BY 1");
        assertEquals(0, run.status(), run.stderr());
        assertEquals("layer,rel_change,n\r\n0,0.0,1024\r\n1,0.1,1024\r\n2,0.2,1024\r\n".replace(",1024", "," + 4 * 64), // the demo: 4 heads × 64 vectors a layer
                run.stdout());

        Run clash = cli("sql", "--in", odd + "," + odd, "SELECT 1");
        assertEquals(2, clash.status());
        assertTrue(clash.stderr().contains("would both be named diff_heads"), clash.stderr());
    }

    @Test
    void badQueriesAreOneLineErrorsWithExitStatus2() {
        Run syntax = cli("sql", "--out", out.toString(), "SELEC * FROM explanations");
        assertEquals(2, syntax.status());
        assertEquals(1, syntax.stderr().strip().lines().count(), syntax.stderr());
        assertTrue(syntax.stderr().startsWith("sith sql: error: query: [PARSE_SYNTAX_ERROR]"), syntax.stderr());
        assertEquals("", syntax.stdout());

        Run table = cli("sql", "--out", out.toString(), "SELECT * FROM explanation");
        assertEquals(2, table.status());
        assertEquals(1, table.stderr().strip().lines().count(), table.stderr());
        assertTrue(table.stderr().contains("TABLE_OR_VIEW_NOT_FOUND") && table.stderr().contains("(views: concepts, explanations, matches, singular_vectors)"),
                table.stderr());

        Run column = cli("sql", "--out", out.toString(), "SELECT fidelty FROM explanations");
        assertEquals(2, column.status());
        assertTrue(column.stderr().contains("UNRESOLVED_COLUMN") && column.stderr().contains("fidelty"), column.stderr());

        Run cast = cli("sql", "--out", out.toString(), "SELECT CAST(concepts[0].concept AS INT) FROM explanations");
        assertEquals(2, cast.status(), cast.stderr());
        assertTrue(cast.stderr().contains("CAST_INVALID_INPUT"), cast.stderr());

        assertEquals(2, cli("sql", "--out", out.toString()).status());
        Run two = cli("sql", "--out", out.toString(), "SELECT", "1");
        assertEquals(2, two.status());
        assertTrue(two.stderr().contains("quote the query"), two.stderr());
        assertEquals(2, cli("sql", "--out", out.toString(), "--format", "xml", "SELECT 1").status());
        assertEquals(2, cli("sql", "--out", tmp.resolve("nothing").toString(), "SELECT 1").status());
        Run stray = cli("decompose", "stray", "--out", out.toString());
        assertEquals(2, stray.status());
        assertTrue(stray.stderr().contains("unexpected argument 'stray'"), stray.stderr());
    }
}
