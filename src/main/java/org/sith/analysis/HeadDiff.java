package org.sith.analysis;

import java.io.Serializable;
import java.util.Arrays;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;
import org.sith.heads.HeadBasis;
import org.sith.heads.Side;
import org.sith.heads.VoFactors;
import org.sith.linalg.Vec;

/**
 * SPEC §9 for one head: how the fine-tuned VO map M_ft relates to the base map M_b. With the base
 * bases U_b, V_b (top r) and C = U_bᵀ·M_ft·V_b (r×r): {@code inBasis} = ‖C‖²/‖M_ft‖² (the share of
 * M_ft that reads and writes within the base subspaces), {@code diagonal} = Σ C_jj²/‖M_ft‖² (the
 * share that is a reweighting of base channels), {@code reweight} = C_jj/σ_b,j. Both maps are the
 * folded, centered M_h of SPEC §3: biases (the value bias, LN1's β) are not part of them, LN1's γ is.
 *
 * <p>Undefined quantities are NaN: {@code relChange} when M_b = 0, {@code inBasis}/{@code diagonal}
 * when M_ft = 0, a reweighting factor when σ_b,j = 0.
 *
 * @param relChange      ‖M_ft − M_b‖_F / ‖M_b‖_F
 * @param angles         principal angles between the top-r write subspaces span(v_b) and span(v_ft),
 *                       radians, ascending
 * @param match          per fine-tuned vector j (of the chosen side), the base vector with the
 *                       largest |cos| (lowest index on ties), and that |cos| in {@code matchCos}
 * @param changeEnergy   ‖M_ft − M_b‖²_F
 * @param reweightEnergy Σ_j (C_jj − σ_b,j)²: the diagonal part of U_bᵀ(M_ft − M_b)V_b, i.e. the
 *                       energy of the change that is a reweighting of base channels (≤ changeEnergy)
 */
public record HeadDiff(int layer, int head, double relChange, double inBasis, double diagonal, double[] angles,
                       double[] sigmaBase, double[] sigmaFt, double[] reweight, int[] match, double[] matchCos,
                       double changeEnergy, double reweightEnergy) implements Serializable {
    private static final long serialVersionUID = 1L;

    /**
     * @param fb, ff the folded, centered factors of the base and fine-tuned head
     * @param bb, bf their singular bases at full rank d_h (the norms need every σ)
     * @param rank   the base/fine-tuned vectors compared (≤ d_h)
     * @param side   which vectors are matched: write (right) or read (left)
     */
    public static HeadDiff compute(VoFactors fb, HeadBasis bb, VoFactors ff, HeadBasis bf, int rank, Side side) {
        int d = fb.width();
        int dh = fb.headDim();
        if (ff.width() != d || ff.headDim() != dh) throw new IllegalArgumentException("heads of different shapes");
        if (bb.rank() != dh || bf.rank() != dh) throw new IllegalArgumentException("bases must be at full rank " + dh);
        if (rank < 1 || rank > dh) throw new IllegalArgumentException("rank " + rank + " outside 1.." + dh);
        double normB2 = sumSquares(bb.sigma());
        double normF2 = sumSquares(bf.sigma());
        double change = changeEnergy(fb, ff);

        // C = U_bᵀ·A_ft·B_ftᵀ·V_b from the thin factors (M_ft = A_ft·B_ftᵀ)
        double[][] pa = project(bb.u(), ff.valueT(), rank, d, dh);
        double[][] pb = project(bb.v(), ff.out(), rank, d, dh);
        double c2 = 0;
        double diag2 = 0;
        double reweightEnergy = 0;
        double[] reweight = new double[rank];
        for (int j = 0; j < rank; j++) {
            for (int m = 0; m < rank; m++) {
                double c = Vec.dot(pa[j], pb[m]);
                c2 += c * c;
                if (j == m) {
                    diag2 += c * c;
                    double s = bb.sigma()[j];
                    reweight[j] = s == 0 ? Double.NaN : c / s;
                    reweightEnergy += (c - s) * (c - s);
                }
            }
        }
        double inBasis = normF2 == 0 ? Double.NaN : Math.min(1, c2 / normF2);
        double diagonal = normF2 == 0 ? Double.NaN : Math.min(1, diag2 / normF2);
        double rel = normB2 == 0 ? Double.NaN : Math.sqrt(change / normB2);

        double[][] wb = Arrays.copyOf(bb.side(side), rank);
        double[][] wf = Arrays.copyOf(bf.side(side), rank);
        int[] match = new int[rank];
        double[] matchCos = new double[rank];
        for (int j = 0; j < rank; j++) {
            double best = -1;
            for (int i = 0; i < rank; i++) {
                double c = Math.abs(Vec.dot(wf[j], wb[i]));
                if (c > best) {
                    best = c;
                    match[j] = i;
                }
            }
            matchCos[j] = Math.min(1, best);
        }
        double[] angles = principalAngles(Arrays.copyOf(bb.v(), rank), Arrays.copyOf(bf.v(), rank));
        return new HeadDiff(fb.layer(), fb.head(), rel, inBasis, diagonal, angles, Arrays.copyOf(bb.sigma(), rank),
                Arrays.copyOf(bf.sigma(), rank), reweight, match, matchCos, change, reweightEnergy);
    }

    private static double sumSquares(double[] a) {
        double s = 0;
        for (double x : a) s += x * x;
        return s;
    }

    /** Rows j < r of Wᵀ·F for unit vectors w_j (rows of {@code w}) and a d×d_h row-major factor F. */
    private static double[][] project(double[][] w, double[] f, int r, int d, int dh) {
        double[][] out = new double[r][dh];
        for (int j = 0; j < r; j++) {
            double[] wj = w[j];
            double[] o = out[j];
            for (int k = 0; k < d; k++) {
                double x = wj[k];
                int row = k * dh;
                for (int i = 0; i < dh; i++) o[i] += x * f[row + i];
            }
        }
        return out;
    }

    /**
     * ‖M_ft − M_b‖²_F from the factors, never forming a d×d matrix: M_ft − M_b = ΔA·B_ftᵀ + A_b·ΔBᵀ
     * = X·Yᵀ with X = [ΔA, A_b], Y = [B_ft, ΔB], and ‖X·Yᵀ‖² = Σ (XᵀX)∘(YᵀY). Every term carries a
     * difference, so identical heads give exactly 0 and a small change is not lost to cancellation
     * between ‖M_ft‖² and ‖M_b‖².
     */
    static double changeEnergy(VoFactors fb, VoFactors ff) {
        int d = fb.width();
        int dh = fb.headDim();
        DMatrixRMaj x = new DMatrixRMaj(d, 2 * dh);
        DMatrixRMaj y = new DMatrixRMaj(d, 2 * dh);
        boolean any = false;
        for (int k = 0; k < d; k++) {
            for (int i = 0; i < dh; i++) {
                double da = ff.valueT()[k * dh + i] - fb.valueT()[k * dh + i];
                double db = ff.out()[k * dh + i] - fb.out()[k * dh + i];
                any |= da != 0 || db != 0;
                x.set(k, i, da);
                x.set(k, dh + i, fb.valueT()[k * dh + i]);
                y.set(k, i, ff.out()[k * dh + i]);
                y.set(k, dh + i, db);
            }
        }
        if (!any) return 0;
        DMatrixRMaj gx = new DMatrixRMaj(2 * dh, 2 * dh);
        DMatrixRMaj gy = new DMatrixRMaj(2 * dh, 2 * dh);
        CommonOps_DDRM.multTransA(x, x, gx);
        CommonOps_DDRM.multTransA(y, y, gy);
        double s = 0;
        for (int i = 0; i < gx.data.length; i++) s += gx.data[i] * gy.data[i];
        return Math.max(0, s);
    }

    /**
     * Principal angles between span(a) and span(b), each given by r orthonormal rows, ascending.
     * Cosines are the singular values of AᵀB and sines those of B − A·(AᵀB); small angles are taken
     * from their sines and large ones from their cosines (Knyazev and Argentati), since arccos near 1
     * loses half the digits: identical subspaces give angles of rounding size, not 1e-8.
     */
    public static double[] principalAngles(double[][] a, double[][] b) {
        int r = a.length;
        if (b.length != r) throw new IllegalArgumentException("subspaces of different dimension");
        int d = a[0].length;
        DMatrixRMaj ma = columns(a, d);
        DMatrixRMaj mb = columns(b, d);
        DMatrixRMaj g = new DMatrixRMaj(r, r);
        CommonOps_DDRM.multTransA(ma, mb, g);
        DMatrixRMaj w = mb.copy();
        DMatrixRMaj ag = new DMatrixRMaj(d, r);
        CommonOps_DDRM.mult(ma, g, ag);
        CommonOps_DDRM.subtractEquals(w, ag);
        double[] cos = singularValues(g);
        double[] sin = singularValues(w);
        Arrays.sort(cos); // ascending: the largest cosine (smallest angle) last
        Arrays.sort(sin); // ascending: the smallest sine (smallest angle) first
        double[] out = new double[r];
        for (int i = 0; i < r; i++) {
            double s = Math.min(1, Math.max(0, sin[i]));
            double c = Math.min(1, Math.max(0, cos[r - 1 - i]));
            out[i] = s * s < 0.5 ? Math.asin(s) : Math.acos(c);
        }
        Arrays.sort(out); // the two branches meet at π/4; sorting guards the order against rounding there
        return out;
    }

    private static DMatrixRMaj columns(double[][] rows, int d) {
        DMatrixRMaj m = new DMatrixRMaj(d, rows.length);
        for (int j = 0; j < rows.length; j++) for (int k = 0; k < d; k++) m.set(k, j, rows[j][k]);
        return m;
    }

    private static double[] singularValues(DMatrixRMaj m) {
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(m.numRows, m.numCols, false, false, true);
        if (!svd.decompose(m.copy())) throw new IllegalStateException("SVD failed");
        double[] s = svd.getSingularValues();
        return Arrays.copyOf(s, Math.min(m.numRows, m.numCols));
    }
}
