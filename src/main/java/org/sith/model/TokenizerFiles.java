package org.sith.model;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sith.UserInputException;
import org.sith.io.Fs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * Reads the three tokenizer formats into merges + vocabulary and checks them, so that encoding can
 * never meet a token without an id. Every problem is one line naming the file.
 */
final class TokenizerFiles {
    private TokenizerFiles() {}

    static final String OPENAI_NAME = "bpe_simple_vocab_16e6.txt.gz";
    /** CLIP's merges: 49152 - 256 - 2, the rest of the file is never used. */
    static final int CLIP_MERGES = 48894;
    /** Tokenizer files are a few MB; anything much larger is the wrong file, not worth the memory. */
    private static final int MAX_BYTES = 64 << 20;
    /** Ids size the id-to-token table; real vocabularies are ~50k. */
    private static final int MAX_ID = 1 << 22;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** What a tokenizer is built from; vocab maps token to id, vocabSize is the embedding rows. */
    record Parts(List<String[]> merges, Map<String, Integer> vocab, int vocabSize, String source) {}

    static Parts load(String path, Configuration conf) {
        Path p = Fs.path(path);
        FileSystem fs = Fs.fs(p, conf);
        if (isDirectory(fs, p)) {
            Parts found = inFolder(fs, p);
            if (found == null) {
                throw new UserInputException("tokenizer folder " + p + " holds none of vocab.json + merges.txt, tokenizer.json, " + OPENAI_NAME);
            }
            return found;
        }
        String name = p.getName();
        if (name.equals("merges.txt")) return hf(fs, new Path(p.getParent(), "vocab.json"), p, null);
        if (name.endsWith(".json")) {
            JsonNode root = json(fs, p);
            if (name.equals("tokenizer.json") || root.path("model").isObject()) return tokenizerJson(p, root);
            return hf(fs, p, new Path(p.getParent(), "merges.txt"), root);
        }
        return openAi(fs, p);
    }

    /** The tokenizer saved in a folder (vocab.json + merges.txt, else tokenizer.json, else OpenAI's), or null. */
    static Parts inFolder(FileSystem fs, Path dir) {
        Path vocab = new Path(dir, "vocab.json");
        Path merges = new Path(dir, "merges.txt");
        if (Fs.exists(fs, vocab) && Fs.exists(fs, merges)) return hf(fs, vocab, merges, null);
        Path tokenizer = new Path(dir, "tokenizer.json");
        if (Fs.exists(fs, tokenizer)) return tokenizerJson(tokenizer, json(fs, tokenizer));
        Path openAi = new Path(dir, OPENAI_NAME);
        if (Fs.exists(fs, openAi)) return openAi(fs, openAi);
        return null;
    }

    /** OpenAI's file: vocabulary = bytes, bytes + "</w>", each merge's result, then SOT and EOT. */
    private static Parts openAi(FileSystem fs, Path p) {
        return openAi(mergeLines(p, text(p, read(fs, p))), p.toString());
    }

    static Parts openAi(List<String[]> given, String source) {
        List<String[]> merges = given.subList(0, Math.min(given.size(), CLIP_MERGES));
        List<String> tokens = new ArrayList<>(TokenizerText.byteTokens());
        for (String b : TokenizerText.byteTokens()) tokens.add(b + TokenizerText.END_OF_WORD);
        for (String[] m : merges) tokens.add(m[0] + m[1]);
        tokens.add(TokenizerText.SOT);
        tokens.add(TokenizerText.EOT);
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int i = 0; i < tokens.size(); i++) vocab.put(tokens.get(i), i); // a repeated token keeps its last id, as Python's dict
        return new Parts(merges, vocab, tokens.size(), source);
    }

    /** vocab.json + merges.txt (CLIP's 48,894-merge cap applies, as in transformers); vocabRoot if already parsed. */
    private static Parts hf(FileSystem fs, Path vocabPath, Path mergesPath, JsonNode vocabRoot) {
        if (!Fs.exists(fs, mergesPath)) throw new UserInputException("tokenizer merges file " + mergesPath + " does not exist (it must sit beside " + vocabPath.getName() + ")");
        if (!Fs.exists(fs, vocabPath)) throw new UserInputException("tokenizer vocabulary " + vocabPath + " does not exist (it must sit beside " + mergesPath.getName() + ")");
        Map<String, Integer> vocab = vocabMap(vocabPath, vocabRoot != null ? vocabRoot : json(fs, vocabPath), "");
        List<String[]> merges = mergeLines(mergesPath, text(mergesPath, read(fs, mergesPath)));
        return checked(vocabPath, merges, vocab, vocabPath + " + " + mergesPath, true);
    }

    /** HF's tokenizer.json: model.vocab and model.merges ("a b" strings or [a, b] pairs), all merges used. */
    private static Parts tokenizerJson(Path p, JsonNode root) {
        JsonNode model = root.path("model");
        if (!model.isObject()) throw new UserInputException("tokenizer file " + p + " has no 'model' object");
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) throw new UserInputException("tokenizer file " + p + " holds a " + type + " model, not BPE");
        String suffix = model.path("end_of_word_suffix").asText(TokenizerText.END_OF_WORD);
        if (!suffix.equals(TokenizerText.END_OF_WORD)) {
            throw new UserInputException("tokenizer file " + p + " uses end_of_word_suffix '" + suffix + "', not CLIP's '</w>'");
        }
        Map<String, Integer> vocab = vocabMap(p, model.path("vocab"), "model.vocab");
        for (JsonNode added : root.path("added_tokens")) { // specials may live only here
            String content = added.path("content").asText(null);
            if (added.path("id").canConvertToInt() && content != null) vocab.putIfAbsent(content, added.get("id").intValue());
        }
        JsonNode list = model.path("merges");
        if (!list.isArray()) throw new UserInputException("tokenizer file " + p + " has no 'model.merges' list");
        List<String[]> merges = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            JsonNode m = list.get(i);
            String[] pair = m.isTextual() ? m.asText().split(" ", -1)
                    : m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()
                            ? new String[] {m.get(0).asText(), m.get(1).asText()} : null;
            if (pair == null || pair.length != 2 || pair[0].isEmpty() || pair[1].isEmpty()) {
                throw new UserInputException("tokenizer file " + p + ": model.merges[" + i + "] is not a pair of tokens (" + m + ")");
            }
            merges.add(pair);
        }
        return checked(p, merges, vocab, p.toString(), false);
    }

    /** A vocabulary from files: every token BPE can produce must have an id, and so must SOT and EOT. */
    private static Parts checked(Path vocabFile, List<String[]> merges, Map<String, Integer> vocab, String source, boolean mergesTxt) {
        for (String b : TokenizerText.byteTokens()) {
            for (String t : new String[] {b, b + TokenizerText.END_OF_WORD}) {
                if (!vocab.containsKey(t)) throw new UserInputException("tokenizer vocabulary " + vocabFile + " lacks the byte token '" + t + "'");
            }
        }
        for (int i = 0; i < merges.size(); i++) {
            String result = merges.get(i)[0] + merges.get(i)[1];
            if (!vocab.containsKey(result)) {
                String where = mergesTxt ? "merges.txt line " + (i + 2) : "merge " + i;
                throw new UserInputException("tokenizer vocabulary " + vocabFile + " lacks '" + result + "', the result of " + where);
            }
        }
        for (String special : new String[] {TokenizerText.SOT, TokenizerText.EOT}) {
            if (!vocab.containsKey(special)) throw new UserInputException("tokenizer vocabulary " + vocabFile + " lacks the special token " + special);
        }
        int max = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        return new Parts(merges, vocab, max + 1, source);
    }

    private static Map<String, Integer> vocabMap(Path p, JsonNode node, String field) {
        String what = field.isEmpty() ? "" : " '" + field + "'";
        if (!node.isObject()) throw new UserInputException("tokenizer vocabulary " + p + what + " is not a JSON object of token: id");
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            JsonNode id = e.getValue();
            if (!id.canConvertToInt() || !id.isIntegralNumber() || id.intValue() < 0 || id.intValue() >= MAX_ID) {
                throw new UserInputException("tokenizer vocabulary " + p + what + ": the id of '" + e.getKey() + "' is not a valid token id (" + id + ")");
            }
            vocab.put(e.getKey(), id.intValue());
        }
        return vocab;
    }

    /**
     * Merge lines after the "#version" header, as CLIP reads them: at most the first 48,894, each
     * two tokens; blank lines may only end the file.
     */
    private static List<String[]> mergeLines(Path p, String text) {
        String[] lines = text.split("\n", -1);
        if (!lines[0].contains("#version")) {
            throw new UserInputException("tokenizer merges file " + p + ": line 1 is not a '#version' header (" + abbreviate(lines[0]) + ")");
        }
        List<String[]> merges = new ArrayList<>();
        for (int i = 1; i < lines.length && merges.size() < CLIP_MERGES; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                if (restBlank(lines, i)) break;
                throw new UserInputException("tokenizer merges file " + p + ": line " + (i + 1) + " is empty");
            }
            String[] pair = line.split("\\s+");
            if (pair.length != 2) {
                throw new UserInputException("tokenizer merges file " + p + ": line " + (i + 1) + " is not two tokens separated by a space (" + abbreviate(line) + ")");
            }
            merges.add(pair);
        }
        return merges;
    }

    private static boolean restBlank(String[] lines, int from) {
        for (int i = from; i < lines.length; i++) {
            if (!lines[i].isBlank()) return false;
        }
        return true;
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? "'" + s + "'" : "'" + s.substring(0, 60) + "…'";
    }

    private static JsonNode json(FileSystem fs, Path p) {
        String text = text(p, read(fs, p));
        try {
            JsonNode root = JSON.readTree(text);
            if (root == null) throw new UserInputException("tokenizer file " + p + " is empty, not JSON");
            return root;
        } catch (JsonProcessingException e) {
            throw new UserInputException("tokenizer file " + p + " is not valid JSON (" + e.getOriginalMessage().replace('\n', ' ') + ")");
        }
    }

    /** Strict UTF-8, gunzipped first when the bytes start with gzip's magic number. */
    private static String text(Path p, byte[] bytes) {
        if (bytes.length >= 2 && (bytes[0] & 0xff) == 0x1f && (bytes[1] & 0xff) == 0x8b) {
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
                bytes = in.readNBytes(MAX_BYTES + 1);
            } catch (IOException e) {
                throw new UserInputException("tokenizer file " + p + " is not valid gzip (" + e.getMessage() + ")");
            }
            if (bytes.length > MAX_BYTES) throw new UserInputException("tokenizer file " + p + " unpacks to more than " + (MAX_BYTES >> 20) + " MB: not a tokenizer file");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new UserInputException("tokenizer file " + p + " is not valid UTF-8 text");
        }
    }

    private static byte[] read(FileSystem fs, Path p) {
        try {
            long length = fs.getFileStatus(p).getLen();
            if (length > MAX_BYTES) throw new UserInputException("tokenizer file " + p + " is " + (length >> 20) + " MB: too large for a tokenizer file");
            try (InputStream in = fs.open(p)) {
                return in.readAllBytes();
            }
        } catch (FileNotFoundException e) {
            throw new UserInputException("tokenizer file " + p + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer file " + p + ": " + e.getMessage(), e);
        }
    }

    private static boolean isDirectory(FileSystem fs, Path p) {
        try {
            return fs.getFileStatus(p).isDirectory();
        } catch (FileNotFoundException e) {
            throw new UserInputException("tokenizer file " + p + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
