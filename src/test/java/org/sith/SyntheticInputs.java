package org.sith;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.demo.SyntheticClip;
import org.sith.io.Npy;

/**
 * A decompose's inputs on disk, from the synthetic CLIP of seed 21 (4 layers of 4 heads of width 64, p = 128):
 * the checkpoint in OpenCLIP naming with its config beside it, and its concepts as an .npy with a vocabulary.
 */
public record SyntheticInputs(Path dir, Path checkpoint, Path config, Path concepts, Path vocab) {
    public static SyntheticInputs write(Path dir) throws IOException {
        SyntheticClip clip = new SyntheticClip(21);
        Configuration conf = new Configuration();
        Files.createDirectories(dir);
        Path ck = dir.resolve("model.safetensors");
        SafeTensorsWriter.write(ck.toString(), conf, clip.tensors, Map.of());
        Path config = dir.resolve("open_clip_config.json");
        Files.writeString(config, clip.openClipConfig());
        Path npy = dir.resolve("concepts.npy");
        Npy.write(npy.toString(), conf, new long[] {clip.concepts.length, clip.p}, clip.embeddings);
        Path vocab = dir.resolve("concepts.txt");
        Files.writeString(vocab, String.join("\n", clip.concepts) + "\n", StandardCharsets.UTF_8);
        return new SyntheticInputs(dir, ck, config, npy, vocab);
    }
}
