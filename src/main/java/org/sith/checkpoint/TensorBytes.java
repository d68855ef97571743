package org.sith.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.apache.hadoop.fs.FSDataInputStream;

import org.sith.io.FloatBits;

/** Little-endian tensor bytes decoded to numbers, for every reader of stored tensors. */
final class TensorBytes {
    private TensorBytes() {}

    /** Receives element {@code index} (relative to the first decoded) with its value. */
    interface Sink {
        void accept(int index, double value);
    }

    /** Read granularity: big enough for S3 throughput, small enough not to double a 300 MB tensor in memory. */
    static final int CHUNK_BYTES = 8 << 20;

    /** Decodes count elements of a dtype stored from file offset start on, chunk by chunk, into sink. */
    static void read(FSDataInputStream in, long start, int count, String dtype, Sink sink) throws IOException {
        int size = Dtypes.size(dtype);
        long total = (long) count * size;
        byte[] buf = new byte[(int) Math.min(CHUNK_BYTES, total)];
        ByteBuffer bb = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        int done = 0;
        for (long off = 0; off < total; off += buf.length) {
            int n = (int) Math.min(buf.length, total - off);
            in.readFully(start + off, buf, 0, n);
            decode(dtype, bb, n / size, done, sink);
            done += n / size;
        }
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
