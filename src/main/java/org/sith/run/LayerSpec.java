package org.sith.run;

import java.io.Serializable;
import java.util.TreeSet;

import org.sith.UserInputException;

/**
 * A layer selection as written on the command line: {@code all}, {@code last:N}, or a list of layers and
 * ranges such as {@code 20,21,22,23} or {@code 20-23}. Its syntax is checked when it is parsed (before Spark
 * starts); the layers themselves when the model's depth is known ({@link #resolve}).
 */
public final class LayerSpec implements Serializable {
    private static final long serialVersionUID = 1L;
    public static final LayerSpec ALL = new LayerSpec("all", -1, null);

    private final String text;
    private final int last;          // last:N, else -1
    private final int[][] ranges;    // inclusive [lo, hi] pairs of a list, else null

    private LayerSpec(String text, int last, int[][] ranges) {
        this.text = text;
        this.last = last;
        this.ranges = ranges;
    }

    public static LayerSpec parse(String spec) {
        if (spec == null) return ALL;
        String s = spec.trim();
        if (s.equalsIgnoreCase("all")) return ALL;
        if (s.startsWith("last:")) {
            int n = number(s.substring(5), spec);
            if (n < 1) throw new UserInputException("--layers " + spec + ": last:N needs N ≥ 1");
            return new LayerSpec(s, n, null);
        }
        String[] parts = s.split(",", -1);
        int[][] ranges = new int[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            String part = parts[i].trim();
            int dash = part.indexOf('-', 1);
            int lo = number(dash > 0 ? part.substring(0, dash) : part, spec);
            int hi = dash > 0 ? number(part.substring(dash + 1), spec) : lo;
            if (lo < 0) throw new UserInputException("--layers " + spec + ": layer " + lo + " is negative");
            if (hi < lo) throw new UserInputException("--layers " + spec + ": range " + part + " is reversed (write " + hi + "-" + lo + ")");
            ranges[i] = new int[] {lo, hi};
        }
        return new LayerSpec(s, -1, ranges);
    }

    private static int number(String s, String spec) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new UserInputException("--layers '" + spec + "' is not all, last:N or a list of layer numbers and ranges (20,21 or 20-23)");
        }
    }

    /** The selected layers in ascending order, each checked against a model of {@code nLayers} layers named {@code model}. */
    public int[] resolve(int nLayers, String model) {
        TreeSet<Integer> out = new TreeSet<>();
        if (this == ALL || text.equalsIgnoreCase("all")) {
            for (int l = 0; l < nLayers; l++) out.add(l);
        } else if (last > 0) {
            if (last > nLayers) throw new UserInputException("--layers " + text + ": " + model + " has only " + nLayers + " layers");
            for (int l = nLayers - last; l < nLayers; l++) out.add(l);
        } else {
            for (int[] r : ranges) {
                if (r[1] >= nLayers) {
                    throw new UserInputException("--layers " + text + ": layer " + r[1] + " is beyond " + model + ", which has layers 0.." + (nLayers - 1));
                }
                for (int l = r[0]; l <= r[1]; l++) out.add(l);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LayerSpec l && l.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }
}
