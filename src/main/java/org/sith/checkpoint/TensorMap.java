package org.sith.checkpoint;

import java.util.Map;

import org.sith.UserInputException;

/** Tensors held in memory (as written by {@link SafeTensorsWriter}) seen as a {@link TensorSource}. */
public record TensorMap(String path, Map<String, TensorData> tensors) implements TensorSource {
    @Override
    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return get(name).shape().clone();
    }

    @Override
    public float[] readFloats(String name) {
        return get(name).data().clone();
    }

    private TensorData get(String name) {
        TensorData t = tensors.get(name);
        if (t == null) throw new UserInputException("tensor '" + name + "' missing in " + path);
        return t;
    }
}
