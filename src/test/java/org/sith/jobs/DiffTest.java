package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sith.SparkTestBase;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.io.Npy;
import org.sith.model.ReferenceMatchScores;
import org.sith.model.VisionFixtures;

/**
 * diff through the command line on fine-tunes whose truth is planted here with dense algebra: a
 * per-channel reweighting, a rotation inside the base subspaces, an injected new write direction and
 * untouched heads, in both layouts and across layouts; LoRA adapters against explicitly merged
 * weights; concept overlap against two independent decompose runs; refusals.
 */
class DiffTest extends SparkTestBase {
    static final int D = 48, HEADS = 4, DH = 12, LAYERS = 3, P = 24, SEED = 41;
    static final double ROT = 0.5;

    @TempDir
    static Path tmp;
    static VisionFixtures base;
    static VisionFixtures ft;
    static double[] factors = new double[DH];
    static double tau;
    static final Map<String, Path> written = new HashMap<>();

    static VisionFixtures fixture() {
        return VisionFixtures.random(SEED, 32, 8, D, LAYERS, HEADS, P);
    }

    /** The base head's dense SVD (commons-math) and its folded, centered value factor A (d×d_h). */
    record Dense(ReferenceMatchScores.HeadSvd svd, RealMatrix a) {}

    static Dense dense(VisionFixtures f, int l, int h) {
        ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(f.openClip(), false, l, h, HEADS);
        double[][] a = new double[D][DH];
        for (int i = 0; i < DH; i++) {
            double mean = 0;
            for (int k = 0; k < D; k++) mean += (a[k][i] = f.vW[l][(h * DH + i) * D + k] * (double) f.ln1W[l][k]) / D;
            for (int k = 0; k < D; k++) a[k][i] -= mean;
        }
        return new Dense(svd, new Array2DRowRealMatrix(a));
    }

    /**
     * Rewrites head h's columns of f's out-projection so that its folded, centered VO map becomes
     * Σ_ij K_ij·u_i·v_jᵀ + τ·u_0·wᵀ (u, v: the base head's singular vectors): Wo'_h = Σ K_ij v_j g_iᵀ + τ w g_0ᵀ
     * with g_i = pinv(A)·u_i, so that A·Wo'_hᵀ = that map (every u_i lies in A's column space).
     */
    static void plant(VisionFixtures f, int l, int h, double[][] k, double t, double[] w) {
        Dense dn = dense(base, l, h);
        RealMatrix pinv = new SingularValueDecomposition(dn.a()).getSolver().getInverse(); // d_h×d
        double[][] g = new double[DH][];
        for (int i = 0; i < DH; i++) g[i] = pinv.operate(dn.svd().u()[i]);
        for (int o = 0; o < D; o++) {
            for (int m = 0; m < DH; m++) {
                double s = 0;
                for (int i = 0; i < DH; i++) for (int j = 0; j < DH; j++) s += k[i][j] * dn.svd().v()[j][o] * g[i][m];
                if (w != null) s += t * w[o] * g[0][m];
                f.outW[l][o * D + h * DH + m] = (float) s;
            }
        }
    }

    @BeforeAll
    static void plantFineTune() {
        base = fixture();
        ft = fixture();
        // layer 0 head 1: a per-channel reweighting σ_j → f_j·σ_j
        double[] s0 = dense(base, 0, 1).svd().sigma();
        double[][] k = new double[DH][DH];
        for (int j = 0; j < DH; j++) {
            factors[j] = s0[0] * (0.3 + 0.1 * ((5 * j) % DH)) / s0[j]; // new σ well apart, in another order
            k[j][j] = factors[j] * s0[j];
        }
        plant(ft, 0, 1, k, 0, null);
        double[] fs = new double[DH];
        for (int j = 0; j < DH; j++) fs[j] = factors[j] * s0[j];
        Arrays.sort(fs);
        for (int j = 1; j < DH; j++) assertTrue(fs[j] - fs[j - 1] > 1e-2 * fs[j], "reweighted σ well apart, so each vector is defined");
        // layer 1 head 2: C = Σ·R with R rotating base channels (0,1) and (2,3) by ROT: same subspaces, same σ
        double[] s1 = dense(base, 1, 2).svd().sigma();
        k = new double[DH][DH];
        for (int j = 0; j < DH; j++) k[j][j] = s1[j];
        for (int j = 0; j < 4; j += 2) {
            k[j][j] = s1[j] * Math.cos(ROT);
            k[j][j + 1] = s1[j] * Math.sin(ROT);
            k[j + 1][j] = -s1[j + 1] * Math.sin(ROT);
            k[j + 1][j + 1] = s1[j + 1] * Math.cos(ROT);
        }
        plant(ft, 1, 2, k, 0, null);
        // layer 2 head 0: the base map plus τ·u_0·wᵀ with w a new (centered) write direction outside span(v)
        Dense d2 = dense(base, 2, 0);
        k = new double[DH][DH];
        for (int j = 0; j < DH; j++) k[j][j] = d2.svd().sigma()[j];
        tau = 0.5 * d2.svd().sigma()[0];
        double[] w = new double[D];
        Random rnd = new Random(9);
        for (int o = 0; o < D; o++) w[o] = rnd.nextGaussian();
        double[][] out = new double[DH + 1][];
        System.arraycopy(d2.svd().v(), 0, out, 0, DH);
        out[DH] = new double[D];
        Arrays.fill(out[DH], 1 / Math.sqrt(D));
        for (double[] v : out) {
            double dot = 0;
            for (int o = 0; o < D; o++) dot += w[o] * v[o];
            for (int o = 0; o < D; o++) w[o] -= dot * v[o];
        }
        double n = 0;
        for (double x : w) n += x * x;
        for (int o = 0; o < D; o++) w[o] /= Math.sqrt(n);
        plant(ft, 2, 0, k, tau, w);
    }

    static Path write(VisionFixtures f, String name, boolean hf) {
        return written.computeIfAbsent(name + (hf ? "-hf" : "-oc"), key -> hf ? f.writeHuggingFace(tmp.resolve(key), true) : f.writeOpenClip(tmp.resolve(key), true));
    }

    static String out(String name) {
        return tmp.resolve("out-" + name).toString();
    }

    record HeadRow(double rel, Double inBasis, Double diagonal, double[] angles) {}

    record VectorRow(double sigmaBase, double sigmaFt, Double reweight, int match, double matchCos, Double jaccard, List<String> gained, List<String> lost) {}

    static Map<String, HeadRow> heads(String out) throws Exception {
        Map<String, HeadRow> m = new LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, rel_change, in_basis, diagonal, principal_angles FROM read_parquet('" + out
                    + "/diff_heads/*.parquet') ORDER BY layer, head");
            while (r.next()) {
                Object[] a = (Object[]) r.getArray(6).getArray();
                double[] angles = new double[a.length];
                for (int i = 0; i < a.length; i++) angles[i] = ((Number) a[i]).doubleValue();
                m.put(r.getInt(1) + "/" + r.getInt(2), new HeadRow(r.getDouble(3), (Double) r.getObject(4), (Double) r.getObject(5), angles));
            }
        }
        return m;
    }

    static Map<String, VectorRow> vectors(String out) throws Exception {
        Map<String, VectorRow> m = new LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, sigma_base, sigma_ft, reweight, match, match_cos, jaccard, gained, lost FROM read_parquet('"
                    + out + "/diff_vectors/*.parquet') ORDER BY layer, head, sv");
            while (r.next()) {
                m.put(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), new VectorRow(r.getDouble(4), r.getDouble(5), (Double) r.getObject(6),
                        r.getInt(7), r.getDouble(8), (Double) r.getObject(9), strings(r.getArray(10)), strings(r.getArray(11))));
            }
        }
        return m;
    }

    static List<String> strings(java.sql.Array a) throws Exception {
        if (a == null) return null;
        List<String> l = new ArrayList<>();
        for (Object o : (Object[]) a.getArray()) l.add((String) o);
        return l;
    }

    /** The planted truths of every head, and each head's numbers against dense algebra on the written weights. */
    @ParameterizedTest
    @CsvSource({"false,false", "true,true", "false,true", "true,false"})
    void plantedFineTunesAreRecoveredInEveryLayoutPair(boolean hfBase, boolean hfFt) throws Exception {
        String o = out("planted-" + hfBase + "-" + hfFt);
        Run run = cli("diff", "--base", write(base, "base", hfBase).toString(), "--finetuned", write(ft, "ft", hfFt).toString(), "--out", o);
        assertEquals(0, run.status(), run.stderr());
        Map<String, HeadRow> hr = heads(o);
        Map<String, VectorRow> vr = vectors(o);
        assertEquals(LAYERS * HEADS, hr.size());
        assertEquals(LAYERS * HEADS * DH, vr.size());

        // reweighting: diagonal = in_basis = 1, reweight = the applied factors, same write subspace
        HeadRow rw = hr.get("0/1");
        assertEquals(1, rw.inBasis(), 1e-9);
        assertEquals(1, rw.diagonal(), 1e-9);
        for (double a : rw.angles()) assertEquals(0, a, 1e-5);
        double[] s0 = dense(base, 0, 1).svd().sigma();
        double num = 0, den = 0;
        Integer[] order = new Integer[DH];
        for (int j = 0; j < DH; j++) {
            assertEquals(factors[j], vr.get("0/1/" + j).reweight(), 1e-5, "reweight " + j);
            num += Math.pow((factors[j] - 1) * s0[j], 2);
            den += s0[j] * s0[j];
            order[j] = j;
        }
        assertEquals(Math.sqrt(num / den), rw.rel(), 1e-6);
        Arrays.sort(order, (a, b) -> Double.compare(factors[b] * s0[b], factors[a] * s0[a]));
        for (int j = 0; j < DH; j++) {
            VectorRow v = vr.get("0/1/" + j);
            assertEquals(factors[order[j]] * s0[order[j]], v.sigmaFt(), 1e-5 * s0[0]);
            assertEquals(order[j], v.match(), "fine-tuned vector " + j + " is base vector " + order[j] + " reweighted");
            assertEquals(1, v.matchCos(), 1e-6);
        }

        // rotation inside the base subspaces: in_basis = 1, diagonal = planted < 1, σ and subspaces unchanged
        HeadRow rot = hr.get("1/2");
        double[] s1 = dense(base, 1, 2).svd().sigma();
        double total = 0, moved = 0;
        for (int j = 0; j < DH; j++) total += s1[j] * s1[j];
        for (int j = 0; j < 4; j++) moved += s1[j] * s1[j] * Math.pow(Math.sin(ROT), 2);
        assertEquals(1, rot.inBasis(), 1e-9);
        assertEquals(1 - moved / total, rot.diagonal(), 1e-7);
        assertTrue(rot.diagonal() < 0.99);
        for (double a : rot.angles()) assertEquals(0, a, 1e-5);
        for (int j = 0; j < DH; j++) assertEquals(s1[j], vr.get("1/2/" + j).sigmaFt(), 1e-5 * s1[0]);
        assertEquals(Math.cos(ROT), vr.get("1/2/0").reweight(), 1e-6);
        assertEquals(1, vr.get("1/2/5").reweight(), 1e-6);

        // an injected new direction: in_basis = diagonal = Σσ²/(Σσ² + τ²) < 1, one principal angle opens
        HeadRow inj = hr.get("2/0");
        double[] s2 = dense(base, 2, 0).svd().sigma();
        double e = 0;
        for (double s : s2) e += s * s;
        assertEquals(e / (e + tau * tau), inj.inBasis(), 1e-7);
        assertEquals(e / (e + tau * tau), inj.diagonal(), 1e-7);
        assertEquals(tau / Math.sqrt(e), inj.rel(), 1e-6);
        // the write subspace tilts v_0 towards w: σ_0·v_0 + τ·w, an angle of atan(τ/σ_0)
        assertEquals(Math.atan(tau / s2[0]), inj.angles()[DH - 1], 1e-6);
        for (int i = 0; i < DH - 1; i++) assertEquals(0, inj.angles()[i], 1e-5);
        for (int j = 0; j < DH; j++) assertEquals(1, vr.get("2/0/" + j).reweight(), 1e-5);

        // untouched heads: nothing changed
        for (var x : hr.entrySet()) {
            if (List.of("0/1", "1/2", "2/0").contains(x.getKey())) continue;
            assertEquals(0.0, x.getValue().rel(), x.getKey());
            assertEquals(1, x.getValue().inBasis(), 1e-9);
            for (double a : x.getValue().angles()) assertEquals(0, a, 1e-7);
        }
        checkAgainstDense(hr);
        assertTrue(run.stdout().contains("share of change that is reweighting"), run.stdout());
        assertTrue(run.stdout().contains("layer   2 head   0"), run.stdout());
    }

    /** rel_change, in_basis, diagonal and the principal angles of every head from dense d×d maps of the two fixtures. */
    static void checkAgainstDense(Map<String, HeadRow> hr) {
        Map<String, TensorData> tb = base.openClip(), tf = ft.openClip();
        for (int l = 0; l < LAYERS; l++) {
            for (int h = 0; h < HEADS; h++) {
                RealMatrix mb = new Array2DRowRealMatrix(ReferenceMatchScores.foldedCenteredVO(tb, false, l, h, HEADS));
                RealMatrix mf = new Array2DRowRealMatrix(ReferenceMatchScores.foldedCenteredVO(tf, false, l, h, HEADS));
                SingularValueDecomposition sb = new SingularValueDecomposition(mb), sf = new SingularValueDecomposition(mf);
                RealMatrix ub = sb.getU().getSubMatrix(0, D - 1, 0, DH - 1), vb = sb.getV().getSubMatrix(0, D - 1, 0, DH - 1);
                RealMatrix c = ub.transpose().multiply(mf).multiply(vb);
                double f2 = Math.pow(mf.getFrobeniusNorm(), 2), diag = 0;
                for (int j = 0; j < DH; j++) diag += c.getEntry(j, j) * c.getEntry(j, j);
                HeadRow r = hr.get(l + "/" + h);
                String at = "layer " + l + " head " + h;
                assertEquals(mf.subtract(mb).getFrobeniusNorm() / mb.getFrobeniusNorm(), r.rel(), 1e-6, at);
                assertEquals(Math.min(1, Math.pow(c.getFrobeniusNorm(), 2) / f2), r.inBasis(), 1e-7, at);
                assertEquals(diag / f2, r.diagonal(), 1e-7, at);
                RealMatrix vf = sf.getV().getSubMatrix(0, D - 1, 0, DH - 1);
                double[] cos = new SingularValueDecomposition(vb.transpose().multiply(vf)).getSingularValues();
                for (int i = 0; i < DH; i++) assertEquals(Math.acos(Math.min(1, cos[i])), r.angles()[i], 1e-5, at + " angle " + i);
            }
        }
    }

    @Test
    void identicalCheckpointsChangeNothing() throws Exception {
        String o = out("same");
        Run run = cli("diff", "--base", write(base, "base", false).toString(), "--finetuned", write(base, "base", true).toString(),
                "--layers", "1-2", "--rank", "5", "--out", o);
        assertEquals(0, run.status(), run.stderr());
        Map<String, HeadRow> hr = heads(o);
        assertEquals(2 * HEADS, hr.size());
        for (var e : hr.entrySet()) {
            HeadRow r = e.getValue();
            assertEquals(0.0, r.rel());
            // at rank 5 the base subspaces hold the top 5 channels only: in_basis = diagonal = Σ_{j<5} σ_j² / Σ σ_j²
            double[] sigma = dense(base, Integer.parseInt(e.getKey().split("/")[0]), Integer.parseInt(e.getKey().split("/")[1])).svd().sigma();
            double top = 0, all = 0;
            for (int j = 0; j < DH; j++) {
                all += sigma[j] * sigma[j];
                if (j < 5) top += sigma[j] * sigma[j];
            }
            assertEquals(top / all, r.inBasis(), 1e-9);
            assertEquals(top / all, r.diagonal(), 1e-9);
            assertEquals(5, r.angles().length);
            for (double a : r.angles()) assertEquals(0, a, 1e-9);
        }
        Map<String, VectorRow> vr = vectors(o);
        assertEquals(2 * HEADS * 5, vr.size());
        for (var e : vr.entrySet()) {
            VectorRow v = e.getValue();
            assertEquals(Integer.parseInt(e.getKey().split("/")[2]), v.match());
            assertEquals(1, v.matchCos(), 1e-9);
            assertEquals(1, v.reweight(), 1e-9);
            assertEquals(v.sigmaBase(), v.sigmaFt());
            assertNull(v.jaccard());
            assertNull(v.gained());
        }
        assertTrue(run.stdout().contains("no head changed"), run.stdout());
        assertTrue(run.stdout().contains("n/a"), run.stdout());
        String runJson = Files.readString(Path.of(o, "_run.json"));
        assertTrue(runJson.contains("\"layout_base\" : \"openclip\"") && runJson.contains("\"layout_finetuned\" : \"hf\""), runJson);
        assertTrue(runJson.contains("\"role\" : \"finetuned\""), runJson);
        assertTrue(Files.exists(Path.of(o, "diff_heads", "_run.json")));
    }

    // ---- LoRA ------------------------------------------------------------------------------------

    static float[] gauss(Random rnd, int n, double std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * std);
        return a;
    }

    /** W + s·B·A computed here, in double, rounded to float. */
    static float[] merge(float[] w, float[] b, float[] a, int rows, int r, int in, double s, int rowOffset) {
        float[] out = w.clone();
        for (int i = 0; i < rows; i++) {
            for (int k = 0; k < in; k++) {
                double x = w[i * in + k];
                for (int t = 0; t < r; t++) x += s * b[(rowOffset + i) * r + t] * a[t * in + k];
                out[i * in + k] = (float) x;
            }
        }
        return out;
    }

    static void writeAdapter(Path dir, Map<String, float[]> tensors, Map<String, long[]> shapes, String config) throws Exception {
        Files.createDirectories(dir);
        LinkedHashMap<String, TensorData> m = new LinkedHashMap<>();
        for (var e : tensors.entrySet()) m.put(e.getKey(), TensorData.f32(e.getValue(), shapes.get(e.getKey())));
        SafeTensorsWriter.write(dir.resolve("adapter_model.safetensors").toString(), new Configuration(), m, Map.of("format", "pt"));
        if (config != null) Files.writeString(dir.resolve("adapter_config.json"), config, StandardCharsets.UTF_8);
    }

    /**
     * An adapter of layer 1's value and out projections (plus q and MLP targets that do not touch a VO
     * map) in HF or OpenCLIP naming, against the same weights merged explicitly and given as --finetuned.
     */
    @ParameterizedTest
    @CsvSource({"true,true,false", "false,false,true", "false,true,false", "true,false,true"})
    void loraAdapterEqualsItsExplicitMerge(boolean hfBase, boolean hfAdapter, boolean rslora) throws Exception {
        Random rnd = new Random(hfAdapter ? 71 : 72);
        int r = 4, rOut = 2;
        double alpha = 8, alphaOut = 3;
        double sv = rslora ? alpha / Math.sqrt(r) : alpha / r;
        double so = rslora ? alphaOut / Math.sqrt(rOut) : alphaOut / rOut;
        int vRows = hfAdapter ? D : 3 * D; // OpenCLIP's fused in-projection: B has q;k;v rows
        float[] av = gauss(rnd, r * D, 0.2), bv = gauss(rnd, vRows * r, 0.2);
        float[] ao = gauss(rnd, rOut * D, 0.2), bo = gauss(rnd, D * rOut, 0.2);
        int qIn = hfAdapter ? D : 4 * D; // OpenCLIP has no separate q: its stand-in is layer 0's MLP c_proj (d × 4d)
        float[] aq = gauss(rnd, r * qIn, 0.2), bq = gauss(rnd, D * r, 0.2);
        float[] am = gauss(rnd, r * D, 0.2), bm = gauss(rnd, 4 * D * r, 0.2);
        String pre = "base_model.model." + (hfAdapter ? "vision_model.encoder.layers." : "visual.transformer.resblocks.");
        Map<String, float[]> t = new LinkedHashMap<>();
        Map<String, long[]> s = new HashMap<>();
        String v = pre + "1." + (hfAdapter ? "self_attn.v_proj" : "attn");
        String o = pre + "1." + (hfAdapter ? "self_attn.out_proj" : "attn.out_proj");
        String q = pre + "0." + (hfAdapter ? "self_attn.q_proj" : "mlp.c_proj");
        String mlp = pre + "2." + (hfAdapter ? "mlp.fc1" : "mlp.c_fc");
        t.put(v + ".lora_A.weight", av); s.put(v + ".lora_A.weight", new long[] {r, D});
        t.put(v + ".lora_B.weight", bv); s.put(v + ".lora_B.weight", new long[] {vRows, r});
        t.put(o + ".lora_A.weight", ao); s.put(o + ".lora_A.weight", new long[] {rOut, D});
        t.put(o + ".lora_B.weight", bo); s.put(o + ".lora_B.weight", new long[] {D, rOut});
        t.put(q + ".lora_A.weight", aq); s.put(q + ".lora_A.weight", new long[] {r, qIn});
        t.put(q + ".lora_B.weight", bq); s.put(q + ".lora_B.weight", new long[] {D, r});
        t.put(mlp + ".lora_A.weight", am); s.put(mlp + ".lora_A.weight", new long[] {r, D});
        t.put(mlp + ".lora_B.weight", bm); s.put(mlp + ".lora_B.weight", new long[] {4 * D, r});
        String config = String.format(java.util.Locale.ROOT, """
                {"peft_type": "LORA", "r": %d, "lora_alpha": %s, "use_rslora": %b, "target_modules": ["v_proj", "out_proj", "q_proj", "fc1", "attn", "c_fc"],
                 "rank_pattern": {"out_proj": %d}, "alpha_pattern": {"out_proj": %s}, "lora_dropout": 0.0, "bias": "none"}
                """, r, alpha, rslora, rOut, alphaOut);
        Path adapter = tmp.resolve("adapter-" + hfBase + hfAdapter + rslora);
        writeAdapter(adapter, t, s, config);

        VisionFixtures merged = fixture();
        float[] vw = merged.vW[1].clone();
        float[] mv = merge(vw, bv, av, D, r, D, sv, hfAdapter ? 0 : 2 * D);
        System.arraycopy(mv, 0, merged.vW[1], 0, mv.length);
        float[] mo = merge(merged.outW[1], bo, ao, D, rOut, D, so, 0);
        System.arraycopy(mo, 0, merged.outW[1], 0, mo.length);
        if (!hfAdapter) { // the fused adapter also moves the q and k rows: they do not enter a VO map but belong to the merge
            float[] mq = merge(merged.qW[1], bv, av, D, r, D, sv, 0);
            System.arraycopy(mq, 0, merged.qW[1], 0, mq.length);
            float[] mk = merge(merged.kW[1], bv, av, D, r, D, sv, D);
            System.arraycopy(mk, 0, merged.kW[1], 0, mk.length);
        }
        float[][] qTarget = hfAdapter ? merged.qW : merged.fc2W;
        float[] mq = merge(qTarget[0], bq, aq, D, r, qIn, sv, 0);
        System.arraycopy(mq, 0, qTarget[0], 0, mq.length);
        float[] mf = merge(merged.fc1W[2], bm, am, 4 * D, r, D, sv, 0);
        System.arraycopy(mf, 0, merged.fc1W[2], 0, mf.length);
        Path mergedFile = hfBase ? merged.writeHuggingFace(tmp.resolve("merged-" + hfBase + hfAdapter + rslora), true)
                : merged.writeOpenClip(tmp.resolve("merged-" + hfBase + hfAdapter + rslora), true);

        String baseFile = write(base, "base", hfBase).toString();
        String viaAdapter = out("lora-" + hfBase + hfAdapter + rslora);
        String viaMerge = out("merged-" + hfBase + hfAdapter + rslora);
        Run a = cli("diff", "--base", baseFile, "--adapter", adapter.toString(), "--out", viaAdapter);
        assertEquals(0, a.status(), a.stderr());
        assertEquals(0, cli("diff", "--base", baseFile, "--finetuned", mergedFile.toString(), "--out", viaMerge).status());
        Map<String, HeadRow> ha = heads(viaAdapter), hm = heads(viaMerge);
        assertEquals(hm.keySet(), ha.keySet());
        for (String key : hm.keySet()) {
            HeadRow x = ha.get(key), y = hm.get(key);
            boolean changed = key.startsWith("1/");
            assertEquals(changed, y.rel() > 1e-3, key + " changed only in layer 1: " + y.rel());
            if (!changed) assertEquals(0.0, x.rel(), key + ": q, MLP and zero targets leave the head maps alone");
            assertEquals(y.rel(), x.rel(), 1e-6 * Math.max(1, y.rel()), key);
            assertEquals(y.inBasis(), x.inBasis(), 1e-6, key);
            assertEquals(y.diagonal(), x.diagonal(), 1e-6, key);
            for (int i = 0; i < DH; i++) assertEquals(y.angles()[i], x.angles()[i], 1e-5, key);
        }
        Map<String, VectorRow> va = vectors(viaAdapter), vm = vectors(viaMerge);
        for (String key : vm.keySet()) {
            assertEquals(vm.get(key).sigmaFt(), va.get(key).sigmaFt(), 1e-6 * Math.max(1, vm.get(key).sigmaFt()), key);
            assertEquals(vm.get(key).reweight(), va.get(key).reweight(), 1e-6, key);
            assertEquals(vm.get(key).match(), va.get(key).match(), key);
        }
        assertTrue(a.stdout().contains("adapter: 2 target(s) merged into head maps; 2 target(s) left out"), a.stdout());
        assertTrue(Files.readString(Path.of(viaAdapter, "_run.json")).contains("adapter_config"));
    }

    // ---- concepts --------------------------------------------------------------------------------

    /** Jaccard, gained and lost of every fine-tuned vector from two decompose runs (one per side), joined by diff's match. */
    @Test
    void conceptOverlapAgreesWithSeparateExplanationsOfBothSides() throws Exception {
        Random rnd = new Random(5);
        int n = 60;
        float[] emb = gauss(rnd, n * P, 1);
        String npy = tmp.resolve("concepts.npy").toString();
        Npy.write(npy, new Configuration(), new long[] {n, P}, emb);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < n; i++) names.add("concept " + i);
        Path vocab = tmp.resolve("concepts.txt");
        Files.writeString(vocab, String.join("\n", names) + "\n");
        String b = write(base, "base", false).toString(), f = write(ft, "ft", true).toString();
        String o = out("concepts");
        Run run = cli("diff", "--base", b, "--finetuned", f, "--concepts", npy, "--vocab", vocab.toString(), "--k", "3", "--rank", "6", "--out", o);
        assertEquals(0, run.status(), run.stderr());
        assertEquals(0, cli("decompose", "--checkpoint", b, "--concepts", npy, "--vocab", vocab.toString(), "--k", "3", "--rank", "6", "--out", out("dec-base")).status());
        assertEquals(0, cli("decompose", "--checkpoint", f, "--concepts", npy, "--vocab", vocab.toString(), "--k", "3", "--rank", "6", "--out", out("dec-ft")).status());
        Map<String, List<String>> eb = explanations(out("dec-base")), ef = explanations(out("dec-ft"));
        Map<String, VectorRow> vr = vectors(o);
        assertEquals(LAYERS * HEADS * 6, vr.size());
        boolean someChange = false;
        for (var e : vr.entrySet()) {
            String[] k = e.getKey().split("/");
            VectorRow v = e.getValue();
            List<String> cf = ef.get(e.getKey());
            List<String> cb = eb.get(k[0] + "/" + k[1] + "/" + v.match());
            Set<String> inter = new HashSet<>(cf);
            inter.retainAll(cb);
            Set<String> union = new HashSet<>(cf);
            union.addAll(cb);
            assertEquals(union.isEmpty() ? 1.0 : (double) inter.size() / union.size(), v.jaccard(), 1e-12, e.getKey());
            List<String> gained = new ArrayList<>(cf);
            gained.removeAll(cb);
            List<String> lost = new ArrayList<>(cb);
            lost.removeAll(cf);
            assertEquals(gained, v.gained(), e.getKey());
            assertEquals(lost, v.lost(), e.getKey());
            boolean untouched = !List.of("0/1", "1/2", "2/0").contains(k[0] + "/" + k[1]);
            if (untouched) assertEquals(1.0, v.jaccard(), e.getKey());
            someChange |= v.jaccard() < 1;
        }
        assertTrue(someChange, "the planted fine-tune changes some explanations");
        assertTrue(Files.readString(Path.of(o, "_run.json")).contains("\"role\" : \"dictionary\""));
        // Defect found in review: each side was coded in its own half-size product. Both sides' 2·6 vectors of every head
        // of a batch now share one product a step: K products per batch of ⌈512 / 12⌉ heads.
        int perBatch = (512 + 12 - 1) / 12;
        int batches = (LAYERS * HEADS + perBatch - 1) / perBatch;
        var rec = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Path.of(o, "_run.json").toFile());
        assertEquals(3L * batches, rec.at("/results/coding_products").asLong(), rec.at("/results").toString());
    }

    /** Concepts with non-zero weight of every explained vector, weight-descending. */
    static Map<String, List<String>> explanations(String out) throws Exception {
        Map<String, List<String>> m = new HashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            ResultSet r = s.executeQuery("SELECT layer, head, sv, list_transform(list_filter(concepts, x -> x.weight <> 0), x -> x.concept) FROM read_parquet('"
                    + out + "/explanations/**/*.parquet', hive_partitioning = true)");
            while (r.next()) m.put(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3), strings(r.getArray(4)));
        }
        return m;
    }

    // ---- refusals --------------------------------------------------------------------------------

    static void refused(Run r, String out, String... needles) {
        assertEquals(2, r.status(), r.stderr());
        long lines = r.stderr().lines().filter(x -> x.contains("sith diff: error:")).count();
        assertEquals(1, lines, r.stderr());
        for (String n : needles) assertTrue(r.stderr().contains(n), "'" + n + "' in: " + r.stderr());
        assertFalse(Files.exists(Path.of(out)), "no output folder");
    }

    @Test
    void mismatchedArchitecturesAndBadAdaptersAreRefused() throws Exception {
        String b = write(base, "base", false).toString();
        Path wide = VisionFixtures.random(1, 32, 8, 64, LAYERS, HEADS, P).writeOpenClip(tmp.resolve("wide"), true);
        Path shallow = VisionFixtures.random(1, 32, 8, D, 2, HEADS, P).writeHuggingFace(tmp.resolve("shallow"), true);
        Path sixHeads = VisionFixtures.random(1, 32, 8, D, LAYERS, 6, P).writeOpenClip(tmp.resolve("six"), true);
        refused(cli("diff", "--base", b, "--finetuned", wide.toString(), "--out", out("r1")), out("r1"), "width 64 vs 48");
        refused(cli("diff", "--base", b, "--finetuned", shallow.toString(), "--out", out("r2")), out("r2"), "2 layers vs 3");
        refused(cli("diff", "--base", b, "--finetuned", sixHeads.toString(), "--out", out("r3")), out("r3"), "6 heads vs 4");
        refused(cli("diff", "--base", b, "--finetuned", b, "--adapter", b, "--out", out("r4")), out("r4"), "either --finetuned");

        String pre = "base_model.model.vision_model.encoder.layers.";
        Random rnd = new Random(3);
        Map<String, long[]> shapes = new HashMap<>();
        Map<String, float[]> ok = new LinkedHashMap<>();
        ok.put(pre + "1.self_attn.v_proj.lora_A.weight", gauss(rnd, 4 * D, 1));
        ok.put(pre + "1.self_attn.v_proj.lora_B.weight", gauss(rnd, 4 * D, 1));
        shapes.put(pre + "1.self_attn.v_proj.lora_A.weight", new long[] {4, D});
        shapes.put(pre + "1.self_attn.v_proj.lora_B.weight", new long[] {D, 4});
        String good = "{\"r\": 4, \"lora_alpha\": 8}";
        Map<String, String> configs = new LinkedHashMap<>();
        configs.put("{\"lora_alpha\": 8}", "r is missing");
        configs.put("{\"r\": 4}", "lora_alpha is missing");
        configs.put("{\"r\": 8, \"lora_alpha\": 8}", "expected (8, in)");
        configs.put("{\"r\": 4, \"lora_alpha\": 8, \"use_dora\": true}", "DoRA");
        int i = 0;
        for (var c : configs.entrySet()) {
            Path dir = tmp.resolve("bad-adapter-" + i++);
            writeAdapter(dir, ok, shapes, c.getKey());
            refused(cli("diff", "--base", b, "--adapter", dir.toString(), "--out", out("ra" + i)), out("ra" + i), "adapter_config.json", c.getValue());
        }
        Path noConfig = tmp.resolve("no-config");
        writeAdapter(noConfig, ok, shapes, null);
        refused(cli("diff", "--base", b, "--adapter", noConfig.toString(), "--out", out("rb")), out("rb"), "adapter_config.json is missing");

        Map<String, float[]> absent = new LinkedHashMap<>();
        absent.put(pre + "7.self_attn.v_proj.lora_A.weight", ok.get(pre + "1.self_attn.v_proj.lora_A.weight"));
        absent.put(pre + "7.self_attn.v_proj.lora_B.weight", ok.get(pre + "1.self_attn.v_proj.lora_B.weight"));
        shapes.put(pre + "7.self_attn.v_proj.lora_A.weight", new long[] {4, D});
        shapes.put(pre + "7.self_attn.v_proj.lora_B.weight", new long[] {D, 4});
        Path layer7 = tmp.resolve("layer7");
        writeAdapter(layer7, absent, shapes, good);
        refused(cli("diff", "--base", b, "--adapter", layer7.toString(), "--out", out("rc")), out("rc"),
                "vision_model.encoder.layers.7.self_attn.v_proj is not in the base checkpoint");
        Map<String, float[]> text = new LinkedHashMap<>();
        text.put("base_model.model.text_model.encoder.layers.0.self_attn.v_proj.lora_A.weight", ok.get(pre + "1.self_attn.v_proj.lora_A.weight"));
        text.put("base_model.model.text_model.encoder.layers.0.self_attn.v_proj.lora_B.weight", ok.get(pre + "1.self_attn.v_proj.lora_B.weight"));
        shapes.put("base_model.model.text_model.encoder.layers.0.self_attn.v_proj.lora_A.weight", new long[] {4, D});
        shapes.put("base_model.model.text_model.encoder.layers.0.self_attn.v_proj.lora_B.weight", new long[] {D, 4});
        Path textOnly = tmp.resolve("text-adapter");
        writeAdapter(textOnly, text, shapes, good);
        refused(cli("diff", "--base", b, "--adapter", textOnly.toString(), "--out", out("rd")), out("rd"), "not in the base checkpoint",
                "transformer.resblocks.0.attn.in_proj_weight");

        // an adapter name inside the keys (lora_A.default.weight) is read too; an existing output is kept unless --overwrite
        Path ok1 = tmp.resolve("good-adapter");
        Map<String, float[]> named = new LinkedHashMap<>();
        Map<String, long[]> namedShapes = new HashMap<>();
        for (var e : ok.entrySet()) {
            String k = e.getKey().replace(".weight", ".default.weight");
            named.put(k, e.getValue());
            namedShapes.put(k, shapes.get(e.getKey()));
        }
        writeAdapter(ok1, named, namedShapes, good);
        assertEquals(0, cli("diff", "--base", b, "--adapter", ok1.toString(), "--out", out("twice")).status());
        Map<String, HeadRow> merged = heads(out("twice"));
        assertTrue(merged.get("1/0").rel() > 0.01, "layer 1's value rows were merged");
        assertEquals(0.0, merged.get("0/0").rel());
        Run again = cli("diff", "--base", b, "--adapter", ok1.toString(), "--out", out("twice"));
        assertEquals(2, again.status());
        assertTrue(again.stderr().contains("diff_heads/ already exists"), again.stderr());
        assertEquals(0, cli("diff", "--base", b, "--adapter", ok1.toString(), "--out", out("twice"), "--overwrite").status());
    }
}
