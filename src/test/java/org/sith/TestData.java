package org.sith;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The one rule for what a test needs from outside the build: the real CLIP data in {@code ../shared/data}
 * (or {@code -Dsith.shared.data=DIR}) and installed tools (python3 oracles, chromium, moto_server). When
 * something is missing the test is skipped with a message, except under CI (environment variable CI set to
 * anything but empty, "false" or "0"; {@code .ci/run} sets CI=1), where it fails.
 */
public final class TestData {
    private TestData() {}

    /** The shared data folder: {@code -Dsith.shared.data}, by default {@code ../shared/data} beside the project. */
    public static final Path DIR = Path.of(System.getProperty("sith.shared.data", "../shared/data"));

    /** True when the environment variable CI says this is a CI run. */
    public static boolean ci() {
        return isCi(System.getenv("CI"));
    }

    /** CI's value means CI unless it is absent, blank, "false" (any case) or "0". */
    static boolean isCi(String value) {
        return value != null && !value.isBlank() && !value.equalsIgnoreCase("false") && !value.equals("0");
    }

    /** The file or folder {@code relative} under {@link #DIR}; when it does not exist the test is skipped, or fails under CI. */
    public static Path require(String relative) {
        return require(relative, ci());
    }

    static Path require(String relative, boolean ci) {
        Path p = DIR.resolve(relative);
        if (Files.exists(p)) return p;
        String where = p.toAbsolutePath().normalize().toString();
        if (ci) Assertions.fail(where + " does not exist: the shared data is required under CI (-Dsith.shared.data=DIR points elsewhere)");
        return Assumptions.abort(where + " does not exist: skipped because ../shared/data is absent"
                + " (-Dsith.shared.data=DIR points elsewhere); under CI this fails");
    }

    /** A tool the test needs (a python3 oracle, chromium, moto_server): without it the test is skipped, or fails under CI. */
    public static void requireTool(boolean available, String what) {
        requireTool(available, what, ci());
    }

    static void requireTool(boolean available, String what, boolean ci) {
        if (available) return;
        if (ci) Assertions.fail(what + " (required under CI)");
        Assumptions.abort(what + " (skipped; under CI this fails)");
    }
}
