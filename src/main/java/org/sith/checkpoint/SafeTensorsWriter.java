package org.sith.checkpoint;

import org.sith.io.FloatBits;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import org.sith.io.Fs;

/**
 * Writes safetensors files (edited checkpoints, test fixtures) through Hadoop's FileSystem.
 * The bytes depend only on the arguments: tensors in insertion order, metadata sorted by key,
 * compact JSON padded with spaces to a multiple of 8 so the data section stays 8-byte aligned.
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CHUNK_ELEMENTS = 1 << 20;

    private SafeTensorsWriter() {}

    public static void write(String path, Configuration conf, LinkedHashMap<String, TensorData> tensors,
                             Map<String, String> metadata) {
        byte[] header = header(tensors, metadata);
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        try (OutputStream out = new BufferedOutputStream(fs.create(p, true), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            out.write(header);
            for (TensorData t : tensors.values()) writeData(out, t);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + path + ": " + e.getMessage(), e);
        }
    }

    /** The padded JSON header; tensors are checked here so a bad argument never leaves half a file. */
    static byte[] header(LinkedHashMap<String, TensorData> tensors, Map<String, String> metadata) {
        LinkedHashMap<String, Raw> raw = new LinkedHashMap<>();
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            raw.put(e.getKey(), new Raw(e.getValue().dtype(), e.getValue().shape(), checkedBytes(e.getKey(), e.getValue())));
        }
        return rawHeader(raw, metadata);
    }

    /** A tensor's header entry: any safetensors dtype, its shape and its byte length. */
    record Raw(String dtype, long[] shape, long bytes) {}

    /** The padded JSON header of tensors given by dtype, shape and byte length, in this order. */
    static byte[] rawHeader(LinkedHashMap<String, Raw> tensors, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafeTensorsHeader.METADATA);
            new TreeMap<>(metadata).forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Raw> e : tensors.entrySet()) {
            Raw t = e.getValue();
            if (e.getKey().equals(SafeTensorsHeader.METADATA)) {
                throw new IllegalArgumentException("'" + SafeTensorsHeader.METADATA + "' is reserved, not a tensor name");
            }
            ObjectNode node = root.putObject(e.getKey());
            node.put("dtype", t.dtype());
            ArrayNode shape = node.putArray("shape");
            for (long s : t.shape()) shape.add(s);
            node.putArray("data_offsets").add(offset).add(offset + t.bytes());
            offset += t.bytes();
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static long checkedBytes(String name, TensorData t) {
        int size = switch (t.dtype()) {
            case "F32" -> 4;
            case "F16", "BF16" -> 2;
            case "F64" -> 8;
            default -> throw new IllegalArgumentException("tensor '" + name + "': cannot write dtype " + t.dtype()
                    + " (only F32, F16, BF16, F64)");
        };
        long n = 1;
        for (long s : t.shape()) {
            if (s < 0) throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape");
            n *= s;
        }
        if (n != t.data().length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + TensorInfo.shapeString(t.shape())
                    + " needs " + n + " values, got " + t.data().length);
        }
        return n * size;
    }

    /** Values in a dtype's little-endian bytes (F32, F64, F16, BF16), as a tensor's data section holds them. */
    public static byte[] encode(String dtype, float[] d) {
        int size = dtype.equals("F64") ? 8 : dtype.equals("F32") ? 4 : 2;
        if (!List.of("F32", "F64", "F16", "BF16").contains(dtype)) throw new IllegalArgumentException("cannot write dtype " + dtype);
        ByteBuffer bb = ByteBuffer.allocate(d.length * size).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : d) {
            switch (dtype) {
                case "F32" -> bb.putFloat(v);
                case "F64" -> bb.putDouble(v);
                case "F16" -> bb.putShort(FloatBits.floatToHalf(v));
                default -> bb.putShort(FloatBits.floatToBf16(v));
            }
        }
        return bb.array();
    }

    private static void writeData(OutputStream out, TensorData t) throws IOException {
        float[] d = t.data();
        int size = t.dtype().equals("F64") ? 8 : t.dtype().equals("F32") ? 4 : 2;
        ByteBuffer bb = ByteBuffer.allocate(Math.min(d.length, CHUNK_ELEMENTS) * size).order(ByteOrder.LITTLE_ENDIAN);
        for (int from = 0; from < d.length; from += CHUNK_ELEMENTS) {
            int to = Math.min(d.length, from + CHUNK_ELEMENTS);
            bb.clear();
            for (int i = from; i < to; i++) {
                switch (t.dtype()) {
                    case "F32" -> bb.putFloat(d[i]);
                    case "F64" -> bb.putDouble(d[i]);
                    case "F16" -> bb.putShort(FloatBits.floatToHalf(d[i]));
                    default -> bb.putShort(FloatBits.floatToBf16(d[i]));
                }
            }
            out.write(bb.array(), 0, bb.position());
        }
    }
}
