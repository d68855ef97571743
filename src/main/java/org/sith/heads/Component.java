package org.sith.heads;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;

import org.sith.UserInputException;

/**
 * What of a block is explained (SPEC §3b): the heads' value-output maps (`vo`, the paper's), the MLP neurons
 * (`mlp`) or the heads' query-key circuits (`qk`).
 */
public enum Component {
    VO, MLP, QK;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Component of(String label) {
        for (Component c : values()) if (c.label().equals(label)) return c;
        throw new IllegalArgumentException("unknown component '" + label + "'");
    }

    /** `vo`, `mlp`, `qk`, `all`, or a comma list of them; in the order vo, mlp, qk. */
    public static List<Component> parseList(String s) {
        EnumSet<Component> set = EnumSet.noneOf(Component.class);
        for (String part : s.split(",", -1)) {
            String p = part.trim().toLowerCase(Locale.ROOT);
            if (p.equals("all")) {
                set.addAll(EnumSet.allOf(Component.class));
                continue;
            }
            Component found = null;
            for (Component c : values()) if (c.label().equals(p)) found = c;
            if (found == null) throw new UserInputException("unknown component '" + part.trim() + "' (vo, mlp, qk, all, or a comma list)");
            set.add(found);
        }
        return new ArrayList<>(set);
    }

    /** "vo", "vo,mlp" or "all": what `_run.json` and messages call a list. */
    public static String label(List<Component> l) {
        if (l.size() == values().length) return "all";
        StringBuilder b = new StringBuilder();
        for (Component c : l) b.append(b.length() == 0 ? "" : ",").append(c.label());
        return b.toString();
    }
}
