package org.sith.heads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.Test;

/**
 * The factored head basis against the literal SPEC §3 recipe: fold, center, slice, form the dense
 * d×d VO matrix and decompose it with another library (commons-math3).
 */
class HeadBasisTest {
    static final int D = 48;
    static final int HEADS = 4;
    static final int DH = D / HEADS;

    record Block(float[] inProj, float[] outProj, float[] gamma) {
        float[] valueRows() {
            float[] v = new float[D * D];
            System.arraycopy(inProj, 2 * D * D, v, 0, D * D);
            return v;
        }
    }

    static Block randomBlock(long seed) {
        Random r = new Random(seed);
        float[] in = new float[3 * D * D];
        float[] out = new float[D * D];
        float[] g = new float[D];
        for (int i = 0; i < in.length; i++) in[i] = (float) r.nextGaussian();
        for (int i = 0; i < out.length; i++) out[i] = (float) (r.nextGaussian() + 0.3); // a non-zero column mean to center away
        for (int i = 0; i < D; i++) g[i] = (float) (0.5 + r.nextDouble());
        return new Block(in, out, g);
    }

    /** SPEC §3 steps 1–3 written out plainly on the full matrices. */
    static RealMatrix denseVo(Block b, int head, boolean center) {
        double[][] win = new double[3 * D][D];
        for (int i = 0; i < 3 * D; i++) for (int k = 0; k < D; k++) win[i][k] = b.inProj[i * D + k] * (double) b.gamma[k];
        if (center) {
            for (int i = 0; i < 3 * D; i++) {
                double m = 0;
                for (int k = 0; k < D; k++) m += win[i][k];
                for (int k = 0; k < D; k++) win[i][k] -= m / D;
            }
        }
        double[][] wout = new double[D][D];
        for (int o = 0; o < D; o++) for (int c = 0; c < D; c++) wout[o][c] = b.outProj[o * D + c];
        if (center) {
            for (int c = 0; c < D; c++) {
                double m = 0;
                for (int o = 0; o < D; o++) m += wout[o][c];
                for (int o = 0; o < D; o++) wout[o][c] -= m / D;
            }
        }
        double[][] wv = new double[DH][D];
        for (int i = 0; i < DH; i++) wv[i] = win[2 * D + head * DH + i].clone();
        double[][] wo = new double[D][DH];
        for (int o = 0; o < D; o++) for (int i = 0; i < DH; i++) wo[o][i] = wout[o][head * DH + i];
        RealMatrix wvM = new Array2DRowRealMatrix(wv);
        RealMatrix woM = new Array2DRowRealMatrix(wo);
        return wvM.transpose().multiply(woM.transpose()); // M_h = Wv_hᵀ · Wo_hᵀ
    }

    @Test
    void matchesDenseSvdOfTheExplicitVoMatrix() {
        Block b = randomBlock(1);
        for (int head = 0; head < HEADS; head++) {
            RealMatrix m = denseVo(b, head, true);
            SingularValueDecomposition svd = new SingularValueDecomposition(m);
            double[] expected = svd.getSingularValues();
            HeadBasis basis = HeadBasis.compute(VoFactors.of(0, head, D, DH, b.valueRows(), b.outProj, b.gamma, true), DH);
            for (int j = 0; j < DH; j++) {
                assertEquals(expected[j], basis.sigma()[j], 1e-9 * expected[0], "sigma " + j + " of head " + head);
                // Same singular vectors up to a joint sign (σ are distinct for random weights).
                double cu = dot(basis.u()[j], svd.getU().getColumn(j));
                double cv = dot(basis.v()[j], svd.getV().getColumn(j));
                assertEquals(1.0, Math.abs(cu), 1e-7, "u_" + j);
                assertEquals(cu, cv, 1e-7, "u_j and v_j flip together");
            }
            // M = Σ σ_j u_j v_jᵀ reconstructs the dense matrix.
            for (int r = 0; r < D; r++) {
                for (int c = 0; c < D; c++) {
                    double s = 0;
                    for (int j = 0; j < DH; j++) s += basis.sigma()[j] * basis.u()[j][r] * basis.v()[j][c];
                    assertEquals(m.getEntry(r, c), s, 1e-9 * expected[0]);
                }
            }
        }
    }

    @Test
    void rankDeficientHeadsMatchTheDenseSvd() {
        // A head whose value map reads only 3 directions and whose output map writes only 2 (as after an edit
        // that suppressed vectors, or a pruned model): both thin factors are rank-deficient.
        Block b = randomBlock(4);
        int head = 2;
        for (int i = 3; i < DH; i++) java.util.Arrays.fill(b.inProj, (2 * D + head * DH + i) * D, (2 * D + head * DH + i + 1) * D, 0f);
        for (int o = 0; o < D; o++) {
            for (int i = 0; i < DH; i++) if (i != 0 && i != 5) b.outProj[o * D + head * DH + i] = 0f;
        }
        RealMatrix m = denseVo(b, head, false);
        double[] expected = new SingularValueDecomposition(m).getSingularValues();
        HeadBasis basis = HeadBasis.compute(VoFactors.of(0, head, D, DH, b.valueRows(), b.outProj, b.gamma, false), DH);
        for (int j = 0; j < DH; j++) assertEquals(expected[j], basis.sigma()[j], 1e-9 * expected[0], "sigma " + j);
        assertTrue(expected[2] < 1e-9 * expected[0], "the plant has rank 2");
        for (int r = 0; r < D; r++) {
            for (int c = 0; c < D; c++) {
                double s = 0;
                for (int j = 0; j < 2; j++) s += basis.sigma()[j] * basis.u()[j][r] * basis.v()[j][c];
                assertEquals(m.getEntry(r, c), s, 1e-9 * expected[0]);
            }
        }
    }

    @Test
    void signRuleMakesTheLargestEntryOfEachReadDirectionPositive() {
        HeadBasis basis = HeadBasis.compute(VoFactors.of(2, 1, D, DH, randomBlock(3).valueRows(), randomBlock(3).outProj, randomBlock(3).gamma, true), DH);
        for (double[] u : basis.u()) {
            int arg = 0;
            for (int i = 1; i < u.length; i++) if (Math.abs(u[i]) > Math.abs(u[arg])) arg = i;
            assertTrue(u[arg] > 0);
        }
        assertEquals(2, basis.layer());
        assertEquals(1, basis.head());
    }

    @Test
    void vectorsAreOrthonormalAndRankTruncates() {
        Block b = randomBlock(4);
        HeadBasis full = HeadBasis.compute(VoFactors.of(0, 0, D, DH, b.valueRows(), b.outProj, b.gamma, true), DH);
        HeadBasis top3 = HeadBasis.compute(VoFactors.of(0, 0, D, DH, b.valueRows(), b.outProj, b.gamma, true), 3);
        assertEquals(3, top3.rank());
        for (int i = 0; i < DH; i++) {
            for (int j = 0; j < DH; j++) {
                assertEquals(i == j ? 1.0 : 0.0, dot(full.v()[i], full.v()[j]), 1e-9);
                assertEquals(i == j ? 1.0 : 0.0, dot(full.u()[i], full.u()[j]), 1e-9);
            }
        }
        assertArrayEquals(java.util.Arrays.copyOf(full.sigma(), 3), top3.sigma(), 1e-12);
        assertArrayEquals(full.v()[2], top3.v()[2], 1e-12);
        // Centered write directions have zero mean: LayerNorm would remove that component anyway.
        for (double[] v : full.v()) assertEquals(0, java.util.Arrays.stream(v).sum(), 1e-9);
    }

    @Test
    void withoutCenteringTheDenseMatrixIsTheUncenteredOne() {
        Block b = randomBlock(5);
        RealMatrix m = denseVo(b, 2, false);
        HeadBasis basis = HeadBasis.compute(VoFactors.of(0, 2, D, DH, b.valueRows(), b.outProj, b.gamma, false), DH);
        assertEquals(new SingularValueDecomposition(m).getSingularValues()[0], basis.sigma()[0], 1e-9 * basis.sigma()[0]);
    }

    @Test
    void tiedSingularValuesAreFlaggedDegenerate() {
        // Plant M = U diag(σ) Vᵀ with σ_3 = σ_4 exactly and σ_7 within 1e-4 relative of σ_8.
        Random r = new Random(9);
        double[][] u = orthonormal(r, DH);
        double[][] v = orthonormal(r, DH);
        double[] sigma = new double[DH];
        for (int j = 0; j < DH; j++) sigma[j] = 10 - j * 0.5;
        sigma[4] = sigma[3];
        sigma[8] = sigma[7] * (1 - 1e-4);
        float[] value = new float[D * D];
        float[] out = new float[D * D];
        float[] gamma = new float[D];
        java.util.Arrays.fill(gamma, 1f);
        for (int j = 0; j < DH; j++) {
            for (int k = 0; k < D; k++) value[j * D + k] = (float) (sigma[j] * u[j][k]); // head 0: rows 0..DH of the value block
            for (int o = 0; o < D; o++) out[o * D + j] = (float) v[j][o];
        }
        HeadBasis basis = HeadBasis.compute(VoFactors.of(0, 0, D, DH, value, out, gamma, false), DH);
        for (int j = 0; j < DH; j++) {
            boolean expected = j == 3 || j == 4 || j == 7 || j == 8;
            assertEquals(expected, basis.degenerate()[j], "degenerate flag of sv " + j);
        }
        assertFalse(basis.degenerate()[0]);
    }

    @Test
    void illConditionedFactorsTakeTheHouseholderRouteAndStayExact() {
        // σ from 10 down to 1e-5: cond(Wv) = 1e6, far past the Cholesky route's limit.
        Random r = new Random(11);
        double[][] u = orthonormal(r, DH);
        double[][] v = orthonormal(r, DH);
        float[] value = new float[D * D];
        float[] out = new float[D * D];
        float[] gamma = new float[D];
        java.util.Arrays.fill(gamma, 1f);
        for (int j = 0; j < DH; j++) {
            double sigma = 10 * Math.pow(1e-6, j / (double) (DH - 1));
            for (int k = 0; k < D; k++) value[j * D + k] = (float) (sigma * u[j][k]);
            for (int o = 0; o < D; o++) out[o * D + j] = (float) v[j][o];
        }
        Block b = new Block(concat(new float[2 * D * D], value), out, gamma);
        RealMatrix m = denseVo(b, 0, false);
        SingularValueDecomposition svd = new SingularValueDecomposition(m);
        HeadBasis basis = HeadBasis.compute(VoFactors.of(0, 0, D, DH, value, out, gamma, false), DH);
        for (int j = 0; j < DH; j++) {
            assertEquals(svd.getSingularValues()[j], basis.sigma()[j], 1e-12 + 1e-9 * svd.getSingularValues()[j], "sigma " + j);
            assertEquals(1.0, Math.abs(dot(basis.v()[j], svd.getV().getColumn(j))), 1e-6, "v_" + j);
        }
    }

    /**
     * A value factor whose R has a unit diagonal but cond₂ ≈ 1e6 (R = I − 2·strict upper triangle, whose inverse grows
     * like 3ⁿ): a diagonal-ratio test sees 1 and would take the Cholesky route, whose Q then loses orthogonality at
     * u·cond² ≈ 1e-4. The bound ‖R‖_F·‖R⁻¹‖_F sees it and the basis stays exact.
     */
    @Test
    void aUnitDiagonalHidesNoIllConditioning() {
        Random r = new Random(12);
        double[][] q = orthonormal(r, DH);
        double[][] rr = new double[DH][DH];
        for (int i = 0; i < DH; i++) {
            rr[i][i] = 1;
            for (int j = i + 1; j < DH; j++) rr[i][j] = -2;
        }
        float[] value = new float[D * D];
        float[] out = new float[D * D];
        float[] gamma = new float[D];
        java.util.Arrays.fill(gamma, 1f);
        for (int i = 0; i < DH; i++) {
            for (int k = 0; k < D; k++) {
                double a = 0;
                for (int m = 0; m <= i; m++) a += q[m][k] * rr[m][i];
                value[i * D + k] = (float) a;
            }
        }
        double[][] w = orthonormal(r, DH);
        for (int o = 0; o < D; o++) for (int i = 0; i < DH; i++) out[o * D + i] = (float) w[i][o];
        Block b = new Block(concat(new float[2 * D * D], value), out, gamma);
        RealMatrix m = denseVo(b, 0, false);
        double[] expected = new SingularValueDecomposition(m).getSingularValues();
        assertTrue(expected[0] / expected[DH - 1] > 1e5, "the plant is ill-conditioned: " + expected[0] / expected[DH - 1]);
        HeadBasis basis = HeadBasis.compute(VoFactors.of(0, 0, D, DH, value, out, gamma, false), DH);
        for (int j = 0; j < DH; j++) {
            assertEquals(expected[j], basis.sigma()[j], 1e-9 * expected[0], "sigma " + j);
            for (int i = 0; i <= j; i++) {
                assertEquals(i == j ? 1 : 0, dot(basis.u()[i], basis.u()[j]), 1e-9, "u_" + i + "·u_" + j);
                assertEquals(i == j ? 1 : 0, dot(basis.v()[i], basis.v()[j]), 1e-9, "v_" + i + "·v_" + j);
            }
        }
    }

    static float[] concat(float[] a, float[] b) {
        float[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static double[][] orthonormal(Random r, int n) {
        double[][] q = new double[n][D];
        for (int j = 0; j < n; j++) {
            for (int k = 0; k < D; k++) q[j][k] = r.nextGaussian();
            for (int pass = 0; pass < 2; pass++) {
                for (int i = 0; i < j; i++) {
                    double d = dot(q[j], q[i]);
                    for (int k = 0; k < D; k++) q[j][k] -= d * q[i][k];
                }
            }
            double nn = Math.sqrt(dot(q[j], q[j]));
            for (int k = 0; k < D; k++) q[j][k] /= nn;
        }
        return q;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
