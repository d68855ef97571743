package org.sith.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.Test;
import org.sith.heads.HeadBasis;
import org.sith.heads.Side;
import org.sith.heads.VoFactors;

/** SPEC §9 quantities of one head against dense algebra (commons-math SVD of explicitly built d×d maps). */
class HeadDiffTest {

    /** Rows of a random d×d orthogonal matrix. */
    static double[][] orthonormalRows(int d, Random rnd) {
        double[][] g = new double[d][d];
        for (double[] row : g) for (int i = 0; i < d; i++) row[i] = rnd.nextGaussian();
        RealMatrix q = new QRDecomposition(new Array2DRowRealMatrix(g)).getQ();
        return q.transpose().getData();
    }

    @Test
    void plantedPrincipalAnglesComeBackAscendingIncludingTinyOnes() {
        int d = 20;
        double[][] q = orthonormalRows(d, new Random(3));
        double[] theta = {1.5, 1e-9, 0.9, 0.3};
        double[][] a = new double[4][];
        double[][] b = new double[4][d];
        for (int i = 0; i < 4; i++) {
            a[i] = q[i];
            for (int k = 0; k < d; k++) b[i][k] = Math.cos(theta[i]) * q[i][k] + Math.sin(theta[i]) * q[4 + i][k];
        }
        double[] got = HeadDiff.principalAngles(a, b);
        double[] want = theta.clone();
        Arrays.sort(want);
        assertEquals(want[0], got[0], 1e-15, "a 1e-9 angle is kept (arccos of its cosine would give 0 or ~1e-8)");
        for (int i = 1; i < 4; i++) assertEquals(want[i], got[i], 1e-12);
        // the same subspace given by another basis: all angles zero
        double[][] mixed = new double[4][d];
        for (int i = 0; i < 4; i++) for (int k = 0; k < d; k++) mixed[i][k] = (i % 2 == 0 ? 0.6 : -0.8) * q[i][k] + (i % 2 == 0 ? 0.8 : 0.6) * q[i ^ 1][k];
        for (double x : HeadDiff.principalAngles(a, mixed)) assertEquals(0, x, 1e-14);
    }

    @Test
    void randomSubspacesMatchArccosOfDenseSingularValues() {
        Random rnd = new Random(5);
        int d = 30;
        int r = 6;
        double[][] a = Arrays.copyOf(orthonormalRows(d, rnd), r);
        double[][] b = Arrays.copyOf(orthonormalRows(d, rnd), r);
        double[] got = HeadDiff.principalAngles(a, b);
        RealMatrix m = new Array2DRowRealMatrix(a).multiply(new Array2DRowRealMatrix(b).transpose());
        double[] s = new SingularValueDecomposition(m).getSingularValues(); // descending
        for (int i = 0; i < r; i++) assertEquals(Math.acos(Math.min(1, s[i])), got[i], 1e-10);
        for (int i = 1; i < r; i++) assertTrue(got[i] >= got[i - 1]);
    }

    static float[] gauss(int n, Random rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    /** M = A·Bᵀ of the factors, dense. */
    static RealMatrix dense(VoFactors f) {
        int d = f.width(), dh = f.headDim();
        double[][] a = new double[d][dh], b = new double[d][dh];
        for (int k = 0; k < d; k++) {
            for (int i = 0; i < dh; i++) {
                a[k][i] = f.valueT()[k * dh + i];
                b[k][i] = f.out()[k * dh + i];
            }
        }
        return new Array2DRowRealMatrix(a).multiply(new Array2DRowRealMatrix(b).transpose());
    }

    @Test
    void everyQuantityMatchesDenseAlgebraAtTruncatedRank() {
        Random rnd = new Random(11);
        int d = 24, heads = 3, dh = 8, r = 5;
        float[] value = gauss(d * d, rnd), out = gauss(d * d, rnd), gamma = gauss(d, rnd);
        float[] value2 = value.clone(), out2 = out.clone();
        for (int i = 0; i < value2.length; i++) value2[i] += 0.3f * (float) rnd.nextGaussian();
        for (int i = 0; i < out2.length; i++) out2[i] += 0.2f * (float) rnd.nextGaussian();
        for (Side side : Side.values()) {
            VoFactors fb = VoFactors.of(2, 1, d, dh, value, out, gamma, true);
            VoFactors ff = VoFactors.of(2, 1, d, dh, value2, out2, gamma, true);
            HeadDiff h = HeadDiff.compute(fb, HeadBasis.compute(fb, dh), ff, HeadBasis.compute(ff, dh), r, side);
            RealMatrix mb = dense(fb), mf = dense(ff);
            SingularValueDecomposition sb = new SingularValueDecomposition(mb), sf = new SingularValueDecomposition(mf);
            assertEquals(mf.subtract(mb).getFrobeniusNorm() / mb.getFrobeniusNorm(), h.relChange(), 1e-10);
            assertEquals(Math.pow(mf.subtract(mb).getFrobeniusNorm(), 2), h.changeEnergy(), 1e-9 * h.changeEnergy());
            RealMatrix ub = sb.getU().getSubMatrix(0, d - 1, 0, r - 1), vb = sb.getV().getSubMatrix(0, d - 1, 0, r - 1);
            RealMatrix c = ub.transpose().multiply(mf).multiply(vb);
            double f2 = Math.pow(mf.getFrobeniusNorm(), 2);
            assertEquals(Math.pow(c.getFrobeniusNorm(), 2) / f2, h.inBasis(), 1e-10);
            double diag = 0, rw = 0;
            for (int j = 0; j < r; j++) {
                diag += c.getEntry(j, j) * c.getEntry(j, j);
                assertEquals(c.getEntry(j, j) / sb.getSingularValues()[j], h.reweight()[j], 1e-9, "reweight " + j);
                assertEquals(sb.getSingularValues()[j], h.sigmaBase()[j], 1e-9);
                assertEquals(sf.getSingularValues()[j], h.sigmaFt()[j], 1e-9);
                rw += Math.pow(c.getEntry(j, j) - sb.getSingularValues()[j], 2);
            }
            assertEquals(diag / f2, h.diagonal(), 1e-10);
            assertEquals(rw, h.reweightEnergy(), 1e-9 * rw);
            assertTrue(h.reweightEnergy() <= h.changeEnergy());
            // principal angles between the top-r write (right singular) subspaces
            RealMatrix vf = sf.getV().getSubMatrix(0, d - 1, 0, r - 1);
            double[] cos = new SingularValueDecomposition(vb.transpose().multiply(vf)).getSingularValues();
            assertEquals(r, h.angles().length);
            for (int i = 0; i < r; i++) assertEquals(Math.acos(Math.min(1, cos[i])), h.angles()[i], 1e-7);
            // best base match by |cos| on the chosen side
            RealMatrix wb = side == Side.RIGHT ? vb : ub;
            RealMatrix wf = (side == Side.RIGHT ? sf.getV() : sf.getU()).getSubMatrix(0, d - 1, 0, r - 1);
            for (int j = 0; j < r; j++) {
                int best = 0;
                double bestCos = -1;
                for (int i = 0; i < r; i++) {
                    double cc = Math.abs(wb.getColumnVector(i).dotProduct(wf.getColumnVector(j)));
                    if (cc > bestCos) {
                        bestCos = cc;
                        best = i;
                    }
                }
                assertEquals(best, h.match()[j], side + " match of " + j);
                assertEquals(bestCos, h.matchCos()[j], 1e-9);
            }
        }
    }

    @Test
    void identicalHeadsGiveExactZeroChange() {
        Random rnd = new Random(12);
        int d = 16, dh = 4;
        float[] value = gauss(d * d, rnd), out = gauss(d * d, rnd), gamma = gauss(d, rnd);
        VoFactors f = VoFactors.of(0, 2, d, dh, value, out, gamma, true);
        HeadBasis b = HeadBasis.compute(f, dh);
        HeadDiff h = HeadDiff.compute(f, b, f, b, dh, Side.RIGHT);
        assertEquals(0.0, h.relChange());
        assertEquals(0.0, h.changeEnergy());
        assertEquals(1.0, h.inBasis(), 1e-12);
        assertEquals(1.0, h.diagonal(), 1e-12);
        for (double a : h.angles()) assertEquals(0, a, 1e-9);
        for (int j = 0; j < dh; j++) {
            assertEquals(j, h.match()[j]);
            assertEquals(1, h.matchCos()[j], 1e-12);
            assertEquals(1, h.reweight()[j], 1e-12);
        }
    }
}
