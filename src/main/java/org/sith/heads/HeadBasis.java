package org.sith.heads;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The singular basis of one head's value-output map M_h = Wv_hᵀ·Wo_hᵀ (SPEC §3), computed from the
 * thin factors: QR of Wv_hᵀ (d×d_h) and of Wo_h (d×d_h), then the SVD of the d_h×d_h core. The dense
 * d×d matrix is never formed: it has rank ≤ d_h, and its SVD would cost seconds instead of
 * milliseconds.
 *
 * @param sigma      singular values, descending (length r)
 * @param u          read directions, u[j] is a unit d-vector (sign rule applied)
 * @param v          write directions, v[j] is a unit d-vector
 * @param degenerate true where σ_j lies within a relative {@link #DEGENERATE_TOL} of a neighbour
 */
public record HeadBasis(int layer, int head, double[] sigma, double[][] u, double[][] v, boolean[] degenerate) {

    public static final double DEGENERATE_TOL = 1e-3;

    public int rank() {
        return sigma.length;
    }

    /** The first r vectors (degeneracy as judged at this basis' own rank). */
    public HeadBasis top(int r) {
        if (r < 1 || r > rank()) throw new IllegalArgumentException("rank " + r + " outside 1.." + rank());
        return new HeadBasis(layer, head, java.util.Arrays.copyOf(sigma, r), java.util.Arrays.copyOf(u, r),
                java.util.Arrays.copyOf(v, r), java.util.Arrays.copyOf(degenerate, r));
    }

    /** The explained vectors: write directions (right) or read directions (left). */
    public double[][] side(Side s) {
        return s == Side.RIGHT ? v : u;
    }

    /**
     * @param factors folded, centered VO factors of the head
     * @param rank    vectors kept (≤ d_h); degeneracy is judged against all d_h values first
     */
    public static HeadBasis compute(VoFactors factors, int rank) {
        int d = factors.width();
        int dh = factors.headDim();
        if (rank < 1 || rank > dh) {
            throw new IllegalArgumentException("rank " + rank + " outside 1.." + dh);
        }
        DMatrixRMaj a = new DMatrixRMaj(d, dh, true, factors.valueT());
        DMatrixRMaj b = new DMatrixRMaj(d, dh, true, factors.out());
        // Thin factors A = Qa·Ra, B = Qb·Rb, so M = Qa·(Ra·Rbᵀ)·Qbᵀ and the SVD of the small core
        // gives M's singular values and rotations.
        Factor fa = Factor.of(a);
        Factor fb = Factor.of(b);
        DMatrixRMaj core = new DMatrixRMaj(dh, dh);
        CommonOps_DDRM.multTransB(fa.r, fb.r, core);
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(dh, dh, true, true, false);
        if (!svd.decompose(core)) {
            throw new IllegalStateException("SVD failed for layer " + factors.layer() + " head " + factors.head());
        }
        DMatrixRMaj uk = svd.getU(null, false);
        DMatrixRMaj vk = svd.getV(null, false);
        DMatrixRMaj w = svd.getW(null);
        SingularOps_DDRM.descendingOrder(uk, false, w, vk, false);
        DMatrixRMaj uFull = fa.apply(uk);
        DMatrixRMaj vFull = fb.apply(vk);

        double[] allSigma = new double[dh];
        for (int j = 0; j < dh; j++) allSigma[j] = w.get(j, j);
        boolean[] allDegenerate = degenerate(allSigma);

        double[] sigma = new double[rank];
        double[][] u = new double[rank][d];
        double[][] v = new double[rank][d];
        boolean[] deg = new boolean[rank];
        for (int j = 0; j < rank; j++) {
            sigma[j] = allSigma[j];
            deg[j] = allDegenerate[j];
            for (int i = 0; i < d; i++) {
                u[j][i] = uFull.get(i, j);
                v[j][i] = vFull.get(i, j);
            }
            applySignRule(u[j], v[j]);
        }
        return new HeadBasis(factors.layer(), factors.head(), sigma, u, v, deg);
    }

    /**
     * The R of a thin QR and the way to apply its Q. A well-conditioned factor takes the Cholesky
     * route (R from the d_h×d_h Gram matrix, Q·X = A·(R⁻¹X)): half the cost of Householder, but its
     * error grows with cond(A)². It is taken only when cond₂(A) = cond₂(R) is provably below
     * {@link #CHOLESKY_MAX_COND} (error then below about 1e-10): the bound used is
     * ‖R‖_F·‖R⁻¹‖_F ≥ cond₂(R), cheap because R is triangular. (The ratio of R's largest to smallest
     * diagonal entry is not such a bound: it is a lower bound of cond₂(R), and a factor with a unit
     * diagonal can be arbitrarily ill-conditioned.) Otherwise Householder QR is used.
     */
    record Factor(DMatrixRMaj r, DMatrixRMaj a, DMatrixRMaj q, DMatrixRMaj rinv) {
        static final double CHOLESKY_MAX_COND = 1e3;

        static Factor of(DMatrixRMaj a) {
            int dh = a.numCols;
            DMatrixRMaj gram = new DMatrixRMaj(dh, dh);
            CommonOps_DDRM.multTransA(a, a, gram);
            CholeskyDecomposition_F64<DMatrixRMaj> chol = DecompositionFactory_DDRM.chol(dh, false);
            if (chol.decompose(gram)) {
                DMatrixRMaj r = chol.getT(null);
                DMatrixRMaj rinv = new DMatrixRMaj(dh, dh);
                if (CommonOps_DDRM.invert(r, rinv) && conditionBound(r, rinv) < CHOLESKY_MAX_COND) return new Factor(r, a, null, rinv);
            }
            QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(a.numRows, dh);
            if (qr.decompose(a.copy())) return new Factor(qr.getR(null, true), null, qr.getQ(null, true), null);
            // Householder QR refuses a rank-deficient factor (a head whose value or output map lost
            // dimensions, e.g. after an edit that suppressed vectors). The thin SVD A = U·(S·Vᵀ)
            // serves as well: any orthonormal Q with A = Q·R gives the same core SVD.
            SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(a.numRows, dh, true, true, true);
            if (!svd.decompose(a.copy())) throw new IllegalStateException("SVD of a " + a.numRows + "×" + dh + " factor failed");
            DMatrixRMaj sv = new DMatrixRMaj(dh, dh);
            CommonOps_DDRM.multTransB(svd.getW(null), svd.getV(null, false), sv);
            return new Factor(sv, null, svd.getU(null, false), null);
        }

        /** ‖R‖_F·‖R⁻¹‖_F, an upper bound of cond₂(R) (both Frobenius norms bound the spectral ones from above). */
        static double conditionBound(DMatrixRMaj r, DMatrixRMaj rinv) {
            double b = NormOps_DDRM.normF(r) * NormOps_DDRM.normF(rinv);
            return Double.isFinite(b) ? b : Double.POSITIVE_INFINITY;
        }

        /** Q·x for a d_h×d_h x. */
        DMatrixRMaj apply(DMatrixRMaj x) {
            int dh = x.numRows;
            DMatrixRMaj out = new DMatrixRMaj(q != null ? q.numRows : a.numRows, x.numCols);
            if (q != null) {
                CommonOps_DDRM.mult(q, x, out);
            } else {
                DMatrixRMaj y = new DMatrixRMaj(dh, x.numCols);
                CommonOps_DDRM.mult(rinv, x, y);
                CommonOps_DDRM.mult(a, y, out);
            }
            return out;
        }
    }

    /** Flip (u, v) together so the entry of u with the largest magnitude (first on ties) is positive. */
    static void applySignRule(double[] u, double[] v) {
        int arg = 0;
        for (int i = 1; i < u.length; i++) {
            if (Math.abs(u[i]) > Math.abs(u[arg])) arg = i;
        }
        if (u[arg] < 0) {
            for (int i = 0; i < u.length; i++) u[i] = -u[i];
            for (int i = 0; i < v.length; i++) v[i] = -v[i];
        }
    }

    /** A singular value tied with a neighbour defines only the span of the tied vectors. */
    static boolean[] degenerate(double[] sigma) {
        boolean[] out = new boolean[sigma.length];
        for (int j = 0; j + 1 < sigma.length; j++) {
            double a = sigma[j];
            double b = sigma[j + 1];
            if (Math.abs(a - b) <= DEGENERATE_TOL * Math.max(Math.abs(a), Math.abs(b))) {
                out[j] = true;
                out[j + 1] = true;
            }
        }
        return out;
    }
}
