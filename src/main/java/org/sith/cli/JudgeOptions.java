package org.sith.cli;

import java.util.List;

import org.sith.UserInputException;
import org.sith.judge.JudgeClient;

/** The options of the judge endpoint, shared by `judge` and `edit --judge` (and `sweep --judge-url`). */
final class JudgeOptions {
    private JudgeOptions() {}

    static final Opt<String> URL = Opt.text("judge-url", "URL",
            "an OpenAI-compatible endpoint: its base (https://api.openai.com/v1, http://localhost:8000/v1) or its /chat/completions URL");
    static final Opt<String> MODEL = Opt.text("judge-model", "NAME", "the judge model's name at the endpoint");
    static final Opt<String> KEY_ENV = Opt.of("judge-key-env", "VAR",
            "environment variable holding the API key, sent as Authorization: Bearer and never logged or written (none: no key)",
            JudgeClient.DEFAULT_KEY_ENV, Opt::nonEmpty);
    static final Opt<Integer> CONCURRENCY = Opt.of("judge-concurrency", "N", "requests in flight at once", JudgeClient.DEFAULT_CONCURRENCY, Opt::positive);
    static final Opt<Double> TIMEOUT = Opt.of("judge-timeout", "SECONDS", "deadline of one request (a late answer is retried)", JudgeClient.DEFAULT_TIMEOUT_S,
            JudgeOptions::positiveSeconds);
    static final Opt<Integer> RETRIES = Opt.of("judge-retries", "N",
            "retries of a request after 429, 5xx, a timeout or a failed connection, waiting as Retry-After says or 1 s doubling",
            JudgeClient.DEFAULT_RETRIES, Opt::nonNegative);
    static final Opt<Double> TEMPERATURE = Opt.of("judge-temperature", "T", "sampling temperature sent to the judge (default: not sent, the model's own)",
            Opt::nonNegativeNumber);

    static List<Opt<?>> all() {
        return List.of(URL, MODEL, KEY_ENV, CONCURRENCY, TIMEOUT, RETRIES, TEMPERATURE);
    }

    /** The settings when --judge-url is given (then --judge-model is required), else null (and no other judge option may be given). */
    static JudgeClient.Settings settings(Options o, String forWhat) {
        if (!o.has(URL)) {
            for (Opt<?> x : all()) if (o.has(x)) throw new UserInputException("--" + x.name() + " is only used with --judge-url" + forWhat);
            return null;
        }
        if (!o.has(MODEL)) throw new UserInputException("--judge-url needs --judge-model (the judge model's name at the endpoint)");
        return new JudgeClient.Settings(o.get(URL), o.get(MODEL), o.get(KEY_ENV), o.get(CONCURRENCY), o.get(TIMEOUT), o.get(RETRIES), o.get(TEMPERATURE),
                JudgeClient.DEFAULT_BACKOFF_MS);
    }

    static double positiveSeconds(String s) {
        double d = Opt.finite(s);
        if (d <= 0) throw new UserInputException(s.trim() + " must be more than 0 seconds");
        return d;
    }
}
