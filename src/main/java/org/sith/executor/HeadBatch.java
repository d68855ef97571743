package org.sith.executor;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

import org.sith.heads.HeadId;

/** The heads one Spark task explains together (coded in one batch). */
public record HeadBatch(List<HeadId> heads) implements Serializable {
    public int size() {
        return heads.size();
    }

    /** Consecutive heads in groups of {@code perBatch} (the last may be smaller), in the given order. */
    public static List<HeadBatch> of(List<HeadId> heads, int perBatch) {
        List<HeadBatch> out = new ArrayList<>();
        for (int i = 0; i < heads.size(); i += perBatch) out.add(new HeadBatch(new ArrayList<>(heads.subList(i, Math.min(heads.size(), i + perBatch)))));
        return out;
    }
}
