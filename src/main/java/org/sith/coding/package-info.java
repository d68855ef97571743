/**
 * SPEC §5, the sparse coders (COMP, NNOMP, OMP, MP, top-k) batched over one dictionary with one product a greedy step,
 * exact active-set NNLS; and §6's fidelity and coherence of each code ({@link org.sith.coding.Code}). The residual
 * fidelity needs the joint space: {@link org.sith.heads.JointSpace}.
 */
package org.sith.coding;
