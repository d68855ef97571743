package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.TestData;
import org.sith.UserInputException;
import org.sith.demo.DemoBpe;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

class ClipTokenizerTest {
    static final Path OPENAI = TestData.DIR.resolve("tokenizer/openai/bpe_simple_vocab_16e6.txt.gz");
    static final Path HF = TestData.DIR.resolve("tokenizer/hf-clip-vit-base-patch32");
    private static final ObjectMapper JSON = new ObjectMapper();

    private static ClipTokenizer openAi;
    private static ClipTokenizer hf;

    @TempDir
    Path tmp;

    private final Configuration conf = new Configuration();

    /** CLIP's real tokenizer files from the shared data: skipped without them, a failure under CI. */
    static void requireData() {
        TestData.require("tokenizer/openai/bpe_simple_vocab_16e6.txt.gz");
        TestData.require("tokenizer/hf-clip-vit-base-patch32/vocab.json");
        TestData.require("tokenizer/hf-clip-vit-base-patch32/merges.txt");
    }

    /** The shared vocabularies (vocab/*.txt). */
    static Path vocabs() {
        return TestData.require("vocab");
    }

    static synchronized ClipTokenizer openAi() {
        requireData();
        if (openAi == null) openAi = ClipTokenizer.load(OPENAI.toString(), new Configuration());
        return openAi;
    }

    static synchronized ClipTokenizer hf() {
        requireData();
        if (hf == null) hf = ClipTokenizer.load(HF.resolve("vocab.json").toString(), new Configuration());
        return hf;
    }

    @Test
    void publishedIdsFromBothFormats() {
        int[] expected = {49406, 320, 1125, 539, 320, 2368, 49407};
        for (ClipTokenizer t : List.of(openAi(), hf())) {
            assertArrayEquals(expected, t.encode("a photo of a cat"), t.source());
            assertEquals(49406, t.sot());
            assertEquals(49407, t.eot());
            assertEquals(49408, t.vocabSize());
            assertArrayEquals(new int[] {49406, 49407}, t.encode("   "));
            assertEquals("a photo of a cat", t.decode(t.encode("A  Photo of a CAT")));
        }
        assertTrue(openAi().source().endsWith("bpe_simple_vocab_16e6.txt.gz"), openAi().source());
        assertTrue(hf().source().contains("vocab.json") && hf().source().contains("merges.txt"), hf().source());
    }

    @Test
    void overLongTextKeepsEotLast() {
        String text = String.join(" ", java.util.Collections.nCopies(60, "red fox")); // 120 words, one token each
        for (ClipTokenizer t : List.of(openAi(), hf())) {
            int[] ids = t.encode(text);
            assertEquals(77, ids.length);
            assertEquals(49406, ids[0]);
            assertEquals(49407, ids[76]);
            assertEquals(ids[1], ids[3], "the phrase repeats");
            int[] short8 = t.encode(text, 8);
            assertArrayEquals(Arrays.copyOf(ids, 8), withLast(short8, ids[7]));
            assertEquals(49407, short8[7]);
        }
    }

    private static int[] withLast(int[] a, int last) {
        int[] c = a.clone();
        c[c.length - 1] = last;
        return c;
    }

    @Test
    void cleaningFollowsPython() {
        ClipTokenizer t = openAi();
        assertEquals("a b", t.clean("  A\u00a0B \n"));
        assertEquals("ab c", t.clean("a\u001cb\u3000c"), "ftfy removes U+001C before Python's split could see a space");
        assertEquals("a\u200bb", t.clean("a\u200bB"), "ZERO WIDTH SPACE is not whitespace");
        assertEquals("café", t.clean("CAFE\u0301"));
        assertEquals("<b>", t.clean("&amp;lt;B&amp;gt;"));
        assertEquals("tab", t.clean("\ttab\n"));
        // Python's Final_Sigma rule; Java's toLowerCase (word boundaries) gives σ in the last two
        assertEquals("ασ.β ας' σ\u0345ς i\u0307 aσςᵑ ἀς\u0345", TokenizerText.clean("ΑΣ.Β ΑΣ' Σ\u0345Σ İ aσΣᵑ ἀΣ\u0345"));
    }

    @Test
    void preTokensFollowClipsPattern() {
        assertEquals(List.of("don", "'t", "i", "'ll", "she", "'s"), TokenizerText.pretokenize("don't i'll she's"));
        assertEquals(List.of("2", "0", "2", "4", "3", ".", "1", "4"), TokenizerText.pretokenize("2024 3.14"));
        assertEquals(List.of("a", "<|endoftext|>", "b", "!<|", "endoftext", "|>"), TokenizerText.pretokenize("a<|endoftext|>b !<|endoftext|>"));
        assertEquals(List.of("\ud83d\ude00\u200d\ud83d\udc69"), TokenizerText.pretokenize("\ud83d\ude00\u200d\ud83d\udc69"));
        assertEquals(List.of("𝔘𝔫𝔦"), TokenizerText.pretokenize("𝔘𝔫𝔦"), "supplementary letters are one run");
        assertEquals(List.of("it", "'ſ"), TokenizerText.pretokenize("it'ſ"), "the regex module folds ſ to s");
        assertEquals(List.of("a", "b"), TokenizerText.pretokenize("a\u0345b"), "U+0345 matches no alternative under IGNORECASE");
    }

    /** Hand-written cases where tokenizers usually go wrong. */
    static List<String> hardCases() {
        List<String> c = new ArrayList<>(List.of(
                "a photo of a cat", "don't", "I'LL", "she's", "they're we've I'm you'd IT'S", "rock'n'roll", "''s", "'", "a'b", "'hello'",
                "it'ſ", "<|ſtartoftext|>", "2024", "3.14", "1,000,000", "½ ⅓ ² ٣ ⑤ Ⅻ", "café", "cafe\u0301", "CAFÉ", "naïve façade",
                "東京タワー", "北京", "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "😀😀😀", "مرحبا بالعالم", "नमस्ते दुनिया", "ΟΔΟΣ Σ ΣΑ", "ΑΣ.Β ΑΣ' ΑΣ\u0301 Σ\u0345Σ aσΣᵑ ΌΣΟΣ. 'Σ'", "İstanbul",
                "straße STRASSE", "ﬁne", "Ǆ ǅ ǆ", "ｆｕｌｌｗｉｄｔｈ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𐐀𐐨", "Ⓐ", "&amp;amp;", "&lt;b&gt;bold&lt;/b&gt;",
                "&#39;", "&#x1F600;", "&eacute", "&notit;", "&#128;", "&#0;", "&#xD800;", "&#99999999999;", "&amp;#39;", "fish &amp; chips",
                "a\u00a0b", "a\u3000b", "\ttab\n", "a\u001cb\u001fc", "a\u0085b", "a\u2028b\u2029c", "a\u200bb", "a\u0345b", "\ufeffbom",
                "<|endoftext|>", "a <|startoftext|> b", "x<|ENDOFTEXT|>y", "hello!!! ???", "e-mail @user #tag $5.99 100%", "...",
                "C++ & C#", "\u0000 control \u0007 chars", "tab\tinside", "   ", "", "a  \n\n b", "ÀÉÎÕÜ àéîõü", "ǰ ẞ Ω K Å",
                "hyphen-ated under_score slash/path", "Mixed123Numbers456", "ｶﾀｶﾅ", "한국어 텍스트", "ไทย", "עברית", "\u0301lead",
                // ftfy's repairs
                "\u201ccurly\u201d \u2018quotes\u2019", "rock\u02bcn\u02bcroll", "\u0149 \u0132ssel", "\uff08\uff11\uff10\uff05\uff09\u3000\uffe3",
                "&EACUTE;COLE &nTILDE;", "&amp;amp;amp;lt;3", "<b>&amp;amp;amp;</b>", "&amp;\n<i>&amp;</i>\n&amp;", "<i>e&#769;</i>", "&#59;",
                "&NewLine;x", "\uff06amp;", "\u001b[1;31mred\u001b[0m", "a\u0080b\u0081c\u009fd", "a\r\nb\rc", "\u206ax\ufffcy",
                "caf\u00c3\u00a9 \u00e2\u0153\u201d"));
        List<String> words = List.of("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "photo", "café");
        StringBuilder longText = new StringBuilder();
        for (int i = 0; i < 300; i++) longText.append(words.get(i % words.size())).append(i % 7 == 0 ? ", " : " ");
        c.add(longText.toString());
        return c;
    }

    /** A few hundred lines from each vocabulary, spread evenly, plus the most frequent LAION words (the file's end). */
    static List<String> sampledVocabulary() throws IOException {
        List<String> out = new ArrayList<>();
        try (var files = Files.list(vocabs())) {
            for (Path f : files.sorted().collect(Collectors.toList())) {
                List<String> lines = Files.readAllLines(f, StandardCharsets.UTF_8);
                int step = Math.max(1, lines.size() / 300);
                for (int i = 0; i < lines.size(); i += step) out.add(lines.get(i));
                if (f.getFileName().toString().equals("splice_laion.txt")) out.addAll(lines.subList(Math.max(0, lines.size() - 200), lines.size()));
            }
        }
        return out;
    }

    @Test
    void agreesWithAnIndependentPythonTokenizer() throws Exception {
        requireData();
        PythonOracle.assumeModules("regex");
        List<String> texts = new ArrayList<>(hardCases());
        texts.addAll(sampledVocabulary());
        List<int[]> expected = compareWithOracle(texts);
        int longest = hardCases().size() - 1;
        assertEquals(77, expected.get(longest).length, "the 300-word phrase is truncated");
        assertEquals(49407, expected.get(longest)[76]);
    }

    /** Runs the Python oracle on the texts and checks both Java tokenizers against it; returns its ids. */
    private List<int[]> compareWithOracle(List<String> texts) throws Exception {
        List<int[]> expected = PythonOracle.clipTokens(HF.resolve("vocab.json"), HF.resolve("merges.txt"), texts, tmp);
        assertEquals(texts.size(), expected.size());
        for (ClipTokenizer t : List.of(openAi(), hf())) {
            List<String> wrong = new ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                int[] got = t.encode(texts.get(i));
                if (!Arrays.equals(expected.get(i), got)) {
                    String cps = texts.get(i).codePoints().mapToObj(Integer::toHexString).collect(Collectors.joining(" "));
                    wrong.add("[" + cps + "] " + JSON.writeValueAsString(texts.get(i)) + " → " + Arrays.toString(got)
                            + " (python " + Arrays.toString(expected.get(i)) + ")");
                }
            }
            assertTrue(wrong.isEmpty(), t.source() + ": " + wrong.size() + " of " + texts.size() + " differ from Python, e.g. "
                    + String.join("\n", wrong.subList(0, Math.min(10, wrong.size()))));
        }
        return expected;
    }

    /**
     * Random strings mixing the characters the rules single out (apostrophes, ſ, Σ, U+0345, entities,
     * odd spaces, what ftfy repairs) with any assigned code point. A failure lists code points: a character assigned
     * after Unicode 13 (Java 17's tables) may legitimately be classified differently by Python.
     */
    @Test
    void agreesWithPythonOnRandomText() throws Exception {
        requireData();
        PythonOracle.assumeModules("regex");
        java.util.Random random = new java.util.Random(42);
        String pool = "aAsSſ'’&;#x0123456789 \t\n\u00a0\u3000\u0345\u0301ΣσςİıßK<|>!?.-é&amp;&lt;&#39;&#x1F600;&eacute"
                + "“”ʼﬁŉ＆ｆ\u001b[m\r\u0085\u0092\u001c\ufeff&EACUTE;";
        List<String> texts = new ArrayList<>();
        while (texts.size() < 10_000) {
            StringBuilder b = new StringBuilder();
            for (int k = 1 + random.nextInt(12); k > 0; k--) {
                int mode = random.nextInt(4);
                int cp = mode == 0 ? pool.codePointAt(random.nextInt(pool.length()))
                        : mode == 1 ? random.nextInt(0x3000) : mode == 2 ? random.nextInt(0x10000) : 0x10000 + random.nextInt(0x20000);
                if (Character.isDefined(cp) && Character.getType(cp) != Character.SURROGATE) b.appendCodePoint(cp);
            }
            texts.add(b.toString());
        }
        compareWithOracle(texts);
    }

    /** Both formats on every line of every vocabulary; reports the speed (information only, no assertion). */
    @Test
    void openAiAndHfFilesAgreeOnEveryVocabularyLine() throws IOException {
        ClipTokenizer a = openAi();
        ClipTokenizer b = hf();
        List<String> laion = Files.readAllLines(TestData.require("vocab/splice_laion.txt"), StandardCharsets.UTF_8);
        ClipTokenizer cold = ClipTokenizer.load(OPENAI.toString(), conf);
        for (int pass = 0; pass < 2; pass++) {
            long tokens = 0;
            long start = System.nanoTime();
            for (String line : laion) tokens += cold.encode(line).length;
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("ClipTokenizer speed (%s cache): %d lines of splice_laion.txt, %d ids in %.3f s = %.0f lines/s, %.0f ids/s%n",
                    pass == 0 ? "cold" : "warm", laion.size(), tokens, seconds, laion.size() / seconds, tokens / seconds);
        }
        int lines = 0;
        try (var files = Files.list(vocabs())) {
            for (Path f : files.sorted().collect(Collectors.toList())) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    assertArrayEquals(a.encode(line), b.encode(line), f.getFileName() + ": " + line);
                    lines++;
                }
            }
        }
        assertTrue(lines > 60_000, "read " + lines + " lines");
    }

    @Test
    void tokenizerJsonWithEitherMergeFormGivesTheSameIds() throws IOException {
        ClipTokenizer reference = hf();
        Map<String, Integer> vocab = JSON.readValue(HF.resolve("vocab.json").toFile(), new TypeReference<LinkedHashMap<String, Integer>>() {});
        List<String> mergeLines = Files.readAllLines(HF.resolve("merges.txt"), StandardCharsets.UTF_8);
        List<String> texts = new ArrayList<>(hardCases());
        texts.addAll(sampledVocabulary());
        for (boolean arrays : new boolean[] {false, true}) {
            ObjectNode root = JSON.createObjectNode();
            ObjectNode model = root.putObject("model");
            model.put("type", "BPE");
            model.put("end_of_word_suffix", "</w>");
            ObjectNode v = model.putObject("vocab");
            vocab.forEach(v::put);
            ArrayNode merges = model.putArray("merges");
            for (String line : mergeLines.subList(1, 48895)) {
                if (arrays) merges.add(pair(line.split(" ")));
                else merges.add(line);
            }
            Path dir = Files.createDirectories(tmp.resolve(arrays ? "arrays" : "strings"));
            JSON.writeValue(dir.resolve("tokenizer.json").toFile(), root);
            ClipTokenizer t = ClipTokenizer.load(dir.resolve("tokenizer.json").toString(), conf);
            ClipTokenizer fromDir = ClipTokenizer.load(dir.toString(), conf);
            assertEquals(t.fingerprint(), fromDir.fingerprint());
            assertEquals(reference.fingerprint(), t.fingerprint(), "same merges and ids, same fingerprint");
            for (String text : texts) assertArrayEquals(reference.encode(text), t.encode(text), text);
        }
    }

    private static ArrayNode pair(String[] ab) {
        ArrayNode n = JSON.createArrayNode();
        n.add(ab[0]);
        n.add(ab[1]);
        return n;
    }

    @Test
    void foldersAndCheckpointNeighbours() throws IOException {
        requireData();
        Path hfDir = Files.createDirectories(tmp.resolve("hf"));
        Files.copy(HF.resolve("vocab.json"), hfDir.resolve("vocab.json"));
        Files.copy(HF.resolve("merges.txt"), hfDir.resolve("merges.txt"));
        Files.copy(OPENAI, hfDir.resolve(TokenizerFiles.OPENAI_NAME));
        ClipTokenizer fromDir = ClipTokenizer.load(hfDir.toString(), conf);
        assertTrue(fromDir.source().contains("vocab.json"), "vocab.json + merges.txt come first: " + fromDir.source());
        assertEquals(hf().fingerprint(), fromDir.fingerprint());
        ClipTokenizer beside = ClipTokenizer.besideCheckpoint(hfDir.resolve("model.safetensors").toString(), conf);
        assertNotNull(beside);
        assertEquals(hf().fingerprint(), beside.fingerprint());
        ClipTokenizer fromMerges = ClipTokenizer.load(hfDir.resolve("merges.txt").toString(), conf);
        assertEquals(hf().fingerprint(), fromMerges.fingerprint());

        Path oaDir = Files.createDirectories(tmp.resolve("openai"));
        Files.copy(OPENAI, oaDir.resolve(TokenizerFiles.OPENAI_NAME));
        ClipTokenizer oa = ClipTokenizer.besideCheckpoint(oaDir.resolve("model.pt").toString(), conf);
        assertNotNull(oa);
        assertEquals(openAi().fingerprint(), oa.fingerprint());

        Path plain = tmp.resolve("bpe_plain.txt");
        try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(OPENAI))) {
            Files.write(plain, in.readAllBytes());
        }
        assertEquals(openAi().fingerprint(), ClipTokenizer.load(plain.toString(), conf).fingerprint(), "plain text reads as the gzip");
    }

    @Test
    void noTokenizerBesideACheckpointIsNull() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertNull(ClipTokenizer.besideCheckpoint(empty.resolve("model.safetensors").toString(), conf));
        Files.writeString(empty.resolve("vocab.json"), "{}"); // half a pair does not count
        assertNull(ClipTokenizer.besideCheckpoint(empty.resolve("model.safetensors").toString(), conf));
        UserInputException e = assertThrows(UserInputException.class, () -> ClipTokenizer.load(empty.toString(), conf));
        assertTrue(e.getMessage().contains(empty.getFileName().toString()), e.getMessage());
    }

    // ---- a small synthetic HF tokenizer, so the error cases need no shared data ----

    private Path writeSmallHf(Path dir, List<String> merges, boolean dropByteToken, boolean dropSpecial) throws IOException {
        Files.createDirectories(dir);
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String b : TokenizerText.byteTokens()) vocab.put(b, vocab.size());
        for (String b : TokenizerText.byteTokens()) vocab.put(b + "</w>", vocab.size());
        for (String m : merges) vocab.put(m.replace(" ", ""), vocab.size());
        vocab.put(TokenizerText.SOT, vocab.size());
        if (!dropSpecial) vocab.put(TokenizerText.EOT, vocab.size());
        if (dropByteToken) vocab.remove("Ġ</w>");
        JSON.writeValue(dir.resolve("vocab.json").toFile(), vocab);
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n" + String.join("\n", merges) + "\n");
        return dir;
    }

    private UserInputException loadFails(Path p) {
        return assertThrows(UserInputException.class, () -> ClipTokenizer.load(p.toString(), conf));
    }

    private static void assertNames(UserInputException e, Path file, String... words) {
        String m = e.getMessage();
        assertTrue(m.contains(file.getFileName().toString()), "message names the file: " + m);
        assertTrue(!m.contains("\n"), "one line: " + m);
        for (String w : words) assertTrue(m.contains(w), "message says '" + w + "': " + m);
    }

    @Test
    void smallSyntheticHfTokenizerWorks() throws IOException {
        Path dir = writeSmallHf(tmp.resolve("ok"), List.of("c a", "ca t</w>", "d o", "do g</w>"), false, false);
        ClipTokenizer t = ClipTokenizer.load(dir.resolve("vocab.json").toString(), conf);
        int cat = 512 + 1;
        int dog = 512 + 3;
        assertArrayEquals(new int[] {516, cat, dog, 517}, t.encode("Cat DOG"));
        assertEquals("cat dog", t.decode(t.encode("cat dog")));
    }

    @Test
    void errorsNameTheFile() throws IOException {
        Path missing = tmp.resolve("nowhere/bpe_simple_vocab_16e6.txt.gz");
        assertNames(loadFails(missing), missing, "does not exist");

        Path malformed = tmp.resolve("bad_merges.txt");
        Files.writeString(malformed, "#version: 0.2\na b\nc d\nthree parts here\ne f\n");
        assertNames(loadFails(malformed), malformed, "line 4");

        Path noHeader = tmp.resolve("no_header.txt");
        Files.writeString(noHeader, "a b\nc d\n");
        assertNames(loadFails(noHeader), noHeader, "line 1");

        Path badGzip = tmp.resolve("broken.txt.gz");
        Files.write(badGzip, new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3});
        assertNames(loadFails(badGzip), badGzip, "gzip");

        Path latin1 = tmp.resolve("latin1.txt");
        Files.write(latin1, "#version: 0.2\ncaf\u00e9 x\n".getBytes(StandardCharsets.ISO_8859_1));
        assertNames(loadFails(latin1), latin1, "UTF-8");

        Path noByte = writeSmallHf(tmp.resolve("nobyte"), List.of("c a"), true, false);
        assertNames(loadFails(noByte.resolve("vocab.json")), noByte.resolve("vocab.json"), "Ġ</w>");

        Path noEot = writeSmallHf(tmp.resolve("noeot"), List.of("c a"), false, true);
        assertNames(loadFails(noEot.resolve("merges.txt")), noEot.resolve("vocab.json"), "<|endoftext|>");

        Path noResult = writeSmallHf(tmp.resolve("noresult"), List.of("c a"), false, false);
        Files.writeString(noResult.resolve("merges.txt"), "#version: 0.2\nc a\nx y\n");
        assertNames(loadFails(noResult.resolve("vocab.json")), noResult.resolve("vocab.json"), "'xy'", "line 3");

        Path badJson = writeSmallHf(tmp.resolve("badjson"), List.of("c a"), false, false);
        Files.writeString(badJson.resolve("vocab.json"), "{\"a\": 1,");
        assertNames(loadFails(badJson.resolve("vocab.json")), badJson.resolve("vocab.json"), "JSON");

        Path lonely = Files.createDirectories(tmp.resolve("lonely")).resolve("vocab.json");
        Files.writeString(lonely, "{}");
        assertNames(loadFails(lonely), lonely.resolveSibling("merges.txt"), "does not exist");
    }

    @Test
    void serializesAndIsSafeToShare() throws Exception {
        Path dir = writeSmallHf(tmp.resolve("ser"), List.of("c a", "ca t</w>", "d o", "do g</w>"), false, false);
        List<ClipTokenizer> tokenizers = new ArrayList<>(List.of(ClipTokenizer.load(dir.toString(), conf)));
        if (Files.exists(OPENAI)) tokenizers.add(openAi());
        List<String> texts = new ArrayList<>(hardCases());
        for (int i = 0; i < 2000; i++) texts.add("cat " + i + " dog " + Integer.toString(i * 7919, 36));
        for (ClipTokenizer t : tokenizers) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream o = new ObjectOutputStream(bytes)) {
                o.writeObject(t);
            }
            ClipTokenizer back;
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                back = (ClipTokenizer) in.readObject();
            }
            assertEquals(t.fingerprint(), back.fingerprint());
            assertEquals(t.source(), back.source());
            List<int[]> sequential = texts.stream().map(back::encode).collect(Collectors.toList());
            List<int[]> parallel = texts.parallelStream().map(t::encode).collect(Collectors.toList());
            for (int i = 0; i < texts.size(); i++) assertArrayEquals(sequential.get(i), parallel.get(i), texts.get(i));
        }
    }

    @Test
    void demoBpeSpellsEveryTrainingWordAsOneToken() throws IOException {
        List<String> phrases = List.of("a photo of a cat", "a photo of a dog", "a red sports car", "an old wooden boat",
                "the Eiffel Tower at night", "a bowl of fresh fruit", "snow on the mountains", "a child's drawing",
                "two people playing tennis", "a plate of spaghetti", "café au lait", "東京タワー", "a cup of coffee",
                "sunset over the ocean", "it's raining", "3 small birds", "a black and white photo", "graffiti on a wall",
                "a happy 😀 face", "fish &amp; chips");
        List<String[]> merges = DemoBpe.learn(phrases);
        List<String[]> again = DemoBpe.learn(phrases);
        assertEquals(merges.size(), again.size());
        for (int i = 0; i < merges.size(); i++) assertArrayEquals(merges.get(i), again.get(i), "deterministic");

        Path file = tmp.resolve("demo/bpe_simple_vocab_16e6.txt.gz");
        DemoBpe.writeOpenAiFormat(merges, file.toString(), conf);
        byte[] raw = Files.readAllBytes(file);
        assertEquals(0x1f, raw[0] & 0xff, "gzip");
        ClipTokenizer t = ClipTokenizer.load(file.toString(), conf);
        assertEquals(512 + merges.size() + 2, t.vocabSize());
        assertEquals(t.vocabSize() - 2, t.sot());
        for (String phrase : phrases) {
            List<String> words = TokenizerText.pretokenize(TokenizerText.clean(phrase));
            for (String w : words) {
                int[] ids = t.encode(w);
                assertEquals(3, ids.length, "'" + w + "' is one token: " + Arrays.toString(ids));
            }
            int[] ids = t.encode(phrase);
            assertEquals(words.size() + 2, ids.length, phrase);
            assertEquals(String.join(" ", words), t.decode(ids), "round trip of " + phrase);
        }
        assertTrue(t.encode("zebra").length > 3, "an unseen word is spelled in pieces");
    }

    /** Writes a gzip file (used for a hand-made OpenAI file). */
    static void gzip(Path p, String text) throws IOException {
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(p))) {
            o.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    @Test
    void openAiVocabularyIsBuiltInOrder() throws IOException {
        Path f = tmp.resolve("tiny.txt.gz");
        gzip(f, "bpe_simple_vocab_16e6.txt#version: 0.2\nc a\nca t</w>\n");
        ClipTokenizer t = ClipTokenizer.load(f.toString(), conf);
        assertEquals(256 + 256 + 2 + 2, t.vocabSize());
        assertEquals(514, t.sot());
        assertEquals(515, t.eot());
        assertArrayEquals(new int[] {514, 513, 515}, t.encode("cat"));
        assertArrayEquals(new int[] {514, 512, 256 + 64, 515}, t.encode("caa"), "'ca' then 'a</w>' (a is id 64)");
        assertEquals(TokenizerText.byteChar(' '), 'Ġ');
    }
}
