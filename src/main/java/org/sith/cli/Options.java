package org.sith.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.sith.UserInputException;

/** The command line of one command, split into option texts and positional arguments; values are typed by {@link Opt}. */
public final class Options {
    private final String command;
    private final Map<String, Opt<?>> specs = new LinkedHashMap<>();
    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();
    private boolean help;

    private Options(String command, List<Opt<?>> specs) {
        this.command = command;
        for (Opt<?> s : specs) this.specs.put(s.name(), s);
    }

    public static Options parse(String command, List<Opt<?>> specs, String[] args) {
        Options o = new Options(command, specs);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                o.help = true;
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
            Opt<?> s = o.specs.get(name);
            if (s == null) throw new UserInputException("unknown option --" + name + " for " + command + " (see " + command + " --help)");
            if (o.values.containsKey(name)) throw new UserInputException("option --" + name + " given twice");
            if (s.isFlag()) {
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
        return help;
    }

    public List<String> positional() {
        return positional;
    }

    public boolean has(Opt<?> opt) {
        return values.containsKey(opt.name());
    }

    /** The typed value: the given text parsed, else the option's default (null when it has none). */
    public <T> T get(Opt<T> opt) {
        if (!specs.containsKey(opt.name())) throw new IllegalArgumentException(command + " has no option --" + opt.name());
        String v = values.get(opt.name());
        return v == null ? opt.defaultValue() : opt.parse(v);
    }

    public <T> T required(Opt<T> opt) {
        T v = get(opt);
        if (v == null) throw new UserInputException(command + " needs --" + opt.name() + " (see " + command + " --help)");
        return v;
    }

    public boolean flag(Opt<Boolean> opt) {
        return Boolean.TRUE.equals(get(opt));
    }

    /** {@code positional} names the command's positional argument, or is null when it takes none. */
    public String usage(String summary, String positionalName) {
        StringBuilder b = new StringBuilder();
        b.append("usage: ./submit.sh ").append(command).append(" [options]").append(positionalName == null ? "" : " " + positionalName)
                .append("\n\n").append(summary).append("\n\noptions:\n");
        for (Opt<?> s : specs.values()) {
            String left = "  --" + s.name() + (s.isFlag() ? "" : " " + s.metavar());
            b.append(String.format("%-30s %s", left, s.help()));
            if (s.defaultText() != null) b.append(" (default ").append(s.defaultText()).append(")");
            b.append('\n');
        }
        b.append(String.format("%-30s %s%n", "  --help", "show this help"));
        return b.toString();
    }
}
