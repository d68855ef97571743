package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import javax.imageio.ImageIO;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.RelativeError;
import org.sith.SparkTestBase;
import org.sith.checkpoint.TensorData;
import org.sith.model.ClipTokenizer;
import org.sith.model.PythonOracle;
import org.sith.model.ReferenceTextForward;
import org.sith.model.TextFixtures;
import org.sith.model.VisionFixtures;

/**
 * The paper's Waterbirds experiment, planted (SPEC §7, §8; issue 6 item 4). A one-layer vision tower
 * with uniform attention sees solid-colour images: the red level encodes the bird (waterbird or
 * landbird), the green level the background (water or land), blue is noise. Head 1 writes the bird
 * into the joint space along the zero-shot classifier's own direction; head 0 writes the background
 * along the dictionary atom of a background word that correlates with that direction, strongly enough
 * to outvote the bird on most minority images (waterbirds on land, landbirds on water). Heads 2 and 3
 * carry the blue noise into directions the classifier ignores.
 *
 * <p>The pipeline — embed-concepts, decompose, edit by concept query, zero-shot on both checkpoints —
 * must find head 0's vector by the query alone, suppress it and nothing the classifier needs, and
 * raise worst-group accuracy. Every accuracy is also predicted here from the planted levels: the
 * classifier's margin is exactly {@code y·δr + 1.5·b·δg} (y, b = ±1 bird and background, δ the colour
 * offsets) before the edit and {@code y·δr} after.
 */
class PlantedWorstGroupTest extends SparkTestBase {
    static final int SIZE = 32;
    static final int PATCH = 8;
    static final int WIDTH = 48;
    static final int HEADS = 4;
    static final int DH = WIDTH / HEADS;
    static final int P = 24;
    static final double BACKGROUND_GAIN = 1.5; // background vote relative to the bird's, in the classifier's margin
    static final List<String> CLASSES = List.of("landbird", "waterbird");
    static final List<String> TEMPLATES = List.of("a photo of a {}.", "a photo of a {}, a type of bird.");
    static final List<String> BACKGROUNDS = List.of("water", "ocean", "lake", "sea", "river", "beach", "forest", "bamboo", "woods", "field");
    static final List<String> OTHERS = List.of("dog", "cat", "car", "red", "blue", "snow", "mountain", "boat", "tree", "city", "night", "grass",
            "sand", "sky", "road", "house", "flower", "horse", "train", "bridge");

    @TempDir
    static Path tmp;

    /** Unit residual direction (2, −1, −1)/√6 on three channels from {@code first}: zero mean, and a unique largest entry for the sign rule. */
    static double[] direction(int first) {
        double[] d = new double[WIDTH];
        d[first] = 2 / Math.sqrt(6);
        d[first + 1] = -1 / Math.sqrt(6);
        d[first + 2] = -1 / Math.sqrt(6);
        return d;
    }

    static double[] unit(double[] v) {
        double n = Math.sqrt(dot(v, v));
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] / n;
        return out;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** The projection maps residual direction {@code w} (from {@link #direction}) onto joint vector {@code t}. */
    static void project(float[] proj, int first, double[] t) {
        double[] w = direction(first);
        for (int i = first; i < first + 3; i++) {
            for (int j = 0; j < P; j++) proj[i * P + j] = (float) (w[i] * t[j]);
        }
    }

    /** Head h reads residual direction {@code read} into its first value channel and writes it, scaled by {@code gain}, along {@code write}. */
    static void head(VisionFixtures f, int h, double[] read, double[] write, double gain) {
        for (int i = 0; i < WIDTH; i++) {
            f.vW[0][(h * DH) * WIDTH + i] = (float) read[i];
            f.outW[0][i * WIDTH + h * DH] = (float) (gain * write[i]);
        }
    }

    record Image(String file, int bird, int water, int dr, int dg) { // bird, water: +1 / −1
        String label() {
            return CLASSES.get(bird > 0 ? 1 : 0);
        }

        String group() {
            return (bird > 0 ? "waterbird" : "landbird") + "_on_" + (water > 0 ? "water" : "land");
        }
    }

    @Test
    void suppressingTheBackgroundVectorByConceptQueryRaisesWorstGroupAccuracy() throws Exception {
        TwoTowers.requireTokenizer();
        ClipTokenizer tok = ClipTokenizer.load(TwoTowers.BPE.toString(), new Configuration());
        TextFixtures text = TextFixtures.random(61, 49408, 77, 32, 2, HEADS, P);
        List<String> vocab = new ArrayList<>(BACKGROUNDS);
        vocab.addAll(OTHERS);
        // A random tower's text embeddings share one dominant direction (cosines ≈ 0.9 between any two words), which
        // would make every vector "relevant" to any query under SPEC §8's uncentered cosine. Real CLIP shares less;
        // project the shared direction out of the text projection so that relevance tells concepts apart.
        double[] shared = new double[P];
        for (String w : vocab) {
            double[] e = unit(ReferenceTextForward.embed(text.openClip(), false, HEADS, true, tok.encode(w)));
            for (int j = 0; j < P; j++) shared[j] += e[j];
        }
        shared = unit(shared);
        for (int i = 0; i < text.width; i++) {
            double d = 0;
            for (int j = 0; j < P; j++) d += text.proj[i * P + j] * shared[j];
            for (int j = 0; j < P; j++) text.proj[i * P + j] -= (float) (d * shared[j]);
        }
        LinkedHashMap<String, TensorData> textTensors = text.openClip();

        // The zero-shot classifier as SPEC §7 defines it, from the reference text forward pass.
        double[][] classifier = new double[2][P];
        for (int c = 0; c < 2; c++) {
            for (String t : TEMPLATES) {
                double[] e = unit(ReferenceTextForward.embed(textTensors, false, HEADS, true, tok.encode(t.replace("{}", CLASSES.get(c)))));
                for (int j = 0; j < P; j++) classifier[c][j] += e[j];
            }
            classifier[c] = unit(classifier[c]);
        }
        double[] delta = new double[P]; // waterbird − landbird: the sign of ⟨z, Δ⟩ is the two-class decision
        for (int j = 0; j < P; j++) delta[j] = classifier[1][j] - classifier[0][j];
        double[] deltaUnit = unit(delta);

        // Dictionary atoms as SPEC §4 defines them: rownorm(rownorm(E) − mean), over the whole vocabulary.
        double[][] normalized = new double[vocab.size()][];
        double[] mean = new double[P];
        for (int i = 0; i < vocab.size(); i++) {
            normalized[i] = unit(ReferenceTextForward.embed(textTensors, false, HEADS, true, tok.encode(vocab.get(i))));
            for (int j = 0; j < P; j++) mean[j] += normalized[i][j] / vocab.size();
        }
        // The background word: the candidate whose atom best agrees (either sign) with the classifier's direction.
        int bg = 0;
        for (int i = 1; i < BACKGROUNDS.size(); i++) {
            if (Math.abs(dot(atom(normalized[i], mean), deltaUnit)) > Math.abs(dot(atom(normalized[bg], mean), deltaUnit))) bg = i;
        }
        String word = vocab.get(bg);
        double[] a = atom(normalized[bg], mean);
        double rho = dot(a, deltaUnit);
        assertTrue(Math.abs(rho) > 0.2 && Math.abs(rho) < 0.9, "background atom · classifier direction = " + rho + ": the plant needs a real but partial correlation");

        // Vision tower. Residual directions (zero mean, mutually orthogonal): constant, red, green, blue in; bird, background, noise out.
        double[] constant = direction(0), red = direction(3), green = direction(6), blue = direction(9);
        double[] birdOut = direction(12), bgOut = direction(15), noise2 = direction(18), noise3 = direction(21);
        VisionFixtures f = VisionFixtures.zeros(SIZE, PATCH, WIDTH, 1, HEADS, P, 4 * WIDTH);
        Arrays.fill(f.lnPreW, 1f);
        Arrays.fill(f.ln1W[0], 1f);
        Arrays.fill(f.lnPostW, 1f);
        double[] mid = new double[3]; // the normalized value of level 128, removed by the positional embedding
        double[][] channelDir = {red, green, blue};
        for (int c = 0; c < 3; c++) {
            mid[c] = (128 / 255.0 - TwoTowers.MEAN[c]) / TwoTowers.STD[c];
            for (int o = 0; o < WIDTH; o++) {
                for (int k = 0; k < PATCH * PATCH; k++) f.conv[(o * 3 + c) * PATCH * PATCH + k] = (float) (channelDir[c][o] / (PATCH * PATCH));
            }
        }
        for (int o = 0; o < WIDTH; o++) {
            f.cls[o] = (float) constant[o];
            for (int t = 1; t < f.tokens; t++) {
                f.pos[t * WIDTH + o] = (float) (constant[o] - mid[0] * red[o] - mid[1] * green[o] - mid[2] * blue[o]);
            }
        }
        // q = k = 0: every token attends uniformly, so the CLS output is the mean of the (identical) patch values.
        // Margin ∝ y·δr/σ_R·⟨Δ̂,Δ⟩ + gain·b'·δg/σ_G·⟨a,Δ⟩ (b' the green sign); the gain makes it y·δr + 1.5·b·δg.
        double bgGain = BACKGROUND_GAIN * TwoTowers.STD[1] / (TwoTowers.STD[0] * Math.abs(rho));
        head(f, 0, green, bgOut, bgGain);
        head(f, 1, red, birdOut, 1.0);
        head(f, 2, blue, noise2, 0.7);
        head(f, 3, blue, noise3, 0.4);
        Random rnd = new Random(5);
        project(f.proj, 12, deltaUnit);
        project(f.proj, 15, a);
        project(f.proj, 18, orthogonalTo(deltaUnit, rnd));
        project(f.proj, 21, orthogonalTo(deltaUnit, rnd));

        Path model = Files.createDirectories(tmp.resolve("model"));
        LinkedHashMap<String, TensorData> all = new LinkedHashMap<>(f.openClip());
        all.putAll(textTensors);
        Path ckpt = TextFixtures.write(model, "model.safetensors", all, "open_clip_config.json",
                text.openClipConfig(true, WIDTH, HEADS, 1, SIZE, PATCH));
        Files.copy(TwoTowers.BPE, model.resolve(TwoTowers.BPE.getFileName()));

        // The dataset: the background agrees with the bird in the majority groups. Green level 128 ± δg, its sign chosen so
        // that "water" (b = +1) pushes towards waterbird.
        Path images = Files.createDirectories(tmp.resolve("images"));
        StringBuilder manifest = new StringBuilder("image,label,group\n");
        List<Image> data = new ArrayList<>();
        int n = 0;
        for (int bird : new int[] {1, -1}) {
            for (int water : new int[] {1, -1}) {
                int count = bird == water ? 14 : 10;
                for (int i = 0; i < count; i++) {
                    int dr, dg;
                    do {
                        dr = 40 + rnd.nextInt(71);
                        dg = 40 + rnd.nextInt(71);
                    } while (Math.abs(dr - BACKGROUND_GAIN * dg) < 8); // no image near the decision boundary
                    int greenSign = water * (rho > 0 ? 1 : -1);
                    Image im = new Image("img" + (n++) + ".png", bird, water, dr, dg);
                    solid(images.resolve(im.file()), 128 + bird * dr, 128 + greenSign * dg, 128 + rnd.nextInt(101) - 50);
                    data.add(im);
                    manifest.append("images/").append(im.file()).append(',').append(im.label()).append(',').append(im.group()).append('\n');
                }
            }
        }
        Files.writeString(tmp.resolve("manifest.csv"), manifest);
        Files.writeString(tmp.resolve("classes.txt"), String.join("\n", CLASSES) + "\n");
        Files.writeString(tmp.resolve("templates.txt"), String.join("\n", TEMPLATES) + "\n");
        Files.writeString(tmp.resolve("vocab.txt"), String.join("\n", vocab) + "\n");

        // The predicted accuracies: before, waterbird iff y·δr + 1.5·b·δg > 0; after, iff y > 0.
        Map<String, Double> before = accuracies(data, true);
        Map<String, Double> after = accuracies(data, false);
        assertTrue(before.get("worst") < 0.5 && after.get("worst") == 1.0, "the plant must make the background matter: " + before + " " + after);

        // The pipeline, as a user runs it.
        String out = tmp.resolve("out").toString();
        Run embed = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", tmp.resolve("vocab.txt").toString(), "--out", out);
        assertEquals(0, embed.status(), embed.stderr());
        Run decompose = cli("decompose", "--checkpoint", ckpt.toString(), "--concepts", out + "/concepts", "--layers", "all", "--rank", "1",
                "--k", "3", "--out", out, "--overwrite");
        assertEquals(0, decompose.status(), decompose.stderr());
        String edited = tmp.resolve("edited").toString();
        Run edit = cli("edit", "--checkpoint", ckpt.toString(), "--query", word, "--explanations", out + "/explanations",
                "--concepts", out + "/concepts", "--threshold", "0.9", "--out", edited);
        assertEquals(0, edit.status(), edit.stderr());

        Map<String, Double> alphas = new TreeMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT head, sv, alpha, list_transform(concepts, x -> x.concept) FROM read_parquet('" + edited
                    + "/edits/*.parquet') WHERE layer = 0");
            while (r.next()) {
                alphas.put(r.getInt(1) + "/" + r.getInt(2), r.getDouble(3));
                if (r.getInt(1) == 0) assertTrue(r.getArray(4).toString().contains(word), "the edit names its concept: " + r.getArray(4));
            }
        }
        assertEquals(0.0, alphas.get("0/0"), "the background vector is suppressed: " + alphas);
        assertFalse(alphas.containsKey("1/0"), "the bird vector is left alone: " + alphas);

        Map<String, Double> got = new TreeMap<>();
        for (var run : Map.of("before", ckpt.toString(), "after", edited + "/model.safetensors").entrySet()) {
            String zs = tmp.resolve("zeroshot-" + run.getKey()).toString();
            Run z = cli("zero-shot", "--checkpoint", run.getValue(), "--images", tmp.resolve("manifest.csv").toString(),
                    "--classes", tmp.resolve("classes.txt").toString(), "--templates", tmp.resolve("templates.txt").toString(),
                    "--bpe", TwoTowers.BPE.toString(), "--out", zs);
            assertEquals(0, z.status(), z.stderr());
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                ResultSet r = s.executeQuery("SELECT scope, coalesce(name, ''), accuracy, worst_group_accuracy FROM read_parquet('" + zs
                        + "/zeroshot/*.parquet')");
                while (r.next()) {
                    String scope = r.getString(1);
                    if (scope.equals("all")) {
                        got.put(run.getKey() + "/all", r.getDouble(3));
                        got.put(run.getKey() + "/worst", r.getDouble(4));
                    } else if (scope.equals("group")) {
                        got.put(run.getKey() + "/" + r.getString(2), r.getDouble(3));
                    }
                }
            }
        }
        for (var e : before.entrySet()) assertEquals(e.getValue(), got.get("before/" + e.getKey()), 1e-12, "before: " + e.getKey() + " " + got);
        for (var e : after.entrySet()) assertEquals(e.getValue(), got.get("after/" + e.getKey()), 1e-12, "after: " + e.getKey() + " " + got);
        System.out.printf("planted Waterbirds: background word '%s' (ρ = %.3f); worst-group %.3f → %.3f, accuracy %.3f → %.3f%n", word, rho,
                got.get("before/worst"), got.get("after/worst"), got.get("before/all"), got.get("after/all"));
        assertTrue(got.get("after/worst") - got.get("before/worst") >= 0.5,
                "worst-group accuracy " + got.get("before/worst") + " → " + got.get("after/worst"));

        // A separate reader (numpy) loads the query-edited file, and its forward pass is numpy's in-memory edit of the base.
        PythonOracle.assumeModules("numpy");
        List<float[]> probe = List.of(f.randomPixels(3, 1), f.randomPixels(4, 1));
        Map<String, double[][]> py = PythonOracle.numpyVision(ckpt, Path.of(edited, "model.safetensors"), false, HEADS, true,
                List.of(new double[] {0, 0, 0, 0}), probe, tmp);
        for (int i = 0; i < probe.size(); i++) {
            assertTrue(RelativeError.of(py.get("edited_file")[i], py.get("in_memory")[i]) < 1e-5, "numpy: file vs in-memory edit");
        }
    }

    static double[] atom(double[] normalized, double[] mean) {
        double[] d = new double[P];
        for (int j = 0; j < P; j++) d[j] = normalized[j] - mean[j];
        return unit(d);
    }

    static double[] orthogonalTo(double[] u, Random rnd) {
        double[] v = new double[P];
        for (int j = 0; j < P; j++) v[j] = rnd.nextGaussian();
        double d = dot(v, u);
        for (int j = 0; j < P; j++) v[j] -= d * u[j];
        return unit(v);
    }

    static void solid(Path file, int r, int g, int b) throws Exception {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_INT_RGB);
        int rgb = new Color(r, g, b).getRGB();
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) img.setRGB(x, y, rgb);
        }
        ImageIO.write(img, "png", file.toFile());
    }

    /** Per-group, overall and worst-group accuracy predicted from the planted colour offsets. */
    static Map<String, Double> accuracies(List<Image> data, boolean withBackground) {
        Map<String, int[]> counts = new TreeMap<>();
        for (Image im : data) {
            double margin = im.bird() * im.dr() + (withBackground ? BACKGROUND_GAIN * im.water() * im.dg() : 0);
            int ok = (margin > 0) == (im.bird() > 0) ? 1 : 0;
            for (String key : List.of("all", im.group())) counts.merge(key, new int[] {1, ok}, (x, y) -> new int[] {x[0] + y[0], x[1] + y[1]});
        }
        Map<String, Double> out = new TreeMap<>();
        double worst = 1;
        for (var e : counts.entrySet()) {
            double acc = (double) e.getValue()[1] / e.getValue()[0];
            out.put(e.getKey(), acc);
            if (!e.getKey().equals("all")) worst = Math.min(worst, acc);
        }
        out.put("worst", worst);
        return out;
    }
}
