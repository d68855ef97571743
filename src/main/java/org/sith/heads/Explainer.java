package org.sith.heads;

import java.util.ArrayList;
import java.util.List;

import org.sith.coding.Code;
import org.sith.coding.Method;
import org.sith.coding.SparseCoder;

/**
 * Explains the singular vectors of several heads at once: every head's vectors are mapped into the
 * joint space and coded in one batch, so each greedy step is one large product (≥ 256 rows keeps
 * the product near the GEMM roofline; one head's 64 rows reach only half of it).
 */
public final class Explainer {
    private Explainer() {}

    /**
     * Heads of different models in one product: basis i is mapped into its own joint space {@code joints.get(i)}
     * (a base and a fine-tuned checkpoint in `diff`), and all vectors are coded together.
     */
    public static List<ExplainedVector> explain(List<HeadBasis> bases, List<JointSpace> joints, Side side,
                                                SparseCoder coder, Method method, int k, double lambda, long[] nanos) {
        List<VectorGroup> groups = new ArrayList<>(bases.size());
        for (HeadBasis b : bases) groups.add(VectorGroup.vo(b, side));
        return explainGroups(groups, joints, coder, method, k, lambda, nanos);
    }

    /**
     * Groups of vectors (heads' sides, blocks of MLP neurons) in one product: group i is mapped into its own joint
     * space {@code joints.get(i)}, and all vectors are coded together. Adds the nanoseconds spent projecting, coding
     * and back-projecting to {@code nanos[0..2]}.
     */
    public static List<ExplainedVector> explainGroups(List<VectorGroup> groups, List<JointSpace> joints,
                                                      SparseCoder coder, Method method, int k, double lambda, long[] nanos) {
        long t0 = System.nanoTime();
        Targets t = targets(groups, joints);
        nanos[0] += System.nanoTime() - t0;
        return explainTargets(t, coder, method, k, lambda, nanos);
    }

    /**
     * Groups' vectors mapped into their joint spaces, ready to be coded by any number of coders (`sweep` codes the same
     * targets with every method and K): {@code vectors[i]} the unit residual-stream direction, {@code targets[i]} its
     * coded joint-space target, in the order of the groups.
     */
    public record Targets(List<VectorGroup> groups, List<JointSpace> joints, double[][] vectors, double[][] targets) {
        public int size() {
            return vectors.length;
        }
    }

    /** Maps every group's vectors into its joint space {@code joints.get(i)} (done once, however often they are coded). */
    public static Targets targets(List<VectorGroup> groups, List<JointSpace> joints) {
        // The float products of the joint map run per group: a row's last bits in a BLAS product can
        // depend on its position in the matrix, and a head's numbers must not depend on which other
        // heads share its batch (--resume recomputes heads in other company). The coder is exact in
        // that sense: it decides near-ties in double.
        List<double[]> vectors = new ArrayList<>();
        List<double[]> targets = new ArrayList<>();
        for (int g = 0; g < groups.size(); g++) {
            double[][] w = groups.get(g).vectors();
            vectors.addAll(List.of(w));
            targets.addAll(List.of(joints.get(g).toJoint(w)));
        }
        return new Targets(List.copyOf(groups), List.copyOf(joints), vectors.toArray(new double[0][]), targets.toArray(new double[0][]));
    }

    /**
     * Codes prepared targets in one batch and back-projects the codes for fidelity_residual; adds the nanoseconds spent
     * coding and back-projecting to {@code nanos[1..2]}.
     */
    public static List<ExplainedVector> explainTargets(Targets t, SparseCoder coder, Method method, int k, double lambda, long[] nanos) {
        List<VectorGroup> groups = t.groups();
        List<JointSpace> joints = t.joints();
        double[][] w = t.vectors();
        double[][] x = t.targets();
        long t1 = System.nanoTime();
        Code[] codes = coder.code(x, method, k, lambda);
        long t2 = System.nanoTime();
        double[] fr = new double[codes.length];
        for (int start = 0, g = 0; g < groups.size(); start += groups.get(g).size(), g++) {
            int r = groups.get(g).size();
            double[][] recon = new double[r][];
            for (int i = 0; i < r; i++) recon[i] = codes[start + i].reconstruction();
            double[] f = joints.get(g).fidelityResidual(recon, java.util.Arrays.copyOfRange(w, start, start + r));
            System.arraycopy(f, 0, fr, start, r);
        }
        long t3 = System.nanoTime();
        nanos[1] += t2 - t1;
        nanos[2] += t3 - t2;

        List<ExplainedVector> out = new ArrayList<>(w.length);
        int i = 0;
        for (VectorGroup b : groups) {
            for (int j = 0; j < b.size(); j++, i++) {
                out.add(new ExplainedVector(b.component(), b.layer(), b.head(), b.firstSv() + j, b.side(), b.sigma()[j], b.degenerate()[j],
                        w[i], x[i], codes[i], fr[i]));
            }
        }
        return out;
    }
}
