package org.sith.heads;

import java.io.Serializable;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.sith.linalg.Gemm;
import org.sith.linalg.Vec;

/**
 * The map from the residual stream into CLIP's joint image-text space (SPEC §3 step 6):
 * x = LN_post(w)·P, normalized; optionally minus the image mean μ and normalized again. Also the way
 * back used by the residual fidelity (SPEC §6): b = ŝ·pinv(P).
 */
public final class JointSpace implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final double LN_EPS = 1e-5;

    private final int d;
    private final int p;
    private final float[] lnGamma;
    private final float[] lnBeta;
    private final float[] projection; // d×p row-major
    private final float[] pinv; // p×d row-major
    private final double[] imageMean; // p, or null
    private transient Gemm.Matrix projectionNd;
    private transient Gemm.Matrix pinvNd;

    public JointSpace(float[] lnGamma, float[] lnBeta, float[] projection, int p, double[] imageMean) {
        this(lnGamma, lnBeta, projection, pseudoInverse(projection, lnGamma.length, p), p, imageMean);
    }

    /** As above, with {@code pinv} the {@link #pseudoInverse} of this {@code projection}, computed ahead (it is a dense SVD). */
    public JointSpace(float[] lnGamma, float[] lnBeta, float[] projection, float[] pinv, int p, double[] imageMean) {
        this.d = lnGamma.length;
        this.p = p;
        this.lnGamma = lnGamma;
        this.lnBeta = lnBeta;
        this.projection = projection;
        if (pinv.length != (long) p * d) throw new IllegalArgumentException("pinv has " + pinv.length + " values, not " + p + "×" + d);
        this.pinv = pinv;
        this.imageMean = imageMean;
    }

    /** The joint space of a model's vision tower: its post-LN and projection, with an optional image mean. */
    public static JointSpace of(org.sith.checkpoint.VisionWeights model, double[] imageMean) {
        return new JointSpace(model.lnPostWeight(), model.lnPostBias(), model.projection(), model.projDim(), imageMean);
    }

    public int width() {
        return d;
    }

    public int dim() {
        return p;
    }

    public double[] imageMean() {
        return imageMean;
    }

    /** Moore–Penrose pseudo-inverse of the d×p projection (p×d), in double. */
    public static float[] pseudoInverse(float[] proj, int d, int p) {
        DMatrixRMaj m = new DMatrixRMaj(d, p);
        for (int i = 0; i < d * p; i++) m.data[i] = proj[i];
        DMatrixRMaj inv = new DMatrixRMaj(p, d);
        CommonOps_DDRM.pinv(m, inv);
        float[] out = new float[p * d];
        for (int i = 0; i < out.length; i++) out[i] = (float) inv.data[i];
        return out;
    }

    /** The full post-LayerNorm: biased variance, ε=1e-5, affine. */
    public double[] layerNorm(double[] w) {
        double mean = 0;
        for (double x : w) mean += x;
        mean /= d;
        double var = 0;
        for (double x : w) var += (x - mean) * (x - mean);
        var /= d;
        double inv = 1.0 / Math.sqrt(var + LN_EPS);
        double[] out = new double[d];
        for (int i = 0; i < d; i++) out[i] = (w[i] - mean) * inv * lnGamma[i] + lnBeta[i];
        return out;
    }

    /** Residual-stream vectors (rows, length d) to unit coding targets in the joint space. */
    public double[][] toJoint(double[][] w) {
        double[][] ln = new double[w.length][];
        for (int i = 0; i < w.length; i++) ln[i] = layerNorm(w[i]);
        float[] x = Gemm.multiply(Gemm.rows(ln, d), projectionNd());
        double[][] out = new double[w.length][p];
        for (int i = 0; i < w.length; i++) {
            for (int j = 0; j < p; j++) out[i][j] = x[i * p + j];
            prepare(out[i], imageMean);
        }
        return out;
    }

    /** x ← x/‖x‖, and with a mean μ: x ← (x − μ)/‖x − μ‖ (in place). */
    public static void prepare(double[] x, double[] mean) {
        Vec.normalizeInPlace(x);
        if (mean != null) {
            for (int j = 0; j < x.length; j++) x[j] -= mean[j];
            Vec.normalizeInPlace(x);
        }
    }

    /**
     * The paper's fidelity: reconstructions (joint space) back to the residual stream through
     * pinv(P), each compared by cosine with its original unit singular vector.
     */
    public double[] fidelityResidual(double[][] reconstructions, double[][] originals) {
        double[][] s = new double[reconstructions.length][];
        for (int i = 0; i < s.length; i++) {
            s[i] = Vec.normalizeInPlace(reconstructions[i].clone());
            if (imageMean != null) {
                for (int j = 0; j < p; j++) s[i][j] += imageMean[j];
                Vec.normalizeInPlace(s[i]);
            }
        }
        float[] b = Gemm.multiply(Gemm.rows(s, p), pinvNd());
        double[] out = new double[s.length];
        for (int i = 0; i < s.length; i++) {
            double[] bi = new double[d];
            for (int k = 0; k < d; k++) bi[k] = b[i * d + k];
            out[i] = Vec.cosine(bi, originals[i]);
        }
        return out;
    }

    private Gemm.Matrix projectionNd() {
        if (projectionNd == null) projectionNd = Gemm.matrix(projection, d, p);
        return projectionNd;
    }

    private Gemm.Matrix pinvNd() {
        if (pinvNd == null) pinvNd = Gemm.matrix(pinv, p, d);
        return pinvNd;
    }
}
