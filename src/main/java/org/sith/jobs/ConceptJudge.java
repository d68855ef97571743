package org.sith.jobs;

import java.util.List;

/**
 * An interpretability judge (SPEC §6, §13): rates 1–5 how well each list of concept names names one coherent concept.
 * {@code score} returns one entry per list, in order; an entry is null when that list could not be scored (an unreachable
 * endpoint, a malformed answer), which never fails the caller. `sweep` takes one to fill its `judge_score` column.
 */
public interface ConceptJudge {
    Integer[] score(List<List<String>> conceptLists);

    /** What `_run.json` records of it (never a key). */
    default String describe() {
        return getClass().getSimpleName();
    }
}
