package org.sith.model;

import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Scratch arrays of one forward pass, reused from batch to batch: off-heap GEMM operands keyed by
 * shape and heap arrays keyed by name. Confined to one thread; the weights it is used with are
 * shared read-only between threads.
 */
public final class Workspace {
    private final Map<String, INDArray> arrays = new HashMap<>();
    private final Map<String, FloatBuffer> views = new HashMap<>();
    private final Map<String, float[]> heap = new HashMap<>();

    /** A rows×cols off-heap array in the given order ('c' or 'f'), uninitialized. */
    INDArray array(int rows, int cols, char order) {
        String key = order + ":" + rows + "x" + cols;
        INDArray a = arrays.get(key);
        if (a == null) {
            a = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, cols}, order);
            arrays.put(key, a);
            views.put(key, a.data().asNioFloat());
        }
        return a;
    }

    /** The whole of an array from {@link #array} as a heap-copyable buffer, positioned at 0. */
    FloatBuffer view(int rows, int cols, char order) {
        array(rows, cols, order);
        FloatBuffer v = views.get(order + ":" + rows + "x" + cols);
        v.clear();
        return v;
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
