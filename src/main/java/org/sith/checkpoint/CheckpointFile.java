package org.sith.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * What a user's {@code --checkpoint} names, resolved (SPEC §2): a safetensors file, a shard index
 * ({@code *.safetensors.index.json}), a PyTorch archive, or a folder holding one of them (the first of
 * {@link #FOLDER_ORDER}). Config, tokenizer and preprocessing files are looked up in {@link #dir()}.
 */
public record CheckpointFile(String given, String file, Format format, String dir) {
    public enum Format { SAFETENSORS, SHARDED_SAFETENSORS, PYTORCH }

    /** What a folder given as the checkpoint is searched for, in this order. */
    public static final List<String> FOLDER_ORDER = List.of("open_clip_model.safetensors", "open_clip_pytorch_model.bin",
            "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin");

    public static CheckpointFile resolve(String path, Configuration conf) {
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        FileStatus st;
        try {
            st = fs.getFileStatus(p);
        } catch (java.io.FileNotFoundException e) {
            throw new UserInputException("checkpoint " + path + ": file not found", e);
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + path + ": " + e.getMessage(), e);
        }
        if (st.isDirectory()) {
            for (String name : FOLDER_ORDER) {
                Path f = new Path(p, name);
                if (Fs.exists(fs, f)) {
                    return new CheckpointFile(path, f.toString(), format(f.toString(), fs, f), p.toString());
                }
            }
            throw new UserInputException("checkpoint " + path + ": a folder holding none of " + String.join(", ", FOLDER_ORDER));
        }
        return new CheckpointFile(path, path, format(path, fs, p), p.getParent() == null ? p.toString() : p.getParent().toString());
    }

    private static Format format(String path, FileSystem fs, Path p) {
        if (path.endsWith(".index.json")) return Format.SHARDED_SAFETENSORS;
        byte[] first = new byte[9];
        int n = 0;
        try (FSDataInputStream in = fs.open(p)) {
            for (int r; n < first.length && (r = in.read(first, n, first.length - n)) > 0; ) n += r;
            if (n < 4) return Format.SAFETENSORS; // too short for anything; the safetensors reader says so
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + path + ": " + e.getMessage(), e);
        }
        // a zip (torch.save since 1.6) or a bare pickle (the legacy format, which TorchArchive refuses with advice); a
        // pickle's PROTO opcode 0x80 may also be the low byte of a safetensors header length, whose JSON starts at byte 8
        boolean safetensorsHeader = n == first.length && first[8] == '{';
        if (ZipEntries.isZip(first) || ((first[0] & 0xff) == 0x80 && !safetensorsHeader)) return Format.PYTORCH;
        return Format.SAFETENSORS;
    }

    /** The stored tensors, in the names the file gives them. */
    public TensorStore open(Configuration conf) {
        return switch (format) {
            case SAFETENSORS -> SafeTensors.open(file, conf);
            case SHARDED_SAFETENSORS -> ShardedSafeTensors.open(file, conf);
            case PYTORCH -> TorchArchive.open(file, conf);
        };
    }

    /** A file beside the checkpoint (config, tokenizer, preprocessing), which may not exist. */
    public Path sidecar(String name) {
        return new Path(Fs.path(dir), name);
    }

    /** The files holding the weights: the file itself, or the index and its shards. */
    public List<String> dataFiles(TensorStore store) {
        List<String> out = new ArrayList<>();
        out.add(file);
        if (store instanceof ShardedSafeTensors s) {
            for (String shard : s.shardNames()) out.add(new Path(Fs.path(file).getParent(), shard).toString());
        }
        return out;
    }

    /** The sidecar folder of a checkpoint path: the folder itself, else the file's parent (whether or not the file exists). */
    public static Path dirOf(String checkpoint, Configuration conf) {
        Path p = Fs.path(checkpoint);
        try {
            FileSystem fs = Fs.fs(p, conf);
            if (fs.exists(p) && fs.getFileStatus(p).isDirectory()) return p;
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
        return p.getParent() == null ? p : p.getParent();
    }
}
