package org.sith.heads;

import java.io.Serializable;
import java.util.Comparator;

/**
 * One singular vector: (layer, head, sv), the key that explanations, matches, edits and diffs share.
 * Ordered numerically by layer, head, then sv (layer 2 before layer 10).
 */
public record VectorId(int layer, int head, int sv) implements Comparable<VectorId>, Serializable {
    /**
     * The head of an MLP neuron's key (layer, -1, neuron), where matches and edits key neurons beside head vectors: heads
     * are never negative, and a block's neurons sort before its heads (as decompose's null heads do).
     */
    public static final int MLP_HEAD = -1;

    private static final Comparator<VectorId> ORDER = Comparator.comparingInt(VectorId::layer).thenComparingInt(VectorId::head)
            .thenComparingInt(VectorId::sv);

    /** Whether the model has this vector: its layer, its head and a singular vector within the head width. */
    public boolean within(org.sith.checkpoint.VisionWeights model) {
        return layer >= 0 && layer < model.layers() && head >= 0 && head < model.heads() && sv >= 0 && sv < model.headDim();
    }

    /** "(L layers, H heads, D vectors each)": what a model has, for a message about a vector it has not. */
    public static String shape(org.sith.checkpoint.VisionWeights model) {
        return "(" + model.layers() + " layers, " + model.heads() + " heads, " + model.headDim() + " vectors each)";
    }

    public HeadId headId() {
        return new HeadId(layer, head);
    }

    @Override
    public int compareTo(VectorId o) {
        return ORDER.compare(this, o);
    }

    @Override
    public String toString() {
        return "layer " + layer + " head " + head + " sv " + sv;
    }
}
