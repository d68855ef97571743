package org.sith.run;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FSDataOutputStreamBuilder;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.sith.UserInputException;
import org.sith.io.Fs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A run's exclusive hold on its output folders under `--out`: one claim file per output,
 * {@code --out/.sith-claims/<output>}, created only if absent. That create is the arbiter between runs
 * racing for one output: atomic on the local file system (an O_EXCL create), on HDFS (the NameNode's
 * create without overwrite) and on s3a (a conditional PUT, If-None-Match: *); of two runs exactly one
 * creates it, the other is refused and names the output.
 *
 * <p>A live run refreshes its claims every {@link #HEARTBEAT_MS}. A claim is left behind by a run that did
 * not finish when its process is gone (same host) or its file has not been refreshed for
 * {@link #STALE_MS}. Such a claim is named in the refusal; `--resume` or `--overwrite` take it over. A
 * takeover is itself arbitrated by a create-if-absent of {@code <output>.takeover-<run of the old claim>}
 * (kept until the new run ends), so of two runs taking over the same claim only one proceeds.
 */
public final class OutputClaim implements AutoCloseable {
    public static final String FOLDER = ".sith-claims";
    static final long HEARTBEAT_MS = 10_000;
    static final long STALE_MS = 90_000;

    private final FileSystem fs;
    private final Path dir;
    private final String runId;
    private final byte[] content;
    private final List<Path> held = new ArrayList<>();
    private final List<Path> takeovers = new ArrayList<>();
    private ScheduledExecutorService heartbeat;

    private OutputClaim(FileSystem fs, Path out, String runId, byte[] content) {
        // the local file system without its checksum layer: a claim is rewritten while others read it
        this.fs = Fs.plain(fs);
        this.dir = new Path(out, FOLDER);
        this.runId = runId;
        this.content = content;
    }

    /** What a claim file says about the run that holds it. */
    record Holder(String run, String command, String host, long pid, String started, long modified) {
        String describe() {
            return command + " (pid " + pid + " on " + host + ", started " + started + ")";
        }
    }

    /**
     * Claims every output, or none: on a refusal the claims already taken are released and a
     * {@link UserInputException} names the output and the run that holds it.
     */
    public static OutputClaim acquire(FileSystem fs, Path out, String outLabel, List<String> outputs, String command, WriteMode mode, String runId) {
        return acquire(fs, out, outLabel, outputs, command, mode, true, runId);
    }

    /** As above; {@code resumable}: the command takes --resume (a refusal offers it). */
    public static OutputClaim acquire(FileSystem fs, Path out, String outLabel, List<String> outputs, String command, WriteMode mode,
                                      boolean resumable, String runId) {
        OutputClaim c = new OutputClaim(fs, out, runId, describe(runId, command));
        try {
            for (String name : outputs) c.claim(name, outLabel, mode, resumable);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        c.startHeartbeat();
        return c;
    }

    private void claim(String name, String outLabel, WriteMode mode, boolean resumable) {
        Path p = new Path(dir, name);
        for (int attempt = 0; attempt < 3; attempt++) {
            if (createExclusive(fs, p, content)) {
                held.add(p);
                return;
            }
            Holder h = read(p);
            if (h == null) continue; // released between our create and our read: try again
            if (!stale(h)) {
                throw new UserInputException("--out " + outLabel + ": " + name + "/ is being written by another run, " + h.describe()
                        + "; wait for it to finish or stop it");
            }
            if (mode == WriteMode.FAIL) {
                throw new UserInputException("--out " + outLabel + ": " + name + "/ is claimed by a run that did not finish, " + h.describe()
                        + (resumable ? "; rerun with --resume to complete its work or --overwrite to replace it" : "; rerun with --overwrite to replace it"));
            }
            Path takeover = new Path(dir, name + ".takeover-" + h.run());
            if (!createExclusive(fs, takeover, content)) {
                throw new UserInputException("--out " + outLabel + ": " + name + "/ is being taken over by another run from the unfinished "
                        + h.describe());
            }
            takeovers.add(takeover);
            Holder again = read(p);
            if (again != null && again.run().equals(h.run())) {
                write(fs, p, content);
                held.add(p);
                return;
            }
            // the old claim went away meanwhile: compete for the claim itself again
        }
        throw new UserInputException("--out " + outLabel + ": could not claim " + name + "/ (other runs keep claiming it)");
    }

    private static byte[] describe(String runId, String command) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("run", runId);
        m.put("command", command);
        m.put("host", host());
        m.put("pid", ProcessHandle.current().pid());
        m.put("started", Instant.now().toString());
        try {
            return new ObjectMapper().writeValueAsBytes(m);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown-host";
        }
    }

    /** The claim's holder, or null when the file is gone; an unreadable (half-written) claim counts as live. */
    private Holder read(Path p) {
        try {
            FileStatus st = fs.getFileStatus(p);
            byte[] bytes;
            try (var in = fs.open(p)) {
                bytes = in.readAllBytes();
            }
            try {
                JsonNode j = new ObjectMapper().readTree(bytes);
                return new Holder(j.get("run").asText(), j.get("command").asText(), j.get("host").asText(), j.get("pid").asLong(),
                        j.get("started").asText(), st.getModificationTime());
            } catch (IOException | RuntimeException e) {
                // being written this instant, or left half-written by a crash: it goes stale with its age like any claim
                return new Holder("unknown", "another run", "an unknown host", -1, "at " + Instant.ofEpochMilli(st.getModificationTime()),
                        st.getModificationTime());
            }
        } catch (java.io.FileNotFoundException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read claim " + p + ": " + e.getMessage(), e);
        }
    }

    /** Gone: its process has ended (when it ran on this host), or it has not refreshed its claim for {@link #STALE_MS}. */
    static boolean stale(Holder h) {
        if (h.pid() > 0 && h.host().equals(host()) && ProcessHandle.of(h.pid()).map(ProcessHandle::isAlive).orElse(false) == false) return true;
        return System.currentTimeMillis() - h.modified() > STALE_MS;
    }

    private void startHeartbeat() {
        if (held.isEmpty()) return;
        heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sith-claim-heartbeat");
            t.setDaemon(true);
            return t;
        });
        heartbeat.scheduleAtFixedRate(() -> {
            for (Path p : held) {
                try {
                    write(fs, p, content);
                } catch (RuntimeException e) {
                    // a missed beat only makes the claim look older; the next one retries
                }
            }
        }, HEARTBEAT_MS, HEARTBEAT_MS, TimeUnit.MILLISECONDS);
    }

    /** Releases every claim this run holds (only its own: a claim another run took over stays). */
    @Override
    public void close() {
        if (heartbeat != null) {
            heartbeat.shutdown(); // no new beats; the one in flight (if any) completes
            try {
                heartbeat.awaitTermination(30, TimeUnit.SECONDS); // a beat in flight must not rewrite a claim after its release
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (Path p : held) {
            Holder h = read(p);
            if (h != null && h.run().equals(runId)) delete(p);
        }
        for (Path t : takeovers) delete(t);
        held.clear();
        takeovers.clear();
        try {
            if (fs.exists(dir) && fs.listStatus(dir).length == 0) fs.delete(dir, false);
        } catch (IOException e) {
            // an empty claims folder left behind is harmless
        }
    }

    private void delete(Path p) {
        try {
            fs.delete(p, false);
        } catch (IOException e) {
            System.err.println("sith: could not release claim " + p + ": " + e.getMessage());
        }
    }

    /**
     * Creates {@code p} with {@code bytes} if it does not exist; false if it does. Atomic: an O_EXCL create on
     * the local file system; a create without overwrite elsewhere (HDFS's NameNode decides; s3a sends a
     * conditional PUT, If-None-Match: *, which the store rejects when the key exists).
     */
    static boolean createExclusive(FileSystem fs, Path p, byte[] bytes) {
        try {
            if (Fs.plain(fs) instanceof RawLocalFileSystem local) {
                java.nio.file.Path f = local.pathToFile(p).toPath();
                Files.createDirectories(f.getParent());
                try {
                    Files.write(f, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                    return true;
                } catch (FileAlreadyExistsException e) {
                    return false;
                }
            }
            // An object store (s3a) checks "absent" and then PUTs unless asked for a conditional PUT (If-None-Match: *),
            // which it decides when the stream is closed; HDFS's NameNode creates without overwrite atomically.
            FSDataOutputStreamBuilder<FSDataOutputStream, ?> b = fs.createFile(p).overwrite(false).recursive();
            if (fs.hasPathCapability(p, CONDITIONAL_CREATE)) b.must(CONDITIONAL_CREATE, true);
            try (FSDataOutputStream o = b.build()) {
                o.write(bytes);
            }
            return true;
        } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
            return false;
        } catch (IOException e) {
            if (lostRace(e)) return false;
            throw new UncheckedIOException("cannot create claim " + p + ": " + e.getMessage(), e);
        }
    }

    /** Hadoop's builder option for a create decided by the store (Options.CreateFileOptionKeys, Hadoop 3.4.2+). */
    static final String CONDITIONAL_CREATE = "fs.option.create.conditional.overwrite";

    /**
     * Another writer won: s3a reports a failed conditional PUT as RemoteFileChangedException (HTTP 412) or, when two
     * conditional writes overlap on S3, a 409 conflict; HDFS reports a file still being created by another client as
     * AlreadyBeingCreatedException inside a RemoteException.
     */
    private static boolean lostRace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String n = t.getClass().getSimpleName();
            String m = String.valueOf(t); // a RemoteException names the server-side class only in its toString
            if (n.equals("RemoteFileChangedException") || m.contains("AlreadyBeingCreatedException") || m.contains("PreconditionFailed")
                    || m.contains("Status Code: 412") || m.contains("ConditionalRequestConflict")) {
                return true;
            }
        }
        return false;
    }

    private static void write(FileSystem fs, Path p, byte[] bytes) {
        try (OutputStream o = fs.create(p, true)) {
            o.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String runId() {
        return runId;
    }
}
