package org.sith.heads;

import java.util.HashMap;
import java.util.Map;

import org.sith.checkpoint.ClipCheckpoint;

/**
 * An MLP edit of one block (the MLP counterpart of SPEC §8): neuron i's write column of the output map scaled,
 * W_proj[:, i] ← α_i·W_proj[:, i] in the stored (out, in) weight, so the block's MLP output changes by exactly
 * (α_i − 1)·act_i·W_proj[:, i] at every token (act_i the neuron's post-activation value); its bias and every other
 * tensor stay. The centered write vector w_i (SPEC §3b) scales by the same α, so does the neuron's σ = ‖w_i‖.
 */
public final class MlpEdit {
    private MlpEdit() {}

    /** The block's new output-map weight (d × hidden, (out, in)), and per edited neuron its σ = ‖w_i‖ before the edit. */
    public record Result(float[] projWeight, Map<Integer, Double> sigma) {}

    /** @param alphas neuron → α */
    public static Result apply(ClipCheckpoint ck, int layer, Map<Integer, Double> alphas) {
        int d = ck.width();
        int hidden = ck.mlpWidth(layer);
        float[] w = ck.mlpOutWeight(layer).clone();
        Map<Integer, Double> sigma = new HashMap<>();
        for (Map.Entry<Integer, Double> e : alphas.entrySet()) {
            int i = e.getKey();
            if (i < 0 || i >= hidden) throw new IllegalArgumentException("neuron " + i + " outside 0.." + (hidden - 1));
            double mean = 0;
            for (int o = 0; o < d; o++) mean += w[o * hidden + i];
            mean /= d;
            double ss = 0;
            for (int o = 0; o < d; o++) ss += (w[o * hidden + i] - mean) * (w[o * hidden + i] - mean);
            sigma.put(i, Math.sqrt(ss));
            double a = e.getValue();
            for (int o = 0; o < d; o++) w[o * hidden + i] = (float) (a * w[o * hidden + i]);
        }
        return new Result(w, sigma);
    }
}
