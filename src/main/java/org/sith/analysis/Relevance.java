package org.sith.analysis;

import org.sith.linalg.Vec;

/**
 * SPEC §8's relevance of an explained vector to a concept query: R_j = Σ_k c_k · max_q cos(e_k, e_q)
 * over the explanation's concepts k (weights c_k, embeddings e_k normalized but not centered) and
 * the query texts q.
 */
public final class Relevance {
    private Relevance() {}

    /** @param concepts the explanation's concept embeddings (any norm), @param queries the query embeddings (any norm) */
    public static double of(double[] weights, float[][] concepts, float[][] queries) {
        double r = 0;
        for (int k = 0; k < weights.length; k++) {
            double best = Double.NEGATIVE_INFINITY;
            for (float[] q : queries) best = Math.max(best, Vec.cosine(concepts[k], q));
            r += weights[k] * best;
        }
        return r;
    }

    /** α of the amplify rule: max(α_min, R + β) (paper: α_min 0.8, β 0.3). */
    public static double amplify(double relevance, double alphaMin, double beta) {
        return Math.max(alphaMin, relevance + beta);
    }
}
