package org.sith.heads;

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

    /** One explained vector as the query sees it: its concepts' weights and raw embeddings. */
    public record Explained(double[] weights, float[][] embeddings) {}

    /** What a query selects: the edits, and the largest relevance seen (to say why nothing reached τ). */
    public record Selection(java.util.List<VectorEdit> edits, double maxRelevance) {}

    /**
     * SPEC §8's selection over every explained vector, in (layer, head, sv) order: suppress (α = 0) each vector with
     * R ≥ τ, or with {@code amplify} scale every vector by max(α_min, R + β).
     */
    public static Selection select(java.util.SortedMap<VectorId, Explained> vectors, float[][] queries, Double threshold, boolean amplify,
                                   double alphaMin, double beta) {
        double maxR = Double.NEGATIVE_INFINITY;
        java.util.List<VectorEdit> edits = new java.util.ArrayList<>();
        for (var e : vectors.entrySet()) {
            double r = of(e.getValue().weights(), e.getValue().embeddings(), queries);
            maxR = Math.max(maxR, r);
            if (amplify) edits.add(new VectorEdit(e.getKey(), amplify(r, alphaMin, beta), r));
            else if (r >= threshold) edits.add(new VectorEdit(e.getKey(), 0.0, r));
        }
        return new Selection(edits, maxR);
    }

    /** α of the amplify rule: max(α_min, R + β) (paper: α_min 0.8, β 0.3). */
    public static double amplify(double relevance, double alphaMin, double beta) {
        return Math.max(alphaMin, relevance + beta);
    }
}
