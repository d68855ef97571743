package org.sith.heads;

import java.util.Map;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * SPEC §8: M_h' = M_h − Σ_j (1 − α_j)·σ_j·u_j·v_jᵀ, realized by changing only the head's columns of
 * the out-projection. With A = Wv_hᵀ (d×d_h, folded and centered) and M_h = A·Wo_hᵀ, every u_j lies
 * in A's column space, so u_j = A·g_j with g_j = pinv(A)·u_j, and
 * ΔWo_h = Σ_j (1 − α_j)·σ_j·v_j·g_jᵀ gives A·(Wo_h − ΔWo_h)ᵀ = M_h'. The v_j are centered, so the
 * change keeps W_out's column means: the uncentered stored weight takes it as is.
 */
public final class HeadEdit {
    private HeadEdit() {}

    /**
     * ΔWo_h, d×d_h row-major, to subtract from the head's columns [h·d_h, (h+1)·d_h) of the stored
     * out-projection weight (out, in). {@code alphas}: sv index → α.
     */
    public static double[] outDelta(VoFactors f, HeadBasis b, Map<Integer, Double> alphas) {
        int d = f.width();
        int dh = f.headDim();
        DMatrixRMaj a = new DMatrixRMaj(d, dh, true, f.valueT());
        DMatrixRMaj pinv = new DMatrixRMaj(dh, d);
        CommonOps_DDRM.pinv(a, pinv);
        double[] delta = new double[d * dh];
        double[] g = new double[dh];
        for (Map.Entry<Integer, Double> e : alphas.entrySet()) {
            int j = e.getKey();
            double scale = (1 - e.getValue()) * b.sigma()[j];
            if (scale == 0) continue;
            double[] u = b.u()[j];
            double[] v = b.v()[j];
            for (int i = 0; i < dh; i++) {
                double s = 0;
                for (int k = 0; k < d; k++) s += pinv.get(i, k) * u[k];
                g[i] = s;
            }
            for (int o = 0; o < d; o++) {
                double vo = scale * v[o];
                for (int i = 0; i < dh; i++) delta[o * dh + i] += vo * g[i];
            }
        }
        return delta;
    }

    /**
     * The head's folded value bias b_h + W_v,h·β (d_h): it keeps flowing through the unedited map,
     * so the exported out-projection bias gains ΔWo_h·b_h (SPEC §8).
     */
    public static double[] foldedValueBias(int head, int d, int dh, float[] valueWeight, float[] valueBias, float[] ln1Bias) {
        double[] out = new double[dh];
        for (int i = 0; i < dh; i++) {
            int row = head * dh + i;
            double s = valueBias[row];
            for (int k = 0; k < d; k++) s += (double) valueWeight[row * d + k] * ln1Bias[k];
            out[i] = s;
        }
        return out;
    }
}
