package org.sith.heads;

import java.io.Serializable;
import java.util.Comparator;

/** One attention head of one layer; ordered by layer, then head. */
public record HeadId(int layer, int head) implements Comparable<HeadId>, Serializable {
    private static final Comparator<HeadId> ORDER = Comparator.comparingInt(HeadId::layer).thenComparingInt(HeadId::head);

    public VectorId vector(int sv) {
        return new VectorId(layer, head, sv);
    }

    @Override
    public int compareTo(HeadId o) {
        return ORDER.compare(this, o);
    }

    @Override
    public String toString() {
        return "layer " + layer + " head " + head;
    }
}
