package org.sith.coding;

/**
 * A proven bound E on |q·d_j − s̃_j| for every atom j, where s̃_j is the score the product computed
 * from the rounded query q̃ and the rounded atoms d̃_j with float accumulation (SPEC §12):
 *
 * <pre>
 * |q·d − fl(q̃·d̃)| ≤ |q·(d − d̃)| + |(q − q̃)·d̃| + |q̃·d̃ − fl(q̃·d̃)|
 *                 ≤ ‖q‖·max‖d − d̃‖ + ‖q − q̃‖·max‖d̃‖ + γ_p·‖q̃‖·max‖d̃‖
 * </pre>
 *
 * (Cauchy–Schwarz; the last term is the classical bound γ_p·Σ|q̃_k d̃_k| for a float sum of p exact
 * products in any order, with γ_p = p·2⁻²⁴/(1 − p·2⁻²⁴); bf16×bf16 and f32×f32-with-FMA products enter
 * the sum exactly or with one rounding already counted in γ_p). It is data-dependent and tighter than
 * SPEC's a-priori C·‖q‖·max‖d‖, which it implies. Two safety terms cover what the formula leaves out:
 * the double arithmetic that evaluates it (relative 1e-12) and denormals flushed to zero by AMX
 * (absolute p·2⁻¹²⁶ per unit of max‖d̃‖).
 */
final class ScoreBound {
    private final double gamma;
    private final double atomError;     // max_j ‖d_j − d̃_j‖
    private final double roundedNorm;   // max_j ‖d̃_j‖
    private final double floor;

    ScoreBound(int p, double atomError, double roundedNorm) {
        double u = Math.scalb(1.0, -24);
        this.gamma = p * u / (1 - p * u);
        this.atomError = atomError;
        this.roundedNorm = roundedNorm;
        this.floor = p * Math.scalb(1.0, -126) * (1 + roundedNorm);
    }

    /** γ_p for float accumulation of p products. */
    double gamma() {
        return gamma;
    }

    /** E for a query q whose product used q̃: given ‖q‖, ‖q − q̃‖ and ‖q̃‖. */
    double of(double queryNorm, double queryError, double roundedQueryNorm) {
        double e = queryNorm * atomError + queryError * roundedNorm + gamma * roundedQueryNorm * roundedNorm;
        return e * (1 + 1e-12) + floor;
    }
}
