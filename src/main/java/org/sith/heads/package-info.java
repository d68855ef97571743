/**
 * SPEC §3, head bases, and §8, edits: LN folding, centering and the thin VO factors ({@link org.sith.heads.VoFactors}),
 * the factored SVD with the sign rule ({@link org.sith.heads.HeadBasis}), a block's heads read once
 * ({@link org.sith.heads.LayerHeads}), the joint-space projection with the image mean and the residual fidelity of §6
 * ({@link org.sith.heads.JointSpace}), explaining many heads in one coding batch ({@link org.sith.heads.Explainer});
 * the edit of M_h and its export as an out-projection change ({@link org.sith.heads.HeadEdit}, {@link org.sith.heads.BlockEdit})
 * and the concept-query relevance ({@link org.sith.heads.Relevance}). (layer, head, sv) is a {@link org.sith.heads.VectorId}.
 */
package org.sith.heads;
