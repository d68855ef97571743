package org.sith.analysis;

import java.io.Serializable;
import java.util.Arrays;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The MLP counterpart of SPEC §9 for one block: how the fine-tuned write matrix W_ft relates to the base W_b, both the
 * block's output map (c_proj / fc2, d × hidden) with each column's mean over the d outputs removed (the centered write
 * vectors w_i of SPEC §3b; biases stay out).
 *
 * <p>Why not the head diff's in_basis as it stands: with hidden = 4d ≥ d the column span of a generic W_b is the whole
 * (centered) residual space, so the share of W_ft inside it is 1 whatever the fine-tune did. Two questions stay
 * meaningful and are what this reports:
 * <ul>
 * <li>Does the fine-tune write into directions the base MLP hardly used? {@code inBasis} = ‖Q_bᵀ·W_ft‖²_F / ‖W_ft‖²_F
 * with Q_b the orthonormal top-r left singular vectors of W_b, r = {@code basisRank} the fewest that hold
 * {@link #ENERGY} (99%) of ‖W_b‖²_F. W_b itself scores ≥ 0.99 by construction; a fine-tune that writes along the base's
 * minor directions scores less. (Q_b comes from the eigenvectors of W_b·W_bᵀ, d × d.)</li>
 * <li>Did each neuron keep its write direction? Neurons keep their identity through fine-tuning (no permutation
 * symmetry is broken by training from the base), so base and fine-tuned column i are compared directly:
 * {@code meanCos}/{@code minCos} the mean and least cos(w_b,i, w_ft,i) (neurons with a zero column on either side
 * left out), {@code diagonal} = Σ_i ⟨w_ft,i, ŵ_b,i⟩² / ‖W_ft‖²_F the share of the fine-tuned write energy along each
 * neuron's own base direction (1 for a pure per-neuron rescaling, as the head diff's diagonal is for a reweighting
 * of base channels), and {@code reweighting} = Σ_i (⟨w_ft,i, ŵ_b,i⟩ − ‖w_b,i‖)² / ‖W_ft − W_b‖²_F the share of the
 * change that rescales neurons rather than turning them.</li>
 * </ul>
 * Undefined quantities are NaN: relChange when W_b = 0, inBasis and diagonal when W_ft = 0, reweighting when nothing
 * changed, the cosines when no neuron has two non-zero columns.
 *
 * @param changed      neurons whose centered write column changed at all
 * @param changeEnergy ‖W_ft − W_b‖²_F
 */
public record MlpDiff(int layer, int neurons, double relChange, double inBasis, int basisRank, double diagonal, double reweighting,
                      double meanCos, double minCos, int minCosNeuron, int changed, double changeEnergy) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The share of the base write energy the basis of {@code inBasis} holds. */
    public static final double ENERGY = 0.99;

    /** @param base, ft the stored (d, hidden) output-map weights, (out, in) row-major */
    public static MlpDiff compute(int layer, float[] base, float[] ft, int d, int hidden) {
        if (base.length != (long) d * hidden || ft.length != base.length) throw new IllegalArgumentException("write matrices of different shapes");
        double[] wb = centered(base, d, hidden);
        double[] wf = centered(ft, d, hidden);
        double normB2 = 0;
        double normF2 = 0;
        double change = 0;
        for (int k = 0; k < wb.length; k++) {
            normB2 += wb[k] * wb[k];
            normF2 += wf[k] * wf[k];
            double x = wf[k] - wb[k];
            change += x * x;
        }
        double diag = 0;
        double reweight = 0;
        double cosSum = 0;
        int cosCount = 0;
        double minCos = Double.NaN;
        int minNeuron = -1;
        int changed = 0;
        for (int i = 0; i < hidden; i++) {
            double nb = 0;
            double nf = 0;
            double dot = 0;
            boolean moved = false;
            for (int o = 0; o < d; o++) {
                double b = wb[o * hidden + i];
                double f = wf[o * hidden + i];
                nb += b * b;
                nf += f * f;
                dot += b * f;
                moved |= b != f;
            }
            if (moved) changed++;
            nb = Math.sqrt(nb);
            nf = Math.sqrt(nf);
            if (nb > 0) {
                double along = dot / nb;
                diag += along * along;
                reweight += (along - nb) * (along - nb);
            }
            if (nb > 0 && nf > 0) {
                double c = Math.max(-1, Math.min(1, dot / (nb * nf)));
                cosSum += c;
                cosCount++;
                if (Double.isNaN(minCos) || c < minCos) {
                    minCos = c;
                    minNeuron = i;
                }
            }
        }
        int[] rank = new int[1];
        double inBasis = normF2 == 0 ? Double.NaN : Math.min(1, energyIn(topBasis(wb, d, hidden, normB2, rank), wf, d, hidden) / normF2);
        return new MlpDiff(layer, hidden, normB2 == 0 ? Double.NaN : Math.sqrt(change / normB2), inBasis, rank[0],
                normF2 == 0 ? Double.NaN : Math.min(1, diag / normF2), change == 0 ? Double.NaN : Math.min(1, reweight / change),
                cosCount == 0 ? Double.NaN : cosSum / cosCount, minCos, minNeuron, changed, change);
    }

    /** The (d, hidden) weight with each column's mean over the d outputs removed, in double. */
    static double[] centered(float[] w, int d, int hidden) {
        double[] c = new double[w.length];
        double[] mean = new double[hidden];
        for (int o = 0; o < d; o++) for (int i = 0; i < hidden; i++) mean[i] += w[o * hidden + i];
        for (int i = 0; i < hidden; i++) mean[i] /= d;
        for (int o = 0; o < d; o++) for (int i = 0; i < hidden; i++) c[o * hidden + i] = w[o * hidden + i] - mean[i];
        return c;
    }

    /**
     * The fewest top left singular vectors of W (as rows, unit) whose σ² hold {@link #ENERGY} of ‖W‖²_F, from the
     * eigenvectors of W·Wᵀ; their count in {@code rank[0]} (0 for W = 0).
     */
    static double[][] topBasis(double[] w, int d, int hidden, double norm2, int[] rank) {
        if (norm2 == 0) {
            rank[0] = 0;
            return new double[0][];
        }
        DMatrixRMaj m = DMatrixRMaj.wrap(d, hidden, w);
        DMatrixRMaj g = new DMatrixRMaj(d, d);
        CommonOps_DDRM.multTransB(m, m, g);
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(d, true, true);
        if (!eig.decompose(g)) throw new IllegalStateException("eigendecomposition failed");
        Integer[] order = new Integer[d];
        double[] values = new double[d];
        for (int j = 0; j < d; j++) {
            order[j] = j;
            values[j] = eig.getEigenvalue(j).getReal();
        }
        Arrays.sort(order, (a, b) -> Double.compare(values[b], values[a]));
        double total = 0;
        for (double v : values) total += Math.max(0, v);
        double kept = 0;
        int r = 0;
        while (r < d && kept < ENERGY * total) kept += Math.max(0, values[order[r++]]);
        double[][] q = new double[r][];
        for (int j = 0; j < r; j++) {
            DMatrixRMaj v = eig.getEigenVector(order[j]);
            double n = 0;
            for (int k = 0; k < d; k++) n += v.get(k) * v.get(k);
            n = Math.sqrt(n);
            q[j] = new double[d];
            for (int k = 0; k < d; k++) q[j][k] = v.get(k) / n;
        }
        rank[0] = r;
        return q;
    }

    /** ‖Qᵀ·W‖²_F for orthonormal rows q_j. */
    static double energyIn(double[][] q, double[] w, int d, int hidden) {
        double s = 0;
        double[] p = new double[hidden];
        for (double[] qj : q) {
            Arrays.fill(p, 0);
            for (int o = 0; o < d; o++) {
                double x = qj[o];
                if (x == 0) continue;
                int row = o * hidden;
                for (int i = 0; i < hidden; i++) p[i] += x * w[row + i];
            }
            for (double v : p) s += v * v;
        }
        return s;
    }
}
