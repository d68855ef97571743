package org.sith.report;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assertions;
import org.sith.TestData;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Headless Debian {@code chromium}, run as a user would open the report: the DOM after its scripts ran,
 * a screenshot, and Chromium's own NetLog of every request the page made. Without chromium the test
 * skips with a message, except under CI (TestData.ci()), where absence is a failure.
 */
final class Chromium {
    private Chromium() {}

    static String binary() {
        for (String name : List.of("chromium", "chromium-browser")) {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
                File f = new File(dir, name);
                if (f.canExecute()) return f.getPath();
            }
        }
        return null;
    }

    /** The browser, or a skip (a failure under CI) naming what is missing. */
    static String require() {
        String b = binary();
        TestData.requireTool(b != null, "Debian chromium is not installed (apt-get install -y chromium): the report's browser test cannot run");
        return b;
    }

    record Page(String dom, Set<String> requested) {}

    /** Runs chromium headless on the file with the extra arguments; returns stdout and the URLs in its NetLog. */
    static Page run(Path work, Path html, String... extra) throws IOException, InterruptedException {
        return open(work, html.toUri().toString(), extra);
    }

    static Page open(Path work, String url, String... extra) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory(work, "chromium-profile-");
        Path netLog = work.resolve("netlog-" + System.nanoTime() + ".json");
        List<String> cmd = new ArrayList<>(List.of(require(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=" + profile, "--log-net-log=" + netLog));
        cmd.addAll(List.of(extra));
        cmd.add(url);
        Path out = work.resolve("chromium-" + System.nanoTime() + ".out");
        Path err = work.resolve("chromium-" + System.nanoTime() + ".err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            Assertions.fail("chromium did not finish in 180 s: " + Files.readString(err));
        }
        Assertions.assertEquals(0, p.exitValue(), "chromium: " + Files.readString(err));
        return new Page(Files.readString(out, StandardCharsets.UTF_8), requestedUrls(Files.readString(netLog, StandardCharsets.UTF_8)));
    }

    /**
     * The URLs the page asked for: in Chromium's NetLog, every request that starts a job
     * (URL_REQUEST_START_JOB) on behalf of a document carries the document's network isolation key, which
     * for our file:// page is "file://" (its initiator, an opaque file origin, prints as "null"). The
     * browser's own background requests (time sync, account checks) carry other keys and are left out.
     * The file:// page itself is not fetched through the network stack and so does not appear.
     */
    static Set<String> requestedUrls(String netLog) throws IOException {
        String text = netLog.strip();
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(text);
        } catch (IOException e) { // a NetLog cut short lacks its closing brackets
            root = new ObjectMapper().readTree(text.replaceAll(",\\s*$", "") + "]}");
        }
        int startJob = root.path("constants").path("logEventTypes").path("URL_REQUEST_START_JOB").asInt(-1);
        Assertions.assertTrue(startJob >= 0, "NetLog without URL_REQUEST_START_JOB in its constants");
        Set<String> urls = new TreeSet<>();
        for (JsonNode ev : root.path("events")) {
            if (ev.path("type").asInt() != startJob) continue;
            JsonNode p = ev.path("params");
            if (p.path("network_isolation_key").asText().contains("file://") || "null".equals(p.path("initiator").asText())) urls.add(p.path("url").asText());
        }
        return urls;
    }

    /** The requests other than the page itself (file:) and inline data: URIs. */
    static Set<String> foreign(Page page) {
        Set<String> out = new TreeSet<>();
        for (String u : page.requested()) if (!u.startsWith("file:") && !u.startsWith("data:")) out.add(u);
        return out;
    }
}
