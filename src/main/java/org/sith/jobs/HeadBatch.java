package org.sith.jobs;

import java.io.Serializable;

/** The heads one Spark task explains together (coded in one batch). */
public record HeadBatch(int[] layers, int[] heads) implements Serializable {
    public int size() {
        return heads.length;
    }
}
