package org.sith.model;

import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import org.sith.io.Fs;

/**
 * CLIP's byte-level BPE tokenizer, giving the ids OpenAI's {@code SimpleTokenizer} gives: cleaned
 * text ({@link TokenizerText#clean}), pre-tokens, each pre-token's UTF-8 bytes merged by rank, then
 * SOT … EOT cut to the context length with EOT kept last. No padding: arrays have their real length.
 *
 * <p>Immutable and safe to share between threads; the per-word cache is a bounded concurrent map.
 * It serializes as its merges and vocabulary and rebuilds its tables on arrival.
 */
public final class ClipTokenizer implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final int CONTEXT_LENGTH = 77;
    /** Cleared when full: simpler than LRU, and concept lists rarely exceed it. */
    private static final int CACHE_LIMIT = 100_000;
    /** Longer pre-tokens (pasted blobs) are not cached, so one bad text cannot fill memory. */
    private static final int CACHE_MAX_WORD = 256;

    private final List<String[]> merges;
    private final Map<String, Integer> vocab;
    private final int vocabSize;
    private final String source;
    private final int sot;
    private final int eot;
    private final String fingerprint;

    /** Every string BPE can hold as a symbol (byte tokens and merge results), interned to an index. */
    private final Map<String, Integer> symbols = new HashMap<>();
    /** Vocabulary id of each symbol. */
    private final int[] symbolId;
    /** (left symbol, right symbol) → rank; the merge of rank r yields mergeResult[r]. */
    private final Map<Long, Integer> rank = new HashMap<>();
    private final int[] mergeLeft;
    private final int[] mergeRight;
    private final int[] mergeResult;
    private final int[] byteSymbol = new int[256];
    private final int[] byteEndSymbol = new int[256];
    private final String[] tokenOfId;
    private final transient ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    private ClipTokenizer(TokenizerFiles.Parts parts) {
        this.merges = parts.merges().stream().map(String[]::clone).toList(); // the arrays too: callers keep theirs
        this.vocab = Map.copyOf(parts.vocab());
        this.vocabSize = parts.vocabSize();
        this.source = parts.source();
        this.sot = vocab.get(TokenizerText.SOT);
        this.eot = vocab.get(TokenizerText.EOT);

        List<String> names = new ArrayList<>();
        List<String> byteTokens = TokenizerText.byteTokens();
        for (String b : byteTokens) intern(b, names);
        for (String b : byteTokens) intern(b + TokenizerText.END_OF_WORD, names);
        for (String[] m : merges) intern(m[0] + m[1], names);
        symbolId = new int[names.size()];
        for (int s = 0; s < symbolId.length; s++) symbolId[s] = vocab.get(names.get(s));
        for (int b = 0; b < 256; b++) {
            byteSymbol[b] = symbols.get(String.valueOf(TokenizerText.byteChar(b)));
            byteEndSymbol[b] = symbols.get(TokenizerText.byteChar(b) + TokenizerText.END_OF_WORD);
        }
        mergeLeft = new int[merges.size()];
        mergeRight = new int[merges.size()];
        mergeResult = new int[merges.size()];
        for (int r = 0; r < merges.size(); r++) {
            String[] m = merges.get(r);
            mergeLeft[r] = symbols.getOrDefault(m[0], -1);
            mergeRight[r] = symbols.getOrDefault(m[1], -1);
            mergeResult[r] = symbols.get(m[0] + m[1]);
            // a side no symbol can ever be makes the merge unreachable; a repeated pair keeps its last rank, as Python's dict
            if (mergeLeft[r] >= 0 && mergeRight[r] >= 0) rank.put(pairKey(mergeLeft[r], mergeRight[r]), r);
        }
        tokenOfId = new String[vocabSize];
        vocab.forEach((token, id) -> {
            if (tokenOfId[id] == null || token.compareTo(tokenOfId[id]) < 0) tokenOfId[id] = token; // shared ids: a fixed choice
        });
        fingerprint = digest();
    }

    private void intern(String s, List<String> names) {
        if (symbols.putIfAbsent(s, names.size()) == null) names.add(s);
    }

    private static long pairKey(int a, int b) {
        return ((long) a << 32) | (b & 0xffffffffL);
    }

    /** Reads a tokenizer: OpenAI's merges file (gzip or text), HF vocab.json/merges.txt/tokenizer.json, or a folder holding one. */
    public static ClipTokenizer load(String path, Configuration conf) {
        return new ClipTokenizer(TokenizerFiles.load(path, conf));
    }

    /** CLIP's construction from in-memory merges (e.g. the demo's learned ones), as if read from OpenAI's file. */
    public static ClipTokenizer fromMerges(List<String[]> merges, String source) {
        for (String[] m : merges) {
            if (m == null || m.length != 2 || m[0].isEmpty() || m[1].isEmpty() || (m[0] + m[1]).chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("a merge must be two non-empty tokens without spaces, got " + Arrays.toString(m));
            }
        }
        return new ClipTokenizer(TokenizerFiles.openAi(merges, source));
    }

    /** The tokenizer saved in the checkpoint's folder, or null when there is none. */
    public static ClipTokenizer besideCheckpoint(String checkpointPath, Configuration conf) {
        Path dir = org.sith.checkpoint.CheckpointFile.dirOf(checkpointPath, conf);
        TokenizerFiles.Parts parts = TokenizerFiles.inFolder(Fs.fs(dir, conf), dir);
        return parts == null ? null : new ClipTokenizer(parts);
    }

    public String clean(String text) {
        return TokenizerText.clean(text);
    }

    public int[] encode(String text) {
        return encode(text, CONTEXT_LENGTH);
    }

    /** [SOT] + tokens + [EOT]; when longer than contextLength, its first contextLength ids with EOT last. */
    public int[] encode(String text, int contextLength) {
        if (contextLength < 2) throw new IllegalArgumentException("context length must be at least 2, got " + contextLength);
        int[] out = new int[Math.min(contextLength, 64)];
        int n = 0;
        out[n++] = sot;
        for (String pretoken : TokenizerText.pretokenize(clean(text))) {
            for (int id : word(pretoken)) {
                if (n == contextLength) { // past the context: the rest cannot change the result
                    out[contextLength - 1] = eot;
                    return out;
                }
                if (n == out.length) out = Arrays.copyOf(out, (int) Math.min(contextLength, 2L * n));
                out[n++] = id;
            }
        }
        if (n == contextLength) {
            out[contextLength - 1] = eot;
            return out;
        }
        if (n == out.length) out = Arrays.copyOf(out, n + 1);
        out[n++] = eot;
        return n == out.length ? out : Arrays.copyOf(out, n);
    }

    /** Token strings of the ids, bytes decoded, "</w>" read as a space; SOT and EOT dropped. */
    public String decode(int[] ids) {
        StringBuilder chars = new StringBuilder();
        for (int id : ids) {
            if (id == sot || id == eot) continue;
            if (id < 0 || id >= vocabSize || tokenOfId[id] == null) throw new IllegalArgumentException("no token has id " + id);
            chars.append(tokenOfId[id]);
        }
        return TokenizerText.fromByteChars(chars.toString()).replace(TokenizerText.END_OF_WORD, " ").strip();
    }

    /** The ids of one pre-token. */
    private int[] word(String pretoken) {
        int[] hit = cache.get(pretoken);
        if (hit != null) return hit;
        int[] ids = bpe(pretoken);
        if (pretoken.length() <= CACHE_MAX_WORD) {
            if (cache.size() >= CACHE_LIMIT) cache.clear();
            cache.put(pretoken, ids);
        }
        return ids;
    }

    private int[] bpe(String pretoken) {
        if (pretoken.equals(TokenizerText.SOT)) return new int[] {sot};
        if (pretoken.equals(TokenizerText.EOT)) return new int[] {eot};
        byte[] utf8 = pretoken.getBytes(StandardCharsets.UTF_8);
        int[] word = new int[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            word[i] = (i == utf8.length - 1 ? byteEndSymbol : byteSymbol)[utf8[i] & 0xff];
        }
        int n = word.length;
        while (n > 1) {
            int best = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < n; i++) {
                Integer r = rank.get(pairKey(word[i], word[i + 1]));
                if (r != null && r < best) best = r;
            }
            if (best == Integer.MAX_VALUE) break;
            int w = 0;
            for (int i = 0; i < n; i++) { // every occurrence, left to right, none overlapping
                if (i + 1 < n && word[i] == mergeLeft[best] && word[i + 1] == mergeRight[best]) {
                    word[w++] = mergeResult[best];
                    i++;
                } else {
                    word[w++] = word[i];
                }
            }
            n = w;
        }
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = symbolId[word[i]];
        return ids;
    }

    public int sot() {
        return sot;
    }

    public int eot() {
        return eot;
    }

    /** Rows of the token embedding this vocabulary needs (largest id + 1). */
    public int vocabSize() {
        return vocabSize;
    }

    /** Which file(s) the tokenizer was read from. */
    public String source() {
        return source;
    }

    /** SHA-256 (hex) of the ordered merges and the token ids: equal fingerprints tokenize alike. */
    public String fingerprint() {
        return fingerprint;
    }

    private String digest() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        StringBuilder text = new StringBuilder("merges\n");
        for (String[] m : merges) text.append(m[0]).append(' ').append(m[1]).append('\n');
        text.append("vocab\n");
        vocab.entrySet().stream()
                .sorted(Map.Entry.<String, Integer>comparingByValue().thenComparing(Map.Entry.comparingByKey(Comparator.naturalOrder())))
                .forEach(e -> text.append(e.getValue()).append('\t').append(e.getKey()).append('\n'));
        text.append("size ").append(vocabSize).append('\n');
        return HexFormat.of().formatHex(sha.digest(text.toString().getBytes(StandardCharsets.UTF_8)));
    }

    // Serialization proxy: only the merges and vocabulary travel; the tables are rebuilt.
    private Object writeReplace() {
        return new Form(merges, vocab, vocabSize, source);
    }

    private void readObject(ObjectInputStream in) throws InvalidObjectException {
        throw new InvalidObjectException("ClipTokenizer is deserialized through its serialization form");
    }

    private static final class Form implements Serializable {
        private static final long serialVersionUID = 1L;
        private final String[][] merges;
        private final HashMap<String, Integer> vocab;
        private final int vocabSize;
        private final String source;

        Form(List<String[]> merges, Map<String, Integer> vocab, int vocabSize, String source) {
            this.merges = merges.toArray(new String[0][]);
            this.vocab = new HashMap<>(vocab);
            this.vocabSize = vocabSize;
            this.source = source;
        }

        private Object readResolve() {
            return new ClipTokenizer(new TokenizerFiles.Parts(List.of(merges), vocab, vocabSize, source));
        }
    }
}
