package org.sith.inputs;

import org.apache.hadoop.conf.Configuration;
import org.sith.UserInputException;
import org.sith.io.Fs;

/** Existence checks of the paths options name. */
public final class Paths {
    private Paths() {}

    public static void mustExist(String option, String path, Configuration conf) {
        if (path == null) return;
        if (!Fs.exists(path, conf)) throw new UserInputException("--" + option + ": " + path + " does not exist");
    }
}
