package org.sith.run;

import org.sith.UserInputException;

/** What a run does with its own outputs that already exist under `--out`. */
public enum WriteMode {
    /** Refuse: the user's earlier results are never replaced unasked. */
    FAIL,
    /** Replace them. */
    OVERWRITE,
    /** Keep them and compute only what is missing (commands that support it). */
    RESUME;

    /** From the two flags of the command line, which exclude each other. */
    public static WriteMode of(boolean overwrite, boolean resume) {
        if (overwrite && resume) throw new UserInputException("--overwrite and --resume exclude each other");
        return overwrite ? OVERWRITE : resume ? RESUME : FAIL;
    }
}
