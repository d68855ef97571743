package org.sith.checkpoint;

/**
 * A tensor to be written by {@link SafeTensorsWriter}: values are given as float whatever the
 * stored dtype (F32, F16, BF16 or F64), row-major in {@code shape}.
 */
public record TensorData(String dtype, long[] shape, float[] data) {

    public static TensorData f32(float[] data, long... shape) {
        return new TensorData("F32", shape, data);
    }
}
