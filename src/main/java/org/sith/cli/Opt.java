package org.sith.cli;

import java.util.Locale;

import org.sith.UserInputException;

/**
 * One command-line option, typed: its name, the placeholder and help of its `--help` line, its default (the
 * typed value, rendered into `--help` from that same value) and the parser that turns the text into the value.
 * A parser's complaint is reported with the option's name in front.
 */
public final class Opt<T> {
    /** Turns an option's text into its value; throws {@link UserInputException} with what is wrong. */
    public interface Parser<T> {
        T parse(String text);
    }

    private final String name;
    private final String metavar;
    private final String help;
    private final T defaultValue;
    private final Parser<T> parser;
    private final boolean flag;

    private Opt(String name, String metavar, String help, T defaultValue, Parser<T> parser, boolean flag) {
        this.name = name;
        this.metavar = metavar;
        this.help = help;
        this.defaultValue = defaultValue;
        this.parser = parser;
        this.flag = flag;
    }

    /** An option without a default: absent means null (or the command decides). */
    public static <T> Opt<T> of(String name, String metavar, String help, Parser<T> parser) {
        return new Opt<>(name, metavar, help, null, parser, false);
    }

    public static <T> Opt<T> of(String name, String metavar, String help, T defaultValue, Parser<T> parser) {
        return new Opt<>(name, metavar, help, defaultValue, parser, false);
    }

    public static Opt<String> text(String name, String metavar, String help) {
        return of(name, metavar, help, Opt::nonEmpty);
    }

    public static Opt<Boolean> flag(String name, String help) {
        return new Opt<>(name, null, help, false, s -> true, true);
    }

    public String name() {
        return name;
    }

    public String metavar() {
        return metavar;
    }

    public String help() {
        return help;
    }

    public boolean isFlag() {
        return flag;
    }

    public T defaultValue() {
        return defaultValue;
    }

    /** The default as `--help` shows it, or null. */
    public String defaultText() {
        if (flag || defaultValue == null) return null;
        if (defaultValue instanceof java.util.Collection<?> c) {
            return String.join(",", c.stream().map(Opt::render).toList());
        }
        return render(defaultValue);
    }

    private static String render(Object v) {
        if (v instanceof Enum<?> e) return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
        return v.toString();
    }

    T parse(String text) {
        try {
            return parser.parse(text);
        } catch (UserInputException e) {
            String m = e.getMessage();
            throw new UserInputException(m.startsWith("--" + name) ? m : "--" + name + ": " + m, e);
        }
    }

    // ---- parsers ----

    static String nonEmpty(String s) {
        if (s.isBlank()) throw new UserInputException("is empty");
        return s;
    }

    static int integer(String s) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw new UserInputException("'" + s + "' is not an integer");
        }
    }

    static int positive(String s) {
        int v = integer(s);
        if (v < 1) throw new UserInputException(v + " must be at least 1");
        return v;
    }

    static int nonNegative(String s) {
        int v = integer(s);
        if (v < 0) throw new UserInputException(v + " must be 0 or more");
        return v;
    }

    static double finite(String s) {
        try {
            double d = Double.parseDouble(s.trim());
            if (Double.isFinite(d)) return d;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UserInputException("'" + s + "' is not a finite number");
    }

    static double nonNegativeNumber(String s) {
        double d = finite(s);
        if (d < 0) throw new UserInputException(s.trim() + " must not be negative");
        return d;
    }
}
