package org.sith.coding;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Per-row argmax over a column-major (rows x n) float score block, excluding each row's chosen
 * atoms, with exact tie handling: float scores only shortlist the atoms within a margin of the
 * row's best (the margin covers sgemm round-off); when more than one survives, the shortlist is
 * re-scored in double so the choice (ties: lowest index) is that of a double-precision coder.
 */
final class ArgmaxScan {
    /** Float scores of the same atom may differ from the double ones by up to this times |q|·|d|. */
    static final double MARGIN = 1e-4;

    /** Exact score of atom j for a row, used to break near-ties. */
    interface Exact {
        double score(int row, int atom);
    }

    private final float[] best;
    private final float[] thr;
    private final float[] margin;
    private final int[][] candIds;
    private final float[][] candVals;
    private final int[] count;

    ArgmaxScan(int rows) {
        best = new float[rows];
        thr = new float[rows];
        margin = new float[rows];
        candIds = new int[rows][8];
        candVals = new float[rows][8];
        count = new int[rows];
    }

    /** Starts a scan; queryNorm[i] * atomNorm bounds the scores of row i. */
    void reset(int used, double[] queryNorm, double atomNorm) {
        Arrays.fill(best, 0, used, Float.NEGATIVE_INFINITY);
        Arrays.fill(thr, 0, used, Float.NEGATIVE_INFINITY);
        Arrays.fill(count, 0, used, 0);
        for (int i = 0; i < used; i++) {
            margin[i] = (float) (MARGIN * queryNorm[i] * atomNorm) + Float.MIN_NORMAL;
        }
    }

    /** Scans rows [from, to) of the block; |score| when abs (signed OMP). */
    void scan(FloatBuffer scores, int used, int n, int from, int to, boolean abs, RowState[] states) {
        final float[] t = thr;
        if (abs) {
            for (int j = 0, base = 0; j < n; j++, base += used) {
                for (int i = from; i < to; i++) {
                    float v = Math.abs(scores.get(base + i));
                    if (v >= t[i]) offer(i, j, v, states[i]);
                }
            }
        } else {
            for (int j = 0, base = 0; j < n; j++, base += used) {
                for (int i = from; i < to; i++) {
                    float v = scores.get(base + i);
                    if (v >= t[i]) offer(i, j, v, states[i]);
                }
            }
        }
    }

    private void offer(int i, int j, float v, RowState s) {
        if (s.contains(j)) return;
        if (v > best[i]) {
            best[i] = v;
            thr[i] = v - margin[i];
        }
        int c = count[i];
        if (c == candIds[i].length) {
            c = compact(i);
            if (c == candIds[i].length) {
                candIds[i] = Arrays.copyOf(candIds[i], 2 * c);
                candVals[i] = Arrays.copyOf(candVals[i], 2 * c);
            }
        }
        candIds[i][c] = j;
        candVals[i][c] = v;
        count[i] = c + 1;
    }

    /** Drops shortlisted atoms that fell out of the margin; keeps ascending atom order. */
    private int compact(int i) {
        int[] ids = candIds[i];
        float[] vals = candVals[i];
        int kept = 0;
        for (int c = 0; c < count[i]; c++) {
            if (vals[c] >= thr[i]) {
                ids[kept] = ids[c];
                vals[kept] = vals[c];
                kept++;
            }
        }
        count[i] = kept;
        return kept;
    }

    /** The chosen atom of row i after a scan; -1 when the row had no finite score. */
    int choose(int i, boolean abs, Exact exact) {
        int c = compact(i);
        if (c == 0) return -1;
        if (c == 1) return candIds[i][0];
        int arg = -1;
        double bestExact = Double.NEGATIVE_INFINITY;
        for (int a = 0; a < c; a++) {   // ascending ids, strict '>': ties go to the lowest index
            double e = exact.score(i, candIds[i][a]);
            if (abs) e = Math.abs(e);
            if (arg < 0 || e > bestExact) {
                bestExact = e;
                arg = candIds[i][a];
            }
        }
        return arg;
    }
}
