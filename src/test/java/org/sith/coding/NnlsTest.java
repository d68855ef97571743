package org.sith.coding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

class NnlsTest {

    /** Minimum of ½cᵀGc − hᵀc over c ≥ 0 by trying every support with Gaussian elimination. */
    private static double bruteForceMin(double[][] g, double[] h, double[] argmin) {
        int n = h.length;
        double best = 0;                          // the empty support, c = 0
        java.util.Arrays.fill(argmin, 0);
        for (int mask = 1; mask < (1 << n); mask++) {
            int[] s = new int[Integer.bitCount(mask)];
            for (int i = 0, m = 0; i < n; i++) if ((mask & (1 << i)) != 0) s[m++] = i;
            double[] c = gauss(g, h, s);
            if (c == null) continue;
            boolean feasible = true;
            for (double v : c) feasible &= v >= -1e-12;
            if (!feasible) continue;
            double[] full = new double[n];
            for (int a = 0; a < s.length; a++) full[s[a]] = Math.max(0, c[a]);
            double f = objective(g, h, full);
            if (f < best) {
                best = f;
                System.arraycopy(full, 0, argmin, 0, n);
            }
        }
        return best;
    }

    private static double[] gauss(double[][] g, double[] h, int[] s) {
        int m = s.length;
        double[][] a = new double[m][m + 1];
        for (int r = 0; r < m; r++) {
            for (int c = 0; c < m; c++) a[r][c] = g[s[r]][s[c]];
            a[r][m] = h[s[r]];
        }
        for (int col = 0; col < m; col++) {
            int piv = col;
            for (int r = col + 1; r < m; r++) if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) piv = r;
            if (Math.abs(a[piv][col]) < 1e-10) return null;
            double[] t = a[col]; a[col] = a[piv]; a[piv] = t;
            for (int r = 0; r < m; r++) {
                if (r == col) continue;
                double f = a[r][col] / a[col][col];
                for (int c = col; c <= m; c++) a[r][c] -= f * a[col][c];
            }
        }
        double[] x = new double[m];
        for (int r = 0; r < m; r++) x[r] = a[r][m] / a[r][r];
        return x;
    }

    private static double objective(double[][] g, double[] h, double[] c) {
        double f = 0;
        for (int i = 0; i < c.length; i++) {
            f -= h[i] * c[i];
            for (int j = 0; j < c.length; j++) f += 0.5 * c[i] * g[i][j] * c[j];
        }
        return f;
    }

    /** Gram system of n atoms in dim dimensions (some duplicated / collinear when degenerate). */
    private static double[][][] problem(Random rnd, int n, int dim, boolean degenerate) {
        double[][] atoms = new double[n][dim];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < dim; c++) atoms[i][c] = rnd.nextGaussian();
            if (degenerate && i > 0 && rnd.nextInt(3) == 0) {
                int src = rnd.nextInt(i);
                double f = rnd.nextBoolean() ? 1 : 0.5 + rnd.nextDouble();
                for (int c = 0; c < dim; c++) atoms[i][c] = f * atoms[src][c];
            }
        }
        double[] x = new double[dim];
        for (int c = 0; c < dim; c++) x[c] = rnd.nextGaussian() * (1 + rnd.nextInt(100));
        double[][] g = new double[n][n];
        double[] h = new double[n];
        for (int i = 0; i < n; i++) {
            h[i] = dot(atoms[i], x);
            for (int j = 0; j < n; j++) g[i][j] = dot(atoms[i], atoms[j]);
        }
        return new double[][][] {g, {h}};
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void matchesBruteForceOnWellPosedProblems() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 400; trial++) {
            int n = 1 + rnd.nextInt(7);
            double[][][] pr = problem(rnd, n, n + rnd.nextInt(5), false);
            double[][] g = pr[0];
            double[] h = pr[1][0];
            double[] expected = new double[n];
            double fmin = bruteForceMin(g, h, expected);
            double[] c = Nnls.solve(g, h);
            double scale = 1e-9 * (1 + Math.abs(fmin));
            assertEquals(fmin, objective(g, h, c), scale, "trial " + trial);
            double cScale = 0;
            for (double v : expected) cScale = Math.max(cScale, Math.abs(v));
            assertArrayEquals(expected, c, 1e-7 * (1 + cScale), "trial " + trial);
        }
    }

    @Test
    void degenerateProblemsReachTheMinimumAndStayFeasible() {
        Random rnd = new Random(11);
        for (int trial = 0; trial < 400; trial++) {
            int n = 1 + rnd.nextInt(8);
            int dim = 1 + rnd.nextInt(4);                // often fewer dimensions than atoms
            double[][][] pr = problem(rnd, n, dim, true);
            double[][] g = pr[0];
            double[] h = pr[1][0];
            double fmin = bruteForceMin(g, h, new double[n]);
            double[] c = Nnls.solve(g, h);
            for (double v : c) assertTrue(v >= 0, "negative weight in trial " + trial);
            assertEquals(fmin, objective(g, h, c), 1e-8 * (1 + Math.abs(fmin)), "trial " + trial);
        }
    }

    @Test
    void manyCopiesOfOneAtomTerminateWithTheWeightOnTheFirst() {
        int n = 12;
        double[][] g = new double[n][n];
        double[] h = new double[n];
        for (int i = 0; i < n; i++) {
            h[i] = 3;
            java.util.Arrays.fill(g[i], 1);
        }
        double[] c = Nnls.solve(g, h);
        double[] expected = new double[n];
        expected[0] = 3;
        assertArrayEquals(expected, c, 1e-12);
    }

    @Test
    void orthonormalAtomsClipNegativeCorrelations() {
        double[][] g = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        assertArrayEquals(new double[] {1, 0, 3}, Nnls.solve(g, new double[] {1, -2, 3}), 1e-15);
        assertArrayEquals(new double[] {0, 0, 0}, Nnls.solve(g, new double[] {-1, -2, 0}), 0);
    }

    @Test
    void isDeterministic() {
        Random rnd = new Random(3);
        double[][][] pr = problem(rnd, 6, 3, true);
        assertArrayEquals(Nnls.solve(pr[0], pr[1][0]), Nnls.solve(pr[0], pr[1][0]), 0);
    }
}
