package org.sith.cli;

import java.util.List;
import java.util.Locale;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.inputs.OutputFolders;
import org.sith.jobs.SqlJob;

final class SqlCommand implements Command<SqlJob.Config> {
    static final Opt<String> OUT = Opt.text("out", "DIR", "folder whose Parquet output folders become views (names: other characters than letters, digits, _ become _)");
    static final Opt<String> IN = Opt.text("in", "PATHS", "instead of --out: Parquet folders, comma-separated, each PATH or NAME=PATH");
    static final Opt<SqlJob.Format> FORMAT = Opt.of("format", "table|csv|json",
            "table (aligned), csv (RFC 4180, CRLF, nested values as JSON) or json (JSON Lines: one object a line)", SqlJob.Format.TABLE, SqlCommand::format);
    static final Opt<Integer> MAX_WIDTH = Opt.of("max-width", "N", "table: longest cell before it is cut with … (0: no limit)", SqlJob.DEFAULT_MAX_WIDTH,
            Opt::nonNegative);

    @Override
    public String name() {
        return SqlJob.NAME;
    }

    @Override
    public String summary() {
        return "Run a Spark SQL query over the Parquet outputs, each registered as a view named after its folder "
                + "(explanations, singular_vectors, concepts, matches, edits, zeroshot, retrieval, diff_heads, ...).";
    }

    @Override
    public String positional() {
        return "QUERY";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(OUT, IN, FORMAT, MAX_WIDTH);
    }

    static SqlJob.Format format(String f) {
        return switch (f.trim().toLowerCase(Locale.ROOT)) {
            case "table" -> SqlJob.Format.TABLE;
            case "csv" -> SqlJob.Format.CSV;
            case "json" -> SqlJob.Format.JSON;
            default -> throw new UserInputException("'" + f + "' is not table, csv or json");
        };
    }

    @Override
    public SqlJob.Config config(Options o) {
        List<String> p = o.positional();
        if (p.isEmpty()) throw new UserInputException("sql needs a query, e.g. sql --out DIR \"SELECT * FROM explanations LIMIT 5\"");
        if (p.size() > 1) throw new UserInputException("sql takes one query, got " + p.size() + " arguments (quote the query): " + String.join(" ", p));
        return new SqlJob.Config(o.get(IN), o.get(OUT), p.get(0), o.get(FORMAT), o.get(MAX_WIDTH));
    }

    @Override
    public int run(SqlJob.Config c, SparkSession spark) {
        List<OutputFolders.Folder> folders = OutputFolders.resolve(c.in(), c.out(), spark.sparkContext().hadoopConfiguration());
        Dataset<Row> result = SqlJob.run(spark, folders, c.query());
        try {
            switch (c.format()) {
                case CSV -> ResultPrinter.csv(result.schema(), result.toLocalIterator(), System.out);
                case JSON -> ResultPrinter.jsonLines(result.schema(), result.toLocalIterator(), System.out);
                default -> ResultPrinter.table(result.schema(), result.collectAsList(), c.maxWidth(), System.out);
            }
        } catch (Exception e) {
            throw SqlJob.userError(e, folders);
        }
        return 0;
    }
}
