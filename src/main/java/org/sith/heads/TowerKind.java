package org.sith.heads;

import java.util.Locale;

import org.sith.UserInputException;

/** Which transformer of the model is explained (SPEC §3b): the image tower or the text tower. */
public enum TowerKind {
    VISION, TEXT;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static TowerKind parse(String s) {
        for (TowerKind t : values()) if (t.label().equals(s.toLowerCase(Locale.ROOT))) return t;
        throw new UserInputException("unknown tower '" + s + "' (vision or text)");
    }
}
