package org.sith.judge;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A judge's answer to a 1–5 question, read robustly: the answer is an integer on its own (markdown, quotes and a final
 * period allowed), or a JSON object with a {@code score} or {@code rating}, or a text with "score: N" / "rating N" /
 * "N/5" / "N out of 5", or a text holding exactly one number. Anything else (no number, several numbers, a decimal, a
 * value outside the range) is an error saying so; the caller keeps the raw answer.
 */
public final class ScoreParser {
    private ScoreParser() {}

    /** Either a score or the reason there is none. */
    public record Parsed(Integer score, String error) {}

    private static final Pattern NUMBER = Pattern.compile("(?<![\\w.])-?\\d+(?:\\.\\d+)?(?![\\w]|\\.\\d)");
    private static final Pattern LABELLED = Pattern.compile("(?i)\\b(?:score|rating|rate|grade)\\b[^0-9\\-]{0,12}(-?\\d+(?:\\.\\d+)?)(?![\\w]|\\.\\d)");
    private static final Pattern OUT_OF = Pattern.compile("(?i)(?<![\\w.])(-?\\d+(?:\\.\\d+)?)\\s*(?:/|out of)\\s*\\d+");
    private static final Pattern JSON_SCORE = Pattern.compile("(?i)\"(?:score|rating)\"\\s*:\\s*\"?(-?\\d+(?:\\.\\d+)?)");

    public static Parsed parse(String answer, int lo, int hi) {
        if (answer == null || answer.isBlank()) return new Parsed(null, "empty answer");
        String t = answer.strip();
        String bare = t.replaceAll("^[\\s*_`\"'(\\[]+|[\\s*_`\"')\\].]+$", "");
        if (bare.matches("-?\\d+(\\.\\d+)?")) return check(bare, lo, hi);
        for (Pattern p : List.of(JSON_SCORE, LABELLED, OUT_OF)) {
            Matcher m = p.matcher(t);
            if (m.find()) return check(m.group(1), lo, hi);
        }
        List<String> numbers = new ArrayList<>();
        Matcher m = NUMBER.matcher(t);
        while (m.find()) numbers.add(m.group());
        if (numbers.isEmpty()) return new Parsed(null, "no number in the answer");
        if (numbers.size() > 1) return new Parsed(null, "ambiguous answer: several numbers (" + String.join(", ", numbers) + ")");
        return check(numbers.get(0), lo, hi);
    }

    private static Parsed check(String number, int lo, int hi) {
        if (number.contains(".")) return new Parsed(null, "not an integer: " + number);
        long v;
        try {
            v = Long.parseLong(number);
        } catch (NumberFormatException e) {
            return new Parsed(null, "not an integer: " + number);
        }
        if (v < lo || v > hi) return new Parsed(null, "score " + number + " is outside " + lo + "–" + hi);
        return new Parsed((int) v, null);
    }
}
