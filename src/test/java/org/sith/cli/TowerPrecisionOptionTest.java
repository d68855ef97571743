package org.sith.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;
import org.sith.jobs.EmbedConceptsJob;
import org.sith.jobs.EmbedImagesJob;
import org.sith.jobs.ImageMeanJob;
import org.sith.jobs.MatchImagesJob;
import org.sith.jobs.RetrievalJob;
import org.sith.jobs.ZeroShotJob;
import org.sith.linalg.OneDnn;
import org.sith.model.TowerPrecision;
import org.sith.run.RunRecord;

/**
 * --tower-precision f32|bf16 on every command that runs a tower forward pass: parsed into the typed configuration,
 * f32 when absent, listed by --help, recorded among the options, a bad value one line naming the option.
 */
class TowerPrecisionOptionTest {
    record Case(String command, List<String> required, Function<Object, TowerPrecision> precision) {}

    static final List<Case> CASES = List.of(
            new Case("embed-concepts", List.of("--checkpoint", "m.safetensors", "--vocab", "v.txt", "--out", "o"),
                    c -> ((EmbedConceptsJob.Config) c).towerPrecision()),
            new Case("image-mean", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--out", "o"),
                    c -> ((ImageMeanJob.Config) c).settings().towerPrecision()),
            new Case("embed-images", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--out", "o"),
                    c -> ((EmbedImagesJob.Config) c).settings().towerPrecision()),
            new Case("match-images", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--explanations", "e/", "--out", "o"),
                    c -> ((MatchImagesJob.Config) c).settings().towerPrecision()),
            new Case("explain-images", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--concepts", "c/", "--out", "o"),
                    c -> ((org.sith.jobs.ExplainImagesJob.Config) c).settings().towerPrecision()),
            new Case("zero-shot", List.of("--checkpoint", "m.safetensors", "--images", "l.csv", "--classes", "c.txt", "--out", "o"),
                    c -> ((ZeroShotJob.Config) c).settings().towerPrecision()),
            new Case("retrieval", List.of("--checkpoint", "m.safetensors", "--images", "p.csv", "--out", "o"),
                    c -> ((RetrievalJob.Config) c).settings().towerPrecision()));

    static Object config(String command, List<String> args) {
        Command<?> c = Main.commands().get(command);
        return c.config(Options.parse(command, c.options(), args.toArray(new String[0])));
    }

    static List<String> with(List<String> base, String... more) {
        List<String> l = new ArrayList<>(base);
        l.addAll(Arrays.asList(more));
        return l;
    }

    @Test
    void everyTowerCommandTakesTheOptionWithF32TheDefault() {
        for (Case k : CASES) {
            Object dflt = config(k.command(), k.required());
            assertEquals(TowerPrecision.F32, k.precision().apply(dflt), k.command() + ": f32 when absent");
            assertEquals(TowerPrecision.F32, k.precision().apply(config(k.command(), with(k.required(), "--tower-precision", "f32"))), k.command());
            if (OneDnn.unavailable() == null) {
                Object bf16 = config(k.command(), with(k.required(), "--tower-precision=bf16"));
                assertEquals(TowerPrecision.BF16, k.precision().apply(bf16), k.command());
                Map<String, Object> options = optionsOf(bf16);
                assertEquals("bf16", options.get("tower-precision"), k.command() + " records it among its options: " + options);
            }
            assertEquals("f32", optionsOf(dflt).get("tower-precision"), k.command());
            Command<?> c = Main.commands().get(k.command());
            String usage = Options.parse(k.command(), c.options(), new String[0]).usage(c.summary(), c.positional());
            assertTrue(usage.contains("--tower-precision f32|bf16"), k.command() + ": " + usage);
        }
        List<String> named = CASES.stream().map(Case::command).toList();
        for (Command<?> c : Main.commands().values()) {
            boolean has = c.options().stream().anyMatch(o -> o.name().equals("tower-precision"));
            assertEquals(named.contains(c.name()), has, c.name() + " has --tower-precision: " + has);
        }
    }

    static Map<String, Object> optionsOf(Object config) {
        RunRecord r = new RunRecord("test", null).options((Record) config);
        try {
            com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.toJson()).get("options");
            return new com.fasterxml.jackson.databind.ObjectMapper().convertValue(n, Map.class);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aBadValueIsOneLineNamingTheOption() {
        for (Case k : CASES) {
            UserInputException e = assertThrows(UserInputException.class, () -> config(k.command(), with(k.required(), "--tower-precision", "fp16")));
            assertTrue(e.getMessage().startsWith("--tower-precision: unknown precision 'fp16'"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
    }

    /** Through the launcher's entry point: exit 2 and one line on stderr, before any Spark work. */
    @Test
    void theLauncherRefusesABadValueWithExitTwo() {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.execute(new String[] {"embed-images", "--checkpoint", "m.safetensors", "--images", "imgs/", "--out", "o",
                    "--tower-precision", "int8"}, null);
        } finally {
            System.setErr(oldErr);
        }
        String text = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(2, status, text);
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.contains("--tower-precision: unknown precision 'int8'"), text);
    }
}
