package org.sith.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;
import org.sith.jobs.EmbedImagesJob;
import org.sith.jobs.ImageMeanJob;
import org.sith.jobs.MatchImagesJob;
import org.sith.jobs.PreprocessJob;
import org.sith.jobs.RetrievalJob;
import org.sith.jobs.ZeroShotJob;
import org.sith.model.PreprocessOrder;

/** --preprocess openclip|hf on every image command: parsed into the typed configuration, absent means the checkpoint's, a bad value is one line. */
class PreprocessOptionTest {
    /** Each image command with the options it needs, and how to read the parsed order back from its configuration. */
    record Case(String command, List<String> required, Function<Object, PreprocessOrder> order) {}

    static final List<Case> CASES = List.of(
            new Case("image-mean", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--out", "o"),
                    c -> ((ImageMeanJob.Config) c).settings().preprocess()),
            new Case("embed-images", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--out", "o"),
                    c -> ((EmbedImagesJob.Config) c).settings().preprocess()),
            new Case("match-images", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--explanations", "e/", "--out", "o"),
                    c -> ((MatchImagesJob.Config) c).settings().preprocess()),
            new Case("explain-images", List.of("--checkpoint", "m.safetensors", "--images", "imgs/", "--concepts", "c/", "--out", "o"),
                    c -> ((org.sith.jobs.ExplainImagesJob.Config) c).settings().preprocess()),
            new Case("zero-shot", List.of("--checkpoint", "m.safetensors", "--images", "l.csv", "--classes", "c.txt", "--out", "o"),
                    c -> ((ZeroShotJob.Config) c).settings().preprocess()),
            new Case("retrieval", List.of("--checkpoint", "m.safetensors", "--images", "p.csv", "--out", "o"),
                    c -> ((RetrievalJob.Config) c).settings().preprocess()),
            new Case("preprocess", List.of("--images", "imgs/", "--out", "o"), c -> ((PreprocessJob.Config) c).preprocess()));

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
    void everyImageCommandTakesTheOption() {
        Map<String, Case> byName = new LinkedHashMap<>();
        for (Case k : CASES) byName.put(k.command(), k);
        for (Case k : CASES) {
            assertNull(k.order().apply(config(k.command(), k.required())), k.command() + ": absent means the checkpoint's order");
            assertEquals(PreprocessOrder.OPENCLIP, k.order().apply(config(k.command(), with(k.required(), "--preprocess", "openclip"))), k.command());
            assertEquals(PreprocessOrder.HF, k.order().apply(config(k.command(), with(k.required(), "--preprocess=hf"))), k.command());
            Command<?> c = Main.commands().get(k.command());
            String usage = Options.parse(k.command(), c.options(), new String[0]).usage(c.summary(), c.positional());
            assertTrue(usage.contains("--preprocess openclip|hf"), k.command() + ": " + usage);
        }
        // every command that feeds images to the model is here (report's --images only finds thumbnails to draw)
        for (Command<?> c : Main.commands().values()) {
            boolean images = !c.name().equals("report") && c.options().stream().anyMatch(o -> o.name().equals("images"));
            boolean hasOption = c.options().stream().anyMatch(o -> o.name().equals("preprocess"));
            assertEquals(images, hasOption, c.name() + ": --images " + images + ", --preprocess " + hasOption);
            if (images) assertTrue(byName.containsKey(c.name()), c.name() + " is tested here");
        }
    }

    @Test
    void aBadValueIsOneLineNamingTheOption() {
        for (Case k : CASES) {
            UserInputException e = assertThrows(UserInputException.class, () -> config(k.command(), with(k.required(), "--preprocess", "torchvision")));
            assertTrue(e.getMessage().startsWith("--preprocess: unknown order 'torchvision'"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
    }

    /** Through the launcher's entry point: exit 2 and one line on stderr, before any Spark work. */
    @Test
    void theLauncherRefusesItWithExitTwo() {
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.execute(new String[] {"preprocess", "--images", "imgs/", "--out", "o", "--preprocess", "pil"}, null);
        } finally {
            System.setErr(oldErr);
        }
        String text = err.toString(StandardCharsets.UTF_8).strip();
        assertEquals(2, status, text);
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.contains("--preprocess: unknown order 'pil'"), text);
    }
}
