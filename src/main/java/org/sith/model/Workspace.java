package org.sith.model;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.sith.linalg.Gemm;
import org.sith.linalg.OneDnn;

/**
 * Scratch arrays of one forward pass, reused from batch to batch: off-heap GEMM operands keyed by
 * shape, heap arrays keyed by name, and, for bf16 towers, one oneDNN {@link OneDnn.Product} per packed
 * weight (all of them sharing one input and one output buffer: they never run at once). Confined to one
 * thread (oneDNN's primitives must run on the thread that made them); the weights it is used with are
 * shared read-only between threads. The products' native objects are destroyed when the workspace
 * becomes unreachable.
 */
public final class Workspace {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Map<String, Gemm.Matrix> matrices = new HashMap<>();
    private final Map<String, float[]> heap = new HashMap<>();
    private final Map<String, short[]> shorts = new HashMap<>();
    private final Products products = new Products();

    public Workspace() {
        CLEANER.register(this, products);
    }

    /** The products of one workspace and their shared buffers; closing destroys the products' native objects. */
    private static final class Products implements Runnable {
        final Map<OneDnn.PackedB, OneDnn.Product> byWeight = new IdentityHashMap<>();
        final List<OneDnn.Product> made = new ArrayList<>();
        ShortPointer input;
        FloatPointer output;

        @Override
        public synchronized void run() {
            for (OneDnn.Product p : made) p.close();
            made.clear();
            byWeight.clear();
        }
    }

    /** An off-heap rows×cols matrix kept under this name (regrown when too small), uninitialized. */
    Gemm.Matrix matrix(String name, int rows, int cols) {
        String key = name + ":" + rows + "x" + cols;
        Gemm.Matrix m = matrices.get(key);
        if (m == null) {
            m = new Gemm.Matrix(rows, cols);
            matrices.put(key, m);
        }
        return m;
    }

    /** A heap array of at least n floats, kept under this name. */
    float[] floats(String name, int n) {
        float[] a = heap.get(name);
        if (a == null || a.length < n) {
            a = new float[n];
            heap.put(name, a);
        }
        return a;
    }

    /** A heap array of at least n shorts, kept under this name. */
    short[] shorts(String name, int n) {
        short[] a = shorts.get(name);
        if (a == null || a.length < n) {
            a = new short[n];
            shorts.put(name, a);
        }
        return a;
    }

    /**
     * This thread's product against a packed weight, made on first use. When a weight needs larger buffers than
     * the shared ones, both are regrown and the products made so far are remade on their next use.
     */
    OneDnn.Product product(OneDnn.PackedB b) {
        Products ps = products;
        synchronized (ps) {
            OneDnn.Product p = ps.byWeight.get(b);
            if (p != null) return p;
            long in = (long) b.maxRows * b.k;
            long out = (long) b.maxRows * b.n;
            if (ps.input == null || ps.input.capacity() < in || ps.output == null || ps.output.capacity() < out) {
                ps.run(); // products wrap the old buffers: destroy them before the buffers go
                ps.input = new ShortPointer(Math.max(in, ps.input == null ? 0 : ps.input.capacity()));
                ps.output = new FloatPointer(Math.max(out, ps.output == null ? 0 : ps.output.capacity()));
            }
            p = new OneDnn.Product(b, ps.input, ps.output);
            ps.byWeight.put(b, p);
            ps.made.add(p);
            return p;
        }
    }
}
