package org.sith.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.sith.UserInputException;

/** Parsed options of one command; every lookup error names the option at fault. */
public final class Options {
    private final String command;
    private final Map<String, OptionSpec> specs = new LinkedHashMap<>();
    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();

    private Options(String command, List<OptionSpec> specs) {
        this.command = command;
        for (OptionSpec s : specs) this.specs.put(s.name(), s);
    }

    public static Options parse(String command, List<OptionSpec> specs, String[] args) {
        Options o = new Options(command, specs);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                o.values.put("help", "true");
                continue;
            }
            if (!a.startsWith("--")) {
                o.positional.add(a);
                continue;
            }
            String name = a.substring(2);
            String inline = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                inline = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            OptionSpec s = o.specs.get(name);
            if (s == null) {
                throw new UserInputException("unknown option --" + name + " for " + command + " (see " + command + " --help)");
            }
            if (o.values.containsKey(name)) {
                throw new UserInputException("option --" + name + " given twice");
            }
            if (s.flag()) {
                if (inline != null) throw new UserInputException("option --" + name + " takes no value");
                o.values.put(name, "true");
            } else if (inline != null) {
                o.values.put(name, inline);
            } else {
                if (i + 1 >= args.length || (args[i + 1].startsWith("--") && args[i + 1].length() > 2)) {
                    throw new UserInputException("option --" + name + " needs a value (" + s.metavar() + ")");
                }
                o.values.put(name, args[++i]);
            }
        }
        return o;
    }

    public String command() {
        return command;
    }

    public boolean help() {
        return values.containsKey("help");
    }

    public boolean flag(String name) {
        return values.containsKey(name);
    }

    public boolean has(String name) {
        return values.containsKey(name);
    }

    public List<String> positional() {
        return positional;
    }

    /** The value, the declared default, or null. */
    public String get(String name) {
        String v = values.get(name);
        if (v != null) return v;
        OptionSpec s = specs.get(name);
        return s == null ? null : s.defaultValue();
    }

    public String required(String name) {
        String v = get(name);
        if (v == null || v.isEmpty()) {
            throw new UserInputException(command + " needs --" + name + " (see " + command + " --help)");
        }
        return v;
    }

    public Integer intOrNull(String name) {
        String v = get(name);
        if (v == null) return null;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UserInputException("--" + name + ": '" + v + "' is not an integer");
        }
    }

    public int positiveInt(String name) {
        Integer v = intOrNull(name);
        if (v == null) throw new UserInputException(command + " needs --" + name);
        if (v < 1) throw new UserInputException("--" + name + ": " + v + " must be at least 1");
        return v;
    }

    public double finiteDouble(String name) {
        String v = get(name);
        try {
            double d = Double.parseDouble(v.trim());
            if (!Double.isFinite(d)) throw new NumberFormatException();
            return d;
        } catch (RuntimeException e) {
            throw new UserInputException("--" + name + ": '" + v + "' is not a finite number");
        }
    }

    /** {@code positional} names the command's positional argument, or is null when it takes none. */
    public String usage(String summary, String positional) {
        StringBuilder b = new StringBuilder();
        b.append("usage: ./submit.sh ").append(command).append(" [options]").append(positional == null ? "" : " " + positional).append("\n\n").append(summary).append("\n\noptions:\n");
        for (OptionSpec s : specs.values()) {
            String left = "  --" + s.name() + (s.flag() ? "" : " " + s.metavar());
            b.append(String.format("%-30s %s", left, s.help()));
            if (s.defaultValue() != null) b.append(" (default ").append(s.defaultValue()).append(")");
            b.append('\n');
        }
        b.append(String.format("%-30s %s%n", "  --help", "show this help"));
        return b.toString();
    }
}
