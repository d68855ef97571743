package org.sith.checkpoint;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import org.sith.UserInputException;

/**
 * Parses and validates the JSON header of a safetensors file. Nothing in it is trusted: a bad
 * offset would otherwise make us read another tensor's bytes, or allocate gigabytes.
 */
final class SafeTensorsHeader {
    static final String METADATA = "__metadata__";

    /** Duplicate keys and trailing garbage are errors: either could hide a second, different tensor table. */
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    record Parsed(SortedMap<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private final String file;

    private SafeTensorsHeader(String file) {
        this.file = file;
    }

    /**
     * @param dataStart absolute offset of the first data byte (8 + header length)
     * @param dataLength bytes after the header
     */
    static Parsed parse(String file, byte[] header, long dataStart, long dataLength) {
        return new SafeTensorsHeader(file).parse(header, dataStart, dataLength);
    }

    private Parsed parse(byte[] header, long dataStart, long dataLength) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw fail("header is not valid JSON (" + e.getOriginalMessage().replace('\n', ' ') + ")");
        } catch (IOException e) {
            throw fail("header is not valid JSON (" + e.getMessage().replace('\n', ' ') + ")");
        }
        if (root == null || !root.isObject()) {
            throw fail("header is not a JSON object");
        }
        SortedMap<String, TensorInfo> tensors = new TreeMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA)) {
                metadata = metadata(field.getValue());
            } else {
                tensors.put(field.getKey(), entry(field.getKey(), field.getValue(), dataStart, dataLength));
            }
        }
        checkNoOverlap(tensors, dataStart);
        return new Parsed(Collections.unmodifiableSortedMap(tensors), metadata);
    }

    private Map<String, String> metadata(JsonNode node) {
        if (!node.isObject()) throw fail("field '" + METADATA + "' is not a JSON object");
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw fail("field '" + METADATA + "' key '" + e.getKey() + "' is not a string");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private TensorInfo entry(String name, JsonNode node, long dataStart, long dataLength) {
        String at = "tensor '" + name + "'";
        if (!node.isObject()) throw fail(at + " entry is not a JSON object");
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) throw fail(at + " has no dtype string");
        String dtype = dtypeNode.textValue();
        long[] shape = longs(node.get("shape"), -1);
        if (shape == null) throw fail(at + " shape is not a list of non-negative integers");
        long[] offsets = longs(node.get("data_offsets"), 2);
        if (offsets == null) throw fail(at + " data_offsets is not a list of 2 non-negative integers");
        String range = "data_offsets [" + offsets[0] + "," + offsets[1] + "]";
        if (offsets[0] > offsets[1]) throw fail(at + " " + range + " has begin > end");
        if (offsets[1] > dataLength) {
            throw fail(at + " " + range + " run past the end of the file (data section is " + dataLength + " bytes)");
        }
        int size = Dtypes.size(dtype);
        if (size > 0) {
            long expected = expectedBytes(shape, size);
            if (expected != offsets[1] - offsets[0]) {
                String want = expected < 0 ? "more than 2^63" : Long.toString(expected);
                throw fail(at + " " + range + " do not match " + dtype + " "
                        + TensorInfo.shapeString(shape) + " (" + want + " bytes)");
            }
        }
        return new TensorInfo(name, dtype, shape, dataStart + offsets[0], dataStart + offsets[1]);
    }

    /** product(shape) * size, or -1 on overflow (a shape no file can hold). */
    private static long expectedBytes(long[] shape, int size) {
        try {
            long n = size;
            for (long s : shape) n = Math.multiplyExact(n, s);
            return n;
        } catch (ArithmeticException e) {
            return -1;
        }
    }

    /** A JSON list of non-negative integers (of the given length, if >= 0), else null. */
    private static long[] longs(JsonNode node, int length) {
        if (node == null || !node.isArray()) return null;
        if (length >= 0 && node.size() != length) return null;
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) return null;
            out[i] = v.longValue();
        }
        return out;
    }

    private void checkNoOverlap(SortedMap<String, TensorInfo> tensors, long dataStart) {
        List<TensorInfo> byBegin = new ArrayList<>(tensors.values());
        byBegin.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo last = null;
        for (TensorInfo t : byBegin) {
            if (t.byteLength() == 0) continue; // an empty tensor owns no bytes
            if (last != null && t.begin() < last.end()) {
                throw fail("tensor '" + t.name() + "' data_offsets " + relative(t, dataStart)
                        + " overlap tensor '" + last.name() + "' data_offsets " + relative(last, dataStart));
            }
            last = t;
        }
    }

    private static String relative(TensorInfo t, long dataStart) {
        return "[" + (t.begin() - dataStart) + "," + (t.end() - dataStart) + "]";
    }

    private UserInputException fail(String what) {
        return new UserInputException("checkpoint " + file + ": " + what);
    }
}
