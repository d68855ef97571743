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
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * The run harness: one command's output lifecycle, the same for every command.
 * <ol>
 * <li>claim the command's outputs under `--out` ({@link OutputClaim}: of two racing runs one proceeds);</li>
 * <li>refuse outputs that exist unless the write mode is overwrite or resume;</li>
 * <li>let the command stage its outputs in a folder of its own beside them, recording `_run.json` as it goes;</li>
 * <li>commit: move each staged output into place, then its `_run.json` (the completion mark on s3a, where a
 *     folder's move is a copy of each file), then `--out/_run.json`;</li>
 * <li>or abort: wait until Spark runs no task of the failed job (a straggler would write after the clean-up),
 *     remove the staging folder and the work folder (kept when the command asks, for `--resume`), and `--out`
 *     itself when this run created it and left it empty;</li>
 * <li>release the claims.</li>
 * </ol>
 * A refusal leaves everything as it was: nothing is created or removed before the claim is held.
 */
public final class JobRun {
    public static final String WORK = ".sith-work";

    /** What a command does inside the harness. */
    public interface Body<R> {
        R run(JobRun run) throws Exception;
    }

    private final SparkSession spark;
    private final String command;
    private final OutputTarget target;
    private final List<String> outputs;
    private final Path out;
    private final FileSystem fs;
    private final Path staging;
    private final RunRecord record;
    private boolean keepWork;
    private boolean committed;

    private JobRun(SparkSession spark, String command, OutputTarget target, List<String> outputs, Path out, FileSystem fs, String runId, Record config) {
        this.spark = spark;
        this.command = command;
        this.target = target;
        this.outputs = outputs;
        this.out = out;
        this.fs = fs;
        this.staging = new Path(out, ".sith-staging-" + runId);
        this.record = new RunRecord(command, spark).options(config);
        record.runId(runId);
    }

    /** Runs {@code body} as command {@code command} writing {@code outputs} under {@code target}; {@code config} is recorded. */
    public static <R> R run(SparkSession spark, String command, OutputTarget target, List<String> outputs, Record config, Body<R> body) {
        return run(spark, command, target, outputs, false, config, body);
    }

    /** As above; {@code resumable}: the command takes --resume (its refusal of existing outputs says so). */
    public static <R> R run(SparkSession spark, String command, OutputTarget target, List<String> outputs, boolean resumable, Record config,
                            Body<R> body) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Path out = Fs.path(target.folder());
        FileSystem fs = Fs.fs(out, conf);
        boolean existed = Fs.exists(fs, out);
        if (existed && !isDirectory(fs, out)) throw new UserInputException("--out " + target.folder() + " is a file, not a folder");
        String runId = UUID.randomUUID().toString().substring(0, 8);
        OutputClaim claim = OutputClaim.acquire(fs, out, target.folder(), outputs, command, target.mode(), resumable, runId);
        JobRun run = null;
        boolean committed = false;
        try {
            if (target.mode() == WriteMode.FAIL) refuseExisting(fs, out, target, outputs, resumable);
            run = new JobRun(spark, command, target, outputs, out, fs, runId, config);
            R result = body.run(run);
            committed = run.committed;
            if (!committed) throw new IllegalStateException(command + " did not commit its outputs");
            return result;
        } catch (Throwable t) {
            if (run != null) run.abort(UserInputException.find(t) != null);
            throw sneaky(t);
        } finally {
            claim.close();
            if (!existed && !committed) removeIfEmpty(fs, out);
        }
    }

    private static void refuseExisting(FileSystem fs, Path out, OutputTarget target, List<String> outputs, boolean resumable) {
        for (String name : outputs) {
            Path p = new Path(out, name);
            try {
                if (fs.exists(p) && (!fs.getFileStatus(p).isDirectory() || fs.listStatus(p).length > 0)) {
                    throw new UserInputException("--out " + target.folder() + ": " + name + (fs.getFileStatus(p).isDirectory() ? "/" : "")
                            + " already exists and is not empty (use --overwrite to replace it" + (resumable ? " or --resume to complete it)" : ")"));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    public SparkSession spark() {
        return spark;
    }

    public Configuration hadoopConf() {
        return spark.sparkContext().hadoopConfiguration();
    }

    public String command() {
        return command;
    }

    public OutputTarget target() {
        return target;
    }

    public RunRecord record() {
        return record;
    }

    public Path root() {
        return out;
    }

    public FileSystem fs() {
        return fs;
    }

    /** Where output {@code name} is assembled before the commit moves it into place. */
    public String staged(String name) {
        if (!outputs.contains(name)) throw new IllegalArgumentException(name + " is not one of " + command + "'s outputs " + outputs);
        return new Path(staging, name).toString();
    }

    /** The committed output {@code name} (from an earlier run: --resume reads it). */
    public String existing(String name) {
        return new Path(out, name).toString();
    }

    public boolean exists(String name) {
        return Fs.exists(fs, new Path(out, name));
    }

    /** This command's resumable work (finished chunks), under `--out/.sith-work/<command>`. */
    public Path work() {
        return new Path(new Path(out, WORK), command);
    }

    /** Keep {@link #work()} when the run fails for a reason other than its input, so that --resume can use it. */
    public void keepWorkOnFailure() {
        keepWork = true;
    }

    public void deleteWork() {
        try {
            fs.delete(work(), true);
            removeIfEmpty(fs, new Path(out, WORK));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Ends the current phase in `_run.json`'s timings. */
    public void phase(String name) {
        record.phase(name);
    }

    /**
     * Moves every staged output into place (replacing the old one), each followed by its `_run.json`, then
     * writes `--out/_run.json`; Parquet footers are made canonical first so identical inputs give identical bytes.
     */
    public void commit() {
        String json = record.toJson();
        try {
            for (String name : outputs) {
                Path staged = new Path(staging, name);
                if (!fs.exists(staged)) continue;
                Path target = new Path(out, name);
                boolean folder = fs.getFileStatus(staged).isDirectory(); // a single file (image_mean.npy) has no footer or record
                if (folder) ParquetFooters.canonicalizeAll(fs, staged);
                if (fs.exists(target)) fs.delete(target, true);
                if (!fs.rename(staged, target)) throw new IOException("cannot move " + staged + " to " + target);
                if (folder) writeText(new Path(target, "_run.json"), json);
            }
            writeText(new Path(out, "_run.json"), json);
            fs.delete(staging, true);
            committed = true;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void abort(boolean inputError) {
        waitForIdle(spark);
        boolean keep = keepWork && !inputError;
        try {
            fs.delete(staging, true);
            if (!keep) deleteWork();
        } catch (IOException | RuntimeException e) {
            System.err.println("sith " + command + ": could not clean up " + out + ": " + e.getMessage());
        }
        if (keep && Fs.exists(fs, work())) {
            System.err.println("sith " + command + ": finished work kept under " + work() + "; rerun with --resume to complete it");
        }
    }

    /**
     * After a failed job, Spark may still be running (or killing) the failed stage's other tasks, which
     * would write into the output folder after it was cleaned. Waits until no task runs (at most 30 s).
     */
    private static void waitForIdle(SparkSession spark) {
        if (spark == null || spark.sparkContext().isStopped()) return;
        var tracker = spark.sparkContext().statusTracker();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            int running = 0;
            for (var e : tracker.getExecutorInfos()) running += e.numRunningTasks();
            if (running == 0 && tracker.getActiveStageIds().length == 0) return;
            try {
                Thread.sleep(100);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Run records are written without the local file system's .crc side files (and read so, by {@link RunRecord#read}):
     * a user who edits or replaces a `_run.json` with another tool must not meet a checksum error on the next run.
     */
    private void writeText(Path p, String text) throws IOException {
        FileSystem plain = Fs.plain(fs);
        if (plain != fs) plain.delete(new Path(p.getParent(), "." + p.getName() + ".crc"), false);
        try (OutputStream o = plain.create(p, true)) {
            o.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    public FileStatus[] list(Path p) {
        try {
            return fs.exists(p) ? fs.listStatus(p) : new FileStatus[0];
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public boolean exists(Path p) {
        return Fs.exists(fs, p);
    }

    private static boolean isDirectory(FileSystem fs, Path p) {
        try {
            return fs.getFileStatus(p).isDirectory();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void removeIfEmpty(FileSystem fs, Path p) {
        try {
            if (fs.exists(p) && fs.getFileStatus(p).isDirectory() && fs.listStatus(p).length == 0) fs.delete(p, false);
        } catch (IOException e) {
            // an empty folder left behind is harmless
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }
}
