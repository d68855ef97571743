package org.sith.demo;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import org.sith.io.Fs;
import org.sith.model.TokenizerText;

/**
 * A tiny BPE trainer for the synthetic demo, so its model ships a real CLIP-format tokenizer that
 * spells each demo word as one token. Deterministic: the most frequent pair wins, ties go to the
 * lexicographically smallest pair. Not meant for large corpora (it recounts all pairs per merge).
 */
public final class DemoBpe {
    private DemoBpe() {}

    /** Merges, in rank order, after which every word of the cleaned texts is a single token. */
    public static List<String[]> learn(List<String> texts) {
        Map<String, Integer> counts = new TreeMap<>(); // sorted, so the result does not depend on hash order
        for (String text : texts) {
            for (String p : TokenizerText.pretokenize(TokenizerText.clean(text))) {
                if (!p.equals(TokenizerText.SOT) && !p.equals(TokenizerText.EOT)) counts.merge(TokenizerText.byteChars(p), 1, Integer::sum);
            }
        }
        List<List<String>> words = new ArrayList<>();
        List<Integer> freq = new ArrayList<>();
        counts.forEach((chars, count) -> {
            List<String> w = new ArrayList<>();
            for (int i = 0; i < chars.length(); i++) {
                w.add(i == chars.length() - 1 ? chars.charAt(i) + TokenizerText.END_OF_WORD : String.valueOf(chars.charAt(i)));
            }
            words.add(w);
            freq.add(count);
        });
        List<String[]> merges = new ArrayList<>();
        while (true) {
            Map<List<String>, Integer> pairs = new HashMap<>();
            for (int k = 0; k < words.size(); k++) {
                List<String> w = words.get(k);
                for (int i = 0; i + 1 < w.size(); i++) pairs.merge(List.of(w.get(i), w.get(i + 1)), freq.get(k), Integer::sum);
            }
            if (pairs.isEmpty()) return merges;
            List<String> best = null;
            for (Map.Entry<List<String>, Integer> e : pairs.entrySet()) {
                if (best == null || e.getValue() > pairs.get(best) || (e.getValue().equals(pairs.get(best)) && smaller(e.getKey(), best))) {
                    best = e.getKey();
                }
            }
            merges.add(new String[] {best.get(0), best.get(1)});
            for (List<String> w : words) apply(w, best.get(0), best.get(1));
        }
    }

    private static boolean smaller(List<String> a, List<String> b) {
        int c = a.get(0).compareTo(b.get(0));
        return c != 0 ? c < 0 : a.get(1).compareTo(b.get(1)) < 0;
    }

    /** Every occurrence, left to right, as the tokenizer applies a merge. */
    private static void apply(List<String> w, String left, String right) {
        for (int i = 0; i + 1 < w.size(); i++) {
            if (w.get(i).equals(left) && w.get(i + 1).equals(right)) {
                w.set(i, left + right);
                w.remove(i + 1);
            }
        }
    }

    /** OpenAI's format: gzip, a "#version: 0.2" header, then one "left right" line per merge. */
    public static void writeOpenAiFormat(List<String[]> merges, String path, Configuration conf) {
        Path p = Fs.path(path);
        StringBuilder text = new StringBuilder("#version: 0.2\n");
        for (String[] m : merges) text.append(m[0]).append(' ').append(m[1]).append('\n');
        try (OutputStream out = new GZIPOutputStream(Fs.fs(p, conf).create(p, true))) {
            out.write(text.toString().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + p + ": " + e.getMessage(), e);
        }
    }
}
