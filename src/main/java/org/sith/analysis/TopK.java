package org.sith.analysis;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The k best (score, image) pairs seen, ties broken by image id so that the result does not
 * depend on the order in which images or partial lists arrive. Mergeable, for a per-key reduce.
 */
public final class TopK implements Serializable {
    public record Entry(double score, String image) implements Serializable {}

    /** Best first: higher score, then smaller image id. */
    private static final class BestFirst implements Comparator<Entry>, Serializable {
        @Override
        public int compare(Entry a, Entry b) {
            int c = Double.compare(b.score(), a.score());
            return c != 0 ? c : a.image().compareTo(b.image());
        }
    }

    /** Worst first, so the heap's head is the entry to drop. */
    private static final class WorstFirst implements Comparator<Entry>, Serializable {
        @Override
        public int compare(Entry a, Entry b) {
            return BEST_FIRST.compare(b, a);
        }
    }

    private static final BestFirst BEST_FIRST = new BestFirst();

    private final int k;
    private final PriorityQueue<Entry> heap = new PriorityQueue<>(new WorstFirst());
    private final ArrayList<String> skipped = new ArrayList<>();

    public TopK(int k) {
        if (k < 1) throw new IllegalArgumentException("k " + k);
        this.k = k;
    }

    /** A carrier for the images a task skipped (merged like the scores, never ranked). */
    public static TopK skipped(List<String> images) {
        TopK t = new TopK(1);
        t.skipped.addAll(images);
        return t;
    }

    public void offer(double score, String image) {
        Entry e = new Entry(score, image);
        if (heap.size() < k) {
            heap.add(e);
        } else if (BEST_FIRST.compare(e, heap.peek()) < 0) {
            heap.poll();
            heap.add(e);
        }
    }

    public static TopK merge(TopK a, TopK b) {
        TopK out = new TopK(Math.max(a.k, b.k));
        for (Entry e : a.heap) out.offer(e.score(), e.image());
        for (Entry e : b.heap) out.offer(e.score(), e.image());
        out.skipped.addAll(a.skipped);
        out.skipped.addAll(b.skipped);
        return out;
    }

    /** Best first. */
    public List<Entry> sorted() {
        List<Entry> s = new ArrayList<>(heap);
        s.sort(BEST_FIRST);
        return s;
    }

    public List<String> skippedImages() {
        return skipped;
    }
}
