package org.sith.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.sith.io.Fs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

/** `_run.json`: what a run read (with content fingerprints), its parameters, versions and timings. */
public final class RunRecord {
    public static final String VERSION = "0.1.0";

    private final Map<String, Object> root = new LinkedHashMap<>();
    private final Map<String, Object> params = new LinkedHashMap<>();
    private final List<Map<String, Object>> inputs = new ArrayList<>();
    private final Map<String, Object> timings = new LinkedHashMap<>();
    private final Map<String, Object> results = new LinkedHashMap<>();
    private final long start = System.nanoTime();
    private long phaseStart = System.nanoTime();

    public RunRecord(String command, SparkSession spark) {
        root.put("command", command);
        root.put("started", Instant.now().toString());
        Map<String, Object> versions = new LinkedHashMap<>();
        versions.put("sith", VERSION);
        versions.put("spark", spark == null ? null : spark.version());
        versions.put("java", System.getProperty("java.version"));
        root.put("versions", versions);
        root.put("spark_master", spark == null ? null : spark.sparkContext().master());
        root.put("parameters", params);
        root.put("inputs", inputs);
        root.put("results", results);
        root.put("timings_s", timings);
    }

    public RunRecord param(String name, Object value) {
        params.put(name, value);
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
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("path", path);
        Fingerprint f = fingerprint(path, conf);
        m.put("sha256", f.sha256);
        m.put("bytes", f.bytes);
        inputs.add(m);
        return this;
    }

    public RunRecord inputFingerprint(String role, String description, String fingerprint) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("path", description);
        m.put("sha256", fingerprint);
        inputs.add(m);
        return this;
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

    record Fingerprint(String sha256, long bytes) {}

    static Fingerprint fingerprint(String pathString, Configuration conf) {
        Path path = Fs.path(pathString);
        FileSystem fs = Fs.fs(path, conf);
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long bytes = 0;
            List<FileStatus> files = new ArrayList<>();
            collect(fs, path, files);
            files.sort((a, b) -> a.getPath().toString().compareTo(b.getPath().toString()));
            byte[] buf = new byte[1 << 20];
            for (FileStatus f : files) {
                if (files.size() > 1) {
                    String rel = f.getPath().toString().substring(fs.makeQualified(path).toString().length());
                    md.update(rel.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                try (InputStream in = fs.open(f.getPath())) {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        md.update(buf, 0, n);
                        bytes += n;
                    }
                }
            }
            return new Fingerprint(HexFormat.of().formatHex(md.digest()), bytes);
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
