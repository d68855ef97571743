package org.sith.heads;

import java.util.HashMap;
import java.util.Map;
import java.util.SortedMap;

import org.sith.checkpoint.ClipCheckpoint;
import org.sith.linalg.Vec;

/**
 * SPEC §8 applied to one block: every edited head's columns of the out-projection replaced so that
 * M_h' = M_h − Σ_j (1 − α_j)·σ_j·u_j·v_jᵀ ({@link HeadEdit#outDelta}), and the out-projection bias shifted by
 * ΔWo_h·b_h so that the value bias keeps flowing through the unedited map (as in the paper's code).
 */
public final class BlockEdit {
    private BlockEdit() {}

    /** The block's new out-projection weight (stored (out, in) layout) and bias, and the σ of each edited vector. */
    public record Result(float[] outWeight, float[] outBias, Map<VectorId, Double> sigma) {}

    /** @param alphas per head of this layer: sv → α */
    public static Result apply(ClipCheckpoint ck, int layer, SortedMap<Integer, Map<Integer, Double>> alphas) {
        LayerHeads lh = LayerHeads.read(ck, layer);
        int d = ck.width();
        int dh = ck.headDim();
        float[] value = lh.valueWeight();
        float[] valueBias = ck.valueBias(layer);
        float[] ln1Bias = ck.ln1Bias(layer);
        float[] outW = lh.outWeight();
        float[] outB = ck.outBias(layer);
        double[] newW = new double[outW.length];
        for (int i = 0; i < outW.length; i++) newW[i] = outW[i];
        double[] newB = new double[outB.length];
        for (int i = 0; i < outB.length; i++) newB[i] = outB[i];
        Map<VectorId, Double> sigma = new HashMap<>();
        for (var head : alphas.entrySet()) {
            int h = head.getKey();
            VoFactors f = lh.factors(h);
            HeadBasis b = HeadBasis.compute(f, dh);
            for (int sv : head.getValue().keySet()) sigma.put(new VectorId(layer, h, sv), b.sigma()[sv]);
            double[] delta = HeadEdit.outDelta(f, b, head.getValue());
            double[] bv = HeadEdit.foldedValueBias(h, d, dh, value, valueBias, ln1Bias);
            for (int o = 0; o < d; o++) {
                double shift = 0;
                for (int i = 0; i < dh; i++) {
                    newW[o * d + h * dh + i] -= delta[o * dh + i];
                    shift += delta[o * dh + i] * bv[i];
                }
                newB[o] += shift;
            }
        }
        return new Result(Vec.toFloat(newW), Vec.toFloat(newB), sigma);
    }
}
