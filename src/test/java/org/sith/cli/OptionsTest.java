package org.sith.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;
import org.sith.coding.Method;
import org.sith.jobs.DecomposeJob;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.LayerSpec;
import org.sith.run.WriteMode;

class OptionsTest {
    static final Opt<Integer> K = Opt.of("k", "N", "k", 5, Opt::positive);
    static final Opt<String> OUT = Opt.text("out", "DIR", "out");
    static final Opt<Boolean> OVERWRITE = Opt.flag("overwrite", "o");
    static final Opt<Double> LAMBDA = Opt.of("lambda", "X", "l", 0.3, Opt::nonNegativeNumber);
    static final List<Opt<?>> SPECS = List.of(K, OUT, OVERWRITE, LAMBDA);

    @Test
    void valuesFlagsDefaultsAndInlineForm() {
        Options o = Options.parse("decompose", SPECS, new String[] {"--out", "/x", "--overwrite", "--lambda=0.5"});
        assertEquals("/x", o.get(OUT));
        assertTrue(o.flag(OVERWRITE));
        assertEquals(5, o.get(K));
        assertEquals(0.5, o.get(LAMBDA));
        assertFalse(o.help());
        assertNull(Options.parse("decompose", SPECS, new String[0]).get(OUT));
    }

    @Test
    void everyMistakeNamesTheOption() {
        assertMessage("unknown option --kk", () -> Options.parse("decompose", SPECS, new String[] {"--kk", "3"}));
        assertMessage("--out needs a value", () -> Options.parse("decompose", SPECS, new String[] {"--out"}));
        assertMessage("--out needs a value", () -> Options.parse("decompose", SPECS, new String[] {"--out", "--overwrite"}));
        assertMessage("--k given twice", () -> Options.parse("decompose", SPECS, new String[] {"--k", "3", "--k", "4"}));
        assertMessage("--overwrite takes no value", () -> Options.parse("decompose", SPECS, new String[] {"--overwrite=yes"}));
        assertMessage("--k: 'three' is not an integer", () -> Options.parse("decompose", SPECS, new String[] {"--k", "three"}).get(K));
        assertMessage("--k: 0 must be at least 1", () -> Options.parse("decompose", SPECS, new String[] {"--k", "0"}).get(K));
        assertMessage("--lambda: 'NaN' is not a finite number", () -> Options.parse("decompose", SPECS, new String[] {"--lambda", "NaN"}).get(LAMBDA));
        assertMessage("--lambda: -1 must not be negative", () -> Options.parse("decompose", SPECS, new String[] {"--lambda", "-1"}).get(LAMBDA));
        assertMessage("decompose needs --out", () -> Options.parse("decompose", SPECS, new String[0]).required(OUT));
    }

    /** Every command's options are parsed once into its typed configuration, with the defaults of the configuration's own classes. */
    @Test
    void decomposeOptionsBecomeOneTypedConfigurationWithTheSharedDefaults() {
        DecomposeCommand cmd = new DecomposeCommand();
        DecomposeJob.Config c = cmd.config(Options.parse("decompose", cmd.options(),
                new String[] {"--checkpoint", "m.safetensors", "--concepts", "c/", "--layers", "20-23", "--method", "topk", "--resume", "--out", "o"}));
        assertEquals(Method.TOPK, c.coding().method());
        assertEquals(0.0, c.coding().effectiveLambda(), "top-k has no λ");
        assertEquals(Coding.DEFAULT_LAMBDA, c.coding().lambda());
        assertEquals(Coding.DEFAULT_K, c.coding().k());
        assertEquals(Coding.DEFAULT_BATCH_ROWS, c.coding().batchRows());
        assertEquals(LayerSpec.parse("20-23"), c.heads().layers());
        assertEquals(HeadSelection.DEFAULTS.side(), c.heads().side());
        assertEquals(WriteMode.RESUME, c.out().mode());
        assertMessage("--overwrite and --resume exclude each other", () -> cmd.config(Options.parse("decompose", cmd.options(),
                new String[] {"--checkpoint", "m", "--concepts", "c/", "--out", "o", "--overwrite", "--resume"})));
    }

    /** `--help` shows each default from the same constant the code uses. */
    @Test
    void helpShowsTheDefaultsTheCodeUses() {
        for (Command<?> c : Main.commands().values()) {
            String usage = Options.parse(c.name(), c.options(), new String[0]).usage(c.summary(), c.positional());
            for (Opt<?> o : c.options()) {
                assertTrue(usage.contains("--" + o.name()), c.name() + " --help lists --" + o.name());
                if (o.defaultText() != null) assertTrue(usage.contains("(default " + o.defaultText() + ")"), c.name() + " --" + o.name() + ": " + usage);
            }
        }
        String decompose = Options.parse("decompose", new DecomposeCommand().options(), new String[0]).usage("", null);
        assertTrue(decompose.contains("(default " + Coding.DEFAULT_LAMBDA + ")") && decompose.contains("(default " + Coding.DEFAULT_K + ")")
                && decompose.contains("(default " + Coding.DEFAULT_BATCH_ROWS + ")") && decompose.contains("(default comp)"), decompose);
    }

    /** Refused before any Spark work: each a one-line message naming the option. */
    @Test
    void outOfRangeOptionsAreRefusedWhenTheConfigurationIsBuilt() {
        DecomposeCommand cmd = new DecomposeCommand();
        Map<String, String> cases = Map.of(
                "--k=0", "--k: 0 must be at least 1",
                "--lambda=-0.5", "--lambda: -0.5 must not be negative",
                "--batch-rows=0", "--batch-rows: 0 must be at least 1",
                "--method=lasso", "--method: unknown method 'lasso'",
                "--layers=23-20", "--layers 23-20: range 23-20 is reversed",
                "--layers=last:0", "--layers last:0: last:N needs N ≥ 1",
                "--rank=0", "--rank: 0 must be at least 1",
                "--side=up", "--side: unknown side 'up'");
        for (var e : cases.entrySet()) {
            List<String> args = new ArrayList<>(List.of("--checkpoint", "m", "--concepts", "c/", "--out", "o", e.getKey()));
            assertMessage(e.getValue(), () -> cmd.config(Options.parse("decompose", cmd.options(), args.toArray(new String[0]))));
        }
    }

    static void assertMessage(String expected, org.junit.jupiter.api.function.Executable e) {
        UserInputException u = assertThrows(UserInputException.class, e);
        assertTrue(u.getMessage().contains(expected), u.getMessage());
    }
}
