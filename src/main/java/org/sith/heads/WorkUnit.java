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

    /**
     * Every unit of a selection, in order: per layer, each component's heads (VO, QK) or blocks of neurons (MLP, of
     * {@code mlpWidths[layer]} neurons).
     */
    public static java.util.List<WorkUnit> all(int[] layers, java.util.List<Component> components, int heads, int[] mlpWidths) {
        java.util.List<WorkUnit> out = new java.util.ArrayList<>();
        for (int l : layers) {
            for (Component comp : components) {
                int n = comp == Component.MLP ? (mlpWidths[l] + NEURON_BLOCK - 1) / NEURON_BLOCK : heads;
                for (int i = 0; i < n; i++) out.add(new WorkUnit(comp, l, i));
            }
        }
        java.util.Collections.sort(out);
        return out;
    }

    /** What runs call their units: "heads" when only VO maps are explained, else "units". */
    public static String plural(java.util.List<Component> components) {
        return components.equals(java.util.List.of(Component.VO)) ? "heads" : "units";
    }

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
