package org.sith.coding;

import java.util.ArrayList;
import java.util.List;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.apache.commons.math3.linear.DecompositionSolver;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;

/**
 * A slow, plain double-precision coder of one vector, written straight from the definitions and
 * independently of {@link SparseCoder} (no native products, no Gram systems): scores are literal dot
 * products, least squares are solved on the p x |S| design matrix by QR, and the non-negative
 * fit enumerates every support (exact, exponential: meant for tests, k up to ~12).
 */
public final class ReferenceCoder {
    private ReferenceCoder() {}

    public static Code codeOne(double[] x, float[] atoms, int n, int p, Method m, int k, double lambda) {
        if (k > n) throw new IllegalArgumentException("k " + k + " is larger than the dictionary (" + n + " concepts)");
        double lam = m == Method.COMP ? lambda : 0.0;
        List<Integer> chosen = new ArrayList<>();
        double[] w = new double[0];
        double[] r = x.clone();
        if (m == Method.TOPK) {
            for (int t = 0; t < k; t++) {
                int arg = -1;
                double best = 0;
                for (int j = 0; j < n; j++) {
                    if (chosen.contains(j)) continue;
                    double s = dot(x, row(atoms, p, j));
                    if (arg < 0 || s > best) { arg = j; best = s; }
                }
                chosen.add(arg);
            }
            w = nonNegativeFit(x, atoms, p, chosen);
        } else {
            for (int t = 0; t < k; t++) {
                double[] mean = new double[p];
                for (int j : chosen) {
                    double[] d = row(atoms, p, j);
                    for (int c = 0; c < p; c++) mean[c] += d[c] / chosen.size();
                }
                int arg = -1;
                double best = 0;
                for (int j = 0; j < n; j++) {
                    if (chosen.contains(j)) continue;
                    double[] d = row(atoms, p, j);
                    double s = dot(r, d) + (t > 0 ? lam * dot(mean, d) : 0.0);
                    if (m == Method.OMP) s = Math.abs(s);
                    if (arg < 0 || s > best) { arg = j; best = s; }
                }
                chosen.add(arg);
                if (m == Method.MP) {
                    double[] d = row(atoms, p, arg);
                    double wt = Math.max(0.0, dot(r, d));
                    w = java.util.Arrays.copyOf(w, chosen.size());
                    w[chosen.size() - 1] = wt;
                    for (int c = 0; c < p; c++) r[c] -= wt * d[c];
                    continue;
                }
                w = m == Method.OMP ? leastSquares(x, atoms, p, chosen) : nonNegativeFit(x, atoms, p, chosen);
                r = x.clone();
                for (int a = 0; a < chosen.size(); a++) {
                    double[] d = row(atoms, p, chosen.get(a));
                    for (int c = 0; c < p; c++) r[c] -= w[a] * d[c];
                }
            }
        }
        return finish(x, atoms, p, chosen, w);
    }

    private static Code finish(double[] x, float[] atoms, int p, List<Integer> chosen, double[] w) {
        int k = chosen.size();
        // selection sort: weight descending, then id ascending
        int[] ids = new int[k];
        double[] ws = new double[k];
        boolean[] used = new boolean[k];
        for (int o = 0; o < k; o++) {
            int pick = -1;
            for (int a = 0; a < k; a++) {
                if (used[a]) continue;
                if (pick < 0 || w[a] > w[pick] || (w[a] == w[pick] && chosen.get(a) < chosen.get(pick))) pick = a;
            }
            used[pick] = true;
            ids[o] = chosen.get(pick);
            ws[o] = w[pick];
        }
        double[] recon = new double[p];
        for (int o = 0; o < k; o++) {
            double[] d = row(atoms, p, ids[o]);
            for (int c = 0; c < p; c++) recon[c] += ws[o] * d[c];
        }
        double nx = Math.sqrt(dot(x, x)), nr = Math.sqrt(dot(recon, recon));
        double fidelity = (nx == 0 || nr == 0) ? 0.0 : dot(x, recon) / (nx * nr);
        double sum = 0;
        int pairs = 0;
        for (int a = 0; a < k; a++) {
            for (int b = a + 1; b < k; b++) {
                if (ws[a] == 0 || ws[b] == 0) continue;
                double[] da = row(atoms, p, ids[a]), db = row(atoms, p, ids[b]);
                sum += dot(da, db) / Math.sqrt(dot(da, da) * dot(db, db));
                pairs++;
            }
        }
        return new Code(ids, ws, fidelity, pairs == 0 ? 1.0 : sum / pairs, recon);
    }

    /** Exact NNLS by enumerating supports: the best feasible unconstrained fit over all subsets. */
    static double[] nonNegativeFit(double[] x, float[] atoms, int p, List<Integer> chosen) {
        int k = chosen.size();
        double[] best = new double[k];
        double bestErr = dot(x, x);
        for (int mask = 1; mask < (1 << k); mask++) {
            List<Integer> sub = new ArrayList<>();
            List<Integer> pos = new ArrayList<>();
            for (int a = 0; a < k; a++) {
                if ((mask & (1 << a)) != 0) { sub.add(chosen.get(a)); pos.add(a); }
            }
            double[] c;
            try {
                c = solve(x, atoms, p, sub, false);
            } catch (RuntimeException singular) {
                continue;
            }
            boolean feasible = true;
            for (double v : c) feasible &= v >= 0;
            if (!feasible) continue;
            double err = residualNorm2(x, atoms, p, sub, c);
            if (err < bestErr) {
                bestErr = err;
                best = new double[k];
                for (int a = 0; a < c.length; a++) best[pos.get(a)] = c[a];
            }
        }
        return best;
    }

    /** Unconstrained least squares (minimum-norm when the atoms are dependent). */
    static double[] leastSquares(double[] x, float[] atoms, int p, List<Integer> chosen) {
        try {
            return solve(x, atoms, p, chosen, false);
        } catch (RuntimeException singular) {
            return solve(x, atoms, p, chosen, true);
        }
    }

    private static double[] solve(double[] x, float[] atoms, int p, List<Integer> cols, boolean svd) {
        RealMatrix a = new Array2DRowRealMatrix(p, cols.size());
        for (int b = 0; b < cols.size(); b++) {
            double[] d = row(atoms, p, cols.get(b));
            for (int c = 0; c < p; c++) a.setEntry(c, b, d[c]);
        }
        DecompositionSolver s = svd ? new SingularValueDecomposition(a).getSolver()
                : new QRDecomposition(a, 1e-10).getSolver();
        return s.solve(new ArrayRealVector(x, false)).toArray();
    }

    private static double residualNorm2(double[] x, float[] atoms, int p, List<Integer> cols, double[] c) {
        double[] r = x.clone();
        for (int b = 0; b < cols.size(); b++) {
            double[] d = row(atoms, p, cols.get(b));
            for (int q = 0; q < p; q++) r[q] -= c[b] * d[q];
        }
        return dot(r, r);
    }

    private static double[] row(float[] atoms, int p, int j) {
        double[] d = new double[p];
        for (int c = 0; c < p; c++) d[c] = atoms[j * p + c];
        return d;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
