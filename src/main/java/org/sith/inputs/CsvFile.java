package org.sith.inputs;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.sith.UserInputException;
import org.sith.io.TextLines;

/**
 * A small CSV of the commands' own kinds (edit tables, labelled images, image/text pairs): a header line naming the
 * columns (matched without case or surrounding blanks), then one record a line, no quoting, blank lines skipped.
 * Every record must have the header's number of fields; messages name the file and the line.
 */
public final class CsvFile {
    /** One record: where it is ("--images FILE line 7") and its fields. */
    public record Line(String where, String[] fields) {
        public String get(int column) {
            return fields[column].strip();
        }
    }

    private final String label;
    private final String[] lines;
    private final List<String> header;

    private CsvFile(String label, String[] lines) {
        this.label = label;
        this.lines = lines;
        this.header = Arrays.stream(lines[0].split(",", -1)).map(s -> s.strip().toLowerCase(Locale.ROOT)).toList();
    }

    /** {@code label} names the file in messages ("--edits /data/edits.csv"). */
    public static CsvFile read(String path, Configuration conf, String label) {
        return new CsvFile(label, TextLines.read(path, conf, label));
    }

    /** The column's index (its first occurrence), or -1. */
    public int column(String name) {
        return header.indexOf(name);
    }

    public int columns() {
        return header.size();
    }

    /** The records; with {@code lastTakesRest} the last column keeps any commas of its text. */
    public List<Line> records(boolean lastTakesRest) {
        List<Line> out = new ArrayList<>();
        for (int r = 1; r < lines.length; r++) {
            if (lines[r].isBlank()) continue;
            String[] f = lines[r].split(",", lastTakesRest ? header.size() : -1);
            String where = label + " line " + (r + 1);
            if (f.length != header.size()) throw new UserInputException(where + ": " + f.length + " fields, the header has " + header.size());
            out.add(new Line(where, f));
        }
        return out;
    }
}
