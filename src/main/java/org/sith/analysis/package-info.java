/**
 * SPEC §9, the fine-tuning diff ({@link org.sith.analysis.HeadDiff}: relative change, share in the base subspaces,
 * reweighting, principal angles, best matches; {@link org.sith.analysis.ConceptOverlap}), and the retrieval measures of
 * an edit ({@link org.sith.analysis.RetrievalMetrics}). Pure functions over arrays.
 */
package org.sith.analysis;
