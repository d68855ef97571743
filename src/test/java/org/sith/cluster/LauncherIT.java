package org.sith.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sith.SyntheticInputs;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.cluster.ItSupport.Result;
import org.sith.demo.SyntheticClip;

/**
 * Every fault is one line, through the launcher as a user runs it (`./submit.sh`, its own JVM, an embedded
 * local Spark, conf/log4j2.properties): faults found on the driver and inside Spark tasks alike exit 2 with a
 * single stderr line, no stack trace and no Spark log line on the console (Spark's log goes to the file the line
 * names), and nothing under --out is written or lost. Two runs racing for one output: one proceeds.
 */
class LauncherIT {
    static final Path DIR = ItSupport.ROOT.resolve("target/it/launcher");
    static SyntheticInputs in;
    static Path logs;

    @BeforeAll
    static void inputs() throws Exception {
        ItSupport.requirePackage();
        org.apache.commons.io.FileUtils.deleteDirectory(DIR.toFile());
        in = SyntheticInputs.write(DIR.resolve("inputs"));
        logs = DIR.resolve("logs");
    }

    static Result submit(String name, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("./submit.sh"));
        cmd.addAll(args);
        return ItSupport.run(name, cmd, env(name), logs);
    }

    static Map<String, String> env(String name) {
        return Map.of("SITH_DRIVER_MEMORY", "2g", "SITH_LOG_DIR", DIR.resolve("spark-logs-" + name).toString());
    }

    /** Exit 2, one stderr line of the form "sith COMMAND: error: ..." holding every needle, nothing else on the console. */
    static String oneLine(Result r, String command, String... needles) {
        assertEquals(2, r.status(), r.stderr());
        String err = r.stderr().strip();
        assertEquals(1, err.lines().count(), "one line on stderr: " + r.stderr());
        assertTrue(err.startsWith("sith " + command + ": error: "), err);
        assertFalse(err.contains("\tat ") || err.contains("Exception in") || err.contains(" ERROR ") || err.contains(" WARN "), err);
        for (String n : needles) assertTrue(err.contains(n), "'" + n + "' in: " + err);
        return err;
    }

    static List<String> listing(Path p) throws Exception {
        if (!Files.exists(p)) return List.of();
        try (Stream<Path> s = Files.walk(p)) {
            return s.map(x -> p.relativize(x) + (Files.isDirectory(x) ? "/" : ":" + x.toFile().length())).sorted().toList();
        }
    }

    static Path userFolder(String name) throws Exception {
        Path out = Files.createDirectories(DIR.resolve(name));
        Files.writeString(out.resolve("notes.txt"), "the user's own notes");
        return out;
    }

    @Test
    void anOptionOutOfRangeIsOneLineBeforeSparkStarts() throws Exception {
        Path out = userFolder("out-options");
        List<String> before = listing(out);
        Result r = submit("bad-k", ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(), in.vocab().toString(), out.toString(),
                "--k", "0"));
        oneLine(r, "decompose", "--k: 0 must be at least 1");
        Result beyond = submit("bad-layers", ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(), in.vocab().toString(),
                out.toString(), "--layers", "20-23"));
        oneLine(beyond, "decompose", "--layers 20-23: layer 23 is beyond", "layers 0..3");
        assertEquals(before, listing(out));
        assertFalse(Files.exists(DIR.resolve("spark-logs-bad-k")) && listing(DIR.resolve("spark-logs-bad-k")).size() > 1,
                "Spark never started, so it logged nothing: " + listing(DIR.resolve("spark-logs-bad-k")));
    }

    /** A NaN in a block's weights is found by the executor task that reads that block. */
    @Test
    void aNaNFoundInsideASparkTaskIsTheSameOneLine() throws Exception {
        SyntheticClip clip = new SyntheticClip(21);
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>(clip.tensors);
        String name = "visual.transformer.resblocks.2.attn.in_proj_weight";
        float[] x = t.get(name).data().clone();
        x[x.length - 5] = Float.NaN;
        t.put(name, new TensorData(t.get(name).dtype(), t.get(name).shape(), x));
        Path model = Files.createDirectories(DIR.resolve("nan-model"));
        SafeTensorsWriter.write(model.resolve("model.safetensors").toString(), new Configuration(), t, Map.of());
        Files.writeString(model.resolve("open_clip_config.json"), clip.openClipConfig());
        Path out = userFolder("out-nan");
        List<String> before = listing(out);
        Result r = submit("nan", ItSupport.decompose(model.resolve("model.safetensors").toString(), in.concepts().toString(), in.vocab().toString(),
                out.toString()));
        String line = oneLine(r, "decompose", "tensor '" + name + "' has a non-finite value (NaN) at index " + (x.length - 5), "Spark's log: ");
        assertEquals(before, listing(out), "nothing written, nothing lost");
        Path log = Path.of(line.substring(line.indexOf("Spark's log: ") + 13, line.length() - 1));
        String logged = Files.readString(log);
        assertTrue(logged.contains("ERROR Executor") && logged.contains("org.sith.UserInputException") && logged.contains("\tat "),
                "the executor's failure with its stack trace went to the log: " + log);
    }

    /** Parquet inputs read by Spark tasks: a corrupt file, and a column of the wrong type. */
    @Test
    void aCorruptInputShardAndAWrongSchemaAreOneLineNamingWhatIsWrong() throws Exception {
        Path good = DIR.resolve("concepts-good");
        Path bad = DIR.resolve("concepts-corrupt");
        Path text = DIR.resolve("concepts-text");
        for (Path p : List.of(good, bad, text)) Files.createDirectories(p);
        SyntheticClip clip = new SyntheticClip(21);
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            StringBuilder values = new StringBuilder();
            for (int i = 0; i < clip.concepts.length; i++) {
                if (i > 0) values.append(", ");
                StringBuilder e = new StringBuilder();
                for (int j = 0; j < clip.p; j++) e.append(j == 0 ? "" : ", ").append(clip.embeddings[i * clip.p + j]);
                values.append("(").append(i).append(", '").append(clip.concepts[i].replace("'", "''")).append("', [").append(e).append("]::FLOAT[])");
            }
            s.execute("CREATE TABLE c (id INTEGER, concept VARCHAR, embedding FLOAT[])");
            s.execute("INSERT INTO c VALUES " + values);
            s.execute("COPY (SELECT * FROM c WHERE id < 5) TO '" + good.resolve("part-00000.parquet") + "' (FORMAT parquet)");
            s.execute("COPY (SELECT * FROM c WHERE id >= 5) TO '" + good.resolve("part-00001.parquet") + "' (FORMAT parquet)");
            s.execute("COPY (SELECT id, concept, CAST(embedding AS VARCHAR) AS embedding FROM c) TO '" + text.resolve("part-00000.parquet")
                    + "' (FORMAT parquet)");
        }
        Files.copy(good.resolve("part-00000.parquet"), bad.resolve("part-00000.parquet"));
        byte[] half = Files.readAllBytes(good.resolve("part-00001.parquet"));
        Files.write(bad.resolve("part-00001.parquet"), java.util.Arrays.copyOf(half, half.length / 2)); // cut short: no footer
        Path out = userFolder("out-inputs");
        List<String> before = listing(out);

        Result ok = submit("concepts-good", List.of("decompose", "--checkpoint", in.checkpoint().toString(), "--concepts", good.toString(),
                "--layers", "last:1", "--out", DIR.resolve("out-good").toString()));
        assertEquals(0, ok.status(), ok.stderr());
        Result corrupt = submit("concepts-corrupt", List.of("decompose", "--checkpoint", in.checkpoint().toString(), "--concepts", bad.toString(),
                "--out", out.toString()));
        oneLine(corrupt, "decompose", "--concepts " + bad, "part-00001.parquet");
        Result typed = submit("concepts-text", List.of("decompose", "--checkpoint", in.checkpoint().toString(), "--concepts", text.toString(),
                "--out", out.toString()));
        oneLine(typed, "decompose", "--concepts " + text + ": column 'embedding' is string, expected array<float>");
        assertEquals(before, listing(out));
    }

    @Test
    void aVocabularyThatIsNotUtf8NamesTheFileAndTheLine() throws Exception {
        Path latin1 = DIR.resolve("latin1.txt");
        List<String> lines = Files.readAllLines(in.vocab(), StandardCharsets.UTF_8);
        lines.set(6, lines.get(6) + " café");
        Files.write(latin1, (String.join("\n", lines) + "\n").getBytes(StandardCharsets.ISO_8859_1));
        Path out = userFolder("out-latin1");
        Result r = submit("latin1", ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(), latin1.toString(), out.toString()));
        oneLine(r, "decompose", "vocabulary " + latin1 + ": line 7 is not valid UTF-8 (byte 0xE9");
    }

    /** Two runs started together on one --out: exactly one writes the outputs, the other is refused and names them. */
    @Test
    void ofTwoRunsRacingForOneOutputOneProceedsAndTheOtherIsRefused() throws Exception {
        Path out = userFolder("out-race");
        List<String> args = ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(), in.vocab().toString(), out.toString());
        List<Process> ps = new ArrayList<>();
        for (String name : List.of("race-a", "race-b")) {
            List<String> cmd = new ArrayList<>(List.of("./submit.sh"));
            cmd.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(ItSupport.ROOT.toFile()).redirectOutput(logs.resolve(name + ".out").toFile())
                    .redirectError(logs.resolve(name + ".err").toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            pb.environment().putAll(env(name));
            Files.createDirectories(logs);
            ps.add(pb.start());
        }
        List<Result> rs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            assertTrue(ps.get(i).waitFor(10, TimeUnit.MINUTES));
            String name = i == 0 ? "race-a" : "race-b";
            rs.add(new Result(ps.get(i).exitValue(), Files.readString(logs.resolve(name + ".out")), Files.readString(logs.resolve(name + ".err"))));
            System.err.println("[" + name + "] exit " + rs.get(i).status() + "\n" + rs.get(i).stderr());
        }
        assertEquals(List.of(0, 2), rs.stream().map(Result::status).sorted().toList(), "one proceeds, one is refused");
        Result loser = rs.stream().filter(r -> r.status() == 2).findFirst().orElseThrow();
        String line = oneLine(loser, "decompose", "--out " + out);
        assertTrue(line.contains("explanations/ is being written by another run") || line.contains("explanations/ already exists")
                || line.contains("singular_vectors/ is being written by another run"), line);
        // the winner's outputs are whole: the same bytes as a run that had --out to itself
        Path alone = DIR.resolve("out-alone");
        Result single = submit("alone", ItSupport.decompose(in.checkpoint().toString(), in.concepts().toString(), in.vocab().toString(),
                alone.toString()));
        assertEquals(0, single.status(), single.stderr());
        ItSupport.assertSameParquet(alone, out);
        assertTrue(Files.exists(out.resolve("notes.txt")));
        assertFalse(Files.exists(out.resolve(".sith-claims")), "claims released");
    }
}
