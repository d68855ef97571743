package org.sith.heads;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.Test;

/** The joint-space map and the residual fidelity against plain computations in the test. */
class JointSpaceTest {
    static final int D = 40;
    static final int P = 24;

    @Test
    void toJointIsPostLayerNormThenProjectionThenImageMean() {
        Random r = new Random(2);
        float[] g = new float[D];
        float[] b = new float[D];
        float[] proj = new float[D * P];
        for (int i = 0; i < D; i++) {
            g[i] = (float) (0.5 + r.nextDouble());
            b[i] = (float) (0.1 * r.nextGaussian());
        }
        for (int i = 0; i < proj.length; i++) proj[i] = (float) r.nextGaussian();
        double[] mu = new double[P];
        for (int j = 0; j < P; j++) mu[j] = 0.05 * r.nextGaussian();
        JointSpace js = new JointSpace(g, b, proj, P, mu);
        double[][] w = new double[3][D];
        for (double[] row : w) for (int i = 0; i < D; i++) row[i] = r.nextGaussian();
        double[][] x = js.toJoint(w);
        for (int n = 0; n < w.length; n++) {
            double mean = 0;
            for (double v : w[n]) mean += v / D;
            double var = 0;
            for (double v : w[n]) var += (v - mean) * (v - mean) / D;
            double[] ln = new double[D];
            for (int i = 0; i < D; i++) ln[i] = (w[n][i] - mean) / Math.sqrt(var + 1e-5) * g[i] + b[i];
            double[] y = new double[P];
            for (int j = 0; j < P; j++) for (int i = 0; i < D; i++) y[j] += ln[i] * proj[i * P + j];
            double ny = norm(y);
            for (int j = 0; j < P; j++) y[j] = y[j] / ny - mu[j];
            ny = norm(y);
            for (int j = 0; j < P; j++) assertEquals(y[j] / ny, x[n][j], 2e-5, "row " + n + " col " + j);
        }
    }

    @Test
    void fidelityResidualUsesThePseudoInverseOfTheProjection() {
        Random r = new Random(3);
        float[] g = new float[D];
        java.util.Arrays.fill(g, 1f);
        float[] proj = new float[D * P];
        for (int i = 0; i < proj.length; i++) proj[i] = (float) r.nextGaussian();
        double[] mu = new double[P];
        for (int j = 0; j < P; j++) mu[j] = 0.1 * r.nextGaussian();
        JointSpace js = new JointSpace(g, new float[D], proj, P, mu);

        double[][] pm = new double[D][P];
        for (int i = 0; i < D; i++) for (int j = 0; j < P; j++) pm[i][j] = proj[i * P + j];
        RealMatrix pinv = new SingularValueDecomposition(new Array2DRowRealMatrix(pm)).getSolver().getInverse(); // P×D

        double[] recon = new double[P];
        double[] w = new double[D];
        for (int j = 0; j < P; j++) recon[j] = r.nextGaussian();
        for (int i = 0; i < D; i++) w[i] = r.nextGaussian();
        double[] s = recon.clone();
        double ns = norm(s);
        for (int j = 0; j < P; j++) s[j] = s[j] / ns + mu[j];
        ns = norm(s);
        for (int j = 0; j < P; j++) s[j] /= ns;
        double[] back = pinv.preMultiply(s);
        double expected = dot(back, w) / (norm(back) * norm(w));
        double got = js.fidelityResidual(new double[][] {recon}, new double[][] {w})[0];
        assertEquals(expected, got, 1e-5);
    }

    static double norm(double[] a) {
        return Math.sqrt(dot(a, a));
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
