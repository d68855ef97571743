package org.sith.run;

import java.io.Serializable;
import java.util.Map;

import org.sith.UserInputException;

/** The `--out` folder of a command and what to do with the command's outputs that exist there already. */
public record OutputTarget(String folder, WriteMode mode) implements Serializable, RunRecord.Recordable {
    public OutputTarget {
        if (folder == null || folder.isBlank()) throw new UserInputException("needs --out (the output folder)");
        if (mode == null) mode = WriteMode.FAIL;
    }

    public boolean overwrite() {
        return mode == WriteMode.OVERWRITE;
    }

    public boolean resume() {
        return mode == WriteMode.RESUME;
    }

    @Override
    public void recordOptions(Map<String, Object> options) {
        options.put("out", folder);
        options.put("overwrite", overwrite());
        options.put("resume", resume());
    }
}
