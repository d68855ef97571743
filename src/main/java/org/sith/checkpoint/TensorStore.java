package org.sith.checkpoint;

import java.io.Closeable;
import java.util.Set;

/**
 * A checkpoint's named tensors, whatever file format holds them (a safetensors file, sharded
 * safetensors, a PyTorch archive): their names, dtypes (as safetensors spells them) and shapes, read
 * on demand as float.
 */
public interface TensorStore extends TensorSource, Closeable {
    /** Tensor names, sorted. */
    Set<String> names();

    /** F32, F16, BF16, F64, I64, ...; a missing tensor is a user error naming it. */
    String dtype(String name);

    /** Rows [firstRow, firstRow + rowCount) of the first axis, row-major. */
    float[] readRows(String name, long firstRow, long rowCount);
}
