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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.TensorData;
import org.sith.model.ClipTokenizer;
import org.sith.model.ReferenceTextForward;
import org.sith.model.ReferenceVisionForward;

/** retrieval before and after an edit, against recall and unsafe rates counted from the reference forward passes. */
class RetrievalTest extends SparkTestBase {
    static final Path BPE = TwoTowers.BPE;
    static final int N = 14;

    @TempDir
    static Path tmp;

    @Test
    void figuresEqualBruteForceForTheBaseAndTheEditedCheckpoint() throws Exception {
        TwoTowers.requireTokenizer();
        TwoTowers.Model m = TwoTowers.write(tmp.resolve("model"), 61);
        LinkedHashMap<String, TensorData> all = m.tensors();
        Path ckpt = m.checkpoint();
        Files.copy(BPE, tmp.resolve("model/bpe_simple_vocab_16e6.txt.gz"));
        Files.writeString(tmp.resolve("edits.csv"), "layer,head,sv,alpha\n1,0,0,0\n1,1,0,0\n1,2,0,3\n");
        assertEquals(0, cli("edit", "--checkpoint", ckpt.toString(), "--edits", tmp.resolve("edits.csv").toString(),
                "--out", tmp.resolve("edited").toString()).status());
        Path edited = tmp.resolve("edited/model.safetensors");

        String[] words = {"dog", "cat", "beach", "forest", "car", "snow", "boat", "bird", "city", "night", "horse", "train", "bridge", "flower"};
        boolean[] unsafe = new boolean[N];
        List<float[]> pixels = new ArrayList<>();
        StringBuilder csv = new StringBuilder("image,unsafe,text\n");
        Random rnd = new Random(9);
        Files.createDirectories(tmp.resolve("img"));
        for (int i = 0; i < N; i++) {
            pixels.add(TwoTowers.randomPng(tmp.resolve("img/p" + i + ".png"), rnd));
            unsafe[i] = i % 4 == 3;
            csv.append("img/p").append(i).append(".png,").append(unsafe[i] ? 1 : 0).append(",a photo of a ").append(words[i]).append(", outdoors\n");
        }
        Files.writeString(tmp.resolve("pairs.csv"), csv);

        String out = tmp.resolve("out").toString();
        Run run = cli("retrieval", "--checkpoint", ckpt.toString(), "--edited", edited.toString(), "--images", tmp.resolve("pairs.csv").toString(),
                "--out", out, "--images-per-task", "5");
        assertEquals(0, run.status(), run.stderr());

        ClipTokenizer tok = ClipTokenizer.load(BPE.toString(), new Configuration());
        Map<String, Map<String, Double>> want = new HashMap<>();
        want.put("base", bruteForce(all, tok, words, pixels, unsafe));
        want.put("edited", bruteForce(EditTest.load(edited), tok, words, pixels, unsafe));
        int rows = 0;
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT checkpoint, metric, k, value FROM read_parquet('" + out + "/retrieval/*.parquet')");
            while (r.next()) {
                rows++;
                String key = r.getString(2) + "@" + r.getInt(3);
                assertEquals(want.get(r.getString(1)).get(key), r.getDouble(4), 1e-12, r.getString(1) + " " + key);
            }
        }
        assertEquals(2 * 9, rows);
        assertTrue(want.get("base").get("t2i_recall@1") < 1, "a random model is not perfect, so the test can tell");

        // --tower-precision bf16: text tasks and image tasks through oneDNN, for both checkpoints; the record says so
        if (org.sith.linalg.OneDnn.unavailable() == null) {
            String outBf16 = tmp.resolve("out-bf16").toString();
            Run bf16 = cli("retrieval", "--checkpoint", ckpt.toString(), "--edited", edited.toString(), "--images", tmp.resolve("pairs.csv").toString(),
                    "--out", outBf16, "--images-per-task", "5", "--tower-precision", "bf16");
            assertEquals(0, bf16.status(), bf16.stderr());
            com.fasterxml.jackson.databind.JsonNode params = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(Path.of(outBf16, "retrieval", "_run.json").toFile()).get("parameters");
            assertEquals("bf16", params.get("tower_precision").asText());
            assertTrue(params.get("tower_precision_note").asText().startsWith("approximate"), params.toString());
        }
    }

    static Map<String, Double> bruteForce(Map<String, TensorData> t, ClipTokenizer tok, String[] words, List<float[]> pixels, boolean[] unsafe) {
        double[][] te = new double[N][];
        double[][] ie = new double[N][];
        for (int i = 0; i < N; i++) {
            te[i] = unit(ReferenceTextForward.embed(t, false, 4, true, tok.encode("a photo of a " + words[i] + ", outdoors")));
            ie[i] = unit(ReferenceVisionForward.embed(t, false, 4, true, pixels.get(i)));
        }
        Map<String, Double> out = new HashMap<>();
        for (int k : new int[] {1, 5, 10}) {
            int safe = 0, t2i = 0, i2t = 0, unsafeQ = 0;
            double share = 0;
            for (int i = 0; i < N; i++) {
                List<Integer> images = ranked(te[i], ie, k);
                if (!unsafe[i]) {
                    safe++;
                    if (images.contains(i)) t2i++;
                    if (ranked(ie[i], te, k).contains(i)) i2t++;
                } else {
                    unsafeQ++;
                    share += images.stream().filter(j -> unsafe[j]).count() / (double) k;
                }
            }
            out.put("t2i_recall@" + k, (double) t2i / safe);
            out.put("i2t_recall@" + k, (double) i2t / safe);
            out.put("unsafe_t2i@" + k, share / unsafeQ);
        }
        return out;
    }

    static List<Integer> ranked(double[] q, double[][] items, int k) {
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < items.length; i++) idx.add(i);
        idx.sort((a, b) -> {
            int c = Double.compare(dot(q, items[b]), dot(q, items[a]));
            return c != 0 ? c : Integer.compare(a, b);
        });
        return idx.subList(0, k);
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    static double[] unit(double[] v) {
        double n = Math.sqrt(dot(v, v));
        double[] u = v.clone();
        for (int i = 0; i < u.length; i++) u[i] /= n;
        return u;
    }
}
