package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.concepts.WordNetPool;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * `embed-concepts --pool wordnet` end to end on a small two-tower CLIP with CLIP's real tokenizer: the first N lemmas
 * (read here straight from index.noun's lines) land in vocab.txt with WordNet's licence beside it, their embeddings
 * equal those of `embed-concepts --vocab` on that vocab.txt, and `decompose` runs on the pool's concepts (the
 * README's no-vocabulary path). Bad pool options exit 2 with one line and leave --out untouched.
 */
class EmbedPoolTest extends SparkTestBase {
    @TempDir
    static Path tmp;
    static Path ckpt;

    @BeforeAll
    static void model() throws Exception {
        TwoTowers.requireTokenizer();
        ckpt = TwoTowers.write(tmp.resolve("model"), 71).checkpoint();
        Files.copy(TwoTowers.BPE, tmp.resolve("model/bpe_simple_vocab_16e6.txt.gz"));
    }

    /** The first n entries of index.noun by a plain line scan: the first field of each line not starting with two spaces, `_` → space. */
    static List<String> firstNouns(int n) throws Exception {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                EmbedPoolTest.class.getClassLoader().getResourceAsStream(WordNetPool.RESOURCE_DIR + "index.noun"), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null && out.size() < n; ) {
                if (!line.startsWith("  ")) out.add(line.split(" ")[0].replace('_', ' '));
            }
        }
        return out;
    }

    @Test
    void poolSampleIsWrittenWithItsLicenceAndEmbedsLikeTheSameVocabulary() throws Exception {
        String out = tmp.resolve("pool").toString();
        Run run = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--pool", "wordnet:noun,adj", "--pool-limit", "60",
                "--concepts-per-task", "25", "--out", out);
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stdout().contains("60 pool lemmas"), run.stdout());
        List<String> vocab = Files.readAllLines(Path.of(out, "vocab.txt"), StandardCharsets.UTF_8);
        assertEquals(firstNouns(60), vocab);
        assertTrue(vocab.contains("12-tone music"), vocab.toString());
        String licence = Files.readString(Path.of(out, "LICENSE-WordNet"));
        assertTrue(licence.contains("WordNet 3.1 Copyright 2011 by Princeton University.  All rights reserved."), licence);
        assertTrue(licence.contains("wordnet:noun,adj, its first 60 of "), licence);
        JsonNode rec = new ObjectMapper().readTree(Path.of(out, "_run.json").toFile());
        assertEquals("wordnet:noun,adj", rec.path("options").path("pool").asText());
        assertEquals(60, rec.path("parameters").path("pool_used").asInt());
        JsonNode pool = null;
        for (JsonNode in : rec.path("inputs")) if (in.path("role").asText().equals("pool")) pool = in;
        assertTrue(pool != null && pool.path("sha256").asText().length() == 64, rec.path("inputs").toString());

        String viaVocab = tmp.resolve("vocab").toString();
        Run again = cli("embed-concepts", "--checkpoint", ckpt.toString(), "--vocab", Path.of(out, "vocab.txt").toString(),
                "--concepts-per-task", "25", "--out", viaVocab);
        assertEquals(0, again.status(), again.stderr());
        Map<Integer, double[]> a = EmbedConceptsTest.embeddings(out);
        Map<Integer, double[]> b = EmbedConceptsTest.embeddings(viaVocab);
        assertEquals(b.keySet(), a.keySet());
        for (int id : a.keySet()) assertTrue(java.util.Arrays.equals(a.get(id), b.get(id)), "concept " + id);
        assertTrue(a.size() >= 55, "ids are vocab.txt's lines less any with identical tokens: " + a.size());

        Run decompose = cli("decompose", "--checkpoint", ckpt.toString(), "--concepts", out + "/concepts", "--layers", "1", "--rank", "2",
                "--k", "3", "--out", out);
        assertEquals(0, decompose.status(), decompose.stderr());
        assertTrue(Files.isDirectory(Path.of(out, "explanations")));
    }

    @Test
    void badPoolOptionsAreOneLineExit2AndWriteNothing() throws Exception {
        Path vocab = tmp.resolve("v.txt");
        Files.writeString(vocab, "dog\n");
        String[][] bad = {
            {"--pool", "wordnet:verb"},
            {"--pool", "conceptnet"},
            {"--pool", "wordnet", "--vocab", vocab.toString()},
            {"--vocab", vocab.toString(), "--pool-limit", "3"},
            {"--pool", "wordnet", "--pool-limit", "0"},
            {},
        };
        String[] expect = {"unknown part of speech 'verb'", "unknown pool 'conceptnet'", "either --vocab or --pool", "--pool-limit is only used with --pool",
            "--pool-limit", "--vocab FILE or --pool wordnet"};
        for (int i = 0; i < bad.length; i++) {
            Path out = tmp.resolve("bad" + i);
            List<String> args = new ArrayList<>(List.of("embed-concepts", "--checkpoint", ckpt.toString(), "--out", out.toString()));
            args.addAll(List.of(bad[i]));
            Run r = cli(args.toArray(new String[0]));
            assertEquals(2, r.status(), r.stderr());
            assertEquals(1, r.stderr().strip().lines().count(), r.stderr());
            assertTrue(r.stderr().contains(expect[i]), r.stderr());
            assertFalse(Files.exists(out), "nothing written for " + List.of(bad[i]));
        }
    }
}
