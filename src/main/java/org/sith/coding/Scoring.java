package org.sith.coding;

import java.util.Locale;

import org.sith.UserInputException;
import org.sith.linalg.OneDnn;

/**
 * How the coders' big product is computed (SPEC §12). Every setting selects the same atoms: reduced
 * precision only shortlists, within a proven error bound, and the shortlist is re-scored in double.
 */
public enum Scoring {
    /** bf16 where oneDNN runs AMX tiles, else fp32. */
    AUTO,
    /** OpenBLAS sgemm. */
    FP32,
    /** oneDNN bf16 matmul (inputs rounded to nearest even, f32 accumulation and output). */
    BF16;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Scoring parse(String s) {
        if (s != null) {
            for (Scoring v : values()) if (v.label().equals(s.trim().toLowerCase(Locale.ROOT))) return v;
        }
        throw new UserInputException("--scoring: unknown value '" + s + "' (auto, fp32, bf16)");
    }

    /** The path that runs here: AUTO resolved by oneDNN's ISA; BF16 refused when oneDNN cannot load. */
    public Scoring resolve() {
        switch (this) {
            case FP32:
                return FP32;
            case BF16:
                String why = OneDnn.unavailable();
                if (why != null) throw new UserInputException("--scoring bf16: oneDNN cannot run on this machine (" + why + ")");
                return BF16;
            default:
                return OneDnn.unavailable() == null && OneDnn.hasAmx() ? BF16 : FP32;
        }
    }

    /** What `_run.json` records: the setting, the path it resolved to, and why. */
    public String describe() {
        Scoring path = resolve();
        String isa = "oneDNN " + OneDnn.version() + ", ISA " + OneDnn.isaName();
        if (this == AUTO) return "auto -> " + path.label() + " (" + isa + (path == BF16 ? ", AMX" : ", no AMX") + ")";
        return path.label() + " (" + isa + ")";
    }
}
