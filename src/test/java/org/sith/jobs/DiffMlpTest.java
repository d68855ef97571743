package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.model.VisionFixtures;

/**
 * diff --component mlp on fine-tunes planted in the MLP write matrices: a per-neuron rescaling (block 0, with a constant
 * added to every raw column, which centering removes), a base of rank 4 plus a write direction outside its span
 * (block 1: in_basis = ‖W_b‖²/(‖W_b‖² + ‖g‖²) exactly), an untouched block (2); every figure also against dense algebra
 * (commons-math SVD of the centered matrices, per-neuron cosines by brute force); a LoRA adapter of c_proj against its
 * explicit merge; refusals.
 */
class DiffMlpTest extends SparkTestBase {
    static final int D = 48, HIDDEN = 4 * D, HEADS = 4, LAYERS = 3, P = 24, SEED = 61;

    @TempDir
    static Path tmp;
    static VisionFixtures base;
    static VisionFixtures ft;
    static Path baseFile;
    static Path ftFile;
    static double[] factors = new double[HIDDEN];
    static double gNorm2;
    static double[][] lowRankBase;

    static VisionFixtures fixture() {
        return VisionFixtures.random(SEED, 32, 8, D, LAYERS, HEADS, P);
    }

    @BeforeAll
    static void plant() throws Exception {
        base = fixture();
        ft = fixture();
        Random rnd = new Random(3);
        // block 0: w_i → f_i·w_i (f_i = 1 for every 7th neuron and where i % 5 = 2), plus c_i on every entry of a rescaled raw
        // column (a constant on an unscaled one would still move its centered values by float rounding, and count as a change)
        for (int i = 0; i < HIDDEN; i++) {
            factors[i] = i % 7 == 0 ? 1 : 0.5 + 0.25 * (i % 5);
            double c = factors[i] == 1 ? 0 : rnd.nextGaussian() * 0.05;
            for (int o = 0; o < D; o++) ft.fc2W[0][o * HIDDEN + i] = (float) (factors[i] * base.fc2W[0][o * HIDDEN + i] + c);
        }
        // block 1: base W_b = U·S·Cᵀ of rank 4 (U orthonormal, centered), ft = W_b + e·gᵀ with e ⟂ U, e ⟂ 1
        double[][] basis = orthonormalCentered(rnd, 5);
        double[] s = {4, 3, 2, 1.5};
        gNorm2 = 0;
        for (int i = 0; i < HIDDEN; i++) {
            double[] coef = new double[4];
            for (int j = 0; j < 4; j++) coef[j] = s[j] * rnd.nextGaussian() / Math.sqrt(HIDDEN);
            double g = rnd.nextGaussian() * 0.3;
            for (int o = 0; o < D; o++) {
                double w = 0;
                for (int j = 0; j < 4; j++) w += coef[j] * basis[j][o];
                base.fc2W[1][o * HIDDEN + i] = (float) w;
                ft.fc2W[1][o * HIDDEN + i] = (float) (w + g * basis[4][o]);
            }
        }
        // the norms as stored (float), for the exact expectation
        lowRankBase = centered(base.fc2W[1]);
        double[][] ftCentered = centered(ft.fc2W[1]);
        for (int o = 0; o < D; o++) for (int i = 0; i < HIDDEN; i++) gNorm2 += Math.pow(ftCentered[o][i] - lowRankBase[o][i], 2);
        baseFile = base.writeOpenClip(tmp.resolve("base"), true);
        ftFile = ft.writeHuggingFace(tmp.resolve("ft"), true);
    }

    /** {@code n} orthonormal vectors of R^d, each orthogonal to the all-ones vector. */
    static double[][] orthonormalCentered(Random rnd, int n) {
        double[][] q = new double[n + 1][D];
        java.util.Arrays.fill(q[0], 1 / Math.sqrt(D));
        for (int j = 1; j <= n; j++) {
            for (int o = 0; o < D; o++) q[j][o] = rnd.nextGaussian();
            for (int k = 0; k < j; k++) {
                double dot = 0;
                for (int o = 0; o < D; o++) dot += q[j][o] * q[k][o];
                for (int o = 0; o < D; o++) q[j][o] -= dot * q[k][o];
            }
            double norm = 0;
            for (double x : q[j]) norm += x * x;
            for (int o = 0; o < D; o++) q[j][o] /= Math.sqrt(norm);
        }
        return java.util.Arrays.copyOfRange(q, 1, n + 1);
    }

    /** The stored (d, hidden) weight with each column's mean over the outputs removed, d × hidden. */
    static double[][] centered(float[] w) {
        double[][] c = new double[D][HIDDEN];
        for (int i = 0; i < HIDDEN; i++) {
            double mean = 0;
            for (int o = 0; o < D; o++) mean += w[o * HIDDEN + i] / (double) D;
            for (int o = 0; o < D; o++) c[o][i] = w[o * HIDDEN + i] - mean;
        }
        return c;
    }

    record Expected(double rel, double inBasis, int rank, double diagonal, double reweighting, double meanCos, double minCos, int minNeuron,
                    int changed) {}

    /** Every diff_mlp figure of one block by dense algebra: commons-math's SVD for the basis, loops for the rest. */
    static Expected dense(float[] wb, float[] wf) {
        double[][] b = centered(wb);
        double[][] f = centered(wf);
        double nb2 = 0, nf2 = 0, ch = 0;
        for (int o = 0; o < D; o++) {
            for (int i = 0; i < HIDDEN; i++) {
                nb2 += b[o][i] * b[o][i];
                nf2 += f[o][i] * f[o][i];
                ch += Math.pow(f[o][i] - b[o][i], 2);
            }
        }
        SingularValueDecomposition svd = new SingularValueDecomposition(new Array2DRowRealMatrix(b));
        double[] sv = svd.getSingularValues();
        RealMatrix u = svd.getU();
        double kept = 0;
        int r = 0;
        while (kept < 0.99 * nb2) kept += sv[r] * sv[r++];
        double in = 0;
        for (int j = 0; j < r; j++) {
            for (int i = 0; i < HIDDEN; i++) {
                double p = 0;
                for (int o = 0; o < D; o++) p += u.getEntry(o, j) * f[o][i];
                in += p * p;
            }
        }
        double diag = 0, rew = 0, cosSum = 0, minCos = 2;
        int minNeuron = -1, changed = 0;
        for (int i = 0; i < HIDDEN; i++) {
            double x = 0, y = 0, xy = 0;
            boolean moved = false;
            for (int o = 0; o < D; o++) {
                x += b[o][i] * b[o][i];
                y += f[o][i] * f[o][i];
                xy += b[o][i] * f[o][i];
                moved |= b[o][i] != f[o][i];
            }
            if (moved) changed++;
            double along = xy / Math.sqrt(x);
            diag += along * along;
            rew += Math.pow(along - Math.sqrt(x), 2);
            double cos = xy / Math.sqrt(x * y);
            cosSum += cos;
            if (cos < minCos) {
                minCos = cos;
                minNeuron = i;
            }
        }
        return new Expected(Math.sqrt(ch / nb2), in / nf2, r, diag / nf2, ch == 0 ? Double.NaN : rew / ch, cosSum / HIDDEN, minCos, minNeuron, changed);
    }

    static Map<Integer, Row> read(String out) {
        Map<Integer, Row> m = new HashMap<>();
        for (Row r : spark.read().parquet(out + "/diff_mlp").collectAsList()) m.put(r.getInt(r.fieldIndex("layer")), r);
        return m;
    }

    static double get(Row r, String c) {
        return r.isNullAt(r.fieldIndex(c)) ? Double.NaN : ((Number) r.get(r.fieldIndex(c))).doubleValue();
    }

    static void agrees(Expected e, Row r, String where) {
        assertEquals(e.rel(), get(r, "rel_change"), 1e-6 * Math.max(1, e.rel()), where + " rel_change");
        assertEquals(e.rank(), (int) get(r, "basis_rank"), where + " basis_rank");
        assertEquals(e.inBasis(), get(r, "in_basis"), 1e-6, where + " in_basis");
        assertEquals(e.diagonal(), get(r, "diagonal"), 1e-6, where + " diagonal");
        if (Double.isNaN(e.reweighting())) assertTrue(Double.isNaN(get(r, "reweighting")), where + " reweighting undefined");
        else assertEquals(e.reweighting(), get(r, "reweighting"), 1e-6, where + " reweighting");
        assertEquals(e.meanCos(), get(r, "mean_cos"), 1e-9, where + " mean_cos");
        assertEquals(e.minCos(), get(r, "min_cos"), 1e-9, where + " min_cos");
        if (e.minCos() < 1 - 1e-9) assertEquals(e.minNeuron(), (int) get(r, "min_cos_neuron"), where + " min_cos_neuron");
        assertEquals(e.changed(), (int) get(r, "changed"), where + " changed");
        assertEquals(HIDDEN, (int) get(r, "neurons"), where);
    }

    @Test
    void plantedFineTunesAreRecoveredAcrossLayouts() throws Exception {
        String out = tmp.resolve("out-mlp").toString();
        Run run = cli("diff", "--base", baseFile.toString(), "--finetuned", ftFile.toString(), "--component", "mlp", "--out", out);
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stdout().contains("3 MLP blocks compared"), run.stdout());
        assertFalse(Files.exists(Path.of(out, "diff_heads")), "--component mlp writes diff_mlp/ alone");
        Map<Integer, Row> rows = read(out);
        assertEquals(LAYERS, rows.size());
        for (int l = 0; l < LAYERS; l++) agrees(dense(base.fc2W[l], ft.fc2W[l]), rows.get(l), "layer " + l);

        // block 0: a pure per-neuron rescaling
        Row r0 = rows.get(0);
        double[][] b0 = centered(base.fc2W[0]);
        double num = 0, den = 0;
        int changed = 0;
        for (int i = 0; i < HIDDEN; i++) {
            double n2 = 0;
            for (int o = 0; o < D; o++) n2 += b0[o][i] * b0[o][i];
            num += Math.pow(factors[i] - 1, 2) * n2;
            den += n2;
            if (factors[i] != 1) changed++;
        }
        assertEquals(Math.sqrt(num / den), get(r0, "rel_change"), 1e-5);
        assertEquals(1, get(r0, "diagonal"), 1e-6);
        assertEquals(1, get(r0, "reweighting"), 1e-6);
        assertEquals(1, get(r0, "min_cos"), 1e-6);
        assertEquals(changed, (int) get(r0, "changed"));

        // block 1: rank-4 base, a new direction outside its span
        Row r1 = rows.get(1);
        double nb2 = 0;
        for (double[] row : lowRankBase) for (double x : row) nb2 += x * x;
        assertEquals(4, (int) get(r1, "basis_rank"));
        assertEquals(nb2 / (nb2 + gNorm2), get(r1, "in_basis"), 1e-5);
        assertTrue(get(r1, "in_basis") < 0.9, "the planted direction holds a visible share: " + get(r1, "in_basis"));
        assertEquals(get(r1, "in_basis"), get(r1, "diagonal"), 1e-5, "every neuron keeps its base part: diagonal = in_basis here");
        assertEquals(0, get(r1, "reweighting"), 1e-5, "no neuron is rescaled, each turns");

        // block 2: untouched
        Row r2 = rows.get(2);
        assertEquals(0, get(r2, "rel_change"), 0);
        assertEquals(0, (int) get(r2, "changed"));
        assertTrue(Double.isNaN(get(r2, "reweighting")));
        assertTrue(get(r2, "in_basis") >= 0.99 - 1e-9, "W_b's own share of its 99% basis");
    }

    @Test
    void voAndMlpTogetherWriteBothAndTheHeadsAreAsWithoutMlp() throws Exception {
        String both = tmp.resolve("out-both").toString();
        String vo = tmp.resolve("out-vo").toString();
        assertEquals(0, cli("diff", "--base", baseFile.toString(), "--finetuned", ftFile.toString(), "--component", "all", "--layers", "1,2",
                "--out", both).status());
        assertEquals(0, cli("diff", "--base", baseFile.toString(), "--finetuned", ftFile.toString(), "--layers", "1,2", "--out", vo).status());
        assertFalse(Files.exists(Path.of(vo, "diff_mlp")), "the default writes no diff_mlp/");
        for (String f : List.of("diff_heads", "diff_vectors")) {
            List<Row> a = spark.read().parquet(both + "/" + f).orderBy("layer", "head").collectAsList();
            List<Row> b = spark.read().parquet(vo + "/" + f).orderBy("layer", "head").collectAsList();
            assertEquals(b.toString(), a.toString(), f);
        }
        Map<Integer, Row> rows = read(both);
        assertEquals(java.util.Set.of(1, 2), rows.keySet(), "--layers selects the blocks");
    }

    /** An adapter of block 1's c_proj (OpenCLIP naming, PEFT prefix) against the same weights merged by hand. */
    @Test
    void loraOfTheMlpOutputEqualsItsExplicitMerge() throws Exception {
        Random rnd = new Random(8);
        int r = 4;
        double alpha = 6;
        float[] a = new float[r * HIDDEN];
        float[] b = new float[D * r];
        for (int k = 0; k < a.length; k++) a[k] = (float) (rnd.nextGaussian() * 0.1);
        for (int k = 0; k < b.length; k++) b[k] = (float) (rnd.nextGaussian() * 0.1);
        String m = "base_model.model.visual.transformer.resblocks.1.mlp.c_proj";
        Map<String, float[]> t = new HashMap<>();
        Map<String, long[]> s = new HashMap<>();
        t.put(m + ".lora_A.weight", a); s.put(m + ".lora_A.weight", new long[] {r, HIDDEN});
        t.put(m + ".lora_B.weight", b); s.put(m + ".lora_B.weight", new long[] {D, r});
        Path adapter = tmp.resolve("adapter");
        DiffTest.writeAdapter(adapter, t, s, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 6, \"target_modules\": [\"c_proj\"]}");
        VisionFixtures merged = fixture();
        // the base of this test: block 1 as planted
        System.arraycopy(base.fc2W[1], 0, merged.fc2W[1], 0, base.fc2W[1].length);
        for (int o = 0; o < D; o++) {
            for (int i = 0; i < HIDDEN; i++) {
                double d = 0;
                for (int k = 0; k < r; k++) d += b[o * r + k] * (double) a[k * HIDDEN + i];
                merged.fc2W[1][o * HIDDEN + i] = (float) (merged.fc2W[1][o * HIDDEN + i] + alpha / r * d);
            }
        }
        VisionFixtures planted = fixture();
        System.arraycopy(base.fc2W[1], 0, planted.fc2W[1], 0, base.fc2W[1].length);
        Path plantedFile = planted.writeOpenClip(tmp.resolve("planted"), true);
        Path mergedFile = merged.writeOpenClip(tmp.resolve("merged"), true);
        String viaAdapter = tmp.resolve("out-lora").toString();
        String viaMerge = tmp.resolve("out-merged").toString();
        Run run = cli("diff", "--base", plantedFile.toString(), "--adapter", adapter.toString(), "--component", "mlp", "--out", viaAdapter);
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stdout().contains("adapter: 1 MLP output target(s) merged"), run.stdout());
        assertEquals(0, cli("diff", "--base", plantedFile.toString(), "--finetuned", mergedFile.toString(), "--component", "mlp", "--out", viaMerge).status());
        Map<Integer, Row> x = read(viaAdapter);
        Map<Integer, Row> y = read(viaMerge);
        agrees(dense(planted.fc2W[1], merged.fc2W[1]), x.get(1), "adapter, layer 1");
        for (int l = 0; l < LAYERS; l++) {
            for (String c : List.of("rel_change", "in_basis", "diagonal", "mean_cos", "min_cos")) {
                double u = get(x.get(l), c), v = get(y.get(l), c);
                if (Double.isNaN(v)) assertTrue(Double.isNaN(u), c);
                else assertEquals(v, u, 1e-6, "layer " + l + " " + c);
            }
            assertEquals(get(y.get(l), "changed"), get(x.get(l), "changed"), "layer " + l);
        }
        assertEquals(0, get(x.get(0), "rel_change"), 0);
        assertTrue(get(x.get(1), "rel_change") > 1e-3);
    }

    @Test
    void qkAndConceptsWithoutVoAreRefused() throws Exception {
        String out = tmp.resolve("out-refused").toString();
        Run qk = cli("diff", "--base", baseFile.toString(), "--finetuned", ftFile.toString(), "--component", "qk", "--out", out);
        assertEquals(2, qk.status());
        assertTrue(qk.stderr().contains("qk circuits are not compared"), qk.stderr());
        Path concepts = ImagesTest.writeConcepts(tmp.resolve("concepts"));
        Run c = cli("diff", "--base", baseFile.toString(), "--finetuned", ftFile.toString(), "--component", "mlp", "--concepts",
                concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt", "--out", out);
        assertEquals(2, c.status());
        assertTrue(c.stderr().contains("--concepts explains the heads' vectors"), c.stderr());
        assertFalse(Files.exists(Path.of(out)));
    }
}
