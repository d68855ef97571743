package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.concepts.ConceptDictionary;
import org.sith.demo.SyntheticClip;
import org.sith.io.Npy;

/**
 * SPEC §3b end to end: MLP neurons and QK pairs planted in both towers of a synthetic CLIP, whose write (or
 * query/key) directions map into the joint space as known positive combinations of concepts, come back from
 * `decompose --component all` as those concepts; the VO rows of such a run equal the paper-setting run's, which
 * keeps its columns; --resume completes a text-tower run.
 *
 * <p>The dictionary is the concepts' embeddings by the unplanted text tower (any dictionary of width p serves): the
 * planted checkpoint's text tower differs from the one that embedded them.
 */
class PlantedComponentsTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static String checkpoint;
    static String concepts;
    static String vocab;

    /** A planted direction: tower, component, layer, head (-1: an MLP neuron), neuron or side, and its concepts. */
    record Plant(String tower, String component, int layer, int head, int sv, String side, String[] concepts, double[] weights) {}

    static final List<Plant> PLANTS = List.of(
            new Plant("vision", "mlp", 2, -1, 37, "right", new String[] {"red telephone", "scarlet"}, new double[] {0.8, 0.5}),
            new Plant("vision", "mlp", 3, -1, 700, "right", new String[] {"golden retriever", "puppy"}, new double[] {0.7, 0.6}),
            new Plant("vision", "qk", 1, 2, 0, "query", new String[] {"sandy beach", "ocean waves"}, new double[] {0.7, 0.5}),
            new Plant("vision", "qk", 1, 2, 0, "key", new String[] {"snowy mountain", "ski slope"}, new double[] {0.75, 0.55}),
            new Plant("text", "mlp", 1, -1, 5, "right", new String[] {"green forest", "moss"}, new double[] {0.8, 0.5}),
            new Plant("text", "qk", 0, 1, 0, "query", new String[] {"handwritten text", "letters"}, new double[] {0.8, 0.45}),
            new Plant("text", "qk", 0, 1, 0, "key", new String[] {"wooden table", "kitchen"}, new double[] {0.65, 0.6}));

    @BeforeAll
    static void plant() throws Exception {
        SyntheticClip clip = new SyntheticClip(21, 256, 4, 4, 64);
        int n = clip.concepts.length;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        ConceptDictionary dict = ConceptDictionary.fromRows(ids, clip.concepts, clip.embeddings, clip.p, "planted");
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>(clip.tensors);
        Random rnd = new Random(4);
        int p = clip.p;
        // vision: visual.proj has orthonormal columns ⊥ 1 and LN_post is the identity affine, so w = P·s maps to s
        double[][] pv = columns(t.get("visual.proj").data(), clip.width, p);
        // text: a projection of the same kind (d_text = 128 > p = 64), and targets y = μ + α·s with ‖y‖ = 1, so that
        // normalize(y) − μ ∝ s under the default --center concepts
        double[][] pt = orthonormalColumns(rnd, clip.textWidth, p, new ArrayList<>());
        t.put("text_projection", TensorData.f32(rowMajor(pt, clip.textWidth, p), clip.textWidth, p));
        double[] mu = dict.meanNormalized();
        for (Plant pl : PLANTS) {
            if (!pl.side().equals("key") && pl.component().equals("qk")) continue; // planted with its key below
            boolean vision = pl.tower().equals("vision");
            double[][] proj = vision ? pv : pt;
            int d = vision ? clip.width : clip.textWidth;
            String block = (vision ? "visual.transformer.resblocks." : "transformer.resblocks.") + pl.layer() + ".";
            if (pl.component().equals("mlp")) {
                double[] w = direction(dict, proj, pl, vision ? null : mu);
                String name = block + "mlp.c_proj.weight";
                float[] cp = t.get(name).data().clone();
                for (int o = 0; o < d; o++) cp[o * 4 * d + pl.sv()] = (float) (3 * w[o]);
                t.put(name, TensorData.f32(cp, d, 4 * d));
            } else {
                Plant query = PLANTS.stream().filter(q -> q.tower().equals(pl.tower()) && q.component().equals("qk") && q.side().equals("query"))
                        .findFirst().orElseThrow();
                plantQk(t, block, d, d / (vision ? clip.heads : clip.textHeads), pl.head(), rnd, proj,
                        spiked(direction(dict, proj, query, vision ? null : mu), proj), direction(dict, proj, pl, vision ? null : mu));
            }
        }
        Path dir = Files.createDirectories(tmp.resolve("planted"));
        checkpoint = dir.resolve("model.safetensors").toString();
        Configuration conf = new Configuration();
        SafeTensorsWriter.write(checkpoint, conf, t, Map.of());
        Files.writeString(dir.resolve("open_clip_config.json"), clip.openClipConfig());
        concepts = tmp.resolve("concepts.npy").toString();
        Npy.write(concepts, conf, new long[] {n, p}, clip.embeddings);
        vocab = tmp.resolve("concepts.txt").toString();
        Files.writeString(Path.of(vocab), String.join("\n", clip.concepts) + "\n", StandardCharsets.UTF_8);
    }

    /** The unit residual direction ⊥ 1 whose joint image is the plant's combination (centered by μ when given). */
    static double[] direction(ConceptDictionary dict, double[][] proj, Plant pl, double[] mu) {
        int p = proj.length;
        double[] s = new double[p];
        float[] atoms = dict.atoms();
        for (int i = 0; i < pl.concepts().length; i++) {
            int row = -1;
            for (int r = 0; r < dict.size(); r++) if (dict.concept(r).equals(pl.concepts()[i])) row = r;
            assertTrue(row >= 0, pl.concepts()[i]);
            for (int j = 0; j < p; j++) s[j] += pl.weights()[i] * atoms[row * p + j];
        }
        double[] y = s;
        if (mu != null) {
            // α > 0 with ‖μ + α·s‖ = 1
            double ss = dot(s, s);
            double ms = dot(mu, s);
            double alpha = (-ms + Math.sqrt(ms * ms - ss * (dot(mu, mu) - 1))) / ss;
            y = new double[p];
            for (int j = 0; j < p; j++) y[j] = mu[j] + alpha * s[j];
        }
        int d = proj[0].length;
        double[] w = new double[d];
        for (int j = 0; j < p; j++) for (int k = 0; k < d; k++) w[k] += proj[j][k] * y[j];
        return unit(w);
    }

    /**
     * w plus a component the projection and the LayerNorm cannot see (⊥ its columns and ⊥ 1) holding the largest,
     * positive entry: the sign rule then keeps the planted query direction as it is.
     */
    static double[] spiked(double[] w, double[][] proj) {
        int d = w.length;
        double[] e = new double[d];
        e[7] = 1;
        List<double[]> basis = new ArrayList<>();
        for (double[] c : proj) basis.add(c);
        double[] nul = orthonormalize(e, basis);
        double max = 0;
        for (double x : w) max = Math.max(max, Math.abs(x));
        double[] out = w.clone();
        double c = 10 * max / nul[7];
        for (int k = 0; k < d; k++) out[k] += c * nul[k];
        return unit(out);
    }

    /** Head h's q and k rows so that the folded Wq_hᵀ·Wk_h = Σ s_j a_j b_jᵀ with (a_0, b_0) the planted pair, s_0 the largest. */
    static void plantQk(Map<String, TensorData> t, String block, int d, int dh, int h, Random rnd, double[][] proj, double[] a, double[] b) {
        List<double[]> as = new ArrayList<>();
        List<double[]> bs = new ArrayList<>();
        double[][] qa = new double[dh][];
        double[][] kb = new double[dh][];
        qa[0] = orthonormalize(a.clone(), as);
        kb[0] = orthonormalize(b.clone(), bs);
        for (int j = 1; j < dh; j++) {
            qa[j] = orthonormalize(gaussian(rnd, d), as);
            kb[j] = orthonormalize(gaussian(rnd, d), bs);
        }
        float[] gamma = t.get(block + "ln_1.weight").data();
        String name = block + "attn.in_proj_weight";
        float[] in = t.get(name).data().clone();
        for (int j = 0; j < dh; j++) {
            double s = j == 0 ? 20 : 10 * Math.pow(0.97, j);
            for (int k = 0; k < d; k++) {
                in[(h * dh + j) * d + k] = (float) (s * qa[j][k] / gamma[k]);
                in[(d + h * dh + j) * d + k] = (float) (kb[j][k] / gamma[k]);
            }
        }
        t.put(name, TensorData.f32(in, 3 * d, d));
    }

    static Run decompose(String out, String... extra) {
        List<String> a = new ArrayList<>(List.of("decompose", "--checkpoint", checkpoint, "--concepts", concepts, "--vocab", vocab,
                "--model-name", "planted", "--out", out));
        a.addAll(List.of(extra));
        return cli(a.toArray(new String[0]));
    }

    static Set<String> nonZero(Row r) {
        Set<String> s = new TreeSet<>();
        for (Row c : r.<Row>getList(r.fieldIndex("concepts"))) if (c.getDouble(c.fieldIndex("weight")) > 1e-6) s.add(c.getString(c.fieldIndex("concept")));
        return s;
    }

    @Test
    void plantedNeuronsAndQkPairsComeBackAsTheirConceptsInBothTowers() {
        String vision = tmp.resolve("out-vision").toString();
        String text = tmp.resolve("out-text").toString();
        Run rv = decompose(vision, "--component", "all");
        assertEquals(0, rv.status(), rv.stderr());
        Run rt = decompose(text, "--tower", "text", "--component", "all");
        assertEquals(0, rt.status(), rt.stderr());
        Dataset<Row> ev = spark.read().parquet(vision + "/explanations");
        Dataset<Row> et = spark.read().parquet(text + "/explanations");
        // every unit of both towers: vision 4 layers × (4 heads × 64 vo + 1024 neurons + 4 heads × 2 × 64 qk); text 2 × (128 + 512 + 256)
        assertEquals(4 * (256 + 1024 + 512), ev.count());
        assertEquals(2 * (128 + 512 + 256), et.count());
        assertEquals(0, ev.where("tower <> 'vision'").count());
        assertEquals(0, et.where("tower <> 'text'").count());
        assertEquals(0, ev.where("component = 'mlp' and head is not null").count(), "MLP rows have no head");
        assertEquals(4 * 4 * 64, ev.where("component = 'qk' and side = 'query'").count());
        assertEquals(4 * 4 * 64, ev.where("component = 'qk' and side = 'key'").count());
        for (Plant pl : PLANTS) {
            Dataset<Row> df = pl.tower().equals("vision") ? ev : et;
            String where = "component = '" + pl.component() + "' and layer = " + pl.layer() + " and sv = " + pl.sv() + " and side = '" + pl.side() + "'"
                    + (pl.head() < 0 ? " and head is null" : " and head = " + pl.head());
            List<Row> rows = df.where(where).collectAsList();
            assertEquals(1, rows.size(), where);
            Row r = rows.get(0);
            assertEquals(new TreeSet<>(Arrays.asList(pl.concepts())), nonZero(r), pl.toString());
            assertTrue(r.getDouble(r.fieldIndex("fidelity")) > 0.999, pl + " fidelity " + r.getDouble(r.fieldIndex("fidelity")));
            if (pl.component().equals("qk")) assertEquals(20.0, r.getDouble(r.fieldIndex("sigma")), 1e-3, "the planted pair leads its head");
            else assertEquals(3.0, r.getDouble(r.fieldIndex("sigma")), 1e-4, "σ is the neuron's write norm");
        }
        // the singular vectors of a planted neuron: its unit write direction, keyed the same way
        Row sv = spark.read().parquet(vision + "/singular_vectors").where("component = 'mlp' and layer = 2 and sv = 37").first();
        assertTrue(sv.isNullAt(sv.fieldIndex("head")));
        assertEquals("vision", sv.getString(sv.fieldIndex("tower")));
    }

    @Test
    void voRowsOfAnAllRunEqualThePaperSettingWhichKeepsItsColumns() {
        String all = tmp.resolve("out-all-vo").toString();
        String paper = tmp.resolve("out-paper").toString();
        assertEquals(0, decompose(all, "--component", "vo,qk", "--layers", "3").status());
        assertEquals(0, decompose(paper, "--layers", "3").status());
        Dataset<Row> p = spark.read().parquet(paper + "/explanations");
        assertFalse(Arrays.asList(p.columns()).contains("component"), "the paper's setting writes the columns it always had");
        assertFalse(Arrays.asList(spark.read().parquet(paper + "/singular_vectors").columns()).contains("tower"));
        Dataset<Row> a = spark.read().parquet(all + "/explanations").where("component = 'vo'").select(p.columns()[0],
                Arrays.copyOfRange(p.columns(), 1, p.columns().length));
        List<Row> x = p.orderBy("head", "sv").collectAsList();
        List<Row> y = a.orderBy("head", "sv").collectAsList();
        assertEquals(4 * 64, x.size());
        assertEquals(x, y, "VO rows are the same whatever else is explained in the run");
    }

    @Test
    void resumeCompletesATextTowerRun() {
        String out = tmp.resolve("out-resume").toString();
        String fresh = tmp.resolve("out-fresh").toString();
        assertEquals(0, decompose(out, "--tower", "text", "--component", "mlp,qk", "--layers", "0").status());
        Run r = decompose(out, "--tower", "text", "--component", "mlp,qk", "--resume");
        assertEquals(0, r.status(), r.stderr());
        assertTrue(r.stderr().contains("resuming, 4 of 8 units already done"), r.stderr());
        assertEquals(0, decompose(fresh, "--tower", "text", "--component", "mlp,qk").status());
        List<Row> a = spark.read().parquet(out + "/explanations").orderBy("layer", "component", "head", "sv", "side").collectAsList();
        List<Row> b = spark.read().parquet(fresh + "/explanations").orderBy("layer", "component", "head", "sv", "side").collectAsList();
        assertEquals(2 * (512 + 256), b.size());
        assertEquals(b, a, "resumed = fresh");
        // a text run refuses what only applies to images
        Run bad = decompose(tmp.resolve("out-bad").toString(), "--tower", "text", "--image-mean", concepts);
        assertEquals(2, bad.status());
        assertTrue(bad.stderr().contains("--image-mean applies to the vision tower"), bad.stderr());
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    static double[] unit(double[] w) {
        double n = Math.sqrt(dot(w, w));
        double[] o = new double[w.length];
        for (int i = 0; i < w.length; i++) o[i] = w[i] / n;
        return o;
    }

    static double[] gaussian(Random r, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = r.nextGaussian();
        return x;
    }

    /** Removes the mean and the components along {@code basis} (twice), normalizes, appends to basis. */
    static double[] orthonormalize(double[] x, List<double[]> basis) {
        for (int pass = 0; pass < 2; pass++) {
            double m = 0;
            for (double v : x) m += v / x.length;
            for (int i = 0; i < x.length; i++) x[i] -= m;
            for (double[] b : basis) {
                double dt = dot(x, b);
                for (int i = 0; i < x.length; i++) x[i] -= dt * b[i];
            }
        }
        double[] u = unit(x);
        basis.add(u);
        return u;
    }

    static double[][] orthonormalColumns(Random r, int d, int n, List<double[]> basis) {
        double[][] out = new double[n][];
        for (int j = 0; j < n; j++) out[j] = orthonormalize(gaussian(r, d), basis);
        return out;
    }

    /** The columns of a d×p row-major matrix, as p vectors of length d. */
    static double[][] columns(float[] m, int d, int p) {
        double[][] c = new double[p][d];
        for (int i = 0; i < d; i++) for (int j = 0; j < p; j++) c[j][i] = m[i * p + j];
        return c;
    }

    static float[] rowMajor(double[][] cols, int d, int p) {
        float[] out = new float[d * p];
        for (int j = 0; j < p; j++) for (int i = 0; i < d; i++) out[i * p + j] = (float) cols[j][i];
        return out;
    }
}
