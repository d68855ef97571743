package org.sith.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.sith.TestData;

/**
 * What the cluster and s3a tests share: real processes (the launcher, spark-submit, a standalone master
 * and worker, moto_server) started, waited for and stopped; the test inputs; byte comparison of outputs.
 */
final class ItSupport {
    private ItSupport() {}

    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Path CLUSTER_JAR = ROOT.resolve("target/sith-spark-0.1.0-cluster.jar");
    static final Duration RUN_TIMEOUT = Duration.ofMinutes(10);

    static void requirePackage() {
        TestData.requireTool(Files.isRegularFile(CLUSTER_JAR) && Files.isRegularFile(ROOT.resolve("target/classpath.txt"))
                && Files.isRegularFile(ROOT.resolve("target/sith-spark-0.1.0.jar")),
                "no packaged jars under target/: these tests run in `mvn verify`, after `package`");
    }

    /** The --add-opens flags this JVM got from the build (surefire's argLine): Spark on Java 17 needs them. */
    static List<String> javaOpens() {
        List<String> l = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect")) l.add(a);
        }
        return l;
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An executable on PATH, or null. */
    static Path onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    record Result(int status, String stdout, String stderr) {}

    /** Runs a command to its end (bounded), its output kept in logs/NAME.out and .err; echoes stderr. */
    static Result run(String name, List<String> command, Map<String, String> env, Path logs) {
        try {
            Files.createDirectories(logs);
            Path out = logs.resolve(name + ".out");
            Path err = logs.resolve(name + ".err");
            ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(env);
            long t0 = System.nanoTime();
            Process p = pb.start();
            if (!p.waitFor(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                stop(p);
                fail(name + " did not finish within " + RUN_TIMEOUT + ": " + tail(err));
            }
            Result r = new Result(p.exitValue(), Files.readString(out), Files.readString(err));
            System.err.printf("[%s] exit %d after %.1f s%n%s", name, r.status(), (System.nanoTime() - t0) / 1e9, r.stderr());
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Starts a long-running process (a server), its output going to LOG. */
    static Process start(List<String> command, Map<String, String> env, Path log) throws IOException {
        Files.createDirectories(log.getParent());
        ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().putAll(env);
        return pb.start();
    }

    /** Waits until LOG holds TEXT; fails when the process ends first or time runs out. */
    static void waitForLog(Process p, Path log, String text, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && Files.readString(log).contains(text)) return;
            if (!p.isAlive()) fail("process ended before '" + text + "' (exit " + p.exitValue() + "): " + tail(log));
            Thread.sleep(250);
        }
        fail("no '" + text + "' within " + timeout + ": " + tail(log));
    }

    /** Stops a process and everything it started (a worker's executors). */
    static void stop(Process p) {
        if (p == null) return;
        List<ProcessHandle> children = p.descendants().toList();
        p.destroy();
        children.forEach(ProcessHandle::destroy);
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        children.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }

    static String tail(Path log) {
        try {
            String s = Files.exists(log) ? Files.readString(log) : "(no log)";
            return s.length() > 4000 ? "..." + s.substring(s.length() - 4000) : s;
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** decompose's arguments on the given checkpoint, concepts and vocabulary locations (local paths or URLs). */
    static List<String> decompose(String checkpoint, String concepts, String vocab, String out, String... extra) {
        List<String> a = new ArrayList<>(List.of("decompose", "--checkpoint", checkpoint, "--concepts", concepts, "--vocab", vocab,
                "--model-name", "synthetic", "--out", out));
        a.addAll(List.of(extra));
        return a;
    }

    /** Every Parquet file under an output folder, by its folder (Spark's file names carry a random id). */
    static Map<String, byte[]> parquetByFolder(Path out) throws IOException {
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(out)) {
            for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".parquet")).toList()) {
                String key = out.relativize(p.getParent()).toString();
                assertFalse(m.containsKey(key), "one Parquet file per folder: " + key);
                m.put(key, Files.readAllBytes(p));
            }
        }
        return m;
    }

    /** The two outputs hold the same Parquet files, byte for byte, in the same folders. */
    static void assertSameParquet(Path expected, Path actual) throws IOException {
        Map<String, byte[]> a = parquetByFolder(expected);
        Map<String, byte[]> b = parquetByFolder(actual);
        assertTrue(a.size() >= 2, "outputs in " + expected + ": " + a.keySet());
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertArrayEquals(a.get(k), b.get(k), k + ": Parquet bytes differ between " + expected + " and " + actual);
    }

    /** Every file under DIR whose text contains SECRET (logs, outputs, records). */
    static List<Path> filesContaining(Path dir, String secret) throws IOException {
        List<Path> hits = new ArrayList<>();
        if (!Files.exists(dir)) return hits;
        byte[] needle = secret.getBytes(StandardCharsets.UTF_8);
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                if (p.getFileName().toString().endsWith(".jar")) continue; // the application jar a worker fetched
                if (indexOf(Files.readAllBytes(p), needle) >= 0) hits.add(p);
            }
        }
        return hits;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
