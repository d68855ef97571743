package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.checkpoint.ClipFixture;
import org.sith.io.Npy;
import org.sith.run.JobRun;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * decompose as the user runs it, a JVM of its own: killed with SIGKILL while a wave is being written, then
 * completed with --resume in another JVM. The result must be byte for byte the Parquet of a run that was
 * never interrupted, and the resumed run must have computed only the heads the killed one had not finished.
 */
class DecomposeKillResumeTest {
    static final int LAYERS = 8;
    static final int HEADS = 4; // width 256 / 64
    static final int P = 128;
    static final int CONCEPTS = 5_000;

    @TempDir
    Path tmp;

    @Test
    void aRunKilledHalfWayCompletesWithResumeToTheBytesOfAnUninterruptedRun() throws Exception {
        Configuration conf = new Configuration();
        String checkpoint = ClipFixture.write(tmp.resolve("model.safetensors").toString(),
                new ClipFixture(256, LAYERS, P, 7).openClip("F32", false));
        Random rnd = new Random(11);
        float[] emb = new float[CONCEPTS * P];
        for (int i = 0; i < emb.length; i++) emb[i] = (float) rnd.nextGaussian();
        String concepts = tmp.resolve("concepts.npy").toString();
        Npy.write(concepts, conf, new long[] {CONCEPTS, P}, emb);
        StringBuilder vocab = new StringBuilder();
        for (int i = 0; i < CONCEPTS; i++) vocab.append("concept ").append(i).append('\n');
        Files.writeString(tmp.resolve("vocab.txt"), vocab, StandardCharsets.UTF_8);
        List<String> args = List.of("decompose", "--checkpoint", checkpoint, "--concepts", concepts, "--vocab",
                tmp.resolve("vocab.txt").toString(), "--model-name", "fixture", "--layers", "all");

        // 1. The run that is killed: one task slot and one head per batch, so it writes 8 waves of 4 heads, each a
        //    Spark job whose chunk folder exists without _SUCCESS while it is written.
        Path killedOut = tmp.resolve("killed");
        Path work = killedOut.resolve(JobRun.WORK).resolve(DecomposeJob.NAME);
        Process killed = start(args, killedOut, "local[1]", "killed", "--batch-rows", "64");
        boolean sawPartial = false;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (true) {
            if (!killed.isAlive()) fail("decompose ended (status " + killed.exitValue() + ") before it could be killed: " + log("killed"));
            if (System.nanoTime() > deadline) fail("no finished wave after 5 minutes: " + log("killed"));
            Map<String, Boolean> chunks = chunks(work);
            if (chunks.containsValue(true) && chunks.containsValue(false)) { // a wave finished, the next one is being written
                sawPartial = true;
                break;
            }
            Thread.sleep(10);
        }
        long t0 = System.nanoTime();
        killed.destroyForcibly(); // SIGKILL: no shutdown hook, no finally block runs
        assertTrue(killed.waitFor(60, TimeUnit.SECONDS));
        assertEquals(137, killed.exitValue(), "killed by SIGKILL (128 + 9)");
        assertTrue(sawPartial);
        Map<String, Boolean> left = chunks(work);
        long finished = left.values().stream().filter(b -> b).count();
        assertTrue(finished >= 1 && left.containsValue(false), "finished and half-written waves were left: " + left);
        assertFalse(Files.exists(killedOut.resolve("explanations")), "the killed run committed nothing");
        assertFalse(Files.exists(killedOut.resolve("_run.json")));

        // 1b. The killed run's claim is left behind: a run without --resume or --overwrite is refused, naming it, and
        //     leaves the finished waves alone.
        Process plain = start(args, killedOut, "local[1]", "plain");
        assertTrue(plain.waitFor(5, TimeUnit.MINUTES));
        assertEquals(2, plain.exitValue(), log("plain"));
        String refusal = log("plain").strip();
        assertEquals(1, refusal.lines().count(), refusal);
        assertTrue(refusal.contains("explanations/ is claimed by a run that did not finish") && refusal.contains("pid " + killed.pid())
                && refusal.contains("--resume"), refusal);
        assertEquals(left, chunks(work), "the refused run touched nothing");

        // 2. --resume in a new JVM, on another master: uses the finished waves, ignores the half-written one.
        long t1 = System.nanoTime();
        Process resumed = start(args, killedOut, "local[2]", "resumed", "--resume");
        assertTrue(resumed.waitFor(10, TimeUnit.MINUTES));
        long t2 = System.nanoTime();
        assertEquals(0, resumed.exitValue(), log("resumed"));
        JsonNode run = new ObjectMapper().readTree(killedOut.resolve("_run.json").toFile());
        int total = LAYERS * HEADS;
        int reused = run.at("/results/heads_resumed").asInt();
        assertEquals(4 * finished, reused, "every finished wave of 4 heads was reused: " + run.get("results"));
        assertEquals(finished, run.at("/results/chunks_resumed").asInt());
        assertEquals(total - reused, run.at("/results/heads_computed").asInt(), "only the missing heads were computed");
        assertTrue(reused > 0 && reused < total, "the kill fell half-way: " + reused + " of " + total);
        assertTrue(log("resumed").contains("resuming, " + reused + " of " + total + " heads already done"), log("resumed"));
        assertFalse(Files.exists(killedOut.resolve(JobRun.WORK)), "the work folder is gone after the commit");

        // 3. A run never interrupted, in a third JVM.
        Path cleanOut = tmp.resolve("clean");
        Process clean = start(args, cleanOut, "local[2]", "clean");
        assertTrue(clean.waitFor(10, TimeUnit.MINUTES));
        System.out.printf("kill/resume: killed after %d of %d waves; resumed run %.1f s, uninterrupted run %.1f s%n",
                finished, LAYERS * HEADS / 4, (t2 - t1) / 1e9, (System.nanoTime() - t2) / 1e9);
        assertEquals(0, clean.exitValue(), log("clean"));

        Map<String, Path> a = parquetFiles(cleanOut);
        Map<String, Path> b = parquetFiles(killedOut);
        assertEquals(a.keySet(), b.keySet());
        assertEquals(LAYERS + 1, a.size(), "one file per layer of explanations/ and one of singular_vectors/: " + a.keySet());
        for (String folder : a.keySet()) {
            assertEquals(-1, Files.mismatch(a.get(folder), b.get(folder)), folder + ": resumed and uninterrupted bytes differ");
        }
    }

    /** Chunk folders of the work folder and whether each was committed (has _SUCCESS). */
    static Map<String, Boolean> chunks(Path work) throws IOException {
        Map<String, Boolean> m = new TreeMap<>();
        if (!Files.isDirectory(work)) return m;
        try (Stream<Path> keys = Files.list(work)) {
            for (Path key : keys.toList()) {
                try (Stream<Path> s = Files.list(key)) {
                    for (Path c : s.toList()) m.put(c.getFileName().toString(), Files.exists(c.resolve("_SUCCESS")));
                }
            }
        } catch (java.nio.file.NoSuchFileException e) {
            // a folder appeared or vanished between listing and reading: look again next time
        }
        return m;
    }

    /** The single Parquet file of each output folder, keyed by the folder relative to --out. */
    static Map<String, Path> parquetFiles(Path out) throws IOException {
        Map<String, Path> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(out)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".parquet")).toList()) {
                assertEquals(null, m.put(out.relativize(p.getParent()).toString(), p), "one file per folder");
            }
        }
        return m;
    }

    /** `java ... org.sith.cli.Main` with the launcher's JVM flags and classpath (what submit.sh runs for a local master). */
    Process start(List<String> args, Path out, String master, String name, String... extra) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-opens") || a.startsWith("-Djdk.reflect")) cmd.add(a);
        }
        cmd.addAll(List.of("-Xmx2g", "-Dlog4j2.configurationFile=conf/log4j2.properties", "-Dsith.log.file=" + tmp.resolve(name + "-spark.log"),
                "-Dspark.master=" + master,
                "-Dspark.ui.enabled=false", "-Dspark.driver.host=127.0.0.1"));
        String classpath = Files.readString(Path.of("target", "classpath.txt")).trim();
        cmd.addAll(List.of("-cp", Path.of("target", "classes").toAbsolutePath() + File.pathSeparator + classpath, "org.sith.cli.Main"));
        cmd.addAll(args);
        cmd.addAll(List.of("--out", out.toString()));
        cmd.addAll(List.of(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve(name + ".log").toFile());
        return pb.start();
    }

    String log(String name) {
        try {
            return Files.readString(tmp.resolve(name + ".log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}
