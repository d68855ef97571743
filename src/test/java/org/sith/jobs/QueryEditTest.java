package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.model.ClipTokenizer;
import org.sith.model.ReferenceTextForward;
import org.sith.model.TextFixtures;

/**
 * edit by concept query: relevance of every explained vector against brute force (the query
 * embedded by the reference forward pass, concept embeddings read back from concepts/), and the
 * selection rules (suppress R ≥ τ; amplify α = max(α_min, R + β)).
 */
class QueryEditTest extends SparkTestBase {
    static final Path BPE = TwoTowers.BPE;

    @TempDir
    static Path tmp;
    static Path ckpt;
    static TextFixtures text;
    static Map<String, Double> relevance = new TreeMap<>(); // "layer/head/sv" → brute-force R

    @BeforeAll
    static void model() throws Exception {
        TwoTowers.requireTokenizer();
        TwoTowers.Model m = TwoTowers.write(tmp.resolve("model"), 51);
        text = m.text();
        ckpt = m.checkpoint();
        Files.copy(BPE, tmp.resolve("model/bpe_simple_vocab_16e6.txt.gz"));
        List<String> words = List.of("dog", "cat", "water", "beach", "forest", "car", "red", "blue", "snow", "mountain", "boat", "bird",
                "tree", "city", "night", "grass", "sand", "sky", "road", "house", "flower", "horse", "train", "bridge");
        Files.writeString(tmp.resolve("vocab.txt"), String.join("\n", words) + "\n");
        String out = tmp.resolve("out").toString();
        assertEquals(0, cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", tmp.resolve("vocab.txt").toString(), "--out", out).status());
        assertEquals(0, cli("decompose", "--checkpoint", ckpt.toString(), "--concepts", out + "/concepts", "--layers", "1", "--rank", "4",
                "--k", "3", "--out", out).status());

        // brute force: R = Σ_k c_k · cos(e_k, e_q), one query
        ClipTokenizer tok = ClipTokenizer.load(BPE.toString(), new Configuration());
        double[] q = ReferenceTextForward.embed(text.openClip(), false, 4, true, tok.encode("a dog on the beach"));
        Map<Integer, double[]> emb = new HashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT id, embedding FROM read_parquet('" + out + "/concepts/*.parquet')");
            while (r.next()) {
                Object[] e = (Object[]) r.getArray(2).getArray();
                double[] v = new double[e.length];
                for (int i = 0; i < v.length; i++) v[i] = ((Number) e[i]).doubleValue();
                emb.put(r.getInt(1), v);
            }
            r = s.executeQuery("SELECT layer, head, sv, u.c.id, u.c.weight FROM read_parquet('" + out
                    + "/explanations/**/*.parquet', hive_partitioning = true), unnest(concepts) AS u(c)");
            while (r.next()) {
                double[] e = emb.get(r.getInt(4));
                double d = 0, ne = 0, nq = 0;
                for (int i = 0; i < e.length; i++) {
                    d += e[i] * q[i];
                    ne += e[i] * e[i];
                    nq += q[i] * q[i];
                }
                relevance.merge(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), r.getDouble(5) * d / Math.sqrt(ne * nq), Double::sum);
            }
        }
        assertEquals(16, relevance.size());
    }

    static Map<String, double[]> edits(String out) throws Exception {
        Map<String, double[]> m = new TreeMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, alpha, relevance, len(concepts) FROM read_parquet('" + out + "/edits/*.parquet')");
            while (r.next()) {
                assertTrue(r.getInt(6) > 0, "the concepts behind the edit are recorded");
                m.put(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), new double[] {r.getDouble(4), r.getDouble(5)});
            }
        }
        return m;
    }

    @Test
    void suppressesExactlyTheVectorsAtOrAboveTheThreshold() throws Exception {
        List<Double> sorted = new ArrayList<>(relevance.values());
        sorted.sort(null);
        double tau = (sorted.get(11) + sorted.get(12)) / 2; // four vectors above
        String out = tmp.resolve("out-suppress").toString();
        Run run = cli("edit", "--checkpoint", ckpt.toString(), "--query", "a dog on the beach", "--explanations",
                tmp.resolve("out/explanations").toString(), "--concepts", tmp.resolve("out/concepts").toString(),
                "--threshold", Double.toString(tau), "--out", out);
        assertEquals(0, run.status(), run.stderr());
        Map<String, double[]> got = edits(out);
        assertEquals(4, got.size(), got.keySet().toString());
        for (var e : relevance.entrySet()) {
            if (e.getValue() >= tau) {
                assertEquals(0.0, got.get(e.getKey())[0]);
                assertEquals(e.getValue(), got.get(e.getKey())[1], 1e-4);
            }
        }
        assertTrue(Files.exists(Path.of(out, "bpe_simple_vocab_16e6.txt.gz")), "tokenizer copied beside the edited checkpoint");

        Run none = cli("edit", "--checkpoint", ckpt.toString(), "--query", "a dog on the beach", "--explanations",
                tmp.resolve("out/explanations").toString(), "--concepts", tmp.resolve("out/concepts").toString(),
                "--threshold", "5", "--out", tmp.resolve("out-none").toString());
        assertEquals(2, none.status());
        assertTrue(none.stderr().contains("the largest is"), none.stderr());
    }

    @Test
    void amplifiesEveryVectorByTheRule() throws Exception {
        String out = tmp.resolve("out-amplify").toString();
        Run run = cli("edit", "--checkpoint", ckpt.toString(), "--query", "a dog on the beach", "--explanations",
                tmp.resolve("out/explanations").toString(), "--concepts", tmp.resolve("out/concepts").toString(),
                "--amplify", "--out", out);
        assertEquals(0, run.status(), run.stderr());
        Map<String, double[]> got = edits(out);
        assertEquals(relevance.keySet(), got.keySet());
        for (var e : relevance.entrySet()) assertEquals(Math.max(0.8, e.getValue() + 0.3), got.get(e.getKey())[0], 1e-4, e.getKey());
    }
}
