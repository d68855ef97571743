package org.sith.coding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.sith.UserInputException;
import org.sith.linalg.Gemm;
import org.sith.linalg.OneDnn;

/**
 * SPEC §12: bf16 scoring selects exactly what exact arithmetic selects. The bound is checked against
 * scores oneDNN really computed and a double-precision product; the selections of every coder against
 * the f32 path and the plain double ReferenceCoder, on dictionaries with planted near-ties far closer
 * than bf16 can resolve; and a shrunken bound is shown to break them, so the comparison can fail.
 */
class CertifiedScoringTest {

    /** Where oneDNN cannot run bf16 at all, the bf16 tests are skipped and auto falls back; the skip names why. */
    private static void assumeBf16() {
        String why = OneDnn.unavailable();
        if (why != null) {
            assertEquals(Scoring.FP32, Scoring.AUTO.resolve(), "auto falls back to fp32 where oneDNN cannot run");
            assertThrows(UserInputException.class, Scoring.BF16::resolve);
        }
        Assumptions.assumeTrue(why == null, "oneDNN cannot run here (" + why + "): auto falls back to fp32, bf16 is refused");
    }

    @Test
    void autoTakesBf16ExactlyWhereOneDnnHasAmx() {
        String why = OneDnn.unavailable();
        Scoring auto = Scoring.AUTO.resolve();
        boolean amx = why == null && OneDnn.hasAmx();
        assertEquals(amx ? Scoring.BF16 : Scoring.FP32, auto, "ISA " + OneDnn.isaName());
        boolean cpuinfoAmx = false;
        try {
            cpuinfoAmx = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cpuinfo")).contains(" amx_bf16");
        } catch (java.io.IOException e) {
            Assumptions.abort("no /proc/cpuinfo");
        }
        if (why == null) assertEquals(cpuinfoAmx, amx, "oneDNN's ISA (" + OneDnn.isaName() + ") against /proc/cpuinfo's amx_bf16 flag");
        System.out.println("CertifiedScoringTest: oneDNN ISA " + OneDnn.isaName() + ", auto -> " + auto.label());
        assertTrue(Scoring.AUTO.describe().startsWith("auto -> " + auto.label()), Scoring.AUTO.describe());
    }

    @Test
    void bf16RoundingIsNearestEven() {
        // against the definition, bit by bit: 1 + 2^-8 is a tie (goes to even 1), 1 + 3·2^-8 rounds up
        assertEquals(1f, OneDnn.fromBf16(OneDnn.bf16(1f + 0x1p-8f)));
        assertEquals(1f + 0x1p-6f, OneDnn.fromBf16(OneDnn.bf16(1f + 3 * 0x1p-8f)));
        assertEquals(1f + 0x1p-7f, OneDnn.fromBf16(OneDnn.bf16(1f + 0x1p-7f + 0x1p-9f)), "below the tie");
        Random rnd = new Random(4);
        for (int i = 0; i < 100_000; i++) {
            float f = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(9) - 4));
            float h = OneDnn.fromBf16(OneDnn.bf16(f));
            // no other bf16 number (its two neighbours in bit order) is closer to f
            double err = Math.abs((double) f - h);
            assertTrue(err <= Math.abs((double) f - OneDnn.fromBf16((short) (OneDnn.bf16(f) + 1))), f + " not nearest (next)");
            assertTrue(err <= Math.abs((double) f - OneDnn.fromBf16((short) (OneDnn.bf16(f) - 1))), f + " not nearest (previous)");
        }
    }

    @Test
    void boundHoldsForEveryScoreOneDnnComputes() {
        assumeBf16();
        Random rnd = new Random(12);
        int n = 3000, p = 768, m = 64;
        float[] d = SparseCoderTest.unitRows(rnd, n, p);
        for (int j = 0; j < n * p; j += 7) d[j] *= 1.5f;             // atoms of different norms
        OneDnn.PackedB packed = new OneDnn.PackedB(Gemm.matrix(d, n, p).pointer(), n, p, m);
        OneDnn.Product product = new OneDnn.Product(packed);
        ScoreBound bound = new ScoreBound(p, packed.maxRoundingError(), packed.maxRoundedNorm());
        double[][] q = new double[m][p];
        for (int i = 0; i < m; i++) for (int c = 0; c < p; c++) q[i][c] = rnd.nextGaussian() * (i % 3 == 0 ? 1e-3 : 1);
        double[] e = new double[m];
        for (int i = 0; i < m; i++) {
            short[] h = new short[p];
            double norm = 0, err = 0, rn = 0;
            for (int c = 0; c < p; c++) {
                h[c] = OneDnn.bf16((float) q[i][c]);
                double v = OneDnn.fromBf16(h[c]);
                norm += q[i][c] * q[i][c];
                err += (q[i][c] - v) * (q[i][c] - v);
                rn += v * v;
            }
            new ShortPointer(product.input()).position((long) i * p).put(h);
            e[i] = bound.of(Math.sqrt(norm), Math.sqrt(err), Math.sqrt(rn));
        }
        product.run(m);
        float[] s = new float[m * n];
        new FloatPointer(product.output()).get(s);
        double worstShare = 0, maxErr = 0;
        for (int i = 0; i < m; i++) {
            double qn = Math.sqrt(Arrays.stream(q[i]).map(x -> x * x).sum());
            for (int j = 0; j < n; j++) {
                double exact = 0;
                for (int c = 0; c < p; c++) exact += q[i][c] * d[j * p + c];
                double diff = Math.abs(exact - s[i * n + j]);
                maxErr = Math.max(maxErr, diff / qn);
                worstShare = Math.max(worstShare, diff / e[i]);
                assertTrue(diff <= e[i], "row " + i + " atom " + j + ": |exact − bf16| = " + diff + " > E = " + e[i]);
            }
            // the bound is the data-dependent one, well inside SPEC's a-priori C·‖q‖·max‖d‖
            double u = 0x1p-8, gamma = p * 0x1p-24 / (1 - p * 0x1p-24);
            double apriori = (2 * u + u * u + gamma * (1 + u) * (1 + u)) * qn * 1.5;
            assertTrue(e[i] < apriori, "E " + e[i] + " vs a-priori " + apriori);
        }
        assertTrue(maxErr > 1e-4, "bf16 scores really are reduced precision (max relative error " + maxErr + ")");
        System.out.printf("CertifiedScoringTest: %s, max |exact − bf16| / ‖q‖ = %.2e, worst use of the bound %.0f %%%n",
                packed.implementation(), maxErr, 100 * worstShare);
    }

    /**
     * A dictionary where atoms come in pairs 1e-5 apart (bf16 cannot tell them apart) and targets built
     * from them, so nearly every choice is a near-tie that only the double re-scoring settles.
     */
    private static float[] nearTies(Random rnd, int pairs, int p) {
        float[] base = SparseCoderTest.unitRows(rnd, pairs, p);
        float[] a = new float[2 * pairs * p];
        for (int j = 0; j < pairs; j++) {
            double s = 0;
            double[] v = new double[p];
            for (int c = 0; c < p; c++) {
                v[c] = base[j * p + c] + 1e-5 * rnd.nextGaussian();
                s += v[c] * v[c];
            }
            for (int c = 0; c < p; c++) {
                a[2 * j * p + c] = base[j * p + c];
                a[(2 * j + 1) * p + c] = (float) (v[c] / Math.sqrt(s));
            }
        }
        return a;
    }

    private static double[][] targets(Random rnd, float[] atoms, int n, int p, int count) {
        double[][] xs = new double[count][p];
        for (double[] x : xs) {
            for (int t = 0; t < 4; t++) {
                int j = rnd.nextInt(n);
                double w = 0.5 + rnd.nextDouble();
                for (int c = 0; c < p; c++) x[c] += w * atoms[j * p + c];
            }
            for (int c = 0; c < p; c++) x[c] += 0.05 * rnd.nextGaussian();
        }
        return xs;
    }

    private record Planted(float[] atoms, double[][] targets) {}

    private static final int PLANTED_P = 256;
    private static final int PLANTED_N = 1200;
    /** 600 near-tied pairs and 150 targets of 4 atoms each plus noise. */
    private static final Planted PLANTED = planted();

    private static Planted planted() {
        Random rnd = new Random(77);
        float[] atoms = nearTies(rnd, PLANTED_N / 2, PLANTED_P);
        return new Planted(atoms, targets(rnd, atoms, PLANTED_N, PLANTED_P, 150));
    }

    @Test
    void everyCoderSelectsTheSameOnBothPathsAndAsDoubleArithmetic() {
        assumeBf16();
        int p = PLANTED_P, n = PLANTED_N, k = 5;
        float[] atoms = PLANTED.atoms();
        double[][] xs = PLANTED.targets();
        SparseCoder f32 = new SparseCoder(atoms, n, p, Scoring.FP32);
        SparseCoder bf16 = new SparseCoder(atoms, n, p, Scoring.BF16);
        f32.setMaxBatchRows(64);
        bf16.setMaxBatchRows(64);
        for (Method m : Method.values()) {
            Code[] a = f32.code(xs, m, k, 0.3);
            Code[] b = bf16.code(xs, m, k, 0.3);
            for (int i = 0; i < xs.length; i++) {
                assertArrayEquals(a[i].ids(), b[i].ids(), m + " row " + i + ": ids");
                assertArrayEquals(a[i].weights(), b[i].weights(), 0.0, m + " row " + i + ": weights bit for bit");
                assertEquals(a[i].fidelity(), b[i].fidelity(), 0.0);
                assertArrayEquals(a[i].reconstruction(), b[i].reconstruction(), 0.0);
                if (i % 10 == 0) {
                    Code r = ReferenceCoder.codeOne(xs[i], atoms, n, p, m, k, m == Method.COMP ? 0.3 : 0);
                    assertArrayEquals(r.ids(), b[i].ids(), m + " row " + i + ": the double reference");
                }
            }
        }
        assertTrue(bf16.rescoredChoices() > bf16.choices() / 4,
                "the near-ties were really settled by re-scoring: " + bf16.rescoredChoices() + " of " + bf16.choices());
    }

    @Test
    void aShrunkenBoundBreaksExactness() {
        assumeBf16();
        int p = PLANTED_P, n = PLANTED_N, k = 5;
        float[] atoms = PLANTED.atoms();
        double[][] xs = PLANTED.targets();
        SparseCoder exact = new SparseCoder(atoms, n, p, Scoring.FP32);
        SparseCoder broken = new SparseCoder(atoms, n, p, Scoring.BF16);
        broken.boundScale = 1e-6;
        int differ = 0;
        Code[] a = exact.code(xs, Method.COMP, k, 0.3);
        Code[] b = broken.code(xs, Method.COMP, k, 0.3);
        for (int i = 0; i < xs.length; i++) if (!Arrays.equals(a[i].ids(), b[i].ids())) differ++;
        assertNotEquals(0, differ, "with the shortlist cut to 1e-6 of the bound, bf16 picks other atoms");
        assertFalse(differ == xs.length, "but not everywhere: " + differ);
    }

    /** Products of 1, 2, 5 and all rows (some run by a larger primitive, oneDNN wanting B otherwise) give the same rows. */
    @Test
    void everyRowCountGivesTheRowsOfTheFullProduct() {
        assumeBf16();
        Random rnd = new Random(5);
        int n = 300, p = 96, max = 16;
        float[] d = SparseCoderTest.unitRows(rnd, n, p);
        OneDnn.Product product = new OneDnn.Product(new OneDnn.PackedB(Gemm.matrix(d, n, p).pointer(), n, p, max));
        short[] h = new short[max * p];
        for (int i = 0; i < h.length; i++) h[i] = OneDnn.bf16((float) rnd.nextGaussian());
        product.input().put(h);
        product.run(max);
        float[] full = new float[max * n];
        new FloatPointer(product.output()).get(full);
        for (int rows : new int[] {1, 2, 5}) {
            new FloatPointer(product.output()).put(new float[max * n]);
            product.run(rows);
            float[] got = new float[rows * n];
            new FloatPointer(product.output()).get(got);
            // the same rows, up to the accumulation order a kernel for another row count may choose
            assertArrayEquals(Arrays.copyOf(full, rows * n), got, 1e-4f, rows + " rows");
        }
    }

    @Test
    void bf16IsRefusedOnlyWhereOneDnnCannotLoad() {
        if (OneDnn.unavailable() == null) {
            assertEquals(Scoring.BF16, Scoring.BF16.resolve(), "bf16 runs wherever oneDNN does, AMX or not");
        } else {
            UserInputException e = assertThrows(UserInputException.class, Scoring.BF16::resolve);
            assertTrue(e.getMessage().startsWith("--scoring bf16: oneDNN cannot run"), e.getMessage());
        }
        assertThrows(UserInputException.class, () -> Scoring.parse("int8"));
    }
}
