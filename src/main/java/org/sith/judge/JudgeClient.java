package org.sith.judge;

import java.io.IOException;
import java.io.Serializable;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import org.sith.UserInputException;
import org.sith.run.RunRecord;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A client of any OpenAI-compatible Chat Completions endpoint that asks 1–5 questions ({@link JudgePrompts}) and reads
 * the answers ({@link ScoreParser}). Used by `judge`, `edit --judge` and (for `judge_score`) `sweep`.
 * <ul>
 * <li>Requests: POST {@code <url>/chat/completions} (the URL as given when it already ends so) with
 *     {@code {"model", "messages": [system, user]}} (and {@code temperature} when set), the API key as
 *     {@code Authorization: Bearer}. The key comes from the environment ({@link #key}); it is never logged, recorded
 *     or written: every text this class returns has it replaced by {@code [key]}.</li>
 * <li>At most {@code concurrency} requests in flight; each attempt has a {@code timeoutSeconds} deadline for the whole
 *     exchange. 429, 5xx, timeouts and connection failures are retried up to {@code retries} times, waiting as the
 *     response's {@code Retry-After} says (seconds or an HTTP date, at most {@link #MAX_WAIT_S} s) or else
 *     {@code backoffMillis}·2^(attempt−1). Other statuses and malformed answers are not retried.</li>
 * <li>Never throws for one item: each item gets an {@link Outcome}, a score or an error with the raw answer.</li>
 * </ul>
 */
public final class JudgeClient implements AutoCloseable {
    public static final String DEFAULT_KEY_ENV = "OPENAI_API_KEY";
    /** --judge-key-env value for an endpoint without authentication. */
    public static final String NO_KEY = "none";
    public static final int DEFAULT_CONCURRENCY = 4;
    public static final double DEFAULT_TIMEOUT_S = 60;
    public static final int DEFAULT_RETRIES = 4;
    public static final long DEFAULT_BACKOFF_MS = 1000;
    public static final double MAX_WAIT_S = 120;
    static final int EXCERPT = 300;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Where and how to ask: the endpoint, the judge model, the name of the environment variable holding the key
     * ({@link #NO_KEY}: none), requests in flight, seconds per attempt, retries after the first attempt, an optional
     * temperature, and the first backoff (doubling) when the server gives no Retry-After.
     */
    public record Settings(String url, String model, String keyEnv, int concurrency, double timeoutSeconds, int retries, Double temperature,
                           long backoffMillis) implements Serializable, RunRecord.Recordable {
        public Settings {
            if (url == null || url.isBlank()) throw new UserInputException("needs --judge-url (an OpenAI-compatible endpoint, e.g. https://api.openai.com/v1)");
            if (model == null || model.isBlank()) throw new UserInputException("needs --judge-model (the judge model's name at the endpoint)");
            if (keyEnv == null || keyEnv.isBlank()) keyEnv = DEFAULT_KEY_ENV;
            if (concurrency < 1) throw new UserInputException("--judge-concurrency " + concurrency + " must be at least 1");
            if (!(timeoutSeconds > 0) || Double.isInfinite(timeoutSeconds)) throw new UserInputException("--judge-timeout " + timeoutSeconds + " must be a positive number of seconds");
            if (retries < 0) throw new UserInputException("--judge-retries " + retries + " must be 0 or more");
            if (temperature != null && !(temperature >= 0 && temperature <= 2)) throw new UserInputException("--judge-temperature " + temperature + " must be within 0–2");
            if (backoffMillis < 0) throw new IllegalArgumentException("backoff " + backoffMillis);
            JudgeClient.endpoint(url);
        }

        /** The command line's defaults for everything but the endpoint and model. */
        public static Settings of(String url, String model) {
            return new Settings(url, model, DEFAULT_KEY_ENV, DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_S, DEFAULT_RETRIES, null, DEFAULT_BACKOFF_MS);
        }

        public Settings withKeyEnv(String env) {
            return new Settings(url, model, env, concurrency, timeoutSeconds, retries, temperature, backoffMillis);
        }

        public URI endpoint() {
            return JudgeClient.endpoint(url);
        }

        @Override
        public void recordOptions(Map<String, Object> o) {
            o.put("judge-url", url);
            o.put("judge-model", model);
            o.put("judge-key-env", keyEnv); // the variable's name, never its value
            o.put("judge-concurrency", concurrency);
            o.put("judge-timeout", timeoutSeconds);
            o.put("judge-retries", retries);
            o.put("judge-temperature", temperature);
        }
    }

    /**
     * One item's result: {@code score} (null when there is none), the answer's text ({@code raw}, null when no answer
     * came), {@code error} (null on success) and how many requests it took.
     */
    public record Outcome(Integer score, String raw, String error, int attempts) implements Serializable {
        public boolean ok() {
            return score != null;
        }

        /** What a `raw` column shows: the answer, or for a failure the error followed by the answer when there was one. */
        public String text() {
            if (error == null) return raw;
            return raw == null ? "error: " + error : "error: " + error + "; answer: " + raw;
        }
    }

    private final Settings settings;
    private final String key;
    private final URI endpoint;
    private final HttpClient http;
    private final ExecutorService pool;

    /** {@code key} may be null: no Authorization header. */
    public JudgeClient(Settings settings, String key) {
        this.settings = settings;
        this.key = key == null || key.isEmpty() ? null : key;
        this.endpoint = settings.endpoint();
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofMillis((long) Math.ceil(settings.timeoutSeconds() * 1000))).build();
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(settings.concurrency(), r -> {
            Thread t = new Thread(r, "sith-judge-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** A client with the key read from the environment variable the settings name ({@link #key}). */
    public static JudgeClient fromEnvironment(Settings settings) {
        return new JudgeClient(settings, key(settings, System::getenv));
    }

    /**
     * The API key from the variable {@code settings.keyEnv()} names in {@code env}; null for {@link #NO_KEY}. An unset or
     * empty variable is the user's mistake (named, its value never shown).
     */
    public static String key(Settings settings, Function<String, String> env) {
        if (settings.keyEnv().equals(NO_KEY)) return null;
        String v = env.apply(settings.keyEnv());
        if (v == null || v.isBlank()) {
            throw new UserInputException("environment variable " + settings.keyEnv() + " (--judge-key-env) is not set: the judge's API key is read from it"
                    + " (--judge-key-env " + NO_KEY + " for an endpoint without authentication)");
        }
        return v.strip();
    }

    static URI endpoint(String url) {
        URI u;
        try {
            u = new URI(url.strip());
        } catch (URISyntaxException e) {
            throw new UserInputException("--judge-url '" + url + "' is not a URL: " + e.getReason());
        }
        if (u.getScheme() == null || !(u.getScheme().equalsIgnoreCase("http") || u.getScheme().equalsIgnoreCase("https")) || u.getHost() == null) {
            throw new UserInputException("--judge-url '" + url + "' is not an http(s) URL with a host (e.g. https://api.openai.com/v1)");
        }
        if (u.getRawUserInfo() != null) throw new UserInputException("--judge-url must not hold credentials: the key comes from the environment (--judge-key-env)");
        if (u.getRawQuery() != null || u.getRawFragment() != null) throw new UserInputException("--judge-url must have no query or fragment");
        String path = u.getRawPath() == null ? "" : u.getRawPath().replaceAll("/+$", "");
        if (!path.endsWith("/chat/completions")) path = path + "/chat/completions";
        return u.resolve(path.startsWith("/") ? path : "/" + path);
    }

    public Settings settings() {
        return settings;
    }

    /** SPEC §13's interpretability score of each concept list (most important concept first). */
    public List<Outcome> interpretability(List<List<String>> conceptLists, AtomicInteger done) {
        List<JudgePrompts.Prompt> prompts = new ArrayList<>();
        for (List<String> c : conceptLists) prompts.add(JudgePrompts.interpretability(c));
        return ask(prompts, done);
    }

    /** The relevance (1–5) of each concept list to {@code category}. */
    public List<Outcome> relevance(List<List<String>> conceptLists, String category, AtomicInteger done) {
        List<JudgePrompts.Prompt> prompts = new ArrayList<>();
        for (List<String> c : conceptLists) prompts.add(JudgePrompts.relevance(c, category));
        return ask(prompts, done);
    }

    /** One outcome per prompt, in order; {@code done} (may be null) counts finished items for a progress line. */
    public List<Outcome> ask(List<JudgePrompts.Prompt> prompts, AtomicInteger done) {
        List<Future<Outcome>> futures = new ArrayList<>();
        for (JudgePrompts.Prompt p : prompts) {
            futures.add(pool.submit(() -> {
                Outcome o;
                try {
                    o = askOne(p);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    o = new Outcome(null, null, "interrupted", 0);
                } catch (RuntimeException e) {
                    o = new Outcome(null, null, scrub(String.valueOf(e)), 0);
                }
                if (done != null) done.incrementAndGet();
                return o;
            }));
        }
        List<Outcome> out = new ArrayList<>();
        for (Future<Outcome> f : futures) {
            try {
                out.add(f.get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while judging", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException(e.getCause());
            }
        }
        return out;
    }

    private Outcome askOne(JudgePrompts.Prompt p) throws InterruptedException {
        byte[] body = requestBody(p);
        HttpRequest.Builder rb = HttpRequest.newBuilder(endpoint).timeout(Duration.ofMillis((long) Math.ceil(settings.timeoutSeconds() * 1000)))
                .header("Content-Type", "application/json").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (key != null) rb.header("Authorization", "Bearer " + key);
        HttpRequest request = rb.build();
        String lastError = null;
        int attempts = 0;
        for (int attempt = 1; attempt <= settings.retries() + 1; attempt++) {
            attempts = attempt;
            double waitS;
            CompletableFuture<HttpResponse<String>> f = http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> r;
            try {
                r = f.get((long) Math.ceil(settings.timeoutSeconds() * 1000), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                lastError = String.format(Locale.ROOT, "no answer within %s s (--judge-timeout)", trimNumber(settings.timeoutSeconds()));
                waitS = backoff(attempt);
                if (attempt <= settings.retries()) sleep(waitS);
                continue;
            } catch (ExecutionException | CancellationException e) {
                Throwable c = e.getCause() == null ? e : e.getCause();
                lastError = c instanceof HttpTimeoutException ? String.format(Locale.ROOT, "no answer within %s s (--judge-timeout)", trimNumber(settings.timeoutSeconds()))
                        : c instanceof ConnectException ? "cannot connect to " + endpoint + " (" + (c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage()) + ")"
                        : c instanceof IOException ? "request failed: " + c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage())
                        : "request failed: " + c;
                lastError = scrub(lastError);
                waitS = backoff(attempt);
                if (attempt <= settings.retries()) sleep(waitS);
                continue;
            }
            int status = r.statusCode();
            String text = r.body() == null ? "" : r.body();
            if (status == 429 || status >= 500) {
                lastError = "HTTP " + status + ": " + excerpt(text);
                Double retryAfter = retryAfter(r.headers().firstValue("Retry-After").orElse(null));
                waitS = retryAfter != null ? Math.min(retryAfter, MAX_WAIT_S) : backoff(attempt);
                if (attempt <= settings.retries()) sleep(waitS);
                continue;
            }
            if (status < 200 || status >= 300) return new Outcome(null, null, "HTTP " + status + ": " + excerpt(text), attempt);
            return read(text, attempt);
        }
        return new Outcome(null, null, lastError + (attempts > 1 ? " (after " + attempts + " attempts)" : ""), attempts);
    }

    private Outcome read(String body, int attempts) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (IOException e) {
            return new Outcome(null, excerpt(body), "the answer is not JSON", attempts);
        }
        JsonNode content = root == null ? null : root.path("choices").path(0).path("message").path("content");
        if (content == null || !content.isTextual()) {
            return new Outcome(null, excerpt(body), "the answer has no choices[0].message.content", attempts);
        }
        String text = scrub(content.asText());
        ScoreParser.Parsed p = ScoreParser.parse(text, 1, 5);
        return new Outcome(p.score(), text, p.error(), attempts);
    }

    byte[] requestBody(JudgePrompts.Prompt p) {
        ObjectNode b = JSON.createObjectNode();
        b.put("model", settings.model());
        ArrayNode m = b.putArray("messages");
        m.addObject().put("role", "system").put("content", p.system());
        m.addObject().put("role", "user").put("content", p.user());
        if (settings.temperature() != null) b.put("temperature", settings.temperature());
        try {
            return JSON.writeValueAsBytes(b);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private double backoff(int attempt) {
        return settings.backoffMillis() / 1000.0 * Math.pow(2, attempt - 1);
    }

    /** Retry-After as seconds: a number of seconds or an HTTP date; null when absent or unreadable. */
    static Double retryAfter(String v) {
        if (v == null || v.isBlank()) return null;
        try {
            return Math.max(0, Double.parseDouble(v.strip()));
        } catch (NumberFormatException e) {
            try {
                ZonedDateTime t = ZonedDateTime.parse(v.strip(), DateTimeFormatter.RFC_1123_DATE_TIME);
                return Math.max(0, Duration.between(ZonedDateTime.now(t.getZone()), t).toMillis() / 1000.0);
            } catch (RuntimeException e2) {
                return null;
            }
        }
    }

    private static void sleep(double seconds) throws InterruptedException {
        if (seconds > 0) Thread.sleep((long) (seconds * 1000));
    }

    private String excerpt(String s) {
        String t = scrub(s).strip().replaceAll("\\s+", " ");
        return t.length() <= EXCERPT ? t : t.substring(0, EXCERPT) + "…";
    }

    /** The text with the key replaced: a server that echoes the request must not put it into an output. */
    String scrub(String s) {
        if (s == null || key == null) return s;
        return s.replace(key, "[key]");
    }

    private static String trimNumber(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
