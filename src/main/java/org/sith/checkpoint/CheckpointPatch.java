package org.sith.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import org.sith.io.Fs;

/**
 * A copy of a safetensors file in which some tensors hold new values, in their own dtype and
 * shape: the header and every other byte are copied unchanged, so any loader reads it as it read
 * the input and untouched tensors stay byte-identical.
 */
public final class CheckpointPatch {
    private static final int CHUNK = 8 << 20;

    private CheckpointPatch() {}

    public static void write(SafeTensors src, Map<String, float[]> replaced, String target, Configuration conf) {
        List<TensorInfo> ranges = new ArrayList<>();
        for (Map.Entry<String, float[]> e : replaced.entrySet()) {
            TensorInfo t = src.info(e.getKey());
            if (t.numel() != e.getValue().length) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' has " + t.numel() + " values, got " + e.getValue().length);
            }
            ranges.add(t);
        }
        ranges.sort(Comparator.comparingLong(TensorInfo::begin));
        Path in = Fs.path(src.path());
        Path out = Fs.path(target);
        FileSystem fs = Fs.fs(out, conf);
        try (InputStream i = Fs.fs(in, conf).open(in); OutputStream o = fs.create(out, true)) {
            long pos = 0;
            for (TensorInfo t : ranges) {
                copy(i, o, t.begin() - pos);
                o.write(SafeTensorsWriter.encode(t.dtype(), replaced.get(t.name())));
                i.skipNBytes(t.end() - t.begin());
                pos = t.end();
            }
            i.transferTo(o);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    private static void copy(InputStream in, OutputStream out, long n) throws IOException {
        byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(1, n))];
        while (n > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, n));
            if (r < 0) throw new IOException("unexpected end of file");
            out.write(buf, 0, r);
            n -= r;
        }
    }
}
