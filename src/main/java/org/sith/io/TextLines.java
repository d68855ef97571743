package org.sith.io;

import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;

/** A UTF-8 text file as lines, through any Hadoop file system. */
public final class TextLines {
    private TextLines() {}

    /**
     * The lines of a strict UTF-8 file (a BOM is dropped, "\r\n" is accepted, a final newline does
     * not make an extra line); {@code label} names the file in errors. An empty file is an error.
     */
    public static String[] read(String file, Configuration conf, String label) {
        Path path = Fs.path(file);
        FileSystem fs = Fs.fs(path, conf);
        byte[] bytes;
        try (InputStream in = fs.open(path)) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            in.transferTo(buf);
            bytes = buf.toByteArray();
        } catch (FileNotFoundException e) {
            throw new UserInputException(label + ": no such file");
        } catch (IOException e) {
            throw new UncheckedIOException(label + ": " + e.getMessage(), e);
        }
        String text = decode(bytes, label);
        if (text.startsWith("\uFEFF")) text = text.substring(1);
        if (text.endsWith("\n")) text = text.substring(0, text.length() - 1);
        if (text.isEmpty()) throw new UserInputException(label + ": file is empty");
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].endsWith("\r")) lines[i] = lines[i].substring(0, lines[i].length() - 1);
        }
        return lines;
    }

    /** Strict UTF-8; the first malformed byte is reported with its line and column (1-based, in characters). */
    static String decode(byte[] bytes, String label) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length + 1);
        CoderResult r = d.decode(in, out, true);
        if (!r.isError()) r = d.flush(out);
        if (r.isError()) {
            int at = in.position();
            int line = 1;
            int lineStart = 0;
            for (int i = 0; i < at; i++) {
                if (bytes[i] == '\n') {
                    line++;
                    lineStart = i + 1;
                }
            }
            int column = new String(bytes, lineStart, at - lineStart, StandardCharsets.UTF_8).length() + 1;
            throw new UserInputException(String.format(java.util.Locale.ROOT, "%s: line %d is not valid UTF-8 (byte 0x%02X at column %d; save the file as UTF-8)",
                    label, line, bytes[at] & 0xff, column));
        }
        out.flip();
        return out.toString();
    }
}
