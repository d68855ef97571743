package org.sith.coding;

import org.sith.linalg.Vec;

/** The greedy state of one vector being coded: chosen atoms, their Gram system, weights, residual. */
final class RowState {
    final double[] x;
    final int[] ids;
    final double[][] atoms;     // chosen atoms in double, in selection order
    final double[][] gram;
    final double[] h;           // <x, atom>
    final double[] weights;     // in selection order
    final double[] residual;
    private final double[] atomSum;
    int size;

    RowState(double[] x, int k) {
        this.x = x;
        this.ids = new int[k];
        this.atoms = new double[k][];
        this.gram = new double[k][k];
        this.h = new double[k];
        this.weights = new double[k];
        this.residual = x.clone();
        this.atomSum = new double[x.length];
    }

    boolean contains(int j) {
        for (int a = 0; a < size; a++) if (ids[a] == j) return true;
        return false;
    }

    void add(int j, double[] atom) {
        int t = size++;
        ids[t] = j;
        atoms[t] = atom;
        for (int a = 0; a <= t; a++) {
            double g = Vec.dot(atoms[a], atom);
            gram[a][t] = g;
            gram[t][a] = g;
        }
        h[t] = Vec.dot(x, atom);
        for (int i = 0; i < atom.length; i++) atomSum[i] += atom[i];
    }

    /** Exact non-negative refit on the chosen atoms. */
    void refitNonNegative() {
        setWeights(Nnls.solve(square(), h.length == size ? h : java.util.Arrays.copyOf(h, size)));
    }

    /** Unconstrained least-squares refit; an atom dependent on earlier ones gets weight 0. */
    void refitLeastSquares() {
        int[] idx = new int[size];
        for (int a = 0; a < size; a++) idx[a] = a;
        setWeights(SmallLinalg.solveSpd(gram, h, idx, size, true));
    }

    /** Matching pursuit: the newest atom keeps its own weight, earlier ones are not revisited. */
    void pursue(double weight) {
        int t = size - 1;
        weights[t] = weight;
        double[] d = atoms[t];
        for (int i = 0; i < residual.length; i++) residual[i] -= weight * d[i];
    }

    /** The vector the next greedy step scores atoms against: r + lambda * mean(chosen atoms). */
    double[] query(double lambda) {
        if (lambda == 0 || size == 0) return residual;
        double[] q = new double[residual.length];
        double f = lambda / size;
        for (int i = 0; i < q.length; i++) q[i] = residual[i] + f * atomSum[i];
        return q;
    }

    private void setWeights(double[] c) {
        System.arraycopy(c, 0, weights, 0, size);
        System.arraycopy(x, 0, residual, 0, x.length);
        for (int a = 0; a < size; a++) {
            double w = c[a];
            if (w == 0) continue;
            double[] d = atoms[a];
            for (int i = 0; i < residual.length; i++) residual[i] -= w * d[i];
        }
    }

    private double[][] square() {
        double[][] g = new double[size][];
        for (int a = 0; a < size; a++) g[a] = java.util.Arrays.copyOf(gram[a], size);
        return g;
    }

    /** Output order, reconstruction and metrics. */
    Code toCode() {
        Integer[] order = new Integer[size];
        for (int a = 0; a < size; a++) order[a] = a;
        java.util.Arrays.sort(order, (u, v) -> weights[u] != weights[v]
                ? Double.compare(weights[v], weights[u]) : Integer.compare(ids[u], ids[v]));
        int[] outIds = new int[size];
        double[] outW = new double[size];
        double[] recon = new double[x.length];
        for (int o = 0; o < size; o++) {
            int a = order[o];
            outIds[o] = ids[a];
            outW[o] = weights[a];
            if (weights[a] != 0) {
                double[] d = atoms[a];
                for (int i = 0; i < recon.length; i++) recon[i] += weights[a] * d[i];
            }
        }
        return new Code(outIds, outW, cosine(x, recon), coherence(), recon);
    }

    private double coherence() {
        double sum = 0;
        int pairs = 0;
        for (int a = 0; a < size; a++) {
            if (weights[a] == 0) continue;
            for (int b = a + 1; b < size; b++) {
                if (weights[b] == 0) continue;
                sum += cosine(atoms[a], atoms[b]);
                pairs++;
            }
        }
        return pairs == 0 ? 1.0 : sum / pairs;
    }

    static double cosine(double[] a, double[] b) {
        double na = Vec.dot(a, a), nb = Vec.dot(b, b);
        if (na == 0 || nb == 0) return 0;
        return Vec.dot(a, b) / Math.sqrt(na * nb);
    }
}
