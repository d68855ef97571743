package org.sith.heads;

import java.io.Serializable;
import java.util.Comparator;

/**
 * What decompose computes, codes and resumes as one piece: a head's VO map or QK circuit (index = head), or a block
 * of {@link #NEURON_BLOCK} MLP neurons of one layer (index = block; neurons [index·B, (index+1)·B)). Ordered by
 * layer, component, index, so that a task reads each layer's weights once.
 */
public record WorkUnit(Component component, int layer, int index) implements Comparable<WorkUnit>, Serializable {
    public static final int NEURON_BLOCK = 256;
    private static final Comparator<WorkUnit> ORDER = Comparator.comparingInt(WorkUnit::layer).thenComparing(WorkUnit::component)
            .thenComparingInt(WorkUnit::index);

    /** The unit an output row belongs to (head null for an MLP row, whose sv is the neuron). */
    public static WorkUnit ofRow(Component c, int layer, Integer head, int sv) {
        return c == Component.MLP ? new WorkUnit(c, layer, sv / NEURON_BLOCK) : new WorkUnit(c, layer, head);
    }

    /** The rows it explains: a head's rank vectors (both sides of a QK circuit), or the block's neurons. */
    public int rows(int rank, int mlpWidth) {
        return switch (component) {
            case VO -> rank;
            case QK -> 2 * rank;
            case MLP -> Math.min(NEURON_BLOCK, mlpWidth - index * NEURON_BLOCK);
        };
    }

    @Override
    public int compareTo(WorkUnit o) {
        return ORDER.compare(this, o);
    }

    @Override
    public String toString() {
        return component == Component.MLP ? "layer " + layer + " mlp neurons " + index * NEURON_BLOCK + "–" + ((index + 1) * NEURON_BLOCK - 1)
                : "layer " + layer + " head " + index + (component == Component.QK ? " qk" : "");
    }
}
