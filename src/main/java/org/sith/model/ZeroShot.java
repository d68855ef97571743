package org.sith.model;

import org.sith.linalg.Vec;

/**
 * SPEC §7's zero-shot classifier: w_c = normalize(mean_t normalize(text(template_t(class_c)))), and an image's
 * class the one of largest ⟨normalize(image), w_c⟩ (the logit scale does not change the argmax).
 */
public final class ZeroShot {
    private ZeroShot() {}

    /**
     * @param texts the text embeddings of every (class, template) prompt, class-major: row c·T + t
     * @return the class weights, C×p row-major, unit rows
     */
    public static float[] classWeights(float[][] texts, int classes, int templates, int p) {
        float[] w = new float[classes * p];
        for (int c = 0; c < classes; c++) {
            double[] mean = new double[p];
            for (int t = 0; t < templates; t++) {
                float[] v = texts[c * templates + t];
                double n = Vec.norm(v);
                for (int j = 0; j < p; j++) mean[j] += v[j] / n;
            }
            System.arraycopy(Vec.toFloat(Vec.normalizeInPlace(mean)), 0, w, c * p, p);
        }
        return w;
    }

    /** The class of largest cosine; weights are unit rows, so the image's norm does not matter. Ties: the lower class. */
    public static int classify(float[] image, float[] weights, int classes) {
        int p = image.length;
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            double s = 0;
            for (int j = 0; j < p; j++) s += (double) image[j] * weights[c * p + j];
            if (s > bestScore) {
                bestScore = s;
                best = c;
            }
        }
        return best;
    }
}
