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
import java.util.Random;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.model.ClipTokenizer;
import org.sith.model.ReferenceTextForward;
import org.sith.model.ReferenceVisionForward;
import org.sith.model.TextFixtures;
import org.sith.model.VisionFixtures;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** zero-shot on a tiny labelled set: accuracies against predictions counted by hand from the reference forward passes. */
class ZeroShotTest extends SparkTestBase {
    static final Path BPE = TwoTowers.BPE;

    @TempDir
    static Path tmp;

    @Test
    void accuraciesEqualCountsFromTheReferenceForwardPasses() throws Exception {
        TwoTowers.requireTokenizer();
        TwoTowers.Model m = TwoTowers.write(tmp.resolve("model"), 41);
        VisionFixtures vision = m.vision();
        TextFixtures text = m.text();
        Path ckpt = m.checkpoint();

        List<String> classes = List.of("cat", "dog", "bird");
        List<String> templates = List.of("a photo of a {}.", "a drawing of a {}.");
        Files.writeString(tmp.resolve("classes.txt"), "classes = [\n    'cat',\n    'dog',\n    'bird',\n]\n");
        Files.writeString(tmp.resolve("templates.txt"), String.join("\n", templates) + "\n");
        ClipTokenizer tok = ClipTokenizer.load(BPE.toString(), new Configuration());
        double[][] w = new double[3][];
        for (int c = 0; c < 3; c++) {
            double[] mean = new double[24];
            for (String t : templates) {
                double[] e = ReferenceTextForward.embed(text.openClip(), false, 4, true, tok.encode(t.replace("{}", classes.get(c))));
                double n = 0;
                for (double v : e) n += v * v;
                for (int j = 0; j < 24; j++) mean[j] += e[j] / Math.sqrt(n);
            }
            w[c] = mean;
        }

        Path images = Files.createDirectories(tmp.resolve("images"));
        StringBuilder manifest = new StringBuilder("image,label,group\n");
        Random rnd = new Random(8);
        Map<String, int[]> counts = new HashMap<>(); // scope/name → {images, correct}
        for (int i = 0; i < 12; i++) {
            float[] px = TwoTowers.randomPng(images.resolve("i" + i + ".png"), rnd);
            int label = i % 3;
            String group = i < 6 ? "land" : "water";
            manifest.append("images/i").append(i).append(".png,").append(i % 2 == 0 ? classes.get(label) : Integer.toString(label))
                    .append(',').append(group).append('\n');
            double[] e = ReferenceVisionForward.embed(vision.openClip(), false, 4, true, px);
            int best = 0;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < 3; c++) {
                double s = 0, n = 0;
                for (int j = 0; j < 24; j++) {
                    s += e[j] * w[c][j];
                    n += w[c][j] * w[c][j];
                }
                s /= Math.sqrt(n);
                if (s > bestScore) {
                    bestScore = s;
                    best = c;
                }
            }
            int ok = best == label ? 1 : 0;
            for (String key : List.of("all/", "class/" + classes.get(label), "group/" + group)) {
                counts.merge(key, new int[] {1, ok}, (a, b) -> new int[] {a[0] + b[0], a[1] + b[1]});
            }
        }
        manifest.append("images/missing.png,cat,land\n");
        Files.writeString(tmp.resolve("manifest.csv"), manifest);

        String out = tmp.resolve("out").toString();
        Run run = cli("zero-shot", "--checkpoint", ckpt.toString(), "--images", tmp.resolve("manifest.csv").toString(),
                "--classes", tmp.resolve("classes.txt").toString(), "--templates", tmp.resolve("templates.txt").toString(),
                "--bpe", BPE.toString(), "--out", out, "--images-per-task", "5");
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("missing.png"), run.stderr());

        double worst = Math.min(ratio(counts.get("group/land")), ratio(counts.get("group/water")));
        List<String> seen = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT scope, coalesce(name, ''), images, correct, accuracy, worst_group_accuracy FROM read_parquet('"
                    + out + "/zeroshot/*.parquet')");
            while (r.next()) {
                String key = r.getString(1) + "/" + r.getString(2);
                seen.add(key);
                int[] want = counts.get(key);
                assertEquals(want[0], r.getLong(3), key);
                assertEquals(want[1], r.getLong(4), key);
                assertEquals(ratio(want), r.getDouble(5), 1e-12, key);
                if (key.equals("all/")) assertEquals(worst, r.getDouble(6), 1e-12);
            }
        }
        assertEquals(counts.size(), seen.size(), seen.toString());
        int correct = counts.get("all/")[1];
        assertTrue(correct > 0 && correct < 12, "a random model should get some but not all right (" + correct + "): the test could not tell otherwise");
        assertEquals("f32", new ObjectMapper().readTree(Path.of(out, "_run.json").toFile()).get("parameters").get("tower_precision").asText());

        // both towers in bf16 (the classifier's text tower on the driver, the vision tower in the tasks): runs, and says it is approximate
        if (org.sith.linalg.OneDnn.unavailable() == null) {
            String outBf16 = tmp.resolve("out-bf16").toString();
            Run bf16 = cli("zero-shot", "--checkpoint", ckpt.toString(), "--images", tmp.resolve("manifest.csv").toString(),
                    "--classes", tmp.resolve("classes.txt").toString(), "--templates", tmp.resolve("templates.txt").toString(),
                    "--bpe", BPE.toString(), "--out", outBf16, "--images-per-task", "5", "--tower-precision", "bf16");
            assertEquals(0, bf16.status(), bf16.stderr());
            JsonNode params = new ObjectMapper().readTree(Path.of(outBf16, "zeroshot", "_run.json").toFile()).get("parameters");
            assertEquals("bf16", params.get("tower_precision").asText());
            assertTrue(params.get("tower_precision_note").asText().startsWith("approximate"), params.toString());
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                ResultSet r = s.executeQuery("SELECT images FROM read_parquet('" + outBf16 + "/zeroshot/*.parquet') WHERE scope = 'all'");
                assertTrue(r.next());
                assertEquals(12, r.getLong(1));
            }
        }
    }

    static double ratio(int[] c) {
        return (double) c[1] / c[0];
    }
}
