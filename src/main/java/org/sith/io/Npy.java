package org.sith.io;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;

/**
 * NumPy {@code .npy} files of 1-D or 2-D floating point arrays, through the Hadoop FileSystem API.
 *
 * <p>Only the plain header dict is accepted (descr, fortran_order, shape), parsed by hand rather
 * than evaluated, so nothing in a file can make us run code or unpickle objects.
 */
public final class Npy {
    private Npy() {}

    /** An array held in C (row-major) order whatever the file's order or dtype. */
    public record NpyArray(long[] shape, float[] data) {
        public int rows() {
            return (int) shape[0];
        }

        /** Columns of a 2-D array; 1 for a 1-D one. */
        public int cols() {
            return shape.length == 2 ? (int) shape[1] : 1;
        }
    }

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int ALIGN = 64;
    /** NumPy pads headers so the growth axis can later be rewritten in place; we match it byte for byte. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    private static final int CHUNK = 1 << 20;

    /** Reads {@code path}; defects are reported as "file PATH: ...". */
    public static NpyArray read(String path, Configuration conf) {
        return read("file", path, conf);
    }

    /** Reads {@code path}; {@code role} names what the file is for, e.g. "vectors /x/a.npy: ...". */
    public static NpyArray read(String role, String path, Configuration conf) {
        String label = role + " " + path;
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        try {
            long length = fs.getFileStatus(p).getLen();
            try (DataInputStream in = new DataInputStream(fs.open(p))) {
                return read(label, in, length);
            }
        } catch (FileNotFoundException e) {
            throw new UserInputException(label + ": no such file");
        } catch (EOFException e) {
            throw new UserInputException(label + ": truncated file");
        } catch (IOException e) {
            throw new UncheckedIOException(label + ": " + e.getMessage(), e);
        }
    }

    private static NpyArray read(String label, DataInputStream in, long fileLength) throws IOException {
        Preamble pre = preamble(label, in, fileLength, 2);
        long headerLen = pre.headerLen();
        int prefix = pre.prefix();
        Header h = pre.header();

        long count = 1;
        for (long d : h.shape) {
            count = d == 0 || count <= Long.MAX_VALUE / d ? count * d : Long.MAX_VALUE;
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new UserInputException(label + ": " + count + " elements is too many (at most "
                    + (Integer.MAX_VALUE - 8) + ")");
        }
        long expected = count * h.itemSize;
        long actual = fileLength - prefix - headerLen;
        if (actual != expected) {
            throw new UserInputException(label + ": data is " + actual + " bytes but shape "
                    + shapeText(h.shape) + " of " + h.descr + " needs " + expected
                    + (actual < expected ? " (truncated file)" : ""));
        }
        float[] data = decode(in, (int) count, h.itemSize, h.order);
        if (h.fortran && h.shape.length == 2) {
            data = fortranToC(data, (int) h.shape[0], (int) h.shape[1]);
        }
        return new NpyArray(h.shape.clone(), data);
    }

    private static float[] decode(InputStream in, int count, int itemSize, ByteOrder order) throws IOException {
        float[] out = new float[count];
        int perChunk = CHUNK / itemSize;
        byte[] buf = new byte[(int) Math.min((long) perChunk, count) * itemSize];
        DataInputStream din = new DataInputStream(in);
        for (int done = 0; done < count; ) {
            int n = Math.min(perChunk, count - done);
            din.readFully(buf, 0, n * itemSize);
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, n * itemSize).order(order);
            switch (itemSize) {
                case 2 -> {
                    for (int i = 0; i < n; i++) out[done + i] = FloatBits.halfToFloat(bb.getShort());
                }
                case 4 -> bb.asFloatBuffer().get(out, done, n);
                default -> {
                    for (int i = 0; i < n; i++) out[done + i] = (float) bb.getDouble();
                }
            }
            done += n;
        }
        return out;
    }

    private static float[] fortranToC(float[] f, int rows, int cols) {
        float[] c = new float[f.length];
        for (int j = 0; j < cols; j++) {
            for (int i = 0; i < rows; i++) {
                c[i * cols + j] = f[j * rows + i];
            }
        }
        return c;
    }

    /** The header as read from the start of a file: its length, the bytes before it, and its dict. */
    private record Preamble(long headerLen, int prefix, Header header) {}

    private static Preamble preamble(String label, DataInputStream in, long fileLength, int maxDims) throws IOException {
        byte[] preamble = new byte[8];
        in.readFully(preamble);
        if (!Arrays.equals(Arrays.copyOf(preamble, 6), MAGIC)) {
            throw new UserInputException(label + ": not a .npy file (bad magic)");
        }
        int major = preamble[6] & 0xff, minor = preamble[7] & 0xff;
        if (major < 1 || major > 3 || minor != 0) {
            throw new UserInputException(label + ": unsupported .npy version " + major + "." + minor);
        }
        long headerLen;
        int prefix;
        if (major == 1) {
            headerLen = (in.readUnsignedByte() | (in.readUnsignedByte() << 8));
            prefix = 10;
        } else {
            byte[] b = new byte[4];
            in.readFully(b);
            headerLen = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
            prefix = 12;
        }
        if (prefix + headerLen > fileLength || headerLen > (1 << 24)) {
            throw new UserInputException(label + ": truncated file (header of " + headerLen + " bytes)");
        }
        byte[] hb = new byte[(int) headerLen];
        in.readFully(hb);
        // Versions 1 and 2 are latin-1; version 3 is UTF-8. The dict itself is ASCII either way.
        String headerText = new String(hb, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        return new Preamble(headerLen, prefix, new HeaderParser(label, headerText, maxDims).parse());
    }

    // ---------------------------------------------------------------- rows of a large array

    /** The header of an N-D array read in row ranges (e.g. N×3×S×S pixels too large to load whole). */
    public record RowFile(String label, String path, long[] shape, int itemSize, ByteOrder order, long dataOffset) implements java.io.Serializable {
        public long rows() {
            return shape[0];
        }

        /** Values per row (the product of all axes but the first). */
        public int rowSize() {
            long n = 1;
            for (int k = 1; k < shape.length; k++) n *= shape[k];
            return (int) n;
        }
    }

    /** Opens a C-order float array of up to {@code maxDims} axes for row-range reads; the whole header and size are checked. */
    public static RowFile openRows(String role, String path, Configuration conf, int maxDims) {
        String label = role + " " + path;
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        try (DataInputStream in = new DataInputStream(fs.open(p))) {
            long length = fs.getFileStatus(p).getLen();
            Preamble pre = preamble(label, in, length, maxDims);
            Header h = pre.header();
            long prefix = pre.prefix();
            long headerLen = pre.headerLen();
            if (h.fortran && h.shape.length > 1) throw new UserInputException(label + ": Fortran order is not supported here (save it C-ordered)");
            long count = 1;
            for (long d : h.shape) count *= d;
            if (length - prefix - headerLen != count * h.itemSize) {
                throw new UserInputException(label + ": data is " + (length - prefix - headerLen) + " bytes but shape "
                        + shapeText(h.shape) + " of " + h.descr + " needs " + count * h.itemSize);
            }
            return new RowFile(label, path, h.shape.clone(), h.itemSize, h.order, prefix + headerLen);
        } catch (FileNotFoundException e) {
            throw new UserInputException(label + ": no such file");
        } catch (EOFException e) {
            throw new UserInputException(label + ": truncated file");
        } catch (IOException e) {
            throw new UncheckedIOException(label + ": " + e.getMessage(), e);
        }
    }

    /** Rows [first, first + count) as floats, C-order. */
    public static float[] readRows(RowFile f, Configuration conf, long first, int count) {
        Path p = Fs.path(f.path());
        long rowBytes = (long) f.rowSize() * f.itemSize();
        try (org.apache.hadoop.fs.FSDataInputStream in = Fs.fs(p, conf).open(p)) {
            in.seek(f.dataOffset() + first * rowBytes);
            return decode(in, count * f.rowSize(), f.itemSize(), f.order());
        } catch (IOException e) {
            throw new UncheckedIOException(f.label() + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- header

    private record Header(String descr, int itemSize, ByteOrder order, boolean fortran, long[] shape) {}

    /** A strict reader for the one dict shape NumPy writes; anything else is a defect, not a guess. */
    private static final class HeaderParser {
        private final String label;
        private final String s;
        private int i;

        private final int maxDims;

        HeaderParser(String label, String s) {
            this(label, s, 2);
        }

        HeaderParser(String label, String s, int maxDims) {
            this.label = label;
            this.s = s;
            this.maxDims = maxDims;
        }

        Header parse() {
            String descr = null;
            Boolean fortran = null;
            long[] shape = null;
            skipSpace();
            expect('{');
            while (true) {
                skipSpace();
                if (peek() == '}') break;
                String key = string();
                skipSpace();
                expect(':');
                skipSpace();
                switch (key) {
                    case "descr" -> {
                        if (descr != null) throw bad("key 'descr' repeated");
                        if (peek() != '\'' && peek() != '"') {
                            throw new UserInputException(label + ": unsupported dtype (structured arrays are not"
                                    + " supported; need <f2, <f4 or <f8)");
                        }
                        descr = string();
                    }
                    case "fortran_order" -> {
                        if (fortran != null) throw bad("key 'fortran_order' repeated");
                        fortran = bool();
                    }
                    case "shape" -> {
                        if (shape != null) throw bad("key 'shape' repeated");
                        shape = tuple();
                    }
                    default -> throw bad("unexpected key '" + key + "'");
                }
                skipSpace();
                if (peek() == ',') {
                    i++;
                } else if (peek() != '}') {
                    throw bad("expected ',' or '}' at offset " + i);
                }
            }
            expect('}');
            skipSpace();
            if (i != s.length()) throw bad("unexpected text after the dict at offset " + i);
            if (descr == null || fortran == null || shape == null) {
                throw bad("missing key(s): need 'descr', 'fortran_order' and 'shape'");
            }
            if (shape.length == 0 || shape.length > maxDims) {
                throw new UserInputException(label + ": array has " + shape.length
                        + " dimensions, shape " + shapeText(shape) + " (need 1" + (maxDims == 2 ? " or 2" : " to " + maxDims) + ")");
            }
            return dtype(descr, fortran, shape);
        }

        private Header dtype(String descr, boolean fortran, long[] shape) {
            if (descr.length() == 3 && descr.charAt(1) == 'f') {
                int size = switch (descr.charAt(2)) {
                    case '2' -> 2;
                    case '4' -> 4;
                    case '8' -> 8;
                    default -> 0;
                };
                // '=' and '|' mean native order to NumPy ('|' is NumPy's "not applicable", read as native).
                ByteOrder order = switch (descr.charAt(0)) {
                    case '<' -> ByteOrder.LITTLE_ENDIAN;
                    case '>' -> ByteOrder.BIG_ENDIAN;
                    case '=', '|' -> ByteOrder.nativeOrder();
                    default -> null;
                };
                if (size != 0 && order != null) return new Header(descr, size, order, fortran, shape);
            }
            throw new UserInputException(label + ": unsupported dtype '" + descr + "' (need <f2, <f4 or <f8)");
        }

        private String string() {
            char q = peek();
            if (q != '\'' && q != '"') throw bad("expected a quoted string at offset " + i);
            int end = s.indexOf(q, i + 1);
            if (end < 0) throw bad("unterminated string at offset " + i);
            String v = s.substring(i + 1, end);
            if (v.indexOf('\\') >= 0) throw bad("escapes in strings are not supported");
            i = end + 1;
            return v;
        }

        private boolean bool() {
            if (s.startsWith("True", i)) {
                i += 4;
                return true;
            }
            if (s.startsWith("False", i)) {
                i += 5;
                return false;
            }
            throw bad("fortran_order must be True or False");
        }

        private long[] tuple() {
            expect('(');
            long[] dims = new long[0];
            while (true) {
                skipSpace();
                if (peek() == ')') break;
                int start = i;
                while (i < s.length() && Character.isDigit(s.charAt(i)) && s.charAt(i) < 128) i++;
                if (start == i || i - start > 18) throw bad("bad shape entry at offset " + start);
                dims = Arrays.copyOf(dims, dims.length + 1);
                dims[dims.length - 1] = Long.parseLong(s.substring(start, i));
                skipSpace();
                if (peek() == ',') {
                    i++;
                } else if (peek() != ')') {
                    throw bad("expected ',' or ')' in shape at offset " + i);
                } else if (dims.length == 1) {
                    throw bad("a 1-element shape needs a trailing comma, as in (5,)");
                }
            }
            expect(')');
            return dims;
        }

        private void skipSpace() {
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\n'
                    || s.charAt(i) == '\t' || s.charAt(i) == '\r')) i++;
        }

        private char peek() {
            if (i >= s.length()) throw bad("header ends early");
            return s.charAt(i);
        }

        private void expect(char c) {
            if (peek() != c) throw bad("expected '" + c + "' at offset " + i);
            i++;
        }

        private UserInputException bad(String why) {
            return new UserInputException(label + ": bad .npy header: " + why);
        }
    }

    static String shapeText(long[] shape) {
        if (shape.length == 1) return "(" + shape[0] + ",)";
        StringBuilder b = new StringBuilder("(");
        for (int k = 0; k < shape.length; k++) {
            if (k > 0) b.append(", ");
            b.append(shape[k]);
        }
        return b.append(')').toString();
    }

    // ---------------------------------------------------------------- write

    /** Writes a little-endian float32, C-order, version 1.0 file with NumPy's exact header. */
    public static void write(String path, Configuration conf, long[] shape, float[] data) {
        checkShape(shape, data.length);
        writeFile(path, conf, shape, "<f4", 4, (bb, from, n) -> bb.asFloatBuffer().put(data, from, n));
    }

    /** As {@link #write} but float64 ({@code <f8}), for results that must keep double precision. */
    public static void writeDouble(String path, Configuration conf, long[] shape, double[] data) {
        checkShape(shape, data.length);
        writeFile(path, conf, shape, "<f8", 8, (bb, from, n) -> bb.asDoubleBuffer().put(data, from, n));
    }

    /** The complete header (preamble, dict, padding, newline) NumPy's {@code np.save} writes. */
    public static byte[] header(String descr, long[] shape) {
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeText(shape) + ", }";
        if (shape.length > 0) {
            dict += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length()));
        }
        int pad = ALIGN - ((10 + dict.length() + 1) % ALIGN);
        String text = dict + " ".repeat(pad) + "\n";
        byte[] t = text.getBytes(StandardCharsets.ISO_8859_1);
        if (t.length > 0xffff) throw new IllegalArgumentException("header too long for version 1.0");
        ByteBuffer b = ByteBuffer.allocate(10 + t.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) t.length).put(t);
        return b.array();
    }

    private interface Filler {
        void fill(ByteBuffer bb, int from, int n);
    }

    private static void checkShape(long[] shape, int length) {
        if (shape.length < 1 || shape.length > 2) {
            throw new IllegalArgumentException("shape must have 1 or 2 dimensions: " + Arrays.toString(shape));
        }
        long count = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension: " + Arrays.toString(shape));
            count *= d;
        }
        if (count != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + count
                    + " values, got " + length);
        }
    }

    private static void writeFile(String path, Configuration conf, long[] shape, String descr, int itemSize,
                                  Filler filler) {
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        long count = 1;
        for (long d : shape) count *= d;
        try (FSDataOutputStream out = fs.create(p, true)) {
            out.write(header(descr, shape));
            writeData(out, (int) count, itemSize, filler);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path + ": " + e.getMessage(), e);
        }
    }

    private static void writeData(OutputStream out, int count, int itemSize, Filler filler) throws IOException {
        int perChunk = CHUNK / itemSize;
        ByteBuffer bb = ByteBuffer.allocate((int) Math.min((long) perChunk, count) * itemSize)
                .order(ByteOrder.LITTLE_ENDIAN);
        for (int done = 0; done < count; ) {
            int n = Math.min(perChunk, count - done);
            bb.clear();
            filler.fill(bb, done, n);
            out.write(bb.array(), 0, n * itemSize);
            done += n;
        }
    }
}
