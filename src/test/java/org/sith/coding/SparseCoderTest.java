package org.sith.coding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.apache.commons.math3.linear.QRDecomposition;
import org.junit.jupiter.api.Test;
import org.sith.UserInputException;

class SparseCoderTest {

    static float[] unitRows(Random rnd, int n, int p) {
        float[] a = new float[n * p];
        for (int j = 0; j < n; j++) {
            double s = 0;
            double[] v = new double[p];
            for (int c = 0; c < p; c++) { v[c] = rnd.nextGaussian(); s += v[c] * v[c]; }
            for (int c = 0; c < p; c++) a[j * p + c] = (float) (v[c] / Math.sqrt(s));
        }
        return a;
    }

    static double[][] gaussian(Random rnd, int b, int p) {
        double[][] xs = new double[b][p];
        for (double[] x : xs) for (int c = 0; c < p; c++) x[c] = rnd.nextGaussian();
        return xs;
    }

    static void assertSameCode(Code expected, Code actual, String what) {
        assertArrayEquals(expected.ids(), actual.ids(), what + ": ids");
        assertArrayEquals(expected.weights(), actual.weights(), 1e-4, what + ": weights");
        assertEquals(expected.fidelity(), actual.fidelity(), 1e-6, what + ": fidelity");
        assertEquals(expected.coherence(), actual.coherence(), 1e-6, what + ": coherence");
        assertArrayEquals(expected.reconstruction(), actual.reconstruction(), 1e-4, what + ": reconstruction");
    }

    @Test
    void batchedCoderEqualsReferenceForAllMethods() {
        Random rnd = new Random(2024);
        int n = 400, p = 48, k = 4;
        float[] atoms = unitRows(rnd, n, p);
        SparseCoder coder = new SparseCoder(atoms, n, p);
        coder.setMaxBatchRows(16);                   // 37 rows: two full chunks and a partial one
        double[][] xs = gaussian(rnd, 37, p);
        for (int r = 0; r < 5; r++) xs[r + 5] = xs[r].clone();   // repeated rows in one batch
        for (Method m : Method.values()) {
            Code[] got = coder.code(xs, m, k, 0.3);
            Code[] one = coder.code(new double[][] {xs[20]}, m, k, 0.3);   // a batch of one
            for (int i = 0; i < xs.length; i++) {
                assertSameCode(ReferenceCoder.codeOne(xs[i], atoms, n, p, m, k, 0.3), got[i], m + " row " + i);
            }
            assertSameCode(ReferenceCoder.codeOne(xs[20], atoms, n, p, m, k, 0.3), one[0], m + " batch of one");
        }
    }

    @Test
    void nearDuplicateAtomsAreResolvedInDouble() {
        // pairs of atoms a few float ulps apart: float scores cannot order them, double ones can
        Random rnd = new Random(5);
        int base = 60, p = 32, k = 3;
        float[] orig = unitRows(rnd, base, p);
        float[] atoms = new float[2 * base * p];
        for (int j = 0; j < base; j++) {
            for (int c = 0; c < p; c++) {
                float v = orig[j * p + c];
                atoms[(2 * j) * p + c] = v;
                atoms[(2 * j + 1) * p + c] = c == j % p ? Math.nextUp(Math.nextUp(v)) : v;
            }
        }
        int n = 2 * base;
        SparseCoder coder = new SparseCoder(atoms, n, p);
        double[][] xs = new double[30][];
        for (int i = 0; i < xs.length; i++) {     // close to one of the pairs
            xs[i] = new double[p];
            int j = rnd.nextInt(base);
            for (int c = 0; c < p; c++) xs[i][c] = atoms[2 * j * p + c] + 0.05 * rnd.nextGaussian();
        }
        // first choice for every method; later steps only where the twin of a chosen atom is not
        // chosen too (COMP's bonus and top-k take both, and splitting weight between two atoms
        // 1e-8 rad apart is beyond double precision)
        for (Method m : Method.values()) {
            int steps = m == Method.COMP || m == Method.TOPK ? 1 : k;
            Code[] got = coder.code(xs, m, steps, 0.2);
            for (int i = 0; i < xs.length; i++) {
                assertSameCode(ReferenceCoder.codeOne(xs[i], atoms, n, p, m, steps, 0.2), got[i], m + " row " + i);
            }
        }
    }

    @Test
    void plantedNonNegativeCodesAreRecoveredExactly() {
        int[][] shapes = {{500, 64, 3}, {2000, 128, 4}, {5000, 256, 5}};
        Random rnd = new Random(99);
        for (int[] s : shapes) {
            int n = s[0], p = s[1], k = s[2];
            float[] atoms = unitRows(rnd, n, p);
            SparseCoder coder = new SparseCoder(atoms, n, p);
            int b = 40;
            double[][] xs = new double[b][p];
            int[][] ids = new int[b][];
            double[][] ws = new double[b][];
            for (int i = 0; i < b; i++) {
                Set<Integer> support = new HashSet<>();
                while (support.size() < k) support.add(rnd.nextInt(n));
                ids[i] = support.stream().mapToInt(Integer::intValue).toArray();
                ws[i] = new double[k];
                for (int a = 0; a < k; a++) {
                    ws[i][a] = 1 + rnd.nextDouble();
                    for (int c = 0; c < p; c++) xs[i][c] += ws[i][a] * atoms[ids[i][a] * p + c];
                }
            }
            for (Method m : new Method[] {Method.COMP, Method.NNOMP}) {
                Code[] got = coder.code(xs, m, k, 0.05);
                for (int i = 0; i < b; i++) {
                    double[] expected = new double[n];
                    for (int a = 0; a < k; a++) expected[ids[i][a]] = ws[i][a];
                    double[] actual = new double[n];
                    for (int a = 0; a < k; a++) actual[got[i].ids()[a]] = got[i].weights()[a];
                    assertArrayEquals(expected, actual, 1e-5, m + " " + Arrays.toString(s) + " row " + i);
                    assertEquals(1.0, got[i].fidelity(), 1e-9);
                }
            }
        }
    }

    /** Basis-vector dictionary: scores are the coordinates of the residual. */
    private static float[] identity(int p) {
        float[] a = new float[p * p];
        for (int j = 0; j < p; j++) a[j * p + j] = 1;
        return a;
    }

    @Test
    void outputIsSortedByWeightThenLowerIdAndZeroWeightsStay() {
        SparseCoder coder = new SparseCoder(identity(6), 6, 6);
        double[] x = {0, 2, 0, 0, 2, 1};
        for (Method m : new Method[] {Method.COMP, Method.NNOMP, Method.MP, Method.TOPK, Method.OMP}) {
            Code c = coder.code(new double[][] {x}, m, 4, 0.0)[0];
            // 1 and 4 tie (weight 2): lower id first; the 4th atom gets weight 0 (lowest free id)
            assertArrayEquals(new int[] {1, 4, 5, 0}, c.ids(), m.toString());
            assertArrayEquals(new double[] {2, 2, 1, 0}, c.weights(), 1e-12, m.toString());
        }
        Code omp = coder.code(new double[][] {{0, 2, 0, -3, 0, 1}}, Method.OMP, 3, 0)[0];
        assertArrayEquals(new int[] {1, 5, 3}, omp.ids());
        assertArrayEquals(new double[] {2, 1, -3}, omp.weights(), 1e-12);
    }

    @Test
    void duplicatedAtomsResolveToTheLowestIndex() {
        Random rnd = new Random(17);
        int n = 50, p = 16;
        float[] atoms = unitRows(rnd, n, p);
        // rows 9, 23 and 41 are copies of row 30
        for (int dup : new int[] {9, 23, 41}) System.arraycopy(atoms, 30 * p, atoms, dup * p, p);
        double[] x = new double[p];
        for (int c = 0; c < p; c++) x[c] = 3 * atoms[30 * p + c];
        SparseCoder coder = new SparseCoder(atoms, n, p);
        for (Method m : Method.values()) {
            Code c = coder.code(new double[][] {x}, m, 2, 0.0)[0];
            assertEquals(9, c.ids()[0], m.toString());
            assertEquals(3.0, c.weights()[0], 1e-6, m.toString());
        }
        Code top = coder.code(new double[][] {x}, Method.TOPK, 4, 0.0)[0];
        assertArrayEquals(new int[] {9, 23, 30, 41}, top.ids());   // all copies; the weight on the first
        assertArrayEquals(new double[] {3, 0, 0, 0}, top.weights(), 1e-6);
    }

    @Test
    void matchingPursuitNeverRepeatsAnAtom() {
        Random rnd = new Random(8);
        int n = 30, p = 6, k = 20;
        float[] atoms = unitRows(rnd, n, p);
        double[] x = gaussian(rnd, 1, p)[0];
        // without the exclusion plain MP would pick some atom twice here
        double[] r = x.clone();
        Set<Integer> seen = new HashSet<>();
        boolean repeats = false;
        for (int t = 0; t < k; t++) {
            int arg = 0;
            double best = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int c = 0; c < p; c++) s += r[c] * atoms[j * p + c];
                if (s > best) { best = s; arg = j; }
            }
            repeats |= !seen.add(arg);
            for (int c = 0; c < p; c++) r[c] -= Math.max(0, best) * atoms[arg * p + c];
        }
        assertTrue(repeats, "test premise: unconstrained MP repeats");
        Code c = new SparseCoder(atoms, n, p).code(new double[][] {x}, Method.MP, k, 0)[0];
        assertEquals(k, Arrays.stream(c.ids()).distinct().count());
        assertSameCode(ReferenceCoder.codeOne(x, atoms, n, p, Method.MP, k, 0), c, "MP");
    }

    @Test
    void ompWeightsAreTheLeastSquaresFitOnItsAtoms() {
        Random rnd = new Random(12);
        int n = 200, p = 24, k = 6;
        float[] atoms = unitRows(rnd, n, p);
        double[][] xs = gaussian(rnd, 10, p);
        Code[] got = new SparseCoder(atoms, n, p).code(xs, Method.OMP, k, 0);
        for (int i = 0; i < xs.length; i++) {
            Array2DRowRealMatrix a = new Array2DRowRealMatrix(p, k);
            for (int b = 0; b < k; b++) {
                for (int c = 0; c < p; c++) a.setEntry(c, b, atoms[got[i].ids()[b] * p + c]);
            }
            double[] direct = new QRDecomposition(a).getSolver().solve(new ArrayRealVector(xs[i])).toArray();
            assertArrayEquals(direct, got[i].weights(), 1e-9, "row " + i);
        }
        // OMP is signed: on random data some weights must be negative
        assertTrue(Arrays.stream(got).flatMapToDouble(c -> Arrays.stream(c.weights())).anyMatch(w -> w < 0));
    }

    @Test
    void fidelityAndCoherenceOnAThreeAtomExample() {
        // d0 = e1, d1 = (0.6, 0.8, 0), d2 = e3: cos(d0,d1) = 0.6, the others 0
        float[] atoms = {1, 0, 0, 0.6f, 0.8f, 0, 0, 0, 1};
        SparseCoder coder = new SparseCoder(atoms, 3, 3);
        double d1x = 0.6f, d1y = 0.8f;
        double cos01 = d1x / Math.sqrt(d1x * d1x + d1y * d1y);

        Code two = coder.code(new double[][] {{2 + d1x, d1y, 0}}, Method.NNOMP, 2, 0)[0];
        assertArrayEquals(new int[] {0, 1}, two.ids());
        assertArrayEquals(new double[] {2, 1}, two.weights(), 1e-12);
        assertEquals(1.0, two.fidelity(), 1e-12);
        assertEquals(cos01, two.coherence(), 1e-12);

        // the third atom is anti-correlated: weight 0, left out of the coherence, fidelity < 1
        Code clipped = coder.code(new double[][] {{2 + d1x, d1y, -1}}, Method.NNOMP, 3, 0)[0];
        assertArrayEquals(new int[] {0, 1, 2}, clipped.ids());
        assertArrayEquals(new double[] {2, 1, 0}, clipped.weights(), 1e-12);
        double n2 = (2 + d1x) * (2 + d1x) + d1y * d1y;
        assertEquals(Math.sqrt(n2 / (n2 + 1)), clipped.fidelity(), 1e-12);
        assertEquals(cos01, clipped.coherence(), 1e-12);

        Code three = coder.code(new double[][] {{2 + d1x, d1y, 0.5}}, Method.NNOMP, 3, 0)[0];
        assertArrayEquals(new double[] {2, 1, 0.5}, three.weights(), 1e-12);
        assertEquals((cos01 + 0 + 0) / 3, three.coherence(), 1e-12);

        Code one = coder.code(new double[][] {{2 + d1x, d1y, 0}}, Method.NNOMP, 1, 0)[0];
        assertEquals(1.0, one.coherence(), 0);

        Code nothing = coder.code(new double[][] {{0, 0, -1}}, Method.NNOMP, 1, 0)[0];
        assertArrayEquals(new int[] {0}, nothing.ids());
        assertEquals(0.0, nothing.weights()[0], 0);
        assertEquals(0.0, nothing.fidelity(), 0);
        assertEquals(1.0, nothing.coherence(), 0);
    }

    @Test
    void coherenceTermChangesTheChoice() {
        // after d0 the residual (0, .5, 0, .5) favours d1 (score .5) over d2 (score 0), but d2 lies
        // close to d0 (cos .71; d1 is orthogonal to it), so lambda = 2 (bonus 1.41) picks d2
        float[] norm = {1, 0, 0, 0, 0, 1, 0, 0, 0.7071068f, 0, 0.7071068f, 0};
        SparseCoder coder = new SparseCoder(norm, 3, 4);
        double[] x = {3, 0.5, 0, 0.5};
        for (double lambda : new double[] {0, 2}) {
            Code got = coder.code(new double[][] {x}, Method.COMP, 2, lambda)[0];
            assertSameCode(ReferenceCoder.codeOne(x, norm, 3, 4, Method.COMP, 2, lambda), got, "lambda " + lambda);
        }
        int withoutBonus = coder.code(new double[][] {x}, Method.COMP, 2, 0)[0].ids()[1];
        int withBonus = coder.code(new double[][] {x}, Method.COMP, 2, 2)[0].ids()[1];
        assertEquals(1, withoutBonus);
        assertEquals(2, withBonus);
    }

    @Test
    void resultsDoNotDependOnBatchingOrThreads() {
        Random rnd = new Random(31);
        int n = 3000, p = 64;
        float[] atoms = unitRows(rnd, n, p);
        double[][] xs = gaussian(rnd, 300, p);
        SparseCoder a = new SparseCoder(atoms, n, p);
        SparseCoder b = new SparseCoder(atoms, n, p);
        b.setMaxBatchRows(7);
        b.setRowThreads(1);
        for (Method m : Method.values()) {
            Code[] x = a.code(xs, m, 5, 0.4), y = b.code(xs, m, 5, 0.4), z = a.code(xs, m, 5, 0.4);
            for (int i = 0; i < xs.length; i++) {
                assertArrayEquals(x[i].ids(), y[i].ids());
                assertArrayEquals(x[i].weights(), y[i].weights(), 0);
                assertArrayEquals(x[i].weights(), z[i].weights(), 0);
                assertEquals(x[i].fidelity(), z[i].fidelity(), 0);
            }
        }
    }

    @Test
    void kLargerThanTheDictionaryIsAUserErrorInTheCoresOwnWords() {
        SparseCoder coder = new SparseCoder(identity(7), 7, 7);
        UserInputException e = assertThrows(UserInputException.class,
                () -> coder.code(new double[][] {new double[7]}, Method.COMP, 10, 0));
        assertEquals("10 concepts per explanation asked, but the dictionary has only 7", e.getMessage()); // the shell names --k
        assertThrows(IllegalArgumentException.class,
                () -> ReferenceCoder.codeOne(new double[7], identity(7), 7, 7, Method.OMP, 10, 0));
    }

    @Test
    void methodNamesParseCaseInsensitively() {
        assertEquals(Method.COMP, Method.parse("comp"));
        assertEquals(Method.NNOMP, Method.parse("NNOMP"));
        assertEquals(Method.OMP, Method.parse("Omp"));
        assertEquals(Method.MP, Method.parse("mp"));
        assertEquals(Method.TOPK, Method.parse("topK"));
        UserInputException e = assertThrows(UserInputException.class, () -> Method.parse("lasso"));
        assertEquals("unknown method 'lasso' (comp, nnomp, omp, mp, topk)", e.getMessage()); // the shell adds "--method: "
    }
}
