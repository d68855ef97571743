package org.sith.inputs;

import java.io.Serializable;
import java.util.Locale;
import java.util.Map;

import org.sith.UserInputException;
import org.sith.run.RunRecord;

/** Where a command's concept dictionary comes from: a `concepts/` Parquet folder, or an `.npy` with its vocabulary. */
public record ConceptsInput(String concepts, String vocab) implements Serializable, RunRecord.Recordable {
    public ConceptsInput {
        if (concepts == null || concepts.isBlank()) throw new UserInputException("needs --concepts");
        if (isNpy(concepts) && vocab == null) {
            throw new UserInputException("--concepts " + concepts + " is an .npy: give its concept strings with --vocab");
        }
        if (!isNpy(concepts) && vocab != null) {
            throw new UserInputException("--vocab is only for .npy concepts; " + concepts + " is a concepts/ Parquet folder");
        }
    }

    public boolean npy() {
        return isNpy(concepts);
    }

    static boolean isNpy(String path) {
        return path.toLowerCase(Locale.ROOT).endsWith(".npy");
    }

    @Override
    public void recordOptions(Map<String, Object> options) {
        options.put("concepts", concepts);
        options.put("vocab", vocab);
    }
}
