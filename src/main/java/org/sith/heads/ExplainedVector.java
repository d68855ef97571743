package org.sith.heads;

import org.sith.coding.Code;

/**
 * One explained vector with its sparse explanation and metrics. {@code head} is -1 for an MLP neuron (written as
 * null); {@code side} is right/left, or query/key for a QK circuit.
 */
public record ExplainedVector(Component component, int layer, int head, int sv, String side, double sigma, boolean degenerate,
                              double[] vector, double[] joint, Code code, double fidelityResidual) {}
