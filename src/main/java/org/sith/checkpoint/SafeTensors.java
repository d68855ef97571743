package org.sith.checkpoint;

import java.io.Closeable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * A safetensors file read through Hadoop's FileSystem, so checkpoints can live on local disk,
 * HDFS or S3. Only the header is read on open; tensors are read on demand with positioned reads,
 * which lets a job take a few rows of a large tensor without fetching the rest.
 */
public final class SafeTensors implements TensorStore {
    static final long MAX_HEADER_BYTES = 100L << 20;

    /** Handles open in this JVM (tests check that failures close what they opened). */
    private static final java.util.concurrent.atomic.AtomicInteger OPEN = new java.util.concurrent.atomic.AtomicInteger();

    private final String path;
    private final FSDataInputStream in;
    private boolean closed;
    private final long fileLength;
    private final byte[] header;
    private final SortedMap<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafeTensors(String path, FSDataInputStream in, long fileLength, byte[] header,
                        SafeTensorsHeader.Parsed parsed) {
        this.path = path;
        this.in = in;
        this.fileLength = fileLength;
        this.header = header;
        this.tensors = parsed.tensors();
        this.metadata = parsed.metadata();
    }

    public static SafeTensors open(String path, Configuration conf) {
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        FSDataInputStream in = null;
        try {
            FileStatus status = fs.getFileStatus(p);
            if (status.isDirectory()) {
                throw new UserInputException("checkpoint " + path + ": is a directory, not a safetensors file");
            }
            long length = status.getLen();
            in = fs.open(p);
            byte[] header = readHeader(path, in, length);
            SafeTensorsHeader.Parsed parsed =
                    SafeTensorsHeader.parse(path, header, 8 + header.length, length - 8 - header.length);
            SafeTensors st = new SafeTensors(path, in, length, header, parsed);
            OPEN.incrementAndGet();
            return st;
        } catch (FileNotFoundException e) {
            closeQuietly(in);
            throw new UserInputException("checkpoint " + path + ": file not found", e);
        } catch (IOException e) {
            closeQuietly(in);
            throw new UncheckedIOException("checkpoint " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(in);
            throw e;
        }
    }

    private static byte[] readHeader(String path, FSDataInputStream in, long length) throws IOException {
        if (length < 8) {
            throw new UserInputException("checkpoint " + path + ": file is " + length
                    + " bytes, too short for a safetensors header");
        }
        byte[] prefix = new byte[8];
        in.readFully(0, prefix, 0, 8);
        long n = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // n is unsigned on disk: a negative long means a value above 2^63, certainly past the end
        if (n == 0) {
            throw new UserInputException("checkpoint " + path + ": header length is 0");
        }
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new UserInputException("checkpoint " + path + ": header length " + Long.toUnsignedString(n)
                    + " exceeds the " + MAX_HEADER_BYTES + "-byte limit (not a safetensors file?)");
        }
        if (8 + n > length) {
            throw new UserInputException("checkpoint " + path + ": header length " + n
                    + " past end of file (" + length + " bytes)");
        }
        byte[] header = new byte[(int) n];
        in.readFully(8, header, 0, header.length);
        return header;
    }

    /** Tensor names, sorted. */
    public Set<String> names() {
        return tensors.keySet();
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public String dtype(String name) {
        return info(name).dtype();
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new UserInputException("tensor '" + name + "' missing in " + path);
        return t;
    }

    @Override
    public long[] shape(String name) {
        return info(name).shape();
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public String path() {
        return path;
    }

    public long fileLength() {
        return fileLength;
    }

    public byte[] headerBytes() {
        return header.clone();
    }

    /** The whole tensor as float, row-major as stored. */
    public float[] readFloats(String name) {
        TensorInfo t = info(name);
        return readFloats(t, 0, t.numel());
    }

    /** Rows [firstRow, firstRow + rowCount) of the first axis; reads only those bytes. */
    public float[] readRows(String name, long firstRow, long rowCount) {
        TensorInfo t = info(name);
        if (t.rank() == 0) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + name + "' is a scalar, it has no rows");
        }
        if (firstRow < 0 || rowCount < 0 || firstRow > t.dim(0) - rowCount) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + name + "' rows [" + firstRow + ","
                    + (firstRow + rowCount) + ") out of range: it has " + t.dim(0) + " rows");
        }
        long rowSize = t.numel() / Math.max(1, t.dim(0));
        return readFloats(t, firstRow * rowSize, rowCount * rowSize);
    }

    public double[] readDoubles(String name) {
        TensorInfo t = info(name);
        double[] out = new double[checkedLength(t, t.numel())];
        read(t, 0, out.length, (i, v) -> {
            if (!Double.isFinite(v)) throw nonFinite(t, i, Double.toString(v));
            out[i] = v;
        });
        return out;
    }

    private float[] readFloats(TensorInfo t, long firstElement, long count) {
        float[] out = new float[checkedLength(t, count)];
        read(t, firstElement, out.length, (i, v) -> {
            float f = (float) v;
            if (!Float.isFinite(f)) {
                // an F64 value can be finite yet too large for float; say so rather than "Infinity"
                throw nonFinite(t, firstElement + i, Double.isFinite(v) ? v + " overflows float" : Double.toString(v));
            }
            out[i] = f;
        });
        return out;
    }

    private int checkedLength(TensorInfo t, long count) {
        if (!Dtypes.isReadable(t.dtype())) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + t.name() + "' has dtype "
                    + t.dtype() + ", which cannot be read as numbers");
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + t.name() + "' "
                    + t.shapeString() + " is too large to read into one array (" + count + " elements)");
        }
        return (int) count;
    }

    /** Decodes count elements from firstElement on, chunk by chunk, into sink (index relative to firstElement). */
    private void read(TensorInfo t, long firstElement, int count, TensorBytes.Sink sink) {
        try {
            TensorBytes.read(in, t.begin() + firstElement * Dtypes.size(t.dtype()), count, t.dtype(), sink);
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + path + ": reading tensor '" + t.name() + "': "
                    + e.getMessage(), e);
        }
    }

    private UserInputException nonFinite(TensorInfo t, long index, String what) {
        return new UserInputException("checkpoint " + path + ": tensor '" + t.name()
                + "' has a non-finite value (" + what + ") at index " + index);
    }

    @Override
    public synchronized void close() throws IOException {
        if (!closed) {
            closed = true;
            OPEN.decrementAndGet();
        }
        in.close();
    }

    /** How many checkpoint handles are open in this JVM. */
    public static int openHandles() {
        return OPEN.get();
    }

    private static void closeQuietly(Closeable c) {
        try {
            if (c != null) c.close();
        } catch (IOException ignored) {
            // already failing with a better message
        }
    }
}
