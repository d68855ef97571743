package org.sith.heads;

import org.sith.coding.Code;

/** One singular vector of one head with its sparse explanation and metrics. */
public record ExplainedVector(int layer, int head, int sv, double sigma, boolean degenerate,
                              double[] vector, double[] joint, Code code, double fidelityResidual) {}
