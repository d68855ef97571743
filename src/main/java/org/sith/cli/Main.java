package org.sith.cli;

import java.io.File;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;

/**
 * Entry point of every command: `./submit.sh COMMAND [options]`. A command line is parsed once into the
 * command's typed configuration, checked against its input files (before Spark starts), then run. Every
 * failure is one line on stderr: a user's mistake (found on the driver or inside a Spark task) exits 2, anything
 * else exits 1 with its stack trace. Spark's own log goes to the file named by {@code sith.log.file}, which a
 * failure that went through Spark names.
 */
public final class Main {
    private Main() {}

    static Map<String, Command<?>> commands() {
        Map<String, Command<?>> m = new LinkedHashMap<>();
        for (Command<?> c : List.of(new DemoCommand(), new EmbedConceptsCommand(), new ImageMeanCommand(), new EmbedImagesCommand(),
                new DecomposeCommand(), new ExplainCommand(), new PreprocessCommand(), new MatchImagesCommand(), new ExplainImagesCommand(), new EditCommand(),
                new ZeroShotCommand(), new RetrievalCommand(), new DiffCommand(), new JudgeCommand(), new SweepCommand(), new ReportCommand(), new SqlCommand(),
                new BenchmarkCommand())) {
            m.put(c.name(), c);
        }
        return m;
    }

    public static void main(String[] args) {
        int status = run(args);
        System.out.flush();
        System.err.flush();
        System.exit(status);
    }

    /** Runs a command and returns its exit status: 0 success, 2 bad input, 1 anything else. */
    public static int run(String[] args) {
        return execute(args, null);
    }

    /**
     * As {@link #run}, on the given session when not null (tests share one; it is not stopped), else on
     * a session made from spark-submit's settings or an embedded local one (stopped at the end).
     */
    public static int execute(String[] args, SparkSession given) {
        Map<String, Command<?>> commands = commands();
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            System.out.println(globalUsage(commands));
            return args.length == 0 ? 2 : 0;
        }
        Command<?> c = commands.get(args[0]);
        if (c == null) {
            System.err.println("sith: unknown command '" + args[0] + "' (commands: " + String.join(", ", commands.keySet()) + ")");
            return 2;
        }
        return execute(c, Arrays.copyOfRange(args, 1, args.length), given);
    }

    private static <C> int execute(Command<C> c, String[] args, SparkSession given) {
        SparkSession spark = null;
        try {
            Options o = Options.parse(c.name(), c.options(), args);
            if (o.help()) {
                System.out.println(o.usage(c.summary(), c.positional()));
                return 0;
            }
            if (c.positional() == null && !o.positional().isEmpty()) {
                throw new UserInputException("unexpected argument '" + o.positional().get(0) + "' (options start with --; see " + c.name() + " --help)");
            }
            C config = c.config(o);
            c.preflight(config, given != null ? given.sparkContext().hadoopConfiguration() : Sessions.hadoopConf());
            if (c.needsSpark()) spark = given != null ? given : Sessions.getOrCreate("sith " + c.name());
            return c.run(config, spark);
        } catch (Throwable t) {
            UserInputException u = UserInputException.find(t);
            if (u != null) {
                System.err.println("sith " + c.name() + ": error: " + oneLine(u.getMessage()) + remedy(u, c) + logHint(t));
                return 2;
            }
            System.err.println("sith " + c.name() + ": failed: " + oneLine(String.valueOf(t)) + logHint(t));
            t.printStackTrace(System.err);
            return 1;
        } finally {
            if (spark != null && given == null) spark.stop();
        }
    }

    /** The option that sets what a core error says the user can give, when the command has it: " (set it with --heads)". */
    static String remedy(UserInputException u, Command<?> c) {
        if (u.setting() == null || u.getMessage().contains("--" + u.setting())) return "";
        for (Opt<?> o : c.options()) if (o.name().equals(u.setting())) return "; set it with --" + o.name();
        return "";
    }

    /** " (Spark's log: FILE)" when the failure came through Spark and its log file has something to show. */
    static String logHint(Throwable t) {
        boolean viaSpark = false;
        for (Throwable x = t; x != null && !viaSpark; x = x.getCause()) viaSpark = x.getClass().getName().startsWith("org.apache.spark");
        String file = System.getProperty("sith.log.file");
        if (!viaSpark || file == null || !new File(file).isFile() || new File(file).length() == 0) return "";
        return " (Spark's log: " + file + ")";
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }

    static String globalUsage(Map<String, Command<?>> commands) {
        StringBuilder b = new StringBuilder("usage: ./submit.sh COMMAND [options]   (COMMAND --help for its options)\n\ncommands:\n");
        for (Command<?> c : commands.values()) b.append(String.format("  %-12s %s%n", c.name(), c.summary()));
        b.append("\nOn an embedded local[*] Spark by default; through spark-submit with --master URL or SPARK_MASTER.");
        b.append("\nLauncher options (any position): --master URL, --conf KEY=VALUE, --packages, --jars, --deploy-mode,");
        b.append("\n--driver-memory, --executor-memory, --executor-cores, --num-executors (see the header of submit.sh).");
        return b.toString();
    }
}
