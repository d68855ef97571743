package org.sith.model;

import java.util.Locale;

import org.sith.UserInputException;
import org.sith.linalg.OneDnn;

/**
 * How a tower's Linear layers compute (SPEC §12): {@link #F32}, OpenBLAS sgemm, the default and the exact path; or
 * {@link #BF16}, oneDNN's bfloat16 matmul (inputs and weights rounded to nearest even, f32 accumulation and output)
 * for the attention in/out projections and the MLP of every block. LayerNorm, attention, the activation, the patch
 * embedding and the final projection stay f32 either way. bf16 results are approximate.
 */
public enum TowerPrecision {
    F32, BF16;

    /** The option's spelling: f32 or bf16. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static TowerPrecision parse(String s) {
        if (s != null) {
            for (TowerPrecision v : values()) if (v.label().equals(s.strip().toLowerCase(Locale.ROOT))) return v;
        }
        throw new UserInputException("unknown precision '" + s + "' (f32: exact, OpenBLAS; bf16: approximate, oneDNN bfloat16 matmul)");
    }

    /** Refuses bf16 where oneDNN cannot load, naming the option and why; returns this. */
    public TowerPrecision requireRunnable() {
        return requireRunnable(this == BF16 ? OneDnn.unavailable() : null);
    }

    /** As above with oneDNN's reason given (null: it runs). */
    TowerPrecision requireRunnable(String unavailable) {
        if (this == BF16 && unavailable != null) {
            throw new UserInputException("--tower-precision bf16: oneDNN cannot run on this machine (" + unavailable + "); use --tower-precision f32");
        }
        return this;
    }

    public boolean approximate() {
        return this == BF16;
    }

    /** What `_run.json` says of a bf16 run (null for f32): what ran in bf16, on which ISA, and that the numbers are approximate. */
    public String note() {
        if (this == F32) return null;
        return "approximate: the towers' attention in/out projections and MLP ran in bfloat16 through oneDNN " + OneDnn.version()
                + " (ISA " + OneDnn.isaName() + (OneDnn.hasAmx() ? ", AMX" : ", no AMX") + "; inputs and weights rounded to nearest even, "
                + "f32 accumulation); LayerNorm, attention, activation and projections in f32";
    }
}
