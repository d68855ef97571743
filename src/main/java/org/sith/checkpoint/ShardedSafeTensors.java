package org.sith.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * Safetensors split over shards by a {@code *.safetensors.index.json} ({@code weight_map}: tensor name →
 * shard file beside the index). Every shard's header is validated on open, and the map must agree with
 * them: each listed tensor in its shard, no shard tensor unlisted or in two shards.
 */
public final class ShardedSafeTensors implements TensorStore {
    private static final ObjectMapper JSON = JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    private static final long MAX_INDEX_BYTES = 64L << 20;

    private final String path;
    private final Map<String, SafeTensors> shards;
    private final SortedMap<String, SafeTensors> byTensor;

    private ShardedSafeTensors(String path, Map<String, SafeTensors> shards, SortedMap<String, SafeTensors> byTensor) {
        this.path = path;
        this.shards = shards;
        this.byTensor = byTensor;
    }

    public static ShardedSafeTensors open(String indexPath, Configuration conf) {
        Path index = Fs.path(indexPath);
        Map<String, String> weightMap = weightMap(indexPath, index, conf);
        Map<String, SafeTensors> shards = new LinkedHashMap<>();
        try {
            for (String shard : new java.util.TreeSet<>(weightMap.values())) {
                shards.put(shard, SafeTensors.open(new Path(index.getParent(), shard).toString(), conf));
            }
            SortedMap<String, SafeTensors> byTensor = new TreeMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                SafeTensors st = shards.get(e.getValue());
                if (!st.has(e.getKey())) {
                    throw new UserInputException("checkpoint " + indexPath + ": maps tensor '" + e.getKey() + "' to " + e.getValue()
                            + ", which does not hold it");
                }
                byTensor.put(e.getKey(), st);
            }
            for (Map.Entry<String, SafeTensors> s : shards.entrySet()) {
                for (String name : s.getValue().names()) {
                    String listed = weightMap.get(name);
                    if (!s.getKey().equals(listed)) {
                        throw new UserInputException("checkpoint " + indexPath + ": shard " + s.getKey() + " holds tensor '" + name + "', which the "
                                + "index " + (listed == null ? "does not list" : "maps to " + listed));
                    }
                }
            }
            return new ShardedSafeTensors(indexPath, Collections.unmodifiableMap(shards), Collections.unmodifiableSortedMap(byTensor));
        } catch (RuntimeException e) {
            for (SafeTensors st : shards.values()) {
                try {
                    st.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static Map<String, String> weightMap(String indexPath, Path index, Configuration conf) {
        FileSystem fs = Fs.fs(index, conf);
        JsonNode root;
        try {
            if (fs.getFileStatus(index).getLen() > MAX_INDEX_BYTES) {
                throw new UserInputException("checkpoint " + indexPath + ": larger than " + (MAX_INDEX_BYTES >> 20) + " MB, not a shard index");
            }
            try (InputStream in = fs.open(index)) {
                root = JSON.readTree(in);
            }
        } catch (java.io.FileNotFoundException e) {
            throw new UserInputException("checkpoint " + indexPath + ": file not found", e);
        } catch (JsonProcessingException e) {
            throw new UserInputException("checkpoint " + indexPath + ": not valid JSON (" + e.getOriginalMessage().replace('\n', ' ') + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + indexPath + ": " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new UserInputException("checkpoint " + indexPath + ": no 'weight_map' object of tensor name → shard file");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            JsonNode v = e.getValue();
            if (!v.isTextual() || !v.textValue().matches("[^/\\\\]+\\.safetensors") || v.textValue().startsWith(".")) {
                throw new UserInputException("checkpoint " + indexPath + ": weight_map['" + e.getKey() + "'] is " + v
                        + ", not the name of a .safetensors file beside the index");
            }
            out.put(e.getKey(), v.textValue());
        }
        return out;
    }

    /** The shard file names, sorted. */
    public List<String> shardNames() {
        return List.copyOf(new java.util.TreeSet<>(shards.keySet()));
    }

    /** The open shard of that file name. */
    public SafeTensors shard(String name) {
        return shards.get(name);
    }

    /** The shard holding a tensor. */
    public SafeTensors shardOf(String tensor) {
        SafeTensors st = byTensor.get(tensor);
        if (st == null) throw new UserInputException("tensor '" + tensor + "' missing in " + path);
        return st;
    }

    @Override
    public Set<String> names() {
        return byTensor.keySet();
    }

    @Override
    public String path() {
        return path;
    }

    @Override
    public boolean has(String name) {
        return byTensor.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return shardOf(name).shape(name);
    }

    @Override
    public String dtype(String name) {
        return shardOf(name).dtype(name);
    }

    @Override
    public float[] readFloats(String name) {
        return shardOf(name).readFloats(name);
    }

    @Override
    public float[] readRows(String name, long firstRow, long rowCount) {
        return shardOf(name).readRows(name, firstRow, rowCount);
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafeTensors st : shards.values()) {
            try {
                st.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
