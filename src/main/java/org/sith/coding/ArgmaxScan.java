package org.sith.coding;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Per-row argmax over a row-major (rows x n) float score block, excluding each row's chosen atoms,
 * exact: the block only shortlists the atoms within 2E of the row's best, E a proven bound on the
 * difference between a block score and the exact one (SPEC §12, {@link ScoreBound}); when more than one
 * survives, the shortlist is re-scored in double and the exact argmax taken (ties: lowest index). So the
 * choice is that of a double-precision coder whatever precision filled the block.
 */
final class ArgmaxScan {
    /** Exact score of atom j for a row. */
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

    /** Starts a scan; bound[i] is E for row i (the width of the shortlist is 2E, rounded up in float). */
    void reset(int used, double[] bound) {
        Arrays.fill(best, 0, used, Float.NEGATIVE_INFINITY);
        Arrays.fill(thr, 0, used, Float.NEGATIVE_INFINITY);
        Arrays.fill(count, 0, used, 0);
        for (int i = 0; i < used; i++) margin[i] = Math.nextUp((float) (2 * bound[i]));
    }

    /** Scans rows [from, to) of the block (row i at i·n); |score| when abs (signed OMP). */
    void scan(FloatBuffer scores, int n, int from, int to, boolean abs, RowState[] states) {
        float[] row = new float[n];
        for (int i = from; i < to; i++) {
            scores.get(i * n, row, 0, n);
            RowState s = states[i];
            float t = thr[i];
            if (abs) {
                for (int j = 0; j < n; j++) {
                    float v = Math.abs(row[j]);
                    if (v >= t) t = offer(i, j, v, s);
                }
            } else {
                for (int j = 0; j < n; j++) {
                    float v = row[j];
                    if (v >= t) t = offer(i, j, v, s);
                }
            }
        }
    }

    /**
     * Keeps atom j as a candidate of row i; returns the row's threshold. Both roundings go outward (the
     * margin up, best − margin down), so the float threshold never exceeds best − 2E and no atom the
     * bound requires is dropped.
     */
    private float offer(int i, int j, float v, RowState s) {
        if (s.contains(j)) return thr[i];
        if (v > best[i]) {
            best[i] = v;
            thr[i] = Math.nextDown(v - margin[i]);
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
        return thr[i];
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

    /** The shortlist's size for row i after a scan (the atoms re-scored in double when above 1). */
    int candidates(int i) {
        return compact(i);
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
