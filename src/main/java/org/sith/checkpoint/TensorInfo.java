package org.sith.checkpoint;

import java.util.Arrays;

/**
 * One tensor of a safetensors file, after its header entry was validated. {@code begin} and
 * {@code end} are absolute file offsets (header already added), so readers need no arithmetic.
 */
public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    /** A copy: callers must not be able to change what the validated header said. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    public long numel() {
        long n = 1;
        for (long s : shape) n *= s;
        return n;
    }

    public long byteLength() {
        return end - begin;
    }

    /** "[768,512]", the form used in every message about shapes. */
    public String shapeString() {
        return shapeString(shape);
    }

    static String shapeString(long[] shape) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) b.append(i == 0 ? "" : ",").append(shape[i]);
        return b.append(']').toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype.equals(t.dtype)
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString() + " @[" + begin + "," + end + ")";
    }
}
