package org.sith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** The rule of TestData: what counts as CI, and that missing data or tools fail under CI and skip elsewhere. */
class TestDataTest {
    static final String MISSING = "no-such-folder-" + TestDataTest.class.getName() + "/file.txt";

    @Test
    void whatCountsAsCi() {
        for (String no : Arrays.asList(null, "", " ", "false", "FALSE", "False", "0")) assertFalse(TestData.isCi(no), "CI=" + no);
        for (String yes : Arrays.asList("1", "true", "TRUE", "yes")) assertTrue(TestData.isCi(yes), "CI=" + yes);
    }

    @Test
    void missingDataFailsUnderCi() {
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> TestData.require(MISSING, true));
        String where = TestData.DIR.resolve(MISSING).toAbsolutePath().normalize().toString();
        assertTrue(e.getMessage().contains(where), e.getMessage());
        assertTrue(e.getMessage().contains("required under CI"), e.getMessage());
    }

    @Test
    void missingDataSkipsOutsideCi() {
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> TestData.require(MISSING, false));
        String where = TestData.DIR.resolve(MISSING).toAbsolutePath().normalize().toString();
        assertTrue(e.getMessage().contains(where), e.getMessage());
        assertTrue(e.getMessage().contains("../shared/data is absent"), e.getMessage());
        assertTrue(e.getMessage().contains("under CI this fails"), e.getMessage());
    }

    @Test
    void missingToolsFollowTheSameRule() {
        AssertionFailedError failed = assertThrows(AssertionFailedError.class, () -> TestData.requireTool(false, "frobnicator", true));
        assertTrue(failed.getMessage().contains("frobnicator"), failed.getMessage());
        TestAbortedException skipped = assertThrows(TestAbortedException.class, () -> TestData.requireTool(false, "frobnicator", false));
        assertTrue(skipped.getMessage().contains("frobnicator"), skipped.getMessage());
        TestData.requireTool(true, "frobnicator", true); // present: nothing happens, CI or not
        TestData.requireTool(true, "frobnicator", false);
    }

    @Test
    void presentDataIsReturnedCiOrNot(@TempDir Path tmp) throws Exception {
        // an absolute path resolves to itself under DIR, so a file that surely exists stands in for the shared data
        Path file = Files.writeString(tmp.resolve("present.txt"), "x");
        assertEquals(file, TestData.require(file.toString(), true));
        assertEquals(file, TestData.require(file.toString(), false));
    }
}
