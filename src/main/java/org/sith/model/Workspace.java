package org.sith.model;

import java.util.HashMap;
import java.util.Map;

import org.sith.linalg.Gemm;

/**
 * Scratch arrays of one forward pass, reused from batch to batch: off-heap GEMM operands keyed by
 * shape and heap arrays keyed by name. Confined to one thread; the weights it is used with are
 * shared read-only between threads.
 */
public final class Workspace {
    private final Map<String, Gemm.Matrix> matrices = new HashMap<>();
    private final Map<String, float[]> heap = new HashMap<>();

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
}
