package org.sith.heads;

/**
 * Vectors of one head (or one block of MLP neurons) that are explained together, with their keys: the component,
 * the layer, the head (-1 for MLP neurons, written as null), the first `sv` (a head's rank index, or a neuron's
 * index), the side label (right/left, query/key) and per vector its σ (the singular value, or the neuron vector's
 * norm), its unit residual-stream direction and whether it is degenerate.
 */
public record VectorGroup(Component component, int layer, int head, int firstSv, String side, double[] sigma,
                          double[][] vectors, boolean[] degenerate) {

    public int size() {
        return vectors.length;
    }

    /** A head basis' vectors of one side (VO: right = v, left = u; QK: query = u, key = v). */
    public static VectorGroup of(HeadBasis b, Component c, String side, boolean firstSide) {
        return new VectorGroup(c, b.layer(), b.head(), 0, side, b.sigma(), firstSide ? b.u() : b.v(), b.degenerate());
    }

    /** A VO basis' explained side. */
    public static VectorGroup vo(HeadBasis b, Side s) {
        return of(b, Component.VO, s.label(), s == Side.LEFT);
    }
}
