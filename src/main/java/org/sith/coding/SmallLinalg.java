package org.sith.coding;

/** Dense algebra on the tiny (k x k) Gram systems of the greedy coders, in double. */
final class SmallLinalg {
    private SmallLinalg() {}

    /**
     * Pivots below this fraction of the largest diagonal entry mean the atom is (numerically) a
     * combination of the ones before it; 1e-12 is far above round-off for unit atoms yet only
     * catches atoms within ~1e-6 rad of a span.
     */
    static final double PIVOT_TOL = 1e-12;

    /**
     * Solves G[idx,idx] s = h[idx] by Cholesky for the m indices in idx. A dependent column
     * (tiny pivot) gets coefficient 0 and is left out when dropDependent, otherwise the call
     * returns null. The result is indexed like idx (length m).
     */
    static double[] solveSpd(double[][] g, double[] h, int[] idx, int m, boolean dropDependent) {
        double maxDiag = 0;
        for (int a = 0; a < m; a++) maxDiag = Math.max(maxDiag, g[idx[a]][idx[a]]);
        double[][] l = new double[m][m];
        boolean[] dropped = new boolean[m];
        for (int a = 0; a < m; a++) {
            for (int b = 0; b <= a; b++) {
                if (dropped[b]) continue;
                double s = g[idx[a]][idx[b]];
                for (int q = 0; q < b; q++) s -= l[a][q] * l[b][q];
                if (a == b) {
                    if (!(s > PIVOT_TOL * maxDiag)) {
                        if (!dropDependent) return null;
                        dropped[a] = true;
                        for (int q = 0; q < a; q++) l[a][q] = 0;
                    } else {
                        l[a][a] = Math.sqrt(s);
                    }
                } else {
                    l[a][b] = s / l[b][b];
                }
            }
        }
        double[] y = new double[m];
        for (int a = 0; a < m; a++) {
            if (dropped[a]) continue;
            double s = h[idx[a]];
            for (int q = 0; q < a; q++) s -= l[a][q] * y[q];
            y[a] = s / l[a][a];
        }
        double[] x = new double[m];
        for (int a = m - 1; a >= 0; a--) {
            if (dropped[a]) continue;
            double s = y[a];
            for (int q = a + 1; q < m; q++) s -= l[q][a] * x[q];
            x[a] = s / l[a][a];
        }
        return x;
    }
}
