package org.sith.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SyntheticInputs;

/**
 * Options out of range, and options that do not fit the model (read from the checkpoint's header), are refused
 * before any Spark work: through the launcher's entry point with no session given, each is one line and exit 2,
 * no SparkSession is ever started, and the --out folder holds what it held before.
 */
class RefusalsBeforeSparkTest {
    @TempDir
    static Path tmp;
    static String checkpoint;
    static String concepts;
    static String vocab;
    static Path out;

    @BeforeAll
    static void inputs() throws Exception {
        SyntheticInputs in = SyntheticInputs.write(tmp.resolve("model"));
        checkpoint = in.checkpoint().toString();
        concepts = in.concepts().toString();
        vocab = in.vocab().toString();
        out = Files.createDirectories(tmp.resolve("out"));
        Files.writeString(out.resolve("notes.txt"), "the user's own file");
    }

    record Result(int status, String stderr) {}

    static Result run(String... args) {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.execute(args, null);
        } finally {
            System.setErr(oldErr);
        }
        return new Result(status, err.toString(StandardCharsets.UTF_8));
    }

    static List<String> listing(Path p) throws Exception {
        try (Stream<Path> s = Files.walk(p)) {
            return s.map(x -> p.relativize(x).toString()).sorted().toList();
        }
    }

    @Test
    void eachIsOneLineExit2WithoutStartingSpark() throws Exception {
        Map<String, String> decompose = new java.util.LinkedHashMap<>();
        decompose.put("--k=0", "--k: 0 must be at least 1");
        decompose.put("--lambda=-0.5", "--lambda: -0.5 must not be negative");
        decompose.put("--batch-rows=0", "--batch-rows: 0 must be at least 1");
        decompose.put("--method=lasso", "--method: unknown method 'lasso'");
        decompose.put("--layers=3-1", "range 3-1 is reversed");
        decompose.put("--layers=2,9", "--layers 2,9: layer 9 is beyond " + checkpoint + ", which has layers 0..3");
        decompose.put("--layers=last:5", "has only 4 layers");
        decompose.put("--rank=65", "--rank 65 is above the head width 64");
        decompose.put("--heads=0", "--heads: 0 must be at least 1");
        decompose.put("--heads=3", "cannot be split into 3 heads"); // the model's width 256 is not 3 heads
        List<String> before = listing(out);
        for (var c : decompose.entrySet()) {
            Result r = run("decompose", "--checkpoint", checkpoint, "--concepts", concepts, "--vocab", vocab, "--out", out.toString(), c.getKey());
            check(r, c.getKey(), c.getValue());
        }
        check(run("diff", "--base", checkpoint, "--finetuned", checkpoint, "--layers", "7", "--out", out.toString()), "diff --layers 7",
                "layer 7 is beyond");
        check(run("diff", "--base", checkpoint, "--finetuned", checkpoint, "--k", "0", "--out", out.toString()), "diff --k 0", "--k: 0 must be at least 1");
        check(run("explain", "--vectors", concepts, "--concepts", concepts, "--vocab", vocab, "--center", "mean", "--out", out.toString()),
                "explain --center mean", "--center: unknown value 'mean'");
        check(run("match-images", "--checkpoint", checkpoint, "--images", tmp.toString(), "--explanations", out.toString(), "--top", "0",
                "--out", out.toString()), "match-images --top 0", "--top: 0 must be at least 1");
        Map<String, String> sweep = new java.util.LinkedHashMap<>();
        sweep.put("--methods=comp,lasso", "--methods: unknown method 'lasso'");
        sweep.put("--ks=3,0", "--ks: 0 must be at least 1");
        sweep.put("--ks=", "--ks: is empty");
        sweep.put("--lambdas=0.3,-1", "--lambdas: -1 must not be negative");
        sweep.put("--layers=2,9", "layer 9 is beyond");
        sweep.put("--rank=65", "--rank 65 is above the head width 64");
        sweep.put("--judge-url=http://127.0.0.1:9/v1", "--judge-url needs --judge-model");
        for (Map.Entry<String, String> c : sweep.entrySet()) {
            Result r = run("sweep", "--checkpoint", checkpoint, "--concepts", concepts, "--vocab", vocab, "--out", out.toString(), c.getKey());
            check(r, "sweep " + c.getKey(), c.getValue());
        }
        check(run("decompose", "--checkpoint", checkpoint, "--concepts", concepts, "--out", out.toString()), "an .npy without --vocab",
                "is an .npy: give its concept strings with --vocab");
        assertEquals(before, listing(out), "nothing written, nothing removed");
    }

    static void check(Result r, String what, String expected) {
        assertEquals(2, r.status(), what + ": " + r.stderr());
        assertEquals(1, r.stderr().strip().lines().count(), what + ": one line: " + r.stderr());
        assertTrue(r.stderr().startsWith("sith ") && r.stderr().contains(": error: ") && r.stderr().contains(expected), what + ": " + r.stderr());
        assertTrue(SparkSession.getActiveSession().isEmpty() && SparkSession.getDefaultSession().isEmpty(), what + ": a SparkSession was started");
    }
}
