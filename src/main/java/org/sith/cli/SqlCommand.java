package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.jobs.OutputFolders;
import org.sith.jobs.SqlJob;

final class SqlCommand implements Command {
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
    public List<OptionSpec> options() {
        return List.of(value("out", "DIR", "folder whose Parquet output folders become views (names: other characters than letters, digits, _ become _)"),
                value("in", "PATHS", "instead of --out: Parquet folders, comma-separated, each PATH or NAME=PATH"),
                value("format", "table|csv|json", "table (aligned), csv (RFC 4180, CRLF, nested values as JSON) or json (JSON Lines: one object a line)", "table"),
                value("max-width", "N", "table: longest cell before it is cut with … (0: no limit)", "80"));
    }

    @Override
    public void validate(Options o) {
        query(o);
        format(o);
        Integer w = o.intOrNull("max-width");
        if (w == null || w < 0) throw new UserInputException("--max-width must be 0 or more");
        if (!o.has("out") && !o.has("in")) throw new UserInputException("sql needs --out (a folder of outputs) or --in (Parquet folders)");
    }

    private static String query(Options o) {
        List<String> p = o.positional();
        if (p.isEmpty()) throw new UserInputException("sql needs a query, e.g. sql --out DIR \"SELECT * FROM explanations LIMIT 5\"");
        if (p.size() > 1) throw new UserInputException("sql takes one query, got " + p.size() + " arguments (quote the query): " + String.join(" ", p));
        return p.get(0);
    }

    private static String format(Options o) {
        String f = o.get("format");
        if (!List.of("table", "csv", "json").contains(f)) throw new UserInputException("--format " + f + ": not table, csv or json");
        return f;
    }

    @Override
    public int run(Options o, SparkSession spark) {
        List<OutputFolders.Folder> folders = OutputFolders.resolve(o.get("in"), o.get("out"), spark.sparkContext().hadoopConfiguration());
        Dataset<Row> result = SqlJob.run(spark, folders, query(o));
        try {
            switch (format(o)) {
                case "csv" -> ResultPrinter.csv(result.schema(), result.toLocalIterator(), System.out);
                case "json" -> ResultPrinter.jsonLines(result.schema(), result.toLocalIterator(), System.out);
                default -> ResultPrinter.table(result.schema(), result.collectAsList(), o.intOrNull("max-width"), System.out);
            }
        } catch (Exception e) {
            throw SqlJob.userError(e, folders);
        }
        return 0;
    }
}
