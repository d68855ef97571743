package org.sith.analysis;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.sith.coding.Code;
import org.sith.concepts.ConceptDictionary;

/**
 * How the explanation of a fine-tuned vector differs from that of its matched base vector: the
 * Jaccard overlap of their concept sets and the concepts gained and lost. A concept counts when the
 * coder gave it a non-zero weight (a selected atom may end with weight 0: it explains nothing).
 * Two empty sets overlap fully (1.0). Gained concepts come in the fine-tuned explanation's order,
 * lost ones in the base's (weight-descending).
 */
public record ConceptOverlap(double jaccard, List<String> gained, List<String> lost) implements Serializable {

    public static ConceptOverlap of(Code fineTuned, Code base, ConceptDictionary dict) {
        Set<Integer> ft = used(fineTuned);
        Set<Integer> b = used(base);
        List<String> gained = new ArrayList<>();
        List<String> lost = new ArrayList<>();
        int common = 0;
        for (int row : ft) {
            if (b.contains(row)) common++;
            else gained.add(dict.concept(row));
        }
        for (int row : b) if (!ft.contains(row)) lost.add(dict.concept(row));
        int union = ft.size() + b.size() - common;
        return new ConceptOverlap(union == 0 ? 1.0 : (double) common / union, gained, lost);
    }

    /** Dictionary rows with non-zero weight, in output order (rows and concept ids are one-to-one). */
    private static Set<Integer> used(Code c) {
        Set<Integer> s = new LinkedHashSet<>();
        for (int i = 0; i < c.ids().length; i++) if (c.weights()[i] != 0) s.add(c.ids()[i]);
        return s;
    }
}
