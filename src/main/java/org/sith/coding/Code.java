package org.sith.coding;

/**
 * One coded vector: atoms (dictionary row ids) and weights in output order (weight descending,
 * equal weights by lower id), fidelity = cos(x, reconstruction) (0 if the reconstruction is zero),
 * coherence = mean pairwise cosine of the atoms with non-zero weight (1 when fewer than two),
 * reconstruction = sum of weight * atom, in double.
 */
public record Code(int[] ids, double[] weights, double fidelity, double coherence, double[] reconstruction) {
}
