package org.sith.checkpoint;

import java.util.Map;

/** Element sizes of the safetensors dtypes we know; other dtype strings are legal but unreadable. */
final class Dtypes {
    private Dtypes() {}

    private static final Map<String, Integer> SIZES = Map.ofEntries(
            Map.entry("F64", 8), Map.entry("F32", 4), Map.entry("F16", 2), Map.entry("BF16", 2),
            Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2), Map.entry("I8", 1),
            Map.entry("U8", 1), Map.entry("BOOL", 1), Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1));

    /** Bytes per element, or -1 for a dtype string we do not know. */
    static int size(String dtype) {
        return SIZES.getOrDefault(dtype, -1);
    }

    static boolean isFloatingPoint(String dtype) {
        return dtype.equals("F64") || dtype.equals("F32") || dtype.equals("F16") || dtype.equals("BF16");
    }

    /** The dtypes {@link SafeTensors} can decode to numbers (not the 8-bit floats). */
    static boolean isReadable(String dtype) {
        return size(dtype) > 0 && !dtype.startsWith("F8_");
    }
}
