package org.sith.heads;

import org.sith.UserInputException;

/** Which singular vectors are explained: write directions v (right) or read directions u (left). */
public enum Side {
    RIGHT, LEFT;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static Side parse(String s) {
        switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "right": return RIGHT;
            case "left": return LEFT;
            default: throw new UserInputException("unknown side '" + s + "' (right or left)");
        }
    }
}
