package org.sith.checkpoint;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * A PyTorch archive ({@code torch.save} since 1.6, or {@code torch.jit.save}) read without running
 * it: the zip's {@code data.pkl} is interpreted by {@link TorchPickle}, and each tensor is a view
 * (offset, shape, strides) of a storage the archive holds uncompressed under {@code data/KEY},
 * read with positioned reads when asked for. A state dict may sit at the top, under
 * {@code state_dict} or {@code model}, with a {@code module.} prefix; a TorchScript module's
 * parameters are its objects' tensor attributes, named by their path as a state dict names them.
 */
public final class TorchArchive implements TensorStore {
    static final long MAX_PICKLE_BYTES = 256L << 20;
    private static final AtomicInteger OPEN = new AtomicInteger();

    /** A tensor ready to read: its view and where its storage's bytes begin in the file. */
    private record Entry(String name, TorchPickle.Tensor view, long dataStart) {
        String dtype() {
            return view.storage().dtype();
        }
    }

    private final String path;
    private final FSDataInputStream in;
    private final SortedMap<String, Entry> tensors;
    private final String format;
    private boolean closed;

    private TorchArchive(String path, FSDataInputStream in, SortedMap<String, Entry> tensors, String format) {
        this.path = path;
        this.in = in;
        this.tensors = tensors;
        this.format = format;
    }

    public static TorchArchive open(String path, Configuration conf) {
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        FSDataInputStream in = null;
        try {
            long length = fs.getFileStatus(p).getLen();
            in = fs.open(p);
            byte[] first = new byte[(int) Math.min(4, length)];
            in.readFully(0, first, 0, first.length);
            if (!ZipEntries.isZip(first)) {
                if (first.length >= 2 && (first[0] & 0xff) == 0x80) {
                    throw new UserInputException("checkpoint " + path + ": a PyTorch file in the legacy format (before PyTorch 1.6), "
                            + "which cannot be read without running it; re-save it where you trust it, with "
                            + "torch.save(torch.load(f), 'model.bin') in PyTorch 1.6 or later, or as safetensors");
                }
                throw new UserInputException("checkpoint " + path + ": not a PyTorch archive (no zip header)");
            }
            ZipEntries zip = ZipEntries.read(path, in, length);
            TorchArchive a = read(path, in, zip);
            OPEN.incrementAndGet();
            return a;
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

    private static TorchArchive read(String path, FSDataInputStream in, ZipEntries zip) throws IOException {
        String root = null;
        for (String name : zip.entries().keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash).equals("/data.pkl")) {
                if (root != null) throw new UserInputException("checkpoint " + path + ": holds two pickles, " + root + "/data.pkl and " + name);
                root = name.substring(0, slash);
            }
        }
        if (root == null) throw new UserInputException("checkpoint " + path + ": a zip archive without a data.pkl: not a PyTorch archive");
        ZipEntries.Entry order = zip.entries().get(root + "/byteorder");
        if (order != null) {
            String o = new String(zip.readAll(order, 16), StandardCharsets.US_ASCII).trim();
            if (!o.equals("little")) throw new UserInputException("checkpoint " + path + ": tensors stored " + o + "-endian; only little-endian is read");
        }
        String codeDir = root + "/code/";
        boolean script = zip.entries().containsKey(root + "/constants.pkl") || zip.entries().keySet().stream().anyMatch(n -> n.startsWith(codeDir));
        String where = "checkpoint " + path + " (" + root + "/data.pkl)";
        Object top = TorchPickle.load(where, zip.readAll(zip.entries().get(root + "/data.pkl"), MAX_PICKLE_BYTES));

        SortedMap<String, TorchPickle.Tensor> views = new TreeMap<>();
        String format;
        if (top instanceof TorchPickle.ScriptObject o) {
            flatten(o, "", views, 0);
            format = "TorchScript archive";
            if (views.isEmpty()) {
                throw new UserInputException("checkpoint " + path + ": a TorchScript archive whose parameters are not tensor attributes of "
                        + "its modules; cannot be read without running it: load it in PyTorch and save its state_dict() as safetensors");
            }
        } else {
            Map<?, ?> dict = stateDict(top, path, script);
            for (Map.Entry<?, ?> e : dict.entrySet()) {
                if (e.getValue() instanceof TorchPickle.Tensor t) views.put(String.valueOf(e.getKey()), t);
            }
            format = "PyTorch archive";
            if (views.isEmpty()) {
                throw new UserInputException("checkpoint " + path + ": holds no tensors at its top level nor under 'state_dict' or 'model'; "
                        + "save model.state_dict() rather than the model");
            }
        }
        views = stripPrefix(views, "module.");
        SortedMap<String, Entry> tensors = new TreeMap<>();
        for (Map.Entry<String, TorchPickle.Tensor> e : views.entrySet()) {
            tensors.put(e.getKey(), check(path, zip, root, e.getKey(), e.getValue()));
        }
        return new TorchArchive(path, in, Collections.unmodifiableSortedMap(tensors), format);
    }

    private static Map<?, ?> stateDict(Object top, String path, boolean script) {
        if (!(top instanceof Map<?, ?> m)) {
            throw new UserInputException("checkpoint " + path + ": its pickle holds " + (top == null ? "None" : top.getClass().getSimpleName())
                    + ", not a state dict" + (script ? " (a TorchScript archive whose parameters cannot be recovered)" : ""));
        }
        for (int depth = 0; depth < 3; depth++) {
            if (m.values().stream().anyMatch(v -> v instanceof TorchPickle.Tensor)) return m;
            Object inner = m.containsKey("state_dict") ? m.get("state_dict") : m.get("model");
            if (!(inner instanceof Map<?, ?> next)) return m;
            m = next;
        }
        return m;
    }

    private static void flatten(TorchPickle.ScriptObject o, String prefix, SortedMap<String, TorchPickle.Tensor> out, int depth) {
        if (depth > 64) throw new UserInputException("TorchScript modules nested more than 64 deep at " + prefix);
        for (Map.Entry<Object, Object> e : o.state().entrySet()) {
            String name = prefix + e.getKey();
            if (e.getValue() instanceof TorchPickle.Tensor t) out.put(name, t);
            else if (e.getValue() instanceof TorchPickle.ScriptObject child) flatten(child, name + ".", out, depth + 1);
        }
    }

    private static SortedMap<String, TorchPickle.Tensor> stripPrefix(SortedMap<String, TorchPickle.Tensor> views, String prefix) {
        if (!views.keySet().stream().allMatch(k -> k.startsWith(prefix))) return views;
        SortedMap<String, TorchPickle.Tensor> out = new TreeMap<>();
        views.forEach((k, v) -> out.put(k.substring(prefix.length()), v));
        return out;
    }

    /** Every claim a tensor makes about its storage, checked against the archive before anything is read. */
    private static Entry check(String path, ZipEntries zip, String root, String name, TorchPickle.Tensor t) throws IOException {
        String at = "checkpoint " + path + ": tensor '" + name + "'";
        TorchPickle.Storage s = t.storage();
        ZipEntries.Entry e = zip.entries().get(root + "/data/" + s.key());
        if (e == null) throw new UserInputException(at + ": its storage " + root + "/data/" + s.key() + " is not in the archive");
        if (e.method() != 0) throw new UserInputException(at + ": its storage is compressed in the zip (torch.save stores them as they are)");
        int size = Dtypes.size(s.dtype());
        if (s.numel() > e.size() / size) {
            throw new UserInputException(at + ": its storage claims " + s.numel() + " " + s.dtype() + " elements but "
                    + root + "/data/" + s.key() + " holds " + e.size() + " bytes");
        }
        if (t.shape().length != t.stride().length) throw new UserInputException(at + ": shape and strides differ in rank");
        long numel = 1;
        long last = t.offset();
        for (int i = 0; i < t.shape().length; i++) {
            long n = t.shape()[i];
            long st = t.stride()[i];
            if (n < 0 || st < 0) throw new UserInputException(at + ": negative size or stride " + TensorInfo.shapeString(t.shape()));
            if (n == 0) {
                numel = 0;
                break;
            }
            if (n > Long.MAX_VALUE / numel) throw new UserInputException(at + ": shape " + TensorInfo.shapeString(t.shape()) + " overflows");
            numel *= n;
            if (st != 0 && n - 1 > (Long.MAX_VALUE - last) / st) throw new UserInputException(at + ": strides overflow");
            last += (n - 1) * st;
        }
        if (t.offset() < 0 || (numel > 0 && last >= s.numel())) {
            throw new UserInputException(at + ": view at offset " + t.offset() + " with shape " + TensorInfo.shapeString(t.shape())
                    + " and strides " + TensorInfo.shapeString(t.stride()) + " reaches element " + last + " of a storage of "
                    + s.numel() + " elements");
        }
        return new Entry(name, t, zip.dataStart(e));
    }

    /** "PyTorch archive" or "TorchScript archive". */
    public String format() {
        return format;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    private Entry entry(String name) {
        Entry e = tensors.get(name);
        if (e == null) throw new UserInputException("tensor '" + name + "' missing in " + path);
        return e;
    }

    @Override
    public long[] shape(String name) {
        return entry(name).view().shape().clone();
    }

    @Override
    public String dtype(String name) {
        return entry(name).dtype();
    }

    @Override
    public float[] readFloats(String name) {
        Entry e = entry(name);
        long n = 1;
        for (long s : e.view().shape()) n *= s;
        return read(e, 0, n);
    }

    @Override
    public float[] readRows(String name, long firstRow, long rowCount) {
        Entry e = entry(name);
        long[] shape = e.view().shape();
        if (shape.length == 0) throw new UserInputException("checkpoint " + path + ": tensor '" + name + "' is a scalar, it has no rows");
        if (firstRow < 0 || rowCount < 0 || firstRow > shape[0] - rowCount) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + name + "' rows [" + firstRow + "," + (firstRow + rowCount)
                    + ") out of range: it has " + shape[0] + " rows");
        }
        long rowSize = 1;
        for (int i = 1; i < shape.length; i++) rowSize *= shape[i];
        return read(e, firstRow * rowSize, rowCount * rowSize);
    }

    /** Elements [first, first + count) of the tensor in row-major order. */
    private float[] read(Entry e, long first, long count) {
        if (!Dtypes.isReadable(e.dtype())) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + e.name() + "' has dtype " + e.dtype() + ", which cannot be read as numbers");
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + e.name() + "' is too large to read into one array (" + count + " elements)");
        }
        float[] out = new float[(int) count];
        if (count == 0) return out;
        long[] shape = e.view().shape();
        long[] stride = e.view().stride();
        int size = Dtypes.size(e.dtype());
        TensorBytes.Sink sink = (i, v) -> {
            float f = (float) v;
            if (!Float.isFinite(f)) {
                throw new UserInputException("checkpoint " + path + ": tensor '" + e.name() + "' has a non-finite value ("
                        + (Double.isFinite(v) ? v + " overflows float" : Double.toString(v)) + ") at index " + (first + i));
            }
            out[i] = f;
        };
        if (contiguous(shape, stride)) {
            decodeSpan(e, e.view().offset() + first, (int) count, size, sink);
            return out;
        }
        // a strided view: read the storage span the elements cover, then gather in row-major order
        long lo = Long.MAX_VALUE;
        long hi = Long.MIN_VALUE;
        long[] idx = new long[(int) count];
        long[] pos = new long[shape.length];
        long rem = first;
        for (int d = shape.length - 1; d >= 0; d--) {
            pos[d] = rem % shape[d];
            rem /= shape[d];
        }
        for (int i = 0; i < count; i++) {
            long o = e.view().offset();
            for (int d = 0; d < shape.length; d++) o += pos[d] * stride[d];
            idx[i] = o;
            lo = Math.min(lo, o);
            hi = Math.max(hi, o);
            for (int d = shape.length - 1; d >= 0 && ++pos[d] == shape[d]; d--) pos[d] = 0;
        }
        if (hi - lo + 1 > Integer.MAX_VALUE - 8) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + e.name() + "' is a strided view spanning " + (hi - lo + 1)
                    + " elements, too many to gather");
        }
        double[] span = new double[(int) (hi - lo + 1)];
        decodeSpan(e, lo, span.length, size, (i, v) -> span[i] = v);
        for (int i = 0; i < count; i++) sink.accept(i, span[(int) (idx[i] - lo)]);
        return out;
    }

    /** A tensor's elements as little-endian bytes of its own dtype, row-major (a strided view gathered). */
    public byte[] rawBytes(String name) {
        Entry e = entry(name);
        long[] shape = e.view().shape();
        long[] stride = e.view().stride();
        long n = 1;
        for (long s : shape) n *= s;
        int size = Dtypes.size(e.dtype());
        if (n * size > Integer.MAX_VALUE - 8) {
            throw new UserInputException("checkpoint " + path + ": tensor '" + name + "' is too large to copy in one piece (" + n + " elements)");
        }
        byte[] out = new byte[(int) (n * size)];
        try {
            if (contiguous(shape, stride)) {
                in.readFully(e.dataStart() + e.view().offset() * size, out, 0, out.length);
                return out;
            }
            long[] pos = new long[shape.length];
            byte[] one = new byte[size];
            for (int i = 0; i < n; i++) {
                long o = e.view().offset();
                for (int d = 0; d < shape.length; d++) o += pos[d] * stride[d];
                in.readFully(e.dataStart() + o * size, one, 0, size);
                System.arraycopy(one, 0, out, i * size, size);
                for (int d = shape.length - 1; d >= 0 && ++pos[d] == shape[d]; d--) pos[d] = 0;
            }
            return out;
        } catch (IOException x) {
            throw new UncheckedIOException("checkpoint " + path + ": reading tensor '" + name + "': " + x.getMessage(), x);
        }
    }

    private static boolean contiguous(long[] shape, long[] stride) {
        long expect = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && stride[d] != expect) return false;
            expect *= shape[d];
        }
        return true;
    }

    private void decodeSpan(Entry e, long firstElement, int count, int size, TensorBytes.Sink sink) {
        try {
            TensorBytes.read(in, e.dataStart() + firstElement * size, count, e.dtype(), sink);
        } catch (IOException x) {
            throw new UncheckedIOException("checkpoint " + path + ": reading tensor '" + e.name() + "': " + x.getMessage(), x);
        }
    }

    /** Handles open in this JVM. */
    public static int openHandles() {
        return OPEN.get();
    }

    @Override
    public synchronized void close() throws IOException {
        if (!closed) {
            closed = true;
            OPEN.decrementAndGet();
        }
        in.close();
    }

    private static void closeQuietly(FSDataInputStream in) {
        try {
            if (in != null) in.close();
        } catch (IOException ignored) {
            // already failing with a better message
        }
    }
}
