package org.sith.inputs;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sith.UserInputException;

/**
 * Parquet inputs (a `concepts/`, `explanations/`, edits table, vectors), opened with their schema checked
 * before any row is read: a missing column, or a column of the wrong type, is named with its type and the
 * type expected, instead of surfacing as an analysis error from deep inside Spark.
 */
public final class ParquetInputs {
    private ParquetInputs() {}

    /** A column type the inputs accept, with how a message names it. */
    public record Type(String name, Predicate<DataType> accepts) {}

    public static final Type INTEGER = new Type("int", t -> t.equals(DataTypes.IntegerType) || t.equals(DataTypes.LongType)
            || t.equals(DataTypes.ShortType) || t.equals(DataTypes.ByteType));
    public static final Type NUMBER = new Type("double", t -> t instanceof NumericType);
    public static final Type STRING = new Type("string", t -> t.equals(DataTypes.StringType));
    public static final Type FLOAT_ARRAY = new Type("array<float>", t -> t instanceof ArrayType a && a.elementType() instanceof NumericType);
    /** An explanation's concepts: array<struct<id int, concept string, weight double>>. */
    public static final Type CONCEPT_LIST = new Type("array<struct<id: int, concept: string, weight: double>>", t -> t instanceof ArrayType a
            && a.elementType() instanceof StructType s && has(s, "id", INTEGER) && has(s, "concept", STRING) && has(s, "weight", NUMBER));

    /** One required column. */
    public record Column(String name, Type type) {}

    public static Column column(String name, Type type) {
        return new Column(name, type);
    }

    /**
     * Opens a Parquet folder or file; {@code label} names it in errors ("--concepts /data/concepts"). A path that
     * is not Parquet is a user error; a stopped SparkContext (a cluster that failed) is not.
     */
    public static Dataset<Row> open(SparkSession spark, String path, String label, String what) {
        try {
            Dataset<Row> df = spark.read().parquet(path);
            df.schema(); // resolves the footers now, inside this try
            return df;
        } catch (RuntimeException e) {
            if (spark.sparkContext().isStopped()) throw e;
            throw new UserInputException(label + ": not " + what + " (" + firstLine(e) + ")", e);
        }
    }

    /** Checks that {@code df} has every column with an accepted type; names the first that is missing or wrong. */
    public static void require(Dataset<Row> df, String label, Column... columns) {
        StructType schema = df.schema();
        List<String> names = List.of(schema.fieldNames());
        for (Column c : columns) {
            if (!names.contains(c.name())) {
                List<String> want = new ArrayList<>();
                for (Column x : columns) want.add(x.name() + " " + x.type().name());
                throw new UserInputException(label + ": no column '" + c.name() + "' (need " + String.join(", ", want) + "; it has "
                        + String.join(", ", names) + ")");
            }
            DataType t = schema.apply(c.name()).dataType();
            if (!c.type().accepts().test(t)) {
                throw new UserInputException(label + ": column '" + c.name() + "' is " + t.simpleString() + ", expected " + c.type().name());
            }
        }
    }

    /**
     * The one column holding vectors (array of numbers): a preferred name when present, else the only such
     * column; otherwise the message lists what there is.
     */
    public static String vectorColumn(Dataset<Row> df, String label, List<String> preferred) {
        List<String> arrays = new ArrayList<>();
        for (StructField f : df.schema().fields()) if (FLOAT_ARRAY.accepts().test(f.dataType())) arrays.add(f.name());
        for (String p : preferred) if (arrays.contains(p)) return p;
        if (arrays.size() == 1) return arrays.get(0);
        if (arrays.isEmpty()) {
            List<String> all = new ArrayList<>();
            for (StructField f : df.schema().fields()) all.add(f.name() + " " + f.dataType().simpleString());
            throw new UserInputException(label + ": no column of type array<float> holds vectors (columns: " + String.join(", ", all) + ")");
        }
        throw new UserInputException(label + ": cannot tell which column holds the vectors " + arrays + " (name one of them "
                + String.join(" or ", preferred) + ")");
    }

    /**
     * Collects a (small) input on the driver. The rows are read by Spark tasks; a file that cannot be read
     * (corrupt, truncated, not Parquet) fails its task, and that failure becomes one line naming the file.
     */
    public static <T> List<T> collect(Dataset<T> df, String label) {
        try {
            return new ArrayList<>(df.collectAsList());
        } catch (Exception e) { // a task's failure arrives as SparkException, a checked exception Java does not see declared
            UserInputException u = unreadable(e, label);
            if (u != null) throw u;
            throw ParquetInputs.<RuntimeException>sneaky(e);
        }
    }

    /** A task's failure to read an input file, as a user error naming the file; null for other failures. */
    public static UserInputException unreadable(Throwable e, String label) {
        UserInputException given = UserInputException.find(e);
        if (given != null) return given;
        String file = null;
        String reason = null;
        Throwable root = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            root = t;
            String m = String.valueOf(t.getMessage());
            java.util.regex.Matcher f = java.util.regex.Pattern.compile("reading file (\\S+?)\\.?\\s").matcher(m + " ");
            if (file == null && m.contains("FAILED_READ_FILE") && f.find()) file = f.group(1);
            String n = t.getClass().getName();
            if (n.startsWith("org.apache.parquet") || t instanceof java.io.EOFException || m.contains("is not a Parquet file")
                    || m.contains("magic number") || n.contains("Decoding")) {
                reason = firstLine(t);
            }
        }
        if (file != null && reason == null && root != e) reason = firstLine(root); // what the reader met deepest down
        if (reason == null && file == null) return null;
        return new UserInputException(label + ": cannot read " + (file != null ? file : "one of its files") + (reason != null ? " (" + reason + ")" : ""), e);
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> T sneaky(Throwable t) throws T {
        throw (T) t;
    }

    private static boolean has(StructType s, String name, Type type) {
        for (StructField f : s.fields()) if (f.name().equals(name)) return type.accepts().test(f.dataType());
        return false;
    }

    /** The message's first line; Spark's PATH_NOT_FOUND error as plain words. */
    static String firstLine(Throwable e) {
        String line = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
        return line.toLowerCase(Locale.ROOT).startsWith("[path_not_found]") ? "no such path" : line;
    }
}
