package org.sith.coding;

import java.util.Locale;

import org.sith.UserInputException;

/** The sparse coders SITH can explain a head with; see {@link SparseCoder}. */
public enum Method {
    /** Coherence-aware non-negative OMP: greedy score gets a bonus for atoms close to the mean of those already chosen. */
    COMP,
    /** Non-negative OMP (COMP with lambda = 0). */
    NNOMP,
    /** Signed OMP with an unconstrained least-squares refit. */
    OMP,
    /** Non-negative matching pursuit, no refit. */
    MP,
    /** The k atoms most similar to the vector, then a non-negative refit. */
    TOPK;

    /** The name written in outputs and `_run.json`. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Method parse(String s) {
        if (s != null) {
            switch (s.trim().toLowerCase(Locale.ROOT)) {
                case "comp": return COMP;
                case "nnomp": return NNOMP;
                case "omp": return OMP;
                case "mp": return MP;
                case "topk": return TOPK;
                default: break;
            }
        }
        throw new UserInputException("unknown method '" + s + "' (comp, nnomp, omp, mp, topk)");
    }
}
