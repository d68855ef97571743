package org.sith.run;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;

import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.ColumnMetaData;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.KeyValue;
import org.apache.parquet.format.PageEncodingStats;
import org.apache.parquet.format.RowGroup;
import org.apache.parquet.format.Util;

/**
 * Makes Parquet footers independent of the JVM that wrote them. parquet-mr collects each column
 * chunk's encodings in a HashSet of enum constants, whose iteration order follows identity hash
 * codes, so two processes writing the same rows can list [PLAIN, BIT_PACKED] or [BIT_PACKED, PLAIN]:
 * equal data, different bytes. Sorting those lists (and the encoding stats and key-value metadata)
 * restores byte-identical files for identical inputs, e.g. a cluster run and a local run.
 */
public final class ParquetFooters {
    private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);

    private ParquetFooters() {}

    /** Canonicalizes every .parquet file below {@code dir}; returns how many had to be rewritten. */
    public static int canonicalizeAll(FileSystem fs, Path dir) {
        try {
            int n = 0;
            for (FileStatus st : fs.listStatus(dir)) {
                String name = st.getPath().getName();
                if (name.startsWith(".") || name.startsWith("_")) continue;
                if (st.isDirectory()) n += canonicalizeAll(fs, st.getPath());
                else if (name.endsWith(".parquet") && canonicalize(fs, st.getPath(), st.getLen())) n++;
            }
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static boolean canonicalize(FileSystem fs, Path file, long length) throws IOException {
        byte[] footer;
        try (FSDataInputStream in = fs.open(file)) {
            byte[] tail = new byte[8];
            in.readFully(length - 8, tail);
            int footerLength = ByteBuffer.wrap(tail, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            footer = new byte[footerLength];
            in.readFully(length - 8 - footerLength, footer);
        }
        byte[] canonical = canonicalFooter(footer);
        if (Arrays.equals(footer, canonical)) return false;
        // Same elements in another order: same length, so only the footer bytes change.
        Path tmp = new Path(file.getParent(), "." + file.getName() + ".canonical");
        long dataLength = length - 8 - footer.length;
        try (InputStream in = fs.open(file); OutputStream out = fs.create(tmp, true)) {
            byte[] buf = new byte[1 << 20];
            long left = dataLength;
            while (left > 0) {
                int r = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (r < 0) throw new IOException("unexpected end of " + file);
                out.write(buf, 0, r);
                left -= r;
            }
            out.write(canonical);
            out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(canonical.length).array());
            out.write(MAGIC);
        }
        fs.delete(file, false);
        if (!fs.rename(tmp, file)) throw new IOException("cannot move " + tmp + " to " + file);
        return true;
    }

    public static byte[] canonicalFooter(byte[] footer) throws IOException {
        FileMetaData meta = Util.readFileMetaData(new ByteArrayInputStream(footer));
        for (RowGroup rg : meta.getRow_groups()) {
            for (ColumnChunk cc : rg.getColumns()) {
                ColumnMetaData cm = cc.getMeta_data();
                if (cm == null) continue;
                if (cm.getEncodings() != null) cm.getEncodings().sort(Comparator.comparingInt(e -> e.getValue()));
                if (cm.getEncoding_stats() != null) {
                    cm.getEncoding_stats().sort(Comparator.comparingInt((PageEncodingStats s) -> s.getPage_type().getValue())
                            .thenComparingInt(s -> s.getEncoding().getValue()));
                }
            }
        }
        if (meta.getKey_value_metadata() != null) meta.getKey_value_metadata().sort(Comparator.comparing(KeyValue::getKey));
        ByteArrayOutputStream out = new ByteArrayOutputStream(footer.length);
        Util.writeFileMetaData(meta, out);
        return out.toByteArray();
    }
}
