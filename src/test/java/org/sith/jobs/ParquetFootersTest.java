package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.Arrays;
import java.util.Collections;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.Encoding;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.RowGroup;
import org.apache.parquet.format.Util;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.io.Fs;
import org.sith.run.ParquetFooters;

/** Footers whose encoding lists come in another order are rewritten to one canonical byte sequence. */
class ParquetFootersTest {
    @TempDir
    Path tmp;

    @Test
    void permutedEncodingListsBecomeTheSameBytesAndTheFileStillReads() throws Exception {
        Path a = tmp.resolve("a.parquet");
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:")) {
            c.createStatement().execute("COPY (SELECT range AS id, 'concept ' || (range % 7) AS concept FROM range(1000)) TO '" + a + "' (FORMAT parquet)");
        }
        byte[] original = Files.readAllBytes(a);
        // Two variants: every encoding list ascending, and every list descending.
        Path asc = tmp.resolve("asc.parquet");
        Path desc = tmp.resolve("desc.parquet");
        Files.write(asc, withEncodings(original, false));
        Files.write(desc, withEncodings(original, true));
        assertFalse(Arrays.equals(Files.readAllBytes(asc), Files.readAllBytes(desc)), "the variants differ before");

        Configuration conf = new Configuration();
        FileSystem fs = Fs.fs(Fs.path(tmp.toString()), conf);
        ParquetFooters.canonicalizeAll(fs, Fs.path(tmp.toString()));
        assertArrayEquals(Files.readAllBytes(asc), Files.readAllBytes(desc));
        assertEquals(0, ParquetFooters.canonicalizeAll(fs, Fs.path(tmp.toString())), "idempotent");
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:");
             ResultSet r = c.createStatement().executeQuery("SELECT count(*), sum(id), count(DISTINCT concept) FROM '" + desc + "'")) {
            r.next();
            assertEquals(1000, r.getLong(1));
            assertEquals(499500, r.getLong(2));
            assertEquals(7, r.getLong(3));
        }
    }

    /** The file with every column chunk's encoding list sorted ascending or descending (hand-rewritten footer). */
    static byte[] withEncodings(byte[] file, boolean descending) throws Exception {
        int footerLength = ByteBuffer.wrap(file, file.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        int footerStart = file.length - 8 - footerLength;
        FileMetaData meta = Util.readFileMetaData(new ByteArrayInputStream(file, footerStart, footerLength));
        boolean multi = false;
        for (RowGroup rg : meta.getRow_groups()) {
            for (ColumnChunk cc : rg.getColumns()) {
                // Spark's files list several encodings per chunk (e.g. PLAIN and BIT_PACKED); DuckDB's one:
                // add the two that parquet-mr lists, as it would.
                java.util.List<Encoding> e = new java.util.ArrayList<>(new java.util.TreeSet<>(cc.getMeta_data().getEncodings()));
                for (Encoding extra : new Encoding[] {Encoding.RLE, Encoding.BIT_PACKED}) if (!e.contains(extra)) e.add(extra);
                cc.getMeta_data().setEncodings(e);
                e.sort((x, y) -> Integer.compare(x.getValue(), y.getValue()));
                if (descending) Collections.reverse(e);
                multi |= e.size() > 1;
            }
        }
        assertTrue(multi, "the fixture needs a column with several encodings");
        ByteArrayOutputStream footer = new ByteArrayOutputStream();
        Util.writeFileMetaData(meta, footer);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(file, 0, footerStart);
        out.write(footer.toByteArray());
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(footer.size()).array());
        out.write("PAR1".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return out.toByteArray();
    }
}
