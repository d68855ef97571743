package org.sith.heads;

import java.io.Serializable;
import java.util.Comparator;

/**
 * One singular vector: (layer, head, sv), the key that explanations, matches, edits and diffs share.
 * Ordered numerically by layer, head, then sv (layer 2 before layer 10).
 */
public record VectorId(int layer, int head, int sv) implements Comparable<VectorId>, Serializable {
    private static final Comparator<VectorId> ORDER = Comparator.comparingInt(VectorId::layer).thenComparingInt(VectorId::head)
            .thenComparingInt(VectorId::sv);

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
