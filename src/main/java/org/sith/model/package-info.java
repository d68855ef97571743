/**
 * SPEC §7, forward passes: image decoding and PIL-exact preprocessing, CLIP's tokenizer, the vision and text towers,
 * the per-head image score of match-images ({@link org.sith.model.MatchScorer}) and the zero-shot classifier
 * ({@link org.sith.model.ZeroShot}).
 */
package org.sith.model;
