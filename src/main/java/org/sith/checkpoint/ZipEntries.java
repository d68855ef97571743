package org.sith.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

import org.apache.hadoop.fs.FSDataInputStream;

import org.sith.UserInputException;

/**
 * The central directory of a zip archive (ZIP64 included) read with positioned reads, so an archive on
 * S3 or HDFS is never downloaded whole. Nothing in it is trusted: entry counts are bounded by the
 * directory's size, every entry must lie inside the file, and a compressed entry is inflated only up
 * to a caller's limit (a zip bomb stops there). {@code torch.save} writes every entry uncompressed.
 */
final class ZipEntries {
    private static final int EOCD_SIG = 0x06054b50;
    private static final int EOCD64_LOCATOR_SIG = 0x07064b50;
    private static final int EOCD64_SIG = 0x06064b50;
    private static final int CENTRAL_SIG = 0x02014b50;
    private static final int LOCAL_SIG = 0x04034b50;
    private static final long MAX_DIRECTORY_BYTES = 64L << 20;

    /** One entry: its compression method (0 stored, 8 deflated), sizes, and where its data begins. */
    record Entry(String name, int method, long compressedSize, long size, long localHeader) {}

    private final String path;
    private final FSDataInputStream in;
    private final long length;
    private final Map<String, Entry> entries;

    private ZipEntries(String path, FSDataInputStream in, long length, Map<String, Entry> entries) {
        this.path = path;
        this.in = in;
        this.length = length;
        this.entries = entries;
    }

    /** Whether the first bytes are a zip local header (what torch.save has written since PyTorch 1.6). */
    static boolean isZip(byte[] first4) {
        return first4.length >= 4 && le32(first4, 0) == LOCAL_SIG;
    }

    static ZipEntries read(String path, FSDataInputStream in, long length) throws IOException {
        int tail = (int) Math.min(length, 22 + 65535);
        byte[] end = new byte[tail];
        in.readFully(length - tail, end, 0, tail);
        int eocd = -1;
        for (int i = tail - 22; i >= 0; i--) {
            if (le32(end, i) == EOCD_SIG && i + 22 + le16(end, i + 20) == tail) {
                eocd = i;
                break;
            }
        }
        if (eocd < 0) throw bad(path, "no zip end-of-directory record (truncated or not a zip archive)");
        long count = le16(end, eocd + 10);
        long dirSize = le32u(end, eocd + 12);
        long dirOffset = le32u(end, eocd + 16);
        if (count == 0xFFFF || dirSize == 0xFFFFFFFFL || dirOffset == 0xFFFFFFFFL) {
            long locatorAt = length - tail + eocd - 20;
            if (locatorAt < 0) throw bad(path, "ZIP64 record missing");
            byte[] loc = new byte[20];
            in.readFully(locatorAt, loc, 0, 20);
            if (le32(loc, 0) != EOCD64_LOCATOR_SIG) throw bad(path, "ZIP64 locator missing");
            long at = le64(loc, 8);
            if (at < 0 || at > length - 56) throw bad(path, "ZIP64 end record offset " + at + " past the end of the file");
            byte[] e64 = new byte[56];
            in.readFully(at, e64, 0, 56);
            if (le32(e64, 0) != EOCD64_SIG) throw bad(path, "ZIP64 end record missing at offset " + at);
            count = le64(e64, 32);
            dirSize = le64(e64, 40);
            dirOffset = le64(e64, 48);
        }
        if (dirSize < 0 || dirOffset < 0 || dirSize > MAX_DIRECTORY_BYTES || dirOffset > length - dirSize) {
            throw bad(path, "central directory (" + dirSize + " bytes at offset " + dirOffset + ") does not fit the file's "
                    + length + " bytes");
        }
        if (count < 0 || count > dirSize / 46) throw bad(path, "central directory claims " + count + " entries in " + dirSize + " bytes");
        byte[] dir = new byte[(int) dirSize];
        in.readFully(dirOffset, dir, 0, dir.length);
        Map<String, Entry> entries = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > dir.length || le32(dir, p) != CENTRAL_SIG) throw bad(path, "central directory entry " + i + " is damaged");
            int flags = le16(dir, p + 8);
            int method = le16(dir, p + 10);
            long csize = le32u(dir, p + 20);
            long usize = le32u(dir, p + 24);
            int nameLen = le16(dir, p + 28);
            int extraLen = le16(dir, p + 30);
            int commentLen = le16(dir, p + 32);
            long local = le32u(dir, p + 42);
            if (p + 46 + nameLen + extraLen + commentLen > dir.length) throw bad(path, "central directory entry " + i + " is damaged");
            String name = new String(dir, p + 46, nameLen, StandardCharsets.UTF_8);
            // ZIP64 extra field: the 8-byte values, in this order, of whichever fields are 0xFFFFFFFF
            for (int x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
                int id = le16(dir, x);
                int size = le16(dir, x + 2);
                if (x + 4 + size > p + 46 + nameLen + extraLen) throw bad(path, "entry '" + name + "' has a damaged extra field");
                if (id == 1) {
                    int q = x + 4;
                    if (usize == 0xFFFFFFFFL && q + 8 <= x + 4 + size) { usize = le64(dir, q); q += 8; }
                    if (csize == 0xFFFFFFFFL && q + 8 <= x + 4 + size) { csize = le64(dir, q); q += 8; }
                    if (local == 0xFFFFFFFFL && q + 8 <= x + 4 + size) { local = le64(dir, q); }
                }
                x += 4 + size;
            }
            if ((flags & 1) != 0) throw bad(path, "entry '" + name + "' is encrypted");
            if (csize < 0 || usize < 0 || local < 0 || local > dirOffset - 30 || csize > dirOffset - local - 30) {
                throw bad(path, "entry '" + name + "' (" + csize + " bytes at offset " + local + ") lies outside the archive's data");
            }
            if (method == 0 && csize != usize) throw bad(path, "stored entry '" + name + "' has sizes " + csize + " and " + usize);
            if (entries.put(name, new Entry(name, method, csize, usize, local)) != null) {
                throw bad(path, "entry '" + name + "' appears twice");
            }
            p += 46 + nameLen + extraLen + commentLen;
        }
        return new ZipEntries(path, in, length, Collections.unmodifiableMap(entries));
    }

    Map<String, Entry> entries() {
        return entries;
    }

    /** File offset of an entry's first data byte, read from its local header (whose extra field torch uses for alignment). */
    long dataStart(Entry e) throws IOException {
        byte[] h = new byte[30];
        in.readFully(e.localHeader(), h, 0, 30);
        if (le32(h, 0) != LOCAL_SIG) throw bad(path, "entry '" + e.name() + "' has no local header at offset " + e.localHeader());
        long start = e.localHeader() + 30 + le16(h, 26) + le16(h, 28);
        if (start > length - e.compressedSize()) throw bad(path, "entry '" + e.name() + "' runs past the end of the file");
        return start;
    }

    /** The whole entry, inflated if need be, refused beyond maxBytes (however small it is compressed). */
    byte[] readAll(Entry e, long maxBytes) throws IOException {
        if (e.size() > maxBytes) {
            throw bad(path, "entry '" + e.name() + "' is " + e.size() + " bytes, more than the " + maxBytes + "-byte limit for it");
        }
        long start = dataStart(e);
        if (e.method() == 0) {
            byte[] b = new byte[(int) e.size()];
            in.readFully(start, b, 0, b.length);
            return b;
        }
        if (e.method() != 8) throw bad(path, "entry '" + e.name() + "' uses compression method " + e.method() + " (only stored or deflated)");
        if (e.compressedSize() > maxBytes) throw bad(path, "entry '" + e.name() + "' is larger than the " + maxBytes + "-byte limit for it");
        byte[] packed = new byte[(int) e.compressedSize()];
        in.readFully(start, packed, 0, packed.length);
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(packed);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[64 << 10];
            while (!inf.finished()) {
                int n = inf.inflate(buf);
                if (n == 0 && (inf.needsInput() || inf.needsDictionary())) throw bad(path, "entry '" + e.name() + "' is truncated");
                if (out.size() + (long) n > maxBytes) {
                    throw bad(path, "entry '" + e.name() + "' inflates to more than the " + maxBytes + "-byte limit for it (a zip bomb?)");
                }
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } catch (DataFormatException x) {
            throw bad(path, "entry '" + e.name() + "' is not valid deflate data (" + x.getMessage() + ")");
        } finally {
            inf.end();
        }
    }

    private static UserInputException bad(String path, String what) {
        return new UserInputException("checkpoint " + path + ": " + what);
    }

    private static int le16(byte[] b, int i) {
        return (b[i] & 0xff) | (b[i + 1] & 0xff) << 8;
    }

    private static int le32(byte[] b, int i) {
        return ByteBuffer.wrap(b, i, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    private static long le32u(byte[] b, int i) {
        return le32(b, i) & 0xFFFFFFFFL;
    }

    private static long le64(byte[] b, int i) {
        return ByteBuffer.wrap(b, i, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
