package org.sith.model;

import org.sith.UserInputException;

/** The MLP nonlinearity: OpenAI CLIP's QuickGELU, or exact (erf) GELU as OpenCLIP's LAION models use. */
public enum Activation {
    QUICK_GELU("quick_gelu"),
    GELU("gelu");

    private static final double INV_SQRT2 = 0.7071067811865476;
    public final String configName;

    Activation(String configName) {
        this.configName = configName;
    }

    public static Activation parse(String name) {
        for (Activation a : values()) {
            if (a.configName.equals(name)) return a;
        }
        throw new UserInputException("unknown activation '" + name + "' (quick_gelu or gelu)");
    }

    /** In place on a[0 .. n). */
    void apply(float[] a, int n) {
        if (this == QUICK_GELU) {
            for (int i = 0; i < n; i++) {
                double x = a[i];
                a[i] = (float) (x / (1.0 + Math.exp(-1.702 * x)));
            }
        } else {
            for (int i = 0; i < n; i++) a[i] = (float) gelu(a[i]);
        }
    }

    /** 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(−x/√2), via erfc so that the negative tail keeps its relative accuracy. */
    static double gelu(double x) {
        return 0.5 * x * erfc(-x * INV_SQRT2);
    }

    /**
     * Complementary error function with fractional error below 1.2e-7 everywhere (the Chebyshev
     * fit of Numerical Recipes §6.2), far below float rounding of the activations it feeds.
     */
    static double erfc(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }
}
