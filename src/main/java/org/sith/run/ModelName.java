package org.sith.run;

import java.util.Set;

import org.apache.hadoop.fs.Path;

/**
 * The `model` column every output carries, one rule for every command so that outputs of one checkpoint
 * join on it: `--model-name` when given, else the checkpoint's file name without its extension, or its
 * folder's name when the file name is a generic one ({@code model.safetensors}, {@code pytorch_model.bin}, ...).
 */
public final class ModelName {
    private ModelName() {}

    static final Set<String> GENERIC = Set.of("model", "pytorch_model", "open_clip_model", "open_clip_pytorch_model", "weights",
            "diffusion_pytorch_model", "adapter_model");

    public static String of(String checkpoint, String override) {
        if (override != null) return override;
        Path path = new Path(checkpoint);
        String name = path.getName().replaceAll("\\.(safetensors|bin|pt|pth|npy)$", "");
        if (GENERIC.contains(name) && path.getParent() != null && !path.getParent().getName().isEmpty()) return path.getParent().getName();
        return name;
    }
}
