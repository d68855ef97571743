package org.sith.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;

class OptionsTest {
    static final List<OptionSpec> SPECS = List.of(OptionSpec.value("k", "N", "k", "5"), OptionSpec.value("out", "DIR", "out"),
            OptionSpec.flag("overwrite", "o"), OptionSpec.value("lambda", "X", "l", "0.3"));

    @Test
    void valuesFlagsDefaultsAndInlineForm() {
        Options o = Options.parse("decompose", SPECS, new String[] {"--out", "/x", "--overwrite", "--lambda=0.5"});
        assertEquals("/x", o.get("out"));
        assertTrue(o.flag("overwrite"));
        assertEquals(5, o.positiveInt("k"));
        assertEquals(0.5, o.finiteDouble("lambda"));
        assertFalse(o.help());
        assertNull(Options.parse("decompose", SPECS, new String[0]).get("out"));
    }

    @Test
    void everyMistakeNamesTheOption() {
        assertMessage("unknown option --kk", () -> Options.parse("decompose", SPECS, new String[] {"--kk", "3"}));
        assertMessage("--out needs a value", () -> Options.parse("decompose", SPECS, new String[] {"--out"}));
        assertMessage("--out needs a value", () -> Options.parse("decompose", SPECS, new String[] {"--out", "--overwrite"}));
        assertMessage("--k given twice", () -> Options.parse("decompose", SPECS, new String[] {"--k", "3", "--k", "4"}));
        assertMessage("--overwrite takes no value", () -> Options.parse("decompose", SPECS, new String[] {"--overwrite=yes"}));
        assertMessage("--k: 'three' is not an integer", () -> Options.parse("decompose", SPECS, new String[] {"--k", "three"}).positiveInt("k"));
        assertMessage("--k: 0 must be at least 1", () -> Options.parse("decompose", SPECS, new String[] {"--k", "0"}).positiveInt("k"));
        assertMessage("--lambda: 'NaN' is not a finite number", () -> Options.parse("decompose", SPECS, new String[] {"--lambda", "NaN"}).finiteDouble("lambda"));
        assertMessage("decompose needs --out", () -> Options.parse("decompose", SPECS, new String[0]).required("out"));
    }

    @Test
    void lambdaIsRecordedOnlyForComp() {
        List<OptionSpec> specs = List.of(CommonOptions.METHOD, CommonOptions.LAMBDA);
        assertEquals(0.3, CommonOptions.lambda(Options.parse("x", specs, new String[0])));
        assertEquals(0.0, CommonOptions.lambda(Options.parse("x", specs, new String[] {"--method", "topk"})));
        assertMessage("--lambda -1.0 must not be negative", () -> CommonOptions.lambda(Options.parse("x", specs, new String[] {"--lambda", "-1"})));
    }

    static void assertMessage(String expected, org.junit.jupiter.api.function.Executable e) {
        UserInputException u = assertThrows(UserInputException.class, e);
        assertTrue(u.getMessage().contains(expected), u.getMessage());
    }
}
