package org.sith.run;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * The `--out` folder of one command. Outputs are first written to a staging folder beside them and
 * moved into place only when the whole run succeeded, so a failed run leaves no partial output. An
 * existing non-empty output is refused unless the user asked for --overwrite or --resume; other
 * folders under `--out` (another command's outputs) are never touched.
 */
public final class OutputDir {
    public static final String WORK = ".sith-work";

    private final Path out;
    private final FileSystem fs;
    private final List<String> outputs;
    private final boolean createdOut;
    private final Path staging;

    private OutputDir(Path out, FileSystem fs, List<String> outputs, boolean createdOut) {
        this.out = out;
        this.fs = fs;
        this.outputs = outputs;
        this.createdOut = createdOut;
        this.staging = new Path(out, ".sith-staging-" + UUID.randomUUID().toString().substring(0, 8));
    }

    public static OutputDir prepare(String outOption, List<String> outputs, boolean overwrite, boolean resume, Configuration conf) {
        return prepare(outOption, outputs, overwrite, resume, true, conf);
    }

    public static OutputDir prepare(String outOption, List<String> outputs, boolean overwrite, boolean resume,
                                    boolean resumable, Configuration conf) {
        if (overwrite && resume) throw new UserInputException("--overwrite and --resume exclude each other");
        Path out = Fs.path(outOption);
        FileSystem fs = Fs.fs(out, conf);
        try {
            boolean exists = fs.exists(out);
            if (exists && !fs.getFileStatus(out).isDirectory()) {
                throw new UserInputException("--out " + outOption + " is a file, not a folder");
            }
            if (exists && !overwrite && !resume) {
                for (String name : outputs) {
                    Path p = new Path(out, name);
                    if (fs.exists(p) && nonEmpty(fs, p)) {
                        throw new UserInputException("--out " + outOption + ": " + name + "/ already exists and is not empty (use --overwrite to replace it"
                                + (resumable ? " or --resume to complete it)" : ")"));
                    }
                }
            }
            return new OutputDir(out, fs, outputs, !exists);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean nonEmpty(FileSystem fs, Path p) throws IOException {
        if (!fs.getFileStatus(p).isDirectory()) return true;
        return fs.listStatus(p).length > 0;
    }

    public Path root() {
        return out;
    }

    public FileSystem fs() {
        return fs;
    }

    /** Where the finished outputs are assembled before the move into place. */
    public String staged(String name) {
        return new Path(staging, name).toString();
    }

    public String existing(String name) {
        return new Path(out, name).toString();
    }

    public boolean exists(String name) {
        try {
            return fs.exists(new Path(out, name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Resumable per-command work (finished chunks); kept when a run dies so --resume can use it. */
    public Path work(String command) {
        return new Path(new Path(out, WORK), command);
    }

    /**
     * Moves every staged output into place (replacing the old one) and writes the run record; Parquet
     * footers are made canonical first so identical inputs give identical bytes in any process.
     * Each folder's `_run.json` is written after its move: on an object store (s3a), where a folder's
     * rename is a copy of each file then a delete, not one atomic step, a folder is complete when its
     * `_run.json` exists (and `--out/_run.json`, written last, when the whole run is).
     */
    public void commit(String runJson) {
        try {
            for (String name : outputs) {
                Path staged = new Path(staging, name);
                if (!fs.exists(staged)) continue;
                Path target = new Path(out, name);
                boolean folder = fs.getFileStatus(staged).isDirectory(); // a single-file output (image_mean.npy) has no footer or record
                if (folder) ParquetFooters.canonicalizeAll(fs, staged);
                if (fs.exists(target)) fs.delete(target, true);
                if (!fs.rename(staged, target)) throw new IOException("cannot move " + staged + " to " + target);
                if (folder) writeText(new Path(target, "_run.json"), runJson);
            }
            writeText(new Path(out, "_run.json"), runJson);
            fs.delete(staging, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes what this run left; the work folder stays only when asked (a resumable failure). */
    public void abort(String command, boolean keepWork) {
        try {
            fs.delete(staging, true);
            if (!keepWork) {
                fs.delete(work(command), true);
                Path workRoot = new Path(out, WORK);
                if (fs.exists(workRoot) && fs.listStatus(workRoot).length == 0) fs.delete(workRoot, true);
            }
            if (createdOut && fs.exists(out) && fs.listStatus(out).length == 0) fs.delete(out, true);
        } catch (IOException e) {
            System.err.println("sith: could not clean up " + out + ": " + e.getMessage());
        }
    }

    public void deleteWork(String command) {
        try {
            fs.delete(work(command), true);
            Path workRoot = new Path(out, WORK);
            if (fs.exists(workRoot) && fs.listStatus(workRoot).length == 0) fs.delete(workRoot, true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public void writeText(Path p, String text) throws IOException {
        try (OutputStream o = fs.create(p, true)) {
            o.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    public String readText(Path p) {
        try (var in = fs.open(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public FileStatus[] list(Path p) {
        try {
            return fs.exists(p) ? fs.listStatus(p) : new FileStatus[0];
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
