package org.sith.checkpoint;

/**
 * Named tensors read as float: a safetensors file, or a model built in memory (the demo, tests), so
 * that the towers load the same way from both.
 */
public interface TensorSource {
    /** What error messages call this source (a file path, or a description). */
    String path();

    boolean has(String name);

    /** Shape of a tensor that exists; a missing one is a user error naming it. */
    long[] shape(String name);

    /** Row-major float values; non-float or non-finite data is a user error naming the tensor. */
    float[] readFloats(String name);

    /** What the file itself calls a tensor (its name here may be a translation, see {@link ClipTensors}). */
    default String storedName(String name) {
        return name;
    }
}
