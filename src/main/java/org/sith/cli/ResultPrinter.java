package org.sith.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sith.UserInputException;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

/**
 * A query result as an aligned text table, RFC 4180 CSV or JSON Lines.
 * <ul>
 * <li>table: numbers right-aligned, doubles to 6 significant digits, arrays as {@code [a, b]}, structs as
 *     {@code {name: value, ...}}, NULL for null; cells longer than the maximum width end in "…".</li>
 * <li>csv: a header line, then one record per row, CRLF line ends; fields holding a comma, quote, CR or LF are
 *     quoted with quotes doubled; null is an empty field; doubles in full precision; arrays, structs and maps as
 *     JSON text.</li>
 * <li>json: one JSON object per row and line (JSON Lines), nested values as JSON; NaN and ±Infinity,
 *     which JSON cannot hold, as the strings "NaN", "Infinity", "-Infinity".</li>
 * </ul>
 */
final class ResultPrinter {
    private ResultPrinter() {}

    private static final JsonFactory JSON = new JsonFactory();

    static void table(StructType schema, List<Row> rows, int maxWidth, PrintStream out) {
        int n = schema.fields().length;
        List<String[]> cells = new ArrayList<>();
        int[] width = new int[n];
        boolean[] right = new boolean[n];
        String[] header = schema.fieldNames();
        for (int c = 0; c < n; c++) {
            width[c] = header[c].length();
            right[c] = schema.fields()[c].dataType() instanceof NumericType;
        }
        for (Row r : rows) {
            String[] line = new String[n];
            for (int c = 0; c < n; c++) {
                String s = text(r.get(c), schema.fields()[c].dataType());
                if (maxWidth > 0 && s.length() > maxWidth) s = s.substring(0, Math.max(1, maxWidth - 1)) + "…";
                line[c] = s;
                width[c] = Math.max(width[c], s.length());
            }
            cells.add(line);
        }
        out.println(align(header, width, right));
        StringBuilder rule = new StringBuilder();
        for (int c = 0; c < n; c++) rule.append(c == 0 ? "" : "  ").append("-".repeat(width[c]));
        out.println(rule);
        for (String[] line : cells) out.println(align(line, width, right));
        out.println("(" + rows.size() + (rows.size() == 1 ? " row)" : " rows)"));
    }

    private static String align(String[] cells, int[] width, boolean[] right) {
        StringBuilder b = new StringBuilder();
        for (int c = 0; c < cells.length; c++) {
            if (c > 0) b.append("  ");
            String pad = " ".repeat(width[c] - cells[c].length());
            b.append(right[c] ? pad + cells[c] : c == cells.length - 1 ? cells[c] : cells[c] + pad);
        }
        return b.toString();
    }

    /** A value as a readable table cell. */
    static String text(Object v, DataType t) {
        if (v == null) return "NULL";
        if (v instanceof Double d) return number(d);
        if (v instanceof Float f) return number(f.doubleValue());
        if (v instanceof String s) return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
        if (v instanceof byte[] b) return "0x" + java.util.HexFormat.of().formatHex(b);
        if (v instanceof Row r && t instanceof StructType st) {
            StringBuilder b = new StringBuilder("{");
            for (int i = 0; i < st.fields().length; i++) {
                if (i > 0) b.append(", ");
                b.append(st.fields()[i].name()).append(": ").append(text(r.get(i), st.fields()[i].dataType()));
            }
            return b.append('}').toString();
        }
        if (t instanceof ArrayType at) {
            StringBuilder b = new StringBuilder("[");
            int i = 0;
            for (Object e : list(v)) b.append(i++ > 0 ? ", " : "").append(text(e, at.elementType()));
            return b.append(']').toString();
        }
        if (t instanceof MapType mt) {
            StringBuilder b = new StringBuilder("{");
            int i = 0;
            for (Map.Entry<Object, Object> e : map(v).entrySet()) {
                b.append(i++ > 0 ? ", " : "").append(text(e.getKey(), mt.keyType())).append(": ").append(text(e.getValue(), mt.valueType()));
            }
            return b.append('}').toString();
        }
        return String.valueOf(v);
    }

    /** Six significant digits, no exponent for ordinary magnitudes, no trailing zeros. */
    static String number(double d) {
        if (!Double.isFinite(d)) return Double.isNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";
        if (d == 0) return "0";
        BigDecimal b = new BigDecimal(d).round(new MathContext(6)).stripTrailingZeros();
        double mag = Math.abs(d);
        return mag >= 1e-4 && mag < 1e12 ? b.toPlainString() : b.toString();
    }

    static void csv(StructType schema, Iterator<Row> rows, PrintStream out) {
        StringBuilder line = new StringBuilder();
        String[] names = schema.fieldNames();
        for (int c = 0; c < names.length; c++) line.append(c > 0 ? "," : "").append(csvField(names[c]));
        out.print(line.append("\r\n"));
        while (rows.hasNext()) {
            Row r = rows.next();
            line.setLength(0);
            for (int c = 0; c < names.length; c++) {
                if (c > 0) line.append(',');
                Object v = r.get(c);
                if (v == null) continue;
                DataType t = schema.fields()[c].dataType();
                String s = t instanceof StructType || t instanceof ArrayType || t instanceof MapType ? json(v, t)
                        : v instanceof byte[] b ? java.util.Base64.getEncoder().encodeToString(b) : String.valueOf(v);
                line.append(csvField(s));
            }
            out.print(line.append("\r\n"));
        }
        out.flush();
    }

    static String csvField(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) return s;
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    static void jsonLines(StructType schema, Iterator<Row> rows, PrintStream out) {
        Set<String> seen = new HashSet<>();
        for (String n : schema.fieldNames()) {
            if (!seen.add(n)) throw new UserInputException("query: the column name " + n + " appears twice, which JSON cannot hold: rename one (AS ...)");
        }
        while (rows.hasNext()) out.println(json(rows.next(), schema));
        out.flush();
    }

    static String json(Object v, DataType t) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator((Writer) w)) {
            write(g, v, t);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    private static void write(JsonGenerator g, Object v, DataType t) throws IOException {
        if (v == null) g.writeNull();
        else if (v instanceof Double d) {
            if (Double.isFinite(d)) g.writeNumber(d);
            else g.writeString(number(d));
        } else if (v instanceof Float f) {
            if (Float.isFinite(f)) g.writeNumber(f);
            else g.writeString(number(f));
        } else if (v instanceof Integer i) g.writeNumber(i);
        else if (v instanceof Long l) g.writeNumber(l);
        else if (v instanceof Short s) g.writeNumber(s);
        else if (v instanceof Byte b) g.writeNumber(b);
        else if (v instanceof BigDecimal b) g.writeNumber(b);
        else if (v instanceof Boolean b) g.writeBoolean(b);
        else if (v instanceof byte[] b && t instanceof BinaryType) g.writeBinary(b);
        else if (v instanceof Row r && t instanceof StructType st) {
            g.writeStartObject();
            StructField[] f = st.fields();
            for (int i = 0; i < f.length; i++) {
                g.writeFieldName(f[i].name());
                write(g, r.get(i), f[i].dataType());
            }
            g.writeEndObject();
        } else if (t instanceof ArrayType at) {
            g.writeStartArray();
            for (Object e : list(v)) write(g, e, at.elementType());
            g.writeEndArray();
        } else if (t instanceof MapType mt) {
            g.writeStartObject();
            for (Map.Entry<Object, Object> e : map(v).entrySet()) {
                g.writeFieldName(String.valueOf(e.getKey()));
                write(g, e.getValue(), mt.valueType());
            }
            g.writeEndObject();
        } else g.writeString(String.valueOf(v));
    }

    private static Iterable<Object> list(Object v) {
        if (v instanceof scala.collection.Iterable<?> s) {
            @SuppressWarnings("unchecked")
            Iterable<Object> it = (Iterable<Object>) scala.jdk.javaapi.CollectionConverters.asJava(s);
            return it;
        }
        if (v instanceof List<?> l) {
            @SuppressWarnings("unchecked")
            List<Object> o = (List<Object>) l;
            return o;
        }
        throw new IllegalStateException("not a list: " + v.getClass());
    }

    private static Map<Object, Object> map(Object v) {
        if (v instanceof scala.collection.Map<?, ?> m) {
            @SuppressWarnings("unchecked")
            Map<Object, Object> j = (Map<Object, Object>) scala.jdk.javaapi.CollectionConverters.asJava(m);
            return j;
        }
        @SuppressWarnings("unchecked")
        Map<Object, Object> j = (Map<Object, Object>) v;
        return j;
    }
}
