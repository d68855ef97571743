package org.sith.jobs;

import org.sith.coding.SparseCoder;
import org.sith.concepts.ConceptDictionary;

/**
 * Per-executor state that must not be rebuilt per task: the dictionary as one ND4J array (a
 * 50k×768 dictionary is 150 MB). Keyed by the dictionary's fingerprint.
 */
final class ExecutorCache {
    private static String key;
    private static SparseCoder coder;

    private ExecutorCache() {}

    static synchronized SparseCoder coder(ConceptDictionary dict) {
        if (!dict.fingerprint().equals(key)) {
            coder = null; // let the old dictionary go before the new one is allocated
            coder = new SparseCoder(dict.atoms(), dict.size(), dict.dim());
            key = dict.fingerprint();
        }
        return coder;
    }
}
