package org.sith.run;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.RecordComponent;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.sith.checkpoint.ClipTensors;
import org.sith.io.Fs;
import org.sith.model.TowerPrecision;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/**
 * `_run.json`: what a run read (with content fingerprints), the options it was given and the parameters it
 * resolved, the versions of everything that computes, where it ran, what it found, and how long each phase took.
 * A file input's fingerprint is the SHA-256 of all its bytes (a folder's: of its data files' relative names and
 * bytes, in name order): exact, so --resume can trust it, at about 0.5 GB/s on one core (3 s for a ViT-L/14
 * checkpoint). Image sets are hashed where their bytes are read anyway, on the executors (see ImageInputs).
 */
public final class RunRecord {
    public static final String VERSION = "0.1.0";

    private final Map<String, Object> root = new LinkedHashMap<>();
    private final Map<String, Object> options = new LinkedHashMap<>();
    private final Map<String, Object> params = new LinkedHashMap<>();
    private final List<Map<String, Object>> inputs = new ArrayList<>();
    private final Map<String, Object> timings = new LinkedHashMap<>();
    private final Map<String, Object> results = new LinkedHashMap<>();
    /** Fingerprints being taken ahead of their recording, by "input:PATH" or "checkpoint:PATH" (the main thread's only). */
    private final Map<String, Future<Taken>> ahead = new HashMap<>();
    private final long start = System.nanoTime();
    private long phaseStart = System.nanoTime();

    public RunRecord(String command, SparkSession spark) {
        root.put("command", command);
        root.put("started", Instant.now().toString());
        root.put("versions", versions(spark));
        root.put("spark_master", spark == null ? null : spark.sparkContext().master());
        root.put("spark_app_id", spark == null ? null : spark.sparkContext().applicationId());
        root.put("spark_default_parallelism", spark == null ? null : spark.sparkContext().defaultParallelism());
        root.put("spark_task_cpus", spark == null ? null : spark.sparkContext().getConf().getInt("spark.task.cpus", 1));
        root.put("options", options);
        root.put("parameters", params);
        root.put("inputs", inputs);
        root.put("results", results);
        root.put("timings_s", timings);
    }

    /** The versions of what decides the numbers and the bytes: this project, Spark, Scala, Hadoop, Parquet, JavaCPP, OpenBLAS, oneDNN, Java. */
    public static Map<String, Object> versions(SparkSession spark) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("sith", VERSION);
        v.put("spark", spark == null ? mavenVersion("org.apache.spark", "spark-core_2.13") : spark.version());
        v.put("scala", scala.util.Properties.versionNumberString());
        v.put("hadoop", org.apache.hadoop.util.VersionInfo.getVersion());
        v.put("parquet", mavenVersion("org.apache.parquet", "parquet-hadoop"));
        v.put("javacpp", mavenVersion("org.bytedeco", "javacpp"));
        v.put("openblas", mavenVersion("org.bytedeco", "openblas"));
        v.put("onednn", mavenVersion("org.bytedeco", "dnnl"));
        v.put("java", System.getProperty("java.version"));
        v.put("java_vm", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
        v.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        return v;
    }

    /** A library's version from the pom.properties Maven puts in its jar (kept in the shaded cluster jar too); null when absent. */
    public static String mavenVersion(String group, String artifact) {
        String resource = "META-INF/maven/" + group + "/" + artifact + "/pom.properties";
        try (InputStream in = RunRecord.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) return null;
            java.util.Properties p = new java.util.Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (IOException e) {
            return null;
        }
    }

    /** A piece of a command's configuration that records itself under its options' names. */
    public interface Recordable {
        void recordOptions(Map<String, Object> options);
    }

    /**
     * The options the command was given, every one (defaults included), from its typed configuration: a
     * {@link Recordable} piece records itself; any other component under its option name (component
     * {@code imageMean} as {@code image-mean}), enums in lower case.
     */
    public RunRecord options(Record config) {
        for (RecordComponent c : config.getClass().getRecordComponents()) {
            Object v;
            try {
                v = c.getAccessor().invoke(config);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
            if (v instanceof Recordable r) {
                r.recordOptions(options);
                continue;
            }
            if (v instanceof Enum<?> e) v = e.name().toLowerCase(Locale.ROOT).replace('_', '-');
            else if (v != null && !(v instanceof Number || v instanceof Boolean || v instanceof String || v instanceof java.util.Collection<?>)) v = v.toString();
            options.put(c.getName().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT), v);
        }
        return this;
    }

    /** The run's id, as its claims and staging folder name it. */
    public RunRecord runId(String id) {
        root.put("run_id", id);
        return this;
    }

    public RunRecord param(String name, Object value) {
        params.put(name, value);
        return this;
    }

    /**
     * The precision the towers ran in, a parameter since it changes the numbers: {@code tower_precision} f32 or bf16 and,
     * for bf16, {@code tower_precision_note} saying that the results are approximate and how they were computed.
     */
    public RunRecord towerPrecision(TowerPrecision p) {
        params.put("tower_precision", p.label());
        if (p.approximate()) params.put("tower_precision_note", p.note());
        return this;
    }

    public Map<String, Object> params() {
        return params;
    }

    public RunRecord result(String name, Object value) {
        results.put(name, value);
        return this;
    }

    /** Records an input with the SHA-256 of its bytes (a folder: of its data files, in name order). */
    public RunRecord input(String role, String path, Configuration conf) {
        Future<Taken> f = ahead.remove("input:" + path);
        Taken t = f != null ? Background.await(f) : takeInput(path, conf);
        Fingerprint fp = t.print();
        Map<String, Object> m = entry(role, path, fp.sha256);
        m.put("bytes", fp.bytes);
        m.put("files", fp.files);
        m.put("modified", fp.modified == 0 ? null : Instant.ofEpochMilli(fp.modified).toString());
        m.put("fingerprint", "sha256 of the bytes" + (fp.files > 1 ? " (relative name and bytes of each data file, in name order)" : ""));
        m.put("fingerprint_s", t.seconds());
        return this;
    }

    /**
     * Records a checkpoint: what --checkpoint named, the files that hold its weights (the file, or a shard index and its
     * shards; a folder's chosen file), their fingerprint, and how they were read (format, naming, LayerScale).
     */
    public RunRecord checkpoint(String role, String path, Configuration conf) {
        Future<Taken> f = ahead.remove("checkpoint:" + path);
        Taken t = f != null ? Background.await(f) : takeCheckpoint(path, conf);
        Fingerprint fp = t.print();
        Map<String, Object> m = entry(role, path, fp.sha256);
        m.put("read_from", t.files().size() == 1 ? t.files().get(0) : t.files());
        m.put("format", t.format());
        m.put("bytes", fp.bytes);
        m.put("files", fp.files);
        m.put("modified", fp.modified == 0 ? null : Instant.ofEpochMilli(fp.modified).toString());
        m.put("fingerprint", "sha256 of the bytes" + (fp.files > 1 ? " (name and bytes of each file, index first, shards in name order)" : ""));
        m.put("fingerprint_s", t.seconds());
        return this;
    }

    /**
     * A fingerprint of a file or folder input being taken ahead (e.g. on a {@link Background} thread while the job
     * prepares): the {@link #input} that records {@code path} takes its result instead of reading the bytes itself.
     */
    public RunRecord inputAhead(String path, Future<Taken> print) {
        ahead.putIfAbsent("input:" + path, print);
        return this;
    }

    /** As {@link #inputAhead}, for what {@link #checkpoint} records. */
    public RunRecord checkpointAhead(String path, Future<Taken> print) {
        ahead.putIfAbsent("checkpoint:" + path, print);
        return this;
    }

    /** What {@link #input} records of {@code path}, as work that can run on another thread. */
    public static Callable<Taken> inputPrint(String path, Configuration conf) {
        return () -> takeInput(path, conf);
    }

    /** What {@link #checkpoint} records of {@code path}, as work that can run on another thread. */
    public static Callable<Taken> checkpointPrint(String path, Configuration conf) {
        return () -> takeCheckpoint(path, conf);
    }

    /** A fingerprint taken before it is recorded: the files read (a checkpoint's), their format, and how long it took. */
    public record Taken(Fingerprint print, double seconds, List<String> files, String format) {}

    private static Taken takeInput(String path, Configuration conf) {
        long t = System.nanoTime();
        Fingerprint f = fingerprint(path, conf);
        return new Taken(f, Math.round((System.nanoTime() - t) / 1e6) / 1e3, null, null);
    }

    private static Taken takeCheckpoint(String path, Configuration conf) {
        long t = System.nanoTime();
        List<String> files;
        String format;
        try (ClipTensors c = ClipTensors.open(path, conf)) {
            files = c.file().dataFiles(c.stored());
            format = c.description();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Fingerprint f = fingerprint(files, conf);
        return new Taken(f, Math.round((System.nanoTime() - t) / 1e6) / 1e3, files, format);
    }

    /** An input whose fingerprint the job computed itself (a dictionary's prepared rows, a tokenizer, an image set); {@code how} says how. */
    public RunRecord inputFingerprint(String role, String description, String fingerprint, String how) {
        entry(role, description, fingerprint).put("fingerprint", how);
        return this;
    }

    /** The input recorded under a role, or null; jobs add details they learn late (an image set's content hash). */
    public Map<String, Object> inputEntry(String role) {
        for (Map<String, Object> m : inputs) if (role.equals(m.get("role"))) return m;
        return null;
    }

    private Map<String, Object> entry(String role, String path, String sha256) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("path", path);
        m.put("sha256", sha256);
        inputs.add(m);
        return m;
    }

    public String inputSha(String role) {
        for (Map<String, Object> m : inputs) if (role.equals(m.get("role"))) return (String) m.get("sha256");
        return null;
    }

    /** Ends the current phase and records its duration under the given name. */
    public void phase(String name) {
        long now = System.nanoTime();
        timings.put(name, Math.round((now - phaseStart) / 1e6) / 1e3);
        phaseStart = now;
    }

    public String toJson() {
        timings.put("total", Math.round((System.nanoTime() - start) / 1e6) / 1e3);
        root.put("finished", Instant.now().toString());
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A `_run.json` written by an earlier run, parsed; null when there is none. Read without the local file system's
     * checksum layer (the user may have rewritten it); a file that is not JSON is the user's to fix and says so.
     */
    public static com.fasterxml.jackson.databind.JsonNode read(Path p, Configuration conf) {
        FileSystem fs = Fs.fs(p, conf);
        FileSystem plain = Fs.plain(fs);
        try {
            if (!plain.exists(p)) return null;
            try (InputStream in = plain.open(p)) {
                return new ObjectMapper().readTree(in);
            }
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new org.sith.UserInputException(p + ": not a run record (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": " + e.getMessage(), e);
        }
    }

    public record Fingerprint(String sha256, long bytes, int files, long modified) {}

    public static Fingerprint fingerprint(String pathString, Configuration conf) {
        Path path = Fs.path(pathString);
        FileSystem fs = Fs.fs(path, conf);
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long bytes = 0;
            long modified = 0;
            List<FileStatus> files = new ArrayList<>();
            collect(fs, path, files);
            files.sort((a, b) -> a.getPath().toString().compareTo(b.getPath().toString()));
            byte[] buf = new byte[1 << 20];
            for (FileStatus f : files) {
                if (files.size() > 1) {
                    String rel = f.getPath().toString().substring(fs.makeQualified(path).toString().length());
                    md.update(rel.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                modified = Math.max(modified, f.getModificationTime());
                try (InputStream in = fs.open(f.getPath())) {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        md.update(buf, 0, n);
                        bytes += n;
                    }
                }
            }
            return new Fingerprint(HexFormat.of().formatHex(md.digest()), bytes, files.size(), modified);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The SHA-256 over files in the order given (each file's name, then its bytes, when there are several). */
    static Fingerprint fingerprint(List<String> paths, Configuration conf) {
        if (paths.size() == 1) return fingerprint(paths.get(0), conf);
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long bytes = 0;
            long modified = 0;
            byte[] buf = new byte[1 << 20];
            for (String s : paths) {
                Path p = Fs.path(s);
                FileSystem fs = Fs.fs(p, conf);
                md.update(p.getName().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                modified = Math.max(modified, fs.getFileStatus(p).getModificationTime());
                try (InputStream in = fs.open(p)) {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        md.update(buf, 0, n);
                        bytes += n;
                    }
                }
            }
            return new Fingerprint(HexFormat.of().formatHex(md.digest()), bytes, paths.size(), modified);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void collect(FileSystem fs, Path p, List<FileStatus> out) throws IOException {
        FileStatus st = fs.getFileStatus(p);
        if (!st.isDirectory()) {
            out.add(st);
            return;
        }
        FileStatus[] children = fs.listStatus(p);
        Arrays.sort(children);
        for (FileStatus c : children) {
            String n = c.getPath().getName();
            if (n.startsWith("_") || n.startsWith(".")) continue; // markers, run records, checksums
            collect(fs, c.getPath(), out);
        }
    }
}
