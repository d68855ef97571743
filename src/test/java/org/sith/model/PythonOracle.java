package org.sith.model;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.sith.TestData;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

/** Runs python3 as an independent reference: JSON in on stdin, JSON out on stdout. Skips the test when python3 is absent (fails it under CI: TestData). */
public final class PythonOracle {
    private PythonOracle() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Skips the calling test unless python3 can import the given modules; under CI fails it instead. */
    public static void assumeModules(String... modules) {
        String imports = modules.length == 0 ? "pass" : "import " + String.join(", ", modules);
        boolean ok;
        try {
            Process p = new ProcessBuilder("python3", "-c", imports).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            ok = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            ok = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ok = false;
        }
        String what = "python3 with " + String.join(", ", modules);
        // In CI (.ci/run exports CI=1) a missing oracle fails the run instead of quietly skipping the comparison.
        TestData.requireTool(ok, what + " not available: the Python comparison cannot run");
    }

    /**
     * Token ids of CLIP's tokenizer written the plain way in Python (clip_bpe_oracle.py, reading
     * HF's vocab.json and merges.txt): SOT … EOT, at most 77. Needs python3 with regex.
     */
    public static List<int[]> clipTokens(Path vocabJson, Path merges, List<String> texts, Path scratch)
            throws IOException, InterruptedException {
        Path script = scratch.resolve("clip_bpe_oracle.py");
        try (var in = PythonOracle.class.getResourceAsStream("clip_bpe_oracle.py")) {
            Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return run(List.of("python3", script.toString(), vocabJson.toString(), merges.toString()), texts,
                new TypeReference<List<int[]>>() {});
    }

    /**
     * CLIP image embeddings from an independent numpy tower (clip_vision_numpy.py: its own safetensors reader and
     * forward pass, float64) for the base file, the edited file, and the in-memory edit of the base file
     * ({@code edits}: rows layer, head, sv, α). Needs python3 with numpy.
     */
    public static Map<String, double[][]> numpyVision(Path base, Path edited, boolean hf, int heads, boolean quickGelu,
            List<double[]> edits, List<float[]> pixels, Path scratch) throws IOException, InterruptedException {
        Path script = scratch.resolve("clip_vision_numpy.py");
        try (var in = PythonOracle.class.getResourceAsStream("clip_vision_numpy.py")) {
            Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Map<String, Object> req = Map.of("base", base.toString(), "edited", edited.toString(), "hf", hf, "heads", heads,
                "quick_gelu", quickGelu, "edits", edits, "pixels", pixels);
        return run(List.of("python3", script.toString()), req, new TypeReference<Map<String, double[][]>>() {});
    }

    static <T> T run(List<String> command, Object input, TypeReference<T> type) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(command);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("PYTHONIOENCODING", "utf-8");
        pb.environment().put("PYTHONUTF8", "1");
        Path err = Files.createTempFile("python-oracle", ".err");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        byte[] in = JSON.writeValueAsBytes(input);
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> {
            try {
                return p.getInputStream().readAllBytes();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        try (OutputStream o = p.getOutputStream()) {
            o.write(in);
        }
        byte[] result = out.join();
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("python failed: " + cmd + "\n" + Files.readString(err, StandardCharsets.UTF_8));
        }
        Files.deleteIfExists(err);
        return JSON.readValue(result, type);
    }
}
