package org.sith.checkpoint;

import java.nio.ByteBuffer;

import org.sith.io.FloatBits;

/** Little-endian tensor bytes decoded to numbers, for every reader of stored tensors. */
final class TensorBytes {
    private TensorBytes() {}

    /** Receives element {@code index} (relative to the first decoded) with its value. */
    interface Sink {
        void accept(int index, double value);
    }

    /** One dtype switch per chunk, not per element. */
    static void decode(String dtype, ByteBuffer bb, int n, int base, Sink sink) {
        switch (dtype) {
            case "F32" -> { for (int i = 0; i < n; i++) sink.accept(base + i, bb.getFloat(4 * i)); }
            case "F64" -> { for (int i = 0; i < n; i++) sink.accept(base + i, bb.getDouble(8 * i)); }
            case "F16" -> { for (int i = 0; i < n; i++) sink.accept(base + i, FloatBits.halfToFloat(bb.getShort(2 * i))); }
            case "BF16" -> { for (int i = 0; i < n; i++) sink.accept(base + i, FloatBits.bf16ToFloat(bb.getShort(2 * i))); }
            case "I64" -> { for (int i = 0; i < n; i++) sink.accept(base + i, bb.getLong(8 * i)); }
            case "I32" -> { for (int i = 0; i < n; i++) sink.accept(base + i, bb.getInt(4 * i)); }
            case "I16" -> { for (int i = 0; i < n; i++) sink.accept(base + i, bb.getShort(2 * i)); }
            case "I8" -> { for (int i = 0; i < n; i++) sink.accept(base + i, bb.get(i)); }
            case "U8", "BOOL" -> { for (int i = 0; i < n; i++) sink.accept(base + i, bb.get(i) & 0xff); }
            default -> throw new IllegalStateException("unreadable dtype " + dtype);
        }
    }
}
