package org.sith.heads;

import java.util.ArrayList;
import java.util.List;

import org.sith.checkpoint.VisionWeights;

/**
 * One block's attention weights as a head analysis needs them (SPEC §3): the value rows, the out-projection
 * and LN1's γ, read once, from which every head's folded, centered factors and singular basis follow. This is
 * the only place that turns a checkpoint's tensors into head bases.
 */
public final class LayerHeads {
    private final int layer;
    private final int width;
    private final int headDim;
    private final float[] value;
    private final float[] out;
    private final float[] gamma;

    private LayerHeads(VisionWeights w, int layer) {
        this.layer = layer;
        this.width = w.width();
        this.headDim = w.headDim();
        this.value = w.valueWeight(layer);
        this.out = w.outWeight(layer);
        this.gamma = w.ln1Weight(layer);
    }

    public static LayerHeads read(VisionWeights w, int layer) {
        return new LayerHeads(w, layer);
    }

    public int layer() {
        return layer;
    }

    /** The head's folded and centered VO factors. */
    public VoFactors factors(int head) {
        return VoFactors.of(layer, head, width, headDim, value, out, gamma, true);
    }

    /** The head's first {@code rank} singular vectors. */
    public HeadBasis basis(int head, int rank) {
        return HeadBasis.compute(factors(head), rank);
    }

    /** The stored (unfolded, uncentered) value rows and out-projection of the block, as read. */
    public float[] valueWeight() {
        return value;
    }

    public float[] outWeight() {
        return out;
    }

    /** The bases of the given heads in order, each layer's weights read once for a run of its heads. */
    public static List<HeadBasis> bases(VisionWeights w, List<HeadId> heads, int rank) {
        Cursor c = new Cursor(w);
        List<HeadBasis> out = new ArrayList<>(heads.size());
        for (HeadId h : heads) out.add(c.at(h.layer()).basis(h.head(), rank));
        return out;
    }

    /** Walks heads in layer order, keeping the last layer's weights so that each layer is read once. */
    public static final class Cursor {
        private final VisionWeights w;
        private LayerHeads current;

        public Cursor(VisionWeights w) {
            this.w = w;
        }

        public LayerHeads at(int layer) {
            if (current == null || current.layer != layer) {
                current = null; // let the previous layer go before the next one is read
                current = read(w, layer);
            }
            return current;
        }
    }
}
