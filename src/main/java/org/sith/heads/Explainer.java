package org.sith.heads;

import java.util.ArrayList;
import java.util.List;

import org.sith.coding.Code;
import org.sith.coding.Method;
import org.sith.coding.SparseCoder;

/**
 * Explains the singular vectors of several heads at once: every head's vectors are mapped into the
 * joint space and coded in one batch, so each greedy step is one large product (≥ 256 rows keeps
 * the product near the GEMM roofline; one head's 64 rows reach only half of it).
 */
public final class Explainer {
    private Explainer() {}

    public static List<ExplainedVector> explain(List<HeadBasis> bases, Side side, JointSpace joint,
                                                SparseCoder coder, Method method, int k, double lambda) {
        List<double[]> vectors = new ArrayList<>();
        for (HeadBasis b : bases) {
            for (double[] v : b.side(side)) vectors.add(v);
        }
        double[][] w = vectors.toArray(new double[0][]);
        double[][] x = joint.toJoint(w);
        Code[] codes = coder.code(x, method, k, lambda);
        double[][] recon = new double[codes.length][];
        for (int i = 0; i < codes.length; i++) recon[i] = codes[i].reconstruction();
        double[] fr = joint.fidelityResidual(recon, w);

        List<ExplainedVector> out = new ArrayList<>(w.length);
        int i = 0;
        for (HeadBasis b : bases) {
            for (int j = 0; j < b.rank(); j++, i++) {
                out.add(new ExplainedVector(b.layer(), b.head(), j, b.sigma()[j], b.degenerate()[j], w[i], x[i], codes[i], fr[i]));
            }
        }
        return out;
    }
}
