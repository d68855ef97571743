package org.sith.checkpoint;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import org.sith.io.Fs;

/**
 * Writes an edited checkpoint in the form the input came in, as far as a file can be written without
 * pickle: a safetensors file is patched in place of its tensors (every other byte copied), sharded
 * safetensors are written shard by shard (untouched shards copied) with their index, and a PyTorch
 * archive becomes one safetensors file of the same tensors and dtypes ({@code pytorch_model.bin} →
 * {@code model.safetensors}, {@code open_clip_pytorch_model.bin} → {@code open_clip_model.safetensors},
 * else the stem). Replaced tensors are given by their view names ({@link ClipTensors}); where LayerScale
 * was folded into them, the folded weights are written and the γ set to 1, so any loader sees the edit.
 */
public final class EditedCheckpoint {
    private EditedCheckpoint() {}

    /** The file names the edited checkpoint is written as, in the output folder. */
    public static List<String> files(ClipTensors src) {
        CheckpointFile f = src.file();
        String name = Fs.path(f.file()).getName();
        return switch (f.format()) {
            case SAFETENSORS -> List.of(name);
            case SHARDED_SAFETENSORS -> {
                List<String> out = new ArrayList<>(List.of(name));
                out.addAll(((ShardedSafeTensors) src.stored()).shardNames());
                yield out;
            }
            case PYTORCH -> List.of(converted(name));
        };
    }

    static String converted(String name) {
        if (name.equals("pytorch_model.bin")) return "model.safetensors";
        if (name.equals("open_clip_pytorch_model.bin")) return "open_clip_model.safetensors";
        int dot = name.lastIndexOf('.');
        return (dot > 0 ? name.substring(0, dot) : name) + ".safetensors";
    }

    /**
     * Writes the checkpoint with the given view tensors replaced; {@code target} maps each of {@link #files}
     * to the path it is written at.
     */
    public static void write(ClipTensors src, Map<String, float[]> replaced, UnaryOperator<String> target, Configuration conf) {
        Map<String, float[]> stored = storedValues(src, replaced);
        CheckpointFile f = src.file();
        String name = Fs.path(f.file()).getName();
        switch (f.format()) {
            case SAFETENSORS -> CheckpointPatch.write((SafeTensors) src.stored(), stored, target.apply(name), conf);
            case SHARDED_SAFETENSORS -> {
                ShardedSafeTensors sharded = (ShardedSafeTensors) src.stored();
                Map<String, Map<String, float[]>> byShard = new HashMap<>();
                for (Map.Entry<String, float[]> e : stored.entrySet()) {
                    SafeTensors shard = sharded.shardOf(e.getKey());
                    byShard.computeIfAbsent(Fs.path(shard.path()).getName(), k -> new LinkedHashMap<>()).put(e.getKey(), e.getValue());
                }
                for (String shard : sharded.shardNames()) {
                    Map<String, float[]> mine = byShard.getOrDefault(shard, Map.of());
                    if (mine.isEmpty()) copy(sharded.shard(shard).path(), target.apply(shard), conf);
                    else CheckpointPatch.write(sharded.shard(shard), mine, target.apply(shard), conf);
                }
                copy(f.file(), target.apply(name), conf);
            }
            case PYTORCH -> convert((TorchArchive) src.stored(), stored, target.apply(converted(name)), conf);
        }
    }

    /** Replaced view tensors as stored tensors: renamed, and with each folded LayerScale's γ set to 1 and its branch written folded. */
    private static Map<String, float[]> storedValues(ClipTensors src, Map<String, float[]> replaced) {
        Map<String, float[]> out = new LinkedHashMap<>();
        Map<String, List<String>> foldedBy = new HashMap<>();
        for (String n : src.names()) {
            ClipTensors.Source s = src.source(n);
            if (s.gamma() != null) foldedBy.computeIfAbsent(s.gamma(), k -> new ArrayList<>()).add(n);
        }
        for (Map.Entry<String, float[]> e : replaced.entrySet()) {
            ClipTensors.Source s = src.source(e.getKey());
            if (s.transform() != ClipTensors.Transform.AS_STORED) {
                throw new IllegalArgumentException("tensor '" + e.getKey() + "' is stored transformed as '" + s.stored() + "' and cannot be replaced");
            }
            out.put(s.stored(), e.getValue());
            if (s.gamma() != null && !out.containsKey(s.gamma())) {
                float[] ones = new float[(int) src.stored().shape(s.gamma())[0]];
                java.util.Arrays.fill(ones, 1f);
                out.put(s.gamma(), ones);
                for (String other : foldedBy.get(s.gamma())) {
                    if (!replaced.containsKey(other)) out.put(src.source(other).stored(), src.readFloats(other));
                }
            }
        }
        return out;
    }

    private static void convert(TorchArchive a, Map<String, float[]> replaced, String target, Configuration conf) {
        LinkedHashMap<String, SafeTensorsWriter.Raw> header = new LinkedHashMap<>();
        for (String n : a.names()) {
            long numel = 1;
            for (long s : a.shape(n)) numel *= s;
            header.put(n, new SafeTensorsWriter.Raw(a.dtype(n), a.shape(n), numel * Dtypes.size(a.dtype(n))));
        }
        byte[] h = SafeTensorsWriter.rawHeader(header, Map.of("format", "pt"));
        Path p = Fs.path(target);
        try (OutputStream out = new BufferedOutputStream(Fs.fs(p, conf).create(p, true), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            out.write(h);
            for (String n : a.names()) {
                float[] v = replaced.get(n);
                out.write(v != null ? SafeTensorsWriter.encode(a.dtype(n), v) : a.rawBytes(n));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    private static void copy(String from, String to, Configuration conf) {
        Path f = Fs.path(from);
        Path t = Fs.path(to);
        try (InputStream in = Fs.fs(f, conf).open(f); OutputStream out = Fs.fs(t, conf).create(t, true)) {
            in.transferTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + from + " to " + to + ": " + e.getMessage(), e);
        }
    }
}
