package org.sith;

/** ‖got − want‖ / ‖want‖, the tests' measure of agreement with a reference. */
public final class RelativeError {
    private RelativeError() {}

    public static double of(double[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }

    public static double of(float[] got, double[] want) {
        double[] g = new double[got.length];
        for (int i = 0; i < g.length; i++) g[i] = got[i];
        return of(g, want);
    }
}
