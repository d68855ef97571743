package org.sith.model;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.sith.analysis.TopK;
import org.sith.heads.VectorId;

/**
 * The per-head image scores of SPEC §7 for a batch of images: at each selected block,
 * z_h = Σ_t a_t·x̂_t (the class token's attention over the block input standardized without LN1's
 * affine) and score_j = σ_j·⟨z_h, u_j⟩; for an MLP neuron i, act_i(CLS)·‖w_i‖ (its post-activation
 * value at the class token times its centered write norm), from the same forward pass. Keeps the top
 * images of every explained vector; a neuron's key is (layer, {@link #MLP_HEAD}, i).
 */
public final class MatchScorer implements VisionTower.Probe {
    /** The read directions and σ of the explained vectors of one head. */
    public record HeadVectors(int layer, int head, int[] svs, double[] sigma, float[] u /* svs.length × d */) implements Serializable {}

    /** The explained neurons of one block's MLP and the norms ‖w_i‖ of their centered write vectors. */
    public record MlpNeurons(int layer, int[] neurons, double[] writeNorm) implements Serializable {}

    /** The head of a neuron's key: heads are never negative, so (layer, -1, i) names neuron i of that block's MLP. */
    public static final int MLP_HEAD = VectorId.MLP_HEAD;

    private final Map<Integer, List<HeadVectors>> byLayer = new HashMap<>();
    private final Map<Integer, MlpNeurons> mlpByLayer = new HashMap<>();
    private final VisionTower tower;
    private final List<String> images;
    private final int top;
    private final int last;
    private final Map<VectorId, TopK> tops = new TreeMap<>();
    private int offset; // images of earlier batches

    /** {@code images}: the ids of the images in the order the tower receives them. */
    public MatchScorer(List<HeadVectors> heads, VisionTower tower, List<String> images, int top) {
        this(heads, List.of(), tower, images, top);
    }

    /** As above, with MLP neurons too (at most one entry per layer). */
    public MatchScorer(List<HeadVectors> heads, List<MlpNeurons> neurons, VisionTower tower, List<String> images, int top) {
        int maxLayer = 0;
        for (HeadVectors h : heads) {
            byLayer.computeIfAbsent(h.layer(), k -> new ArrayList<>()).add(h);
            maxLayer = Math.max(maxLayer, h.layer());
        }
        for (MlpNeurons m : neurons) {
            if (mlpByLayer.put(m.layer(), m) != null) throw new IllegalArgumentException("two neuron lists for layer " + m.layer());
            maxLayer = Math.max(maxLayer, m.layer());
        }
        this.tower = tower;
        this.images = images;
        this.top = top;
        this.last = maxLayer;
    }

    /** The top images of every explained vector seen so far, by key. */
    public Map<VectorId, TopK> tops() {
        return tops;
    }

    @Override
    public boolean wants(int layer) {
        return byLayer.containsKey(layer);
    }

    @Override
    public boolean wantsMlp(int layer) {
        return mlpByLayer.containsKey(layer);
    }

    @Override
    public int lastLayer() {
        return last;
    }

    @Override
    public void mlp(int layer, int n, float[] hidden, int width) {
        MlpNeurons m = mlpByLayer.get(layer);
        for (int i = 0; i < n; i++) {
            String image = images.get(offset + i);
            for (int j = 0; j < m.neurons().length; j++) {
                int neuron = m.neurons()[j];
                double score = hidden[i * width + neuron] * m.writeNorm()[j];
                tops.computeIfAbsent(new VectorId(layer, MLP_HEAD, neuron), k -> new TopK(top)).offer(score, image);
            }
        }
    }

    @Override
    public void batchDone(int n) {
        offset += n;
    }

    @Override
    public void block(int layer, int n, float[] xhat, float[] attention) {
        int d = tower.width();
        int t = tower.tokens();
        int heads = tower.heads();
        double[] z = new double[d];
        for (HeadVectors hv : byLayer.get(layer)) {
            for (int i = 0; i < n; i++) {
                VisionTower.Probe.classReadout(xhat, attention, i, hv.head(), heads, t, z);
                String image = images.get(offset + i);
                for (int j = 0; j < hv.svs().length; j++) {
                    double s = 0;
                    int u = j * d;
                    for (int c = 0; c < d; c++) s += z[c] * hv.u()[u + c];
                    tops.computeIfAbsent(new VectorId(layer, hv.head(), hv.svs()[j]), k -> new TopK(top)).offer(hv.sigma()[j] * s, image);
                }
            }
        }
    }
}
