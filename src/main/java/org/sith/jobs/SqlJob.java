package org.sith.jobs;

import java.util.List;
import java.util.stream.Collectors;

import org.apache.spark.SparkThrowable;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.inputs.OutputFolders;
import org.sith.run.Schemas;

/**
 * `sql`: every output folder registered as a temporary view named after it, then the user's query. Views of
 * explanations/, singular_vectors/ and matches/ carry the `tower`/`component` columns whether or not the files do
 * ({@link #withKinds}).
 * The views live in a session of their own (sharing the SparkContext), so nothing leaks into the caller's.
 */
public final class SqlJob {
    public static final String NAME = "sql";

    /** How the result is printed. */
    public enum Format { TABLE, CSV, JSON }

    public static final int DEFAULT_MAX_WIDTH = 80;

    /** {@code in}: Parquet folders to query instead of those under {@code out}. */
    public record Config(String in, String out, String query, Format format, int maxWidth) implements java.io.Serializable {
        public Config {
            if (in == null && out == null) throw new UserInputException("sql needs --out (a folder of outputs) or --in (Parquet folders)");
            if (query == null || query.isBlank()) throw new UserInputException("sql needs a query, e.g. sql --out DIR \"SELECT * FROM explanations LIMIT 5\"");
            if (format == null) format = Format.TABLE;
            if (maxWidth < 0) throw new UserInputException("--max-width " + maxWidth + " must be 0 or more");
        }
    }

    private SqlJob() {}

    /** The query's result (analysed, not yet run); a query Spark cannot parse or analyse is a {@link UserInputException}. */
    public static Dataset<Row> run(SparkSession spark, List<OutputFolders.Folder> folders, String query) {
        SparkSession session = spark.newSession();
        for (OutputFolders.Folder f : folders) {
            try {
                withKinds(session.read().parquet(f.path())).createOrReplaceTempView(f.name());
            } catch (RuntimeException e) {
                throw new UserInputException(f.path() + ": not readable as Parquet: " + firstLine(e));
            }
        }
        try {
            return session.sql(query);
        } catch (Exception e) { // AnalysisException is a checked exception in Java's eyes
            throw userError(e, folders);
        }
    }

    /**
     * An output as its view shows it: explanations/ and singular_vectors/ always with SPEC §3b's `tower` and `component`
     * (written only by runs other than the paper's vision VO; absent, they are vision / vo), and matches/ with its
     * `component` (vo when absent), so one query covers outputs written with and without them. Other folders as stored.
     */
    static Dataset<Row> withKinds(Dataset<Row> df) {
        java.util.Set<String> cols = java.util.Set.of(df.columns());
        if (cols.containsAll(List.of("layer", "head", "sv", "concepts", "fidelity", "sigma"))
                || cols.containsAll(List.of("layer", "head", "sv", "side", "sigma", "joint"))) {
            return Schemas.withKinds(df);
        }
        if (cols.containsAll(List.of("layer", "head", "sv", "rank", "image", "score"))) return Schemas.withComponent(df);
        return df;
    }

    /**
     * Spark's one-line message for a mistake in the query (a parse or analysis error, or a data error
     * such as a failed cast while it runs), with the view names when a table was not found; anything
     * else is returned unchanged.
     */
    public static RuntimeException userError(Exception e, List<OutputFolders.Folder> folders) {
        Throwable t = e;
        while (t != null && !(t instanceof SparkThrowable)) t = t.getCause();
        if (t == null) return e instanceof RuntimeException r ? r : new IllegalStateException(e);
        String state = ((SparkThrowable) t).getSqlState();
        boolean user = t instanceof AnalysisException || (state != null && (state.startsWith("42") || state.startsWith("22")));
        if (!user) return e instanceof RuntimeException r ? r : new IllegalStateException(e);
        String msg = firstLine(t);
        if (msg.contains("TABLE_OR_VIEW_NOT_FOUND")) {
            msg += " (views: " + folders.stream().map(OutputFolders.Folder::name).collect(Collectors.joining(", ")) + ")";
        }
        return new UserInputException("query: " + msg);
    }

    private static String firstLine(Throwable t) {
        String m = String.valueOf(t.getMessage()).strip();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl).strip();
    }
}
