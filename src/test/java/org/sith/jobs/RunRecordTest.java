package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.run.RunRecord;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * `_run.json` of the pipeline's commands (embed-concepts, image-mean on files and on a pixel .npy, decompose,
 * match-images, preprocess): every field present and sane, every option recorded, and every fingerprint equal
 * to a hash computed here from the files themselves.
 */
class RunRecordTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static Path images;
    static String checkpoint;
    static Path vocab;

    @BeforeAll
    static void inputs() throws Exception {
        TwoTowers.requireTokenizer();
        checkpoint = TwoTowers.write(Files.createDirectories(tmp.resolve("model")), 5).checkpoint().toString();
        images = Files.createDirectories(tmp.resolve("images"));
        Random rnd = new Random(9);
        for (int i = 0; i < 5; i++) TwoTowers.randomPng(images.resolve("img" + i + ".png"), rnd);
        Files.writeString(images.resolve("broken.png"), "not a png"); // read, hashed and skipped
        vocab = tmp.resolve("vocab.txt");
        Files.writeString(vocab, "red telephone\nzebra\nsandy beach\nsnow\npink\nocean waves\nstripes\nscarlet\n", StandardCharsets.UTF_8);
    }

    @Test
    void everyCommandRecordsItsInputsOptionsVersionsAndTimings() throws Exception {
        String out = tmp.resolve("run").toString();
        String[][] runs = {
                {"embed-concepts", "--checkpoint", checkpoint, "--vocab", vocab.toString(), "--bpe", TwoTowers.BPE.toString(), "--out", out},
                {"image-mean", "--checkpoint", checkpoint, "--images", images.toString(), "--images-per-task", "2", "--out", out},
                {"decompose", "--checkpoint", checkpoint, "--concepts", out + "/concepts", "--image-mean", out + "/image_mean.npy",
                        "--layers", "last:1", "--k", "3", "--out", out},
                {"match-images", "--checkpoint", checkpoint, "--images", images.toString(), "--explanations", out + "/explanations",
                        "--top", "2", "--out", out},
                {"preprocess", "--images", images.toString(), "--size", "32", "--out", tmp.resolve("pre").toString()},
                {"image-mean", "--checkpoint", checkpoint, "--images", tmp.resolve("pre/pixels.npy").toString(), "--out", tmp.resolve("pre").toString()},
                {"diff", "--base", checkpoint, "--finetuned", checkpoint, "--concepts", out + "/concepts", "--layers", "last:1", "--k", "3",
                        "--out", tmp.resolve("diff").toString()},
                {"report", "--out", out},
        };
        String[] records = {out + "/concepts", out + "/image_mean", out + "/explanations", out + "/matches",
                tmp.resolve("pre/pixels_index").toString(), tmp.resolve("pre/image_mean").toString(), tmp.resolve("diff/diff_heads").toString(),
                out + "/report"};
        Map<String, String> expectedInputs = new HashMap<>();
        for (int r = 0; r < runs.length; r++) {
            Run run = cli(runs[r]);
            assertEquals(0, run.status(), run.stderr());
            JsonNode rec = new ObjectMapper().readTree(Path.of(records[r], "_run.json").toFile());
            checkCommon(rec, runs[r]);
            for (JsonNode in : rec.get("inputs")) checkInput(in, rec);
            List<String> roles = new ArrayList<>();
            rec.get("inputs").forEach(in -> roles.add(in.get("role").asText()));
            expectedInputs.put(runs[r][0] + r, String.join(",", roles));
        }
        assertEquals("checkpoint,vocab,tokenizer", expectedInputs.get("embed-concepts0"));
        assertEquals("checkpoint,images", expectedInputs.get("image-mean1"));
        assertEquals("checkpoint,concepts,image_mean,dictionary", expectedInputs.get("decompose2"));
        assertEquals("checkpoint,explanations,images", expectedInputs.get("match-images3"));
        assertEquals("images", expectedInputs.get("preprocess4"));
        assertEquals("checkpoint,images", expectedInputs.get("image-mean5"));
        assertEquals("base,finetuned,concepts,dictionary", expectedInputs.get("diff6"));
        assertEquals("explanations,matches", expectedInputs.get("report7"));
        // the run's own record beside the outputs is the last command's
        assertEquals("report", new ObjectMapper().readTree(Path.of(out, "_run.json").toFile()).get("command").asText());
    }

    static void checkCommon(JsonNode rec, String[] args) {
        String command = args[0];
        assertEquals(command, rec.get("command").asText());
        Instant started = Instant.parse(rec.get("started").asText());
        Instant finished = Instant.parse(rec.get("finished").asText());
        assertFalse(finished.isBefore(started));
        JsonNode v = rec.get("versions");
        assertEquals(RunRecord.VERSION, v.get("sith").asText());
        assertEquals(spark.version(), v.get("spark").asText());
        assertEquals(scala.util.Properties.versionNumberString(), v.get("scala").asText());
        assertEquals(org.apache.hadoop.util.VersionInfo.getVersion(), v.get("hadoop").asText());
        assertEquals("1.5.13", v.get("javacpp").asText(), "the pom's javacpp.version");
        assertEquals("3.11-1.5.13", v.get("onednn").asText(), "the pom's dnnl.version");
        assertFalse(v.has("nd4j"), "ND4J is gone");
        assertTrue(v.get("parquet").asText().matches("1\\.\\d+\\.\\d+.*"), v.toString());
        assertTrue(v.get("openblas").asText().startsWith("0.3."), v.toString());
        assertEquals(System.getProperty("java.version"), v.get("java").asText());
        assertEquals("local[2]", rec.get("spark_master").asText());
        assertEquals(spark.sparkContext().applicationId(), rec.get("spark_app_id").asText());
        assertEquals(spark.sparkContext().defaultParallelism(), rec.get("spark_default_parallelism").asInt());
        assertEquals(1, rec.get("spark_task_cpus").asInt());

        // every option given on the command line, with its value; flags and defaults too
        JsonNode options = rec.get("options");
        for (int i = 1; i < args.length; i += 2) {
            String name = args[i].substring(2);
            assertTrue(options.has(name), command + ": option --" + name + " not recorded: " + options);
            assertEquals(args[i + 1], options.get(name).asText(), command + " --" + name);
        }
        assertTrue(options.has("overwrite") && !options.get("overwrite").asBoolean(), options.toString());
        if (command.equals("decompose")) {
            assertEquals("comp", options.get("method").asText());
            assertEquals("right", options.get("side").asText());
            assertFalse(options.get("resume").asBoolean());
            assertTrue(rec.at("/parameters/parameter_key").asText().matches("[0-9a-f]{16}"));
        }
        assertTrue(rec.get("parameters").size() + rec.get("results").size() > 0, rec.toString());

        JsonNode t = rec.get("timings_s");
        double total = t.get("total").asDouble();
        assertTrue(total > 0, t.toString());
        assertTrue(t.size() >= 3, command + " records at least two phases: " + t);
        double sum = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = t.fields(); it.hasNext(); ) {
            var e = it.next();
            assertTrue(e.getValue().asDouble() >= 0, e.toString());
            if (!e.getKey().equals("total")) sum += e.getValue().asDouble();
        }
        assertTrue(sum <= total + 0.01, "phases " + sum + " s within the total " + total + " s");
    }

    /** Each fingerprint against a hash computed here, the way `_run.json`'s "fingerprint" field says it was made. */
    static void checkInput(JsonNode in, JsonNode rec) throws Exception {
        String role = in.get("role").asText();
        String recorded = in.get("path").asText();
        Path path = recorded.startsWith("file:") ? Path.of(java.net.URI.create(recorded)) : Path.of(recorded); // report records qualified URIs
        String sha = in.get("sha256").asText();
        assertTrue(sha.matches("[0-9a-f]{64}"), role + ": " + sha);
        assertNotNull(in.get("fingerprint"), role + " says how it was fingerprinted");
        switch (role) {
            case "dictionary" -> {
                String concepts = null;
                for (JsonNode x : rec.get("inputs")) if (x.get("role").asText().equals("concepts")) concepts = x.get("path").asText();
                assertEquals(dictionarySha(Path.of(concepts)), sha, "dictionary fingerprint");
            }
            case "tokenizer" -> assertTrue(in.get("fingerprint").asText().contains("merges"));
            case "images" -> {
                if (Files.isDirectory(path)) {
                    assertEquals(sha256sumListingSha(path), sha, "images: sha256 of their sha256sum listing");
                    assertEquals(6, in.get("images").asInt());
                } else {
                    assertEquals(sha256(Files.readAllBytes(path)), sha, "pixel .npy: its bytes");
                }
            }
            default -> {
                List<Path> files = dataFiles(path);
                assertEquals(files.size(), in.get("files").asInt(), role);
                long bytes = 0;
                for (Path f : files) bytes += Files.size(f);
                assertEquals(bytes, in.get("bytes").asLong(), role);
                assertEquals(folderSha(path, files), sha, role + " fingerprint");
                assertTrue(in.get("fingerprint_s").asDouble() >= 0);
                Instant.parse(in.get("modified").asText());
            }
        }
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    /** A file, or a folder's data files (no _ or . names at any level), in path order. */
    static List<Path> dataFiles(Path p) throws Exception {
        if (!Files.isDirectory(p)) return List.of(p);
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(Files::isRegularFile)
                    .filter(f -> { for (Path part : p.relativize(f)) if (part.toString().startsWith("_") || part.toString().startsWith(".")) return false; return true; })
                    .sorted((a, b) -> a.toString().compareTo(b.toString())).toList();
        }
    }

    /** One file: sha256 of its bytes; several: of each "/relative/path" and bytes in turn. */
    static String folderSha(Path root, List<Path> files) throws Exception {
        if (files.size() == 1 && files.get(0).equals(root)) return sha256(Files.readAllBytes(root));
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (Path f : files) {
            if (files.size() > 1) md.update(("/" + root.relativize(f).toString().replace('\\', '/')).getBytes(StandardCharsets.UTF_8));
            md.update(Files.readAllBytes(f));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** What `sha256sum *.png | sha256sum` gives in the folder (names in order). */
    static String sha256sumListingSha(Path folder) throws Exception {
        StringBuilder listing = new StringBuilder();
        try (Stream<Path> s = Files.list(folder)) {
            for (Path f : s.filter(x -> x.toString().endsWith(".png")).sorted().toList()) {
                listing.append(sha256(Files.readAllBytes(f))).append("  ").append(f.getFileName()).append('\n');
            }
        }
        return sha256(listing.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** ConceptDictionary.FINGERPRINT, from the concepts/ rows read back by Spark. */
    static String dictionarySha(Path concepts) throws Exception {
        List<Row> rows = spark.read().parquet(concepts.toString()).orderBy("id").collectAsList();
        int p = rows.get(0).getList(2).size();
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        md.update(ByteBuffer.allocate(8).putInt(p).putInt(rows.size()).array());
        for (Row r : rows) {
            byte[] s = r.getString(1).getBytes(StandardCharsets.UTF_8);
            md.update(ByteBuffer.allocate(8).putInt(r.getInt(0)).putInt(s.length).array());
            md.update(s);
            ByteBuffer row = ByteBuffer.allocate(4 * p);
            for (Object x : r.getList(2)) row.putInt(Float.floatToRawIntBits((Float) x));
            md.update(row.array());
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
