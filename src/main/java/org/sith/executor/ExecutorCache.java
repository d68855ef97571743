package org.sith.executor;

import java.util.ArrayDeque;
import java.util.Deque;

import org.sith.coding.Scoring;
import org.sith.coding.SparseCoder;
import org.sith.concepts.ConceptDictionary;

/**
 * Per-executor state that must not be rebuilt per task: the dictionary as one off-heap array (and its bf16 packed copy)
 * (a 50k×768 dictionary is 150 MB), keyed by its fingerprint. Concurrent tasks borrow coders that
 * share that array but own their work arrays, so they code in parallel.
 */
public final class ExecutorCache {
    private static String key;
    private static SparseCoder base;
    private static final Deque<SparseCoder> FREE = new ArrayDeque<>();
    private static boolean warned;

    private ExecutorCache() {}

    /** A coder over {@code dict} scoring by {@code scoring}, coding {@code batchRows} rows per product with {@code threads} row threads. */
    public static synchronized SparseCoder borrow(ConceptDictionary dict, Scoring scoring, int threads, int batchRows) {
        if (!key(dict, scoring).equals(key)) {
            FREE.clear();
            base = null; // let the old dictionary go before the new one is allocated
            base = new SparseCoder(dict.atoms(), dict.size(), dict.dim(), scoring);
            key = key(dict, scoring);
            if (base.path() == Scoring.BF16 && System.getenv("OMP_NUM_THREADS") == null && !warned) {
                warned = true;
                System.err.println("sith: OMP_NUM_THREADS is not set: every task's bf16 product will use all of this machine's cores"
                        + " (set spark.executorEnv.OMP_NUM_THREADS to spark.task.cpus, as conf/spark-defaults.conf does)");
            }
            FREE.push(base);
        }
        SparseCoder c = FREE.isEmpty() ? new SparseCoder(base) : FREE.pop();
        c.setRowThreads(Math.max(1, threads));
        if (c.maxBatchRows() != batchRows) c.setMaxBatchRows(batchRows);
        return c;
    }

    public static synchronized void release(SparseCoder c, ConceptDictionary dict, Scoring scoring) {
        if (c != null && key(dict, scoring).equals(key) && !FREE.contains(c)) FREE.push(c);
    }

    private static String key(ConceptDictionary dict, Scoring scoring) {
        return dict.fingerprint() + "/" + scoring.label();
    }
}
