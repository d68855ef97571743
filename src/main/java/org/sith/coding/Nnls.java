package org.sith.coding;

/**
 * Non-negative least squares on a Gram system (Lawson–Hanson active set): minimises
 * ½cᵀGc − hᵀc over c ≥ 0, i.e. ‖x − Σ cᵢdᵢ‖² with G the Gram matrix of the atoms and hᵢ = ⟨x, dᵢ⟩.
 */
public final class Nnls {
    private Nnls() {}

    /** Gradient entries below this fraction of the problem scale are treated as zero (KKT met). */
    private static final double GRAD_TOL = 1e-11;

    public static double[] solve(double[][] gram, double[] h) {
        int n = h.length;
        double[] c = new double[n];
        boolean[] passive = new boolean[n];
        // atoms that could not enter (dependent on the passive set, or that left again without
        // any progress): keeps duplicated / collinear atoms from cycling
        boolean[] banned = new boolean[n];
        int[] idx = new int[n];
        double[] w = new double[n];
        double hScale = 0, gScale = 0;
        for (int i = 0; i < n; i++) {
            hScale = Math.max(hScale, Math.abs(h[i]));
            for (int j = 0; j < n; j++) gScale = Math.max(gScale, Math.abs(gram[i][j]));
        }
        for (int outer = 0; outer < 3 * n + 3; outer++) {
            double cMax = 0;
            for (int i = 0; i < n; i++) cMax = Math.max(cMax, c[i]);
            double tol = GRAD_TOL * n * Math.max(hScale, gScale * cMax);
            int enter = -1;
            for (int j = 0; j < n; j++) {
                double s = h[j];
                for (int q = 0; q < n; q++) s -= gram[j][q] * c[q];
                w[j] = s;
                if (!passive[j] && !banned[j] && s > tol && (enter < 0 || s > w[enter])) enter = j;
            }
            if (enter < 0) break;
            passive[enter] = true;
            for (int inner = 0; inner <= n; inner++) {
                int m = 0;
                for (int i = 0; i < n; i++) if (passive[i]) idx[m++] = i;
                double[] s = SmallLinalg.solveSpd(gram, h, idx, m, false);
                if (s == null) {                      // `enter` lies in the span of the others
                    passive[enter] = false;
                    banned[enter] = true;
                    break;
                }
                double alpha = 1;
                int blocking = -1;
                for (int a = 0; a < m; a++) {
                    if (s[a] <= 0) {
                        double ci = c[idx[a]];
                        double step = ci <= 0 ? 0 : ci / (ci - s[a]);
                        if (step < alpha) { alpha = step; blocking = idx[a]; }
                    }
                }
                if (blocking < 0) {                   // interior: take the unconstrained solution
                    for (int i = 0; i < n; i++) c[i] = 0;
                    for (int a = 0; a < m; a++) c[idx[a]] = s[a];
                    break;
                }
                for (int a = 0; a < m; a++) {
                    int i = idx[a];
                    c[i] += alpha * (s[a] - c[i]);
                    if (i == blocking || c[i] <= 0) { c[i] = 0; passive[i] = false; }
                }
                if (!passive[enter] && c[enter] == 0 && alpha == 0) {
                    banned[enter] = true;            // left at once: no progress possible with it
                    break;
                }
            }
        }
        return c;
    }
}
