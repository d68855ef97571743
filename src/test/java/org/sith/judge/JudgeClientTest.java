package org.sith.judge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;

/**
 * JudgeClient against a real HTTP server on loopback ({@link FakeJudge}) speaking the Chat Completions format: normal
 * answers, 429 with Retry-After, 500s then success, answers later than the deadline, malformed answers, an unreachable
 * URL; the requests' bodies and Authorization header as the server received them.
 */
class JudgeClientTest {
    static final String KEY = "sk-unit-test-Zq81";

    static JudgeClient.Settings settings(String url, int concurrency, double timeout, int retries, long backoffMs) {
        return new JudgeClient.Settings(url, "judge-model-x", "IGNORED", concurrency, timeout, retries, null, backoffMs);
    }

    static List<List<String>> lists(int n) {
        List<List<String>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<String> c = new ArrayList<>();
            for (int k = 0; k <= i % 5; k++) c.add("concept " + i + "." + k);
            out.add(c);
        }
        return out;
    }

    @Test
    void normalAnswersAreScoredAndRequestsCarryModelMessagesAndKey() throws Exception {
        UserInputException empty = assertThrows(UserInputException.class, () -> settings("", 3, 10, 0, 10));
        assertTrue(empty.getMessage().contains("--judge-url"), empty.getMessage());
        try (FakeJudge s = new FakeJudge(r -> FakeJudge.Reply.content(String.valueOf(r.concepts().size())).delayed(150));
             JudgeClient c = new JudgeClient(settings(s.url(), 3, 10, 0, 10), KEY)) {
            AtomicInteger done = new AtomicInteger();
            List<List<String>> in = lists(12);
            List<JudgeClient.Outcome> out = c.interpretability(in, done);
            assertEquals(12, done.get());
            for (int i = 0; i < 12; i++) {
                assertEquals(in.get(i).size(), out.get(i).score(), "item " + i);
                assertEquals(String.valueOf(in.get(i).size()), out.get(i).raw());
                assertNull(out.get(i).error());
                assertEquals(1, out.get(i).attempts());
            }
            assertEquals(12, s.requests.size());
            assertTrue(s.maxInFlight.get() <= 3 && s.maxInFlight.get() >= 2, "in flight at once: " + s.maxInFlight.get());
            List<List<String>> seen = new ArrayList<>();
            for (FakeJudge.Request r : s.requests) {
                assertEquals("POST", r.method());
                assertEquals("/v1/chat/completions", r.path());
                assertEquals("Bearer " + KEY, r.authorization());
                assertTrue(r.contentType().startsWith("application/json"), r.contentType());
                assertEquals("judge-model-x", r.model());
                assertEquals("system", r.body().path("messages").path(0).path("role").asText());
                assertEquals("user", r.body().path("messages").path(1).path("role").asText());
                assertEquals(2, r.body().path("messages").size());
                assertTrue(r.user().contains("one single, coherent concept") && r.user().endsWith("Answer with one integer from 1 to 5."), r.user());
                assertEquals(JudgePrompts.SYSTEM, r.system());
                assertFalse(r.body().has("temperature"), "no temperature unless asked");
                seen.add(r.concepts());
            }
            assertTrue(seen.containsAll(in) && in.containsAll(seen));
        }
    }

    @Test
    void relevanceQuestionsNameTheCategoryAndTemperatureIsSentWhenSet() throws Exception {
        try (FakeJudge s = new FakeJudge(r -> FakeJudge.Reply.content(r.concepts().stream().anyMatch(x -> r.category().contains(x)) ? "5" : "1"));
             JudgeClient c = new JudgeClient(new JudgeClient.Settings(s.url() + "/chat/completions", "m", "none", 2, 10, 0, 0.0, 10), null)) {
            List<JudgeClient.Outcome> out = c.relevance(List.of(List.of("lake", "boat"), List.of("dog")), "  lake  and\tsea ", null);
            assertEquals(5, out.get(0).score());
            assertEquals(1, out.get(1).score());
            for (FakeJudge.Request r : s.requests) {
                assertEquals("lake and sea", r.category());
                assertNull(r.authorization(), "no key: no Authorization header");
                assertEquals("/v1/chat/completions", r.path(), "a URL that already ends in /chat/completions is used as given");
                assertEquals(0.0, r.body().path("temperature").asDouble(-1));
            }
        }
    }

    @Test
    void rateLimitsWaitAsRetryAfterSaysThenSucceed() throws Exception {
        Map<String, Integer> calls = new ConcurrentHashMap<>();
        try (FakeJudge s = new FakeJudge(r -> calls.merge(r.user(), 1, Integer::sum) == 1
                ? FakeJudge.Reply.status(429, "{\"error\":{\"message\":\"rate limited\"}}").header("Retry-After", "1")
                : FakeJudge.Reply.content("4"));
             JudgeClient c = new JudgeClient(settings(s.url(), 4, 10, 3, 10), KEY)) {
            long t0 = System.nanoTime();
            List<JudgeClient.Outcome> out = c.interpretability(lists(3), null);
            double secs = (System.nanoTime() - t0) / 1e9;
            for (JudgeClient.Outcome o : out) {
                assertEquals(4, o.score());
                assertEquals(2, o.attempts());
            }
            assertTrue(secs >= 0.95, "waited Retry-After: 1 s, not the 10 ms backoff: " + secs);
            assertEquals(6, s.requests.size());
        }
    }

    @Test
    void serverErrorsAreRetriedWithBackoffAndReportedWhenTheyPersist() throws Exception {
        Map<String, Integer> calls = new ConcurrentHashMap<>();
        try (FakeJudge s = new FakeJudge(r -> {
            int n = calls.merge(r.user(), 1, Integer::sum);
            if (r.concepts().get(0).startsWith("concept 0.")) return FakeJudge.Reply.status(503, "overloaded; you sent " + r.authorization());
            return n <= 2 ? FakeJudge.Reply.status(500, "boom") : FakeJudge.Reply.content("3");
        }); JudgeClient c = new JudgeClient(settings(s.url(), 2, 10, 2, 50), KEY)) {
            long t0 = System.nanoTime();
            List<JudgeClient.Outcome> out = c.interpretability(lists(2), null);
            double secs = (System.nanoTime() - t0) / 1e9;
            JudgeClient.Outcome bad = out.get(0);
            assertNull(bad.score());
            assertEquals(3, bad.attempts());
            assertTrue(bad.error().startsWith("HTTP 503: overloaded; you sent Bearer [key]") && bad.error().endsWith("(after 3 attempts)"), bad.error());
            assertFalse(bad.text().contains(KEY), "an echoed key is scrubbed");
            assertEquals(3, out.get(1).score());
            assertEquals(3, out.get(1).attempts());
            assertTrue(secs >= 0.15, "backoff 50 ms then 100 ms: " + secs);
        }
    }

    @Test
    void answersLaterThanTheDeadlineTimeOut() throws Exception {
        try (FakeJudge s = new FakeJudge(r -> FakeJudge.Reply.content("5").delayed(3000));
             JudgeClient c = new JudgeClient(settings(s.url(), 2, 0.3, 1, 10), KEY)) {
            long t0 = System.nanoTime();
            JudgeClient.Outcome o = c.interpretability(lists(1), null).get(0);
            double secs = (System.nanoTime() - t0) / 1e9;
            assertNull(o.score());
            assertEquals(2, o.attempts());
            assertTrue(o.error().contains("no answer within 0.3 s (--judge-timeout)"), o.error());
            assertTrue(secs < 2.5, "gave up at the deadline, not when the server answered: " + secs);
        }
    }

    @Test
    void malformedAnswersAreReportedWithTheirTextAndNotRetried() throws Exception {
        Map<String, FakeJudge.Reply> replies = Map.of(
                "a", FakeJudge.Reply.status(200, "<html>not json</html>"),
                "b", FakeJudge.Reply.status(200, "{\"choices\": []}"),
                "c", FakeJudge.Reply.content("I cannot rate these."),
                "d", FakeJudge.Reply.content("7"),
                "e", FakeJudge.Reply.content("0"),
                "f", FakeJudge.Reply.content("3.5"),
                "g", FakeJudge.Reply.status(401, "{\"error\":\"bad key\"}"),
                "h", FakeJudge.Reply.content("**4**"),
                "i", FakeJudge.Reply.content("{\"score\": 2}"),
                "j", FakeJudge.Reply.content("Rating: 5 out of 5. These are all dogs."));
        String[] want = {"the answer is not JSON", "the answer has no choices[0].message.content", "no number in the answer", "score 7 is outside 1–5",
            "score 0 is outside 1–5", "not an integer: 3.5", "HTTP 401: {\"error\":\"bad key\"}", null, null, null};
        Integer[] scores = {null, null, null, null, null, null, null, 4, 2, 5};
        try (FakeJudge s = new FakeJudge(r -> replies.get(r.concepts().get(0)));
             JudgeClient c = new JudgeClient(settings(s.url(), 3, 10, 3, 10), KEY)) {
            List<List<String>> in = new ArrayList<>();
            for (String k : List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")) in.add(List.of(k));
            List<JudgeClient.Outcome> out = c.interpretability(in, null);
            for (int i = 0; i < in.size(); i++) {
                JudgeClient.Outcome o = out.get(i);
                assertEquals(scores[i], o.score(), in.get(i).toString());
                assertEquals(want[i], o.error(), in.get(i).toString());
                assertEquals(1, o.attempts(), "not retried: " + in.get(i));
            }
            assertEquals("<html>not json</html>", out.get(0).raw());
            assertEquals("error: score 7 is outside 1–5; answer: 7", out.get(3).text());
            assertEquals("error: no number in the answer; answer: I cannot rate these.", out.get(2).text());
            assertEquals(10, s.requests.size());
        }
    }

    @Test
    void anUnreachableEndpointIsAPerItemError() throws Exception {
        int port;
        try (ServerSocket ss = new ServerSocket(0)) {
            port = ss.getLocalPort();
        }
        try (JudgeClient c = new JudgeClient(settings("http://127.0.0.1:" + port + "/v1", 2, 2, 2, 10), KEY)) {
            List<JudgeClient.Outcome> out = c.interpretability(lists(3), null);
            for (JudgeClient.Outcome o : out) {
                assertNull(o.score());
                assertEquals(3, o.attempts());
                assertTrue(o.error().startsWith("cannot connect to http://127.0.0.1:" + port + "/v1/chat/completions"), o.error());
            }
        }
    }

    @Test
    void keysUrlsAndSettingsAreCheckedWhereTheyAreBuilt() {
        JudgeClient.Settings s = JudgeClient.Settings.of("https://api.example.com/v1/", "m").withKeyEnv("MY_KEY");
        assertEquals("https://api.example.com/v1/chat/completions", s.endpoint().toString());
        assertEquals("http://h:8000/chat/completions", JudgeClient.Settings.of("http://h:8000", "m").endpoint().toString());
        assertEquals("secret", JudgeClient.key(s, Map.of("MY_KEY", " secret\n")::get));
        UserInputException e = assertThrows(UserInputException.class, () -> JudgeClient.key(s, Map.<String, String>of()::get));
        assertTrue(e.getMessage().startsWith("environment variable MY_KEY (--judge-key-env) is not set"), e.getMessage());
        assertNull(JudgeClient.key(s.withKeyEnv("none"), Map.<String, String>of()::get));
        for (String bad : List.of("ftp://h/v1", "https://user:pw@h/v1", "not a url", "https://h/v1?key=x", "/v1")) {
            assertThrows(UserInputException.class, () -> JudgeClient.Settings.of(bad, "m"), bad);
        }
        assertThrows(UserInputException.class, () -> new JudgeClient.Settings("http://h", "m", null, 0, 1, 0, null, 10));
        assertThrows(UserInputException.class, () -> new JudgeClient.Settings("http://h", "m", null, 1, 0, 0, null, 10));
        assertThrows(UserInputException.class, () -> new JudgeClient.Settings("http://h", " ", null, 1, 1, 0, null, 10));
        assertEquals(2.0, JudgeClient.retryAfter(" 2 "));
        assertNull(JudgeClient.retryAfter("soon"));
        assertTrue(JudgeClient.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0, "a date in the past: no wait");
    }

    @Test
    void scoreParserReadsIntegersRobustlyAndRefusesTheRest() {
        Object[][] cases = {
            {"4", 4}, {" 5.\n", 5}, {"**3**", 3}, {"\"2\"", 2}, {"{\"score\": 4}", 4}, {"{\"rating\":\"1\"}", 1}, {"Score: 5", 5},
            {"I would rate this a 3.", 3}, {"4/5", 4}, {"3 out of 5", 3}, {"The concepts are coherent; score = 5", 5},
            {"", "empty answer"}, {"no idea", "no number in the answer"}, {"between 2 and 3", "ambiguous answer: several numbers (2, 3)"},
            {"6", "score 6 is outside 1–5"}, {"-1", "score -1 is outside 1–5"}, {"4.5", "not an integer: 4.5"}, {"rating: 9", "score 9 is outside 1–5"},
        };
        for (Object[] c : cases) {
            ScoreParser.Parsed p = ScoreParser.parse((String) c[0], 1, 5);
            if (c[1] instanceof Integer i) {
                assertEquals(i, p.score(), (String) c[0]);
                assertNull(p.error());
            } else {
                assertNull(p.score(), (String) c[0]);
                assertEquals(c[1], p.error(), (String) c[0]);
            }
        }
    }
}
