package org.sith.cli;

/** One command-line option: `--name value`, or a flag when {@code flag} is true. */
public record OptionSpec(String name, String metavar, String help, String defaultValue, boolean flag) {

    public static OptionSpec value(String name, String metavar, String help) {
        return new OptionSpec(name, metavar, help, null, false);
    }

    public static OptionSpec value(String name, String metavar, String help, String defaultValue) {
        return new OptionSpec(name, metavar, help, defaultValue, false);
    }

    public static OptionSpec flag(String name, String help) {
        return new OptionSpec(name, null, help, null, true);
    }
}
