package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.function.DoubleUnaryOperator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.commons.math3.special.Erf;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.sith.checkpoint.SafeTensors;
import org.sith.checkpoint.TensorData;

/**
 * Sanity tests of the test oracles {@link ReferenceVisionForward} and {@link ReferenceMatchScores}
 * and of {@link VisionFixtures}.
 */
class ReferenceVisionForwardTest {
    private static final int S = 12, PATCH = 4, W = 16, L = 2, H = 4, P = 6, DH = W / H, T = 10;

    private static VisionFixtures fixture() {
        return VisionFixtures.random(11, S, PATCH, W, L, H, P);
    }

    private static double norm(double[] a) {
        double s = 0;
        for (double v : a) s += v * v;
        return Math.sqrt(s);
    }

    private static double distance(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.sqrt(s);
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    // ---- forward -------------------------------------------------------------------------------
    @Test
    void bothNamingLayoutsGiveTheSameOutputAndTrace() {
        VisionFixtures f = fixture();
        float[] px = f.randomPixels(3, 1);
        assertEquals(T, f.tokens);
        for (boolean quick : new boolean[] {true, false}) {
            double[] oc = ReferenceVisionForward.embed(f.openClip(), false, H, quick, px);
            double[] hf = ReferenceVisionForward.embed(f.huggingFace(), true, H, quick, px);
            assertEquals(P, oc.length);
            assertArrayEquals(oc, hf, 1e-12);
            var to = ReferenceVisionForward.trace(f.openClip(), false, H, quick, px);
            var th = ReferenceVisionForward.trace(f.huggingFace(), true, H, quick, px);
            assertEquals(L, to.x().length);
            for (int l = 0; l < L; l++) {
                for (int t = 0; t < T; t++) assertArrayEquals(to.x()[l][t], th.x()[l][t], 1e-12);
                for (int h = 0; h < H; h++) assertArrayEquals(to.a()[l][h], th.a()[l][h], 1e-12);
            }
        }
        // the layouts really are read by their own names
        assertThrows(IllegalArgumentException.class, () -> ReferenceVisionForward.embed(f.openClip(), true, H, true, px));
        assertThrows(IllegalArgumentException.class, () -> ReferenceVisionForward.embed(f.huggingFace(), false, H, true, px));
        // a wrong head count and a different image are visible
        double[] base = ReferenceVisionForward.embed(f.openClip(), false, H, true, px);
        assertTrue(distance(base, ReferenceVisionForward.embed(f.openClip(), false, 1, true, px)) > 1e-3);
        assertTrue(distance(base, ReferenceVisionForward.embed(f.openClip(), false, H, true, f.randomPixels(4, 1))) > 1e-3);
    }

    @Test
    void theActivationChoiceIsObservable() {
        VisionFixtures f = fixture();
        float[] px = f.randomPixels(5, 1);
        double[] quick = ReferenceVisionForward.embed(f.openClip(), false, H, true, px);
        double[] gelu = ReferenceVisionForward.embed(f.openClip(), false, H, false, px);
        for (double v : quick) assertTrue(Double.isFinite(v) && Math.abs(v) < 100);
        assertTrue(norm(quick) > 0.1);
        assertTrue(distance(quick, gelu) > 1e-3 * norm(quick), "QuickGELU vs GELU differ by only " + distance(quick, gelu));
    }

    /** LayerNorm of a 2-vector, eps 1e-5, written out. */
    private static double[] ln2(double a, double b, double g0, double g1, double b0, double b1) {
        double m = (a + b) / 2;
        double s = Math.sqrt(((a - b) / 2) * ((a - b) / 2) + 1e-5);
        return new double[] {(a - m) / s * g0 + b0, (b - m) / s * g1 + b1};
    }

    private static void set(float[] a, float... v) {
        assertEquals(a.length, v.length);
        System.arraycopy(v, 0, a, 0, v.length);
    }

    @Test
    void handWorkedOnePatchWidthTwoOneLayerOneHead() {
        // image 2×2 with patch 2: one patch, T = 2; width 2, 1 layer, 1 head, p = 2, MLP width 2.
        // All weights and pixels are exact in float, so the formulas below use the very same numbers.
        VisionFixtures f = VisionFixtures.zeros(2, 2, 2, 1, 1, 2, 2);
        // conv (2, 3, 2, 2), flat ((o·3 + c)·2 + i)·2 + j:
        //   out 0 = px[c0,y0,x0] + .5·px[c1,y1,x0];  out 1 = px[c2,y0,x1] − px[c0,y1,x1]
        f.conv[0] = 1; f.conv[6] = 0.5f; f.conv[15] = -1; f.conv[21] = 1;
        // pixels, flat (c·2 + y)·2 + x: px[k] = k/4 − 1
        float[] px = new float[12];
        for (int k = 0; k < 12; k++) px[k] = k / 4f - 1;
        double[] patchRow = {px[0] + 0.5 * px[6], px[9] - px[3]}; // (c0,y0,x0)=0, (c1,y1,x0)=6, (c0,y1,x1)=3, (c2,y0,x1)=9
        set(f.cls, 0.5f, -0.25f);
        set(f.pos, 0, 0.25f, 0.125f, 0);       // pos[0] = (0, .25), pos[1] = (.125, 0)
        set(f.lnPreW, 1, 0.5f);
        set(f.lnPreB, 0.25f, 0);
        set(f.ln1W[0], 2, 1);
        set(f.ln1B[0], 0, 0.5f);
        set(f.qW[0], 1, 0.5f, 0, 1);
        set(f.qB[0], 0, 0.125f);
        set(f.kW[0], 1, 1, 0, 1);
        set(f.kB[0], 0.5f, 0);
        set(f.vW[0], 1, 0, 1, -1);
        set(f.vB[0], 0, 0.25f);
        set(f.outW[0], 0.5f, 0, 0, -1);
        set(f.outB[0], 0.125f, 0);
        set(f.ln2W[0], 1, 1);
        set(f.fc1W[0], 1, -1, -2, 0.5f);
        set(f.fc1B[0], 0, -1);
        set(f.fc2W[0], 1, 0.5f, -1, 1);
        set(f.fc2B[0], 0, 0.375f);
        set(f.lnPostW, 1, 2);
        set(f.lnPostB, 0.125f, -0.125f);
        set(f.proj, 1, 2, 3, -1);             // (d, p) = [[1, 2], [3, -1]]

        for (boolean quick : new boolean[] {true, false}) {
            DoubleUnaryOperator act = quick
                    ? z -> z / (1 + Math.exp(-1.702 * z))
                    : z -> 0.5 * z * (1 + Erf.erf(z / Math.sqrt(2)));
            // tokens + positions, LN_pre (1, .5 / .25, 0)
            double[] e0 = {0.5, -0.25 + 0.25}, e1 = {patchRow[0] + 0.125, patchRow[1]};
            double[] x0 = ln2(e0[0], e0[1], 1, 0.5, 0.25, 0), x1 = ln2(e1[0], e1[1], 1, 0.5, 0.25, 0);
            // LN1 without affine, then (2, 1 / 0, .5)
            double[] n0 = ln2(x0[0], x0[1], 1, 1, 0, 0), n1 = ln2(x1[0], x1[1], 1, 1, 0, 0);
            double[] h0 = {2 * n0[0], n0[1] + 0.5}, h1 = {2 * n1[0], n1[1] + 0.5};
            double[][] hs = {h0, h1};
            double[][] q = new double[2][], k = new double[2][], v = new double[2][];
            for (int t = 0; t < 2; t++) {
                double[] h = hs[t];
                q[t] = new double[] {h[0] + 0.5 * h[1], h[1] + 0.125};
                k[t] = new double[] {h[0] + h[1] + 0.5, h[1]};
                v[t] = new double[] {h[0], h[0] - h[1] + 0.25};
            }
            // no mask: both queries see both tokens
            double[][] a = new double[2][2];
            double[][] z = new double[2][2];
            for (int t = 0; t < 2; t++) {
                double s0 = (q[t][0] * k[0][0] + q[t][1] * k[0][1]) / Math.sqrt(2);
                double s1 = (q[t][0] * k[1][0] + q[t][1] * k[1][1]) / Math.sqrt(2);
                a[t][0] = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
                a[t][1] = Math.exp(s1) / (Math.exp(s0) + Math.exp(s1));
                z[t] = new double[] {a[t][0] * v[0][0] + a[t][1] * v[1][0], a[t][0] * v[0][1] + a[t][1] * v[1][1]};
            }
            // out_proj [[.5, 0], [0, −1]] + (.125, 0)
            double[][] ys = {{x0[0] + 0.5 * z[0][0] + 0.125, x0[1] - z[0][1]},
                             {x1[0] + 0.5 * z[1][0] + 0.125, x1[1] - z[1][1]}};
            // LN2 (1, 1 / 0, 0), fc1 [[1, −1], [−2, .5]] + (0, −1), act, fc2 [[1, .5], [−1, 1]] + (0, .375)
            double[][] rows = new double[2][];
            for (int t = 0; t < 2; t++) {
                double[] g = ln2(ys[t][0], ys[t][1], 1, 1, 0, 0);
                double u0 = act.applyAsDouble(g[0] - g[1]);
                double u1 = act.applyAsDouble(-2 * g[0] + 0.5 * g[1] - 1);
                rows[t] = new double[] {ys[t][0] + u0 + 0.5 * u1, ys[t][1] - u0 + u1 + 0.375};
            }
            // LN_post (1, 2 / .125, −.125) on the CLS row (token 0), then · [[1, 2], [3, −1]]
            double[] fin = ln2(rows[0][0], rows[0][1], 1, 2, 0.125, -0.125);
            double[] want = {fin[0] + 3 * fin[1], 2 * fin[0] - fin[1]};

            assertTrue(a[0][0] > 0.01 && a[0][0] < 0.99 && Math.abs(a[0][0] - 0.5) > 0.01,
                    "attention is neither one-hot nor uniform: " + a[0][0]);
            for (boolean hf : new boolean[] {false, true}) {
                LinkedHashMap<String, TensorData> m = hf ? f.huggingFace() : f.openClip();
                double[][] emb = ReferenceVisionForward.embeddings(m, hf, px);
                assertArrayEquals(e0, emb[0], 1e-12);
                assertArrayEquals(e1, emb[1], 1e-12);
                double[][] stream = ReferenceVisionForward.residualStream(m, hf, 1, quick, px);
                assertArrayEquals(rows[0], stream[0], 1e-12);
                assertArrayEquals(rows[1], stream[1], 1e-12);
                assertArrayEquals(want, ReferenceVisionForward.embed(m, hf, 1, quick, px), 1e-12);
                ReferenceVisionForward.Trace tr = ReferenceVisionForward.trace(m, hf, 1, quick, px);
                assertArrayEquals(x0, tr.x()[0][0], 1e-12);
                assertArrayEquals(x1, tr.x()[0][1], 1e-12);
                assertArrayEquals(n0, tr.xHat()[0][0], 1e-12);
                assertArrayEquals(n1, tr.xHat()[0][1], 1e-12);
                assertArrayEquals(a[0], tr.a()[0][0], 1e-12);
                double[] zWant = {a[0][0] * n0[0] + a[0][1] * n1[0], a[0][0] * n0[1] + a[0][1] * n1[1]};
                assertArrayEquals(zWant, ReferenceVisionForward.z(tr, 0, 0), 1e-12);
            }
        }
    }

    @Test
    void patchesAreReadRowMajorOverTheGridAndChannelRowColumnWithinAPatch() {
        // image 4, patch 2: a 2×2 grid; width 12 = 3·2·2 and conv[o] is one-hot at (c, i, j) = o
        VisionFixtures f = VisionFixtures.zeros(4, 2, 12, 1, 1, 2, 4);
        for (int o = 0; o < 12; o++) f.conv[o * 12 + o] = 1;
        for (int i = 0; i < f.pos.length; i++) f.pos[i] = i % 7 == 0 ? 0.5f : 0f;
        float[] px = new float[3 * 4 * 4];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 4; y++) {
                for (int x = 0; x < 4; x++) px[(c * 4 + y) * 4 + x] = 100 * c + 10 * y + x;
            }
        }
        double[][] emb = ReferenceVisionForward.embeddings(f.openClip(), false, px);
        assertEquals(5, emb.length);
        for (int pi = 0; pi < 2; pi++) {
            for (int pj = 0; pj < 2; pj++) {
                int t = 1 + 2 * pi + pj;
                for (int c = 0; c < 3; c++) {
                    for (int i = 0; i < 2; i++) {
                        for (int j = 0; j < 2; j++) {
                            int o = (c * 2 + i) * 2 + j;
                            double pos = f.pos[t * 12 + o];
                            assertEquals(100 * c + 10 * (2 * pi + i) + (2 * pj + j) + pos, emb[t][o], 0.0);
                        }
                    }
                }
            }
        }
        for (int o = 0; o < 12; o++) assertEquals(f.pos[o], emb[0][o], 0.0); // zero class embedding
    }

    @Test
    void swappingTwoPatchesMattersOnlyThroughThePositions() {
        // No mask and a CLS read-out: the tower is equivariant under permutations of the patch
        // tokens, so swapping two patches' pixels AND their position rows leaves the output unchanged.
        VisionFixtures f = fixture();
        float[] px = f.randomPixels(9, 1);
        int g = S / PATCH, a = 1, b = 2 * g + 2; // grid cells (0,1) and (2,2)
        float[] swapped = px.clone();
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < PATCH; i++) {
                for (int j = 0; j < PATCH; j++) {
                    int ia = (c * S + (a / g) * PATCH + i) * S + (a % g) * PATCH + j;
                    int ib = (c * S + (b / g) * PATCH + i) * S + (b % g) * PATCH + j;
                    swapped[ia] = px[ib];
                    swapped[ib] = px[ia];
                }
            }
        }
        double[] base = ReferenceVisionForward.embed(f.openClip(), false, H, false, px);
        double[] onlyPixels = ReferenceVisionForward.embed(f.openClip(), false, H, false, swapped);
        assertTrue(distance(base, onlyPixels) > 1e-4 * norm(base), "positions matter");
        for (int i = 0; i < W; i++) {
            float t = f.pos[(1 + a) * W + i];
            f.pos[(1 + a) * W + i] = f.pos[(1 + b) * W + i];
            f.pos[(1 + b) * W + i] = t;
        }
        assertArrayEquals(base, ReferenceVisionForward.embed(f.openClip(), false, H, false, swapped), 1e-12);
    }

    // ---- trace and z -----------------------------------------------------------------------------
    @Test
    void clsAttentionAndNormalizedRowsMatchAnIndependentRecomputation() {
        VisionFixtures f = fixture();
        float[] px = f.randomPixels(13, 1);
        ReferenceVisionForward.Trace tr = ReferenceVisionForward.trace(f.openClip(), false, H, true, px);
        for (int l = 0; l < L; l++) {
            double[][] x = tr.x()[l];
            double[][] ln1 = new double[T][W];
            for (int t = 0; t < T; t++) {
                double mean = 0, var = 0;
                for (double v : x[t]) mean += v / W;
                for (double v : x[t]) var += (v - mean) * (v - mean) / W;
                for (int i = 0; i < W; i++) {
                    double hat = (x[t][i] - mean) / Math.sqrt(var + 1e-5);
                    assertEquals(hat, tr.xHat()[l][t][i], 1e-12);
                    ln1[t][i] = hat * f.ln1W[l][i] + f.ln1B[l][i];
                }
            }
            for (int h = 0; h < H; h++) {
                double[] s = new double[T];
                for (int t = 0; t < T; t++) {
                    for (int r = h * DH; r < (h + 1) * DH; r++) {
                        double q = f.qB[l][r], k = f.kB[l][r];
                        for (int i = 0; i < W; i++) {
                            q += f.qW[l][r * W + i] * ln1[0][i];
                            k += f.kW[l][r * W + i] * ln1[t][i];
                        }
                        s[t] += q * k / Math.sqrt(DH);
                    }
                }
                double sum = 0;
                for (double v : s) sum += Math.exp(v);
                double[] a = tr.a()[l][h];
                double total = 0, min = 1, max = 0;
                for (int t = 0; t < T; t++) {
                    assertEquals(Math.exp(s[t]) / sum, a[t], 1e-12);
                    total += a[t];
                    min = Math.min(min, a[t]);
                    max = Math.max(max, a[t]);
                }
                assertEquals(1, total, 1e-12);
                assertTrue(min > 0 && max - min > 0.02, "CLS attention is neither one-hot nor uniform: " + min + ".." + max);
            }
        }
        // x[0] is LN_pre's output; x[1] differs from it (block 0 wrote)
        assertTrue(distance(tr.x()[0][0], tr.x()[1][0]) > 1e-2);
    }

    @Test
    void zIsTheAttentionWeightedNormalizedRowAndScoresRebuildTheCenteredHeadWrite() {
        VisionFixtures f = fixture();
        LinkedHashMap<String, TensorData> m = f.openClip();
        float[] px = f.randomPixels(17, 1);
        ReferenceVisionForward.Trace tr = ReferenceVisionForward.trace(m, false, H, true, px);
        for (int l = 0; l < L; l++) {
            for (int h = 0; h < H; h++) {
                double[] z = ReferenceVisionForward.z(tr, l, h);
                double[] brute = new double[W];
                for (int i = 0; i < W; i++) {
                    for (int t = 0; t < T; t++) brute[i] += tr.a()[l][h][t] * tr.xHat()[l][t][i];
                }
                assertArrayEquals(brute, z, 1e-14);

                // head h's write into the CLS row, from the fixture arrays: Σ_t a_t (LN1(x_t)·Wv_hᵀ + bv_h)·Wo_hᵀ
                double[] write = new double[W], biasPart = new double[W];
                for (int r = h * DH; r < (h + 1) * DH; r++) {
                    double val = 0, valBias = f.vB[l][r];
                    for (int t = 0; t < T; t++) {
                        double vt = f.vB[l][r];
                        for (int i = 0; i < W; i++) vt += f.vW[l][r * W + i] * (tr.xHat()[l][t][i] * f.ln1W[l][i] + f.ln1B[l][i]);
                        val += tr.a()[l][h][t] * vt;
                    }
                    for (int i = 0; i < W; i++) valBias += (double) f.vW[l][r * W + i] * f.ln1B[l][i];
                    for (int o = 0; o < W; o++) {
                        write[o] += val * f.outW[l][o * W + r];
                        biasPart[o] += valBias * f.outW[l][o * W + r];
                    }
                }
                // minus the bias part (Σ a_t = 1), centered over the d outputs
                double[] want = new double[W];
                double mean = 0;
                for (int o = 0; o < W; o++) mean += (write[o] - biasPart[o]) / W;
                for (int o = 0; o < W; o++) want[o] = write[o] - biasPart[o] - mean;

                ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(m, false, l, h, H);
                double[] got = new double[W];
                for (int j = 0; j < DH; j++) {
                    double sc = ReferenceMatchScores.score(z, svd.sigma()[j], svd.u()[j]);
                    assertEquals(svd.sigma()[j] * dot(z, svd.u()[j]), sc, 1e-15);
                    for (int o = 0; o < W; o++) got[o] += sc * svd.v()[j][o];
                }
                assertArrayEquals(want, got, 1e-10);
                assertTrue(norm(want) > 1e-2);
            }
        }
    }

    // ---- head bases ------------------------------------------------------------------------------
    @Test
    void headSvdRebuildsTheFoldedCenteredVoMatrix() {
        VisionFixtures f = fixture();
        double[][] c = new double[W][W]; // I − 11ᵀ/d
        for (int i = 0; i < W; i++) {
            for (int j = 0; j < W; j++) c[i][j] = (i == j ? 1 : 0) - 1.0 / W;
        }
        for (int l = 0; l < L; l++) {
            for (int h = 0; h < H; h++) {
                // independent route: M = C · diag(γ) · W_V[head rows]ᵀ · W_O[:, head cols]ᵀ · C
                double[][] vo = new double[W][W];
                for (int i = 0; i < W; i++) {
                    for (int o = 0; o < W; o++) {
                        for (int r = h * DH; r < (h + 1) * DH; r++) {
                            vo[i][o] += f.ln1W[l][i] * (double) f.vW[l][r * W + i] * f.outW[l][o * W + r];
                        }
                    }
                }
                double[][] want = mul(mul(c, vo), c);
                double[][] dense = ReferenceMatchScores.foldedCenteredVO(f.openClip(), false, l, h, H);
                double[][] denseHf = ReferenceMatchScores.foldedCenteredVO(f.huggingFace(), true, l, h, H);
                double frob = 0;
                for (int i = 0; i < W; i++) {
                    assertArrayEquals(want[i], dense[i], 1e-12);
                    assertArrayEquals(dense[i], denseHf[i], 0.0);
                    for (int o = 0; o < W; o++) frob += dense[i][o] * dense[i][o];
                }
                // centered: rows and columns sum to zero
                for (int i = 0; i < W; i++) {
                    double row = 0, col = 0;
                    for (int o = 0; o < W; o++) { row += dense[i][o]; col += dense[o][i]; }
                    assertEquals(0, row, 1e-12);
                    assertEquals(0, col, 1e-12);
                }

                ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(f.openClip(), false, l, h, H);
                assertEquals(DH, svd.sigma().length);
                double sumSq = 0;
                for (int j = 0; j < DH; j++) {
                    sumSq += svd.sigma()[j] * svd.sigma()[j];
                    if (j > 0) assertTrue(svd.sigma()[j] <= svd.sigma()[j - 1]);
                    // sign rule: the largest-|.| entry of u_j is positive
                    int big = 0;
                    for (int i = 1; i < W; i++) if (Math.abs(svd.u()[j][i]) > Math.abs(svd.u()[j][big])) big = i;
                    assertTrue(svd.u()[j][big] > 0);
                    for (int k = 0; k < DH; k++) {
                        assertEquals(j == k ? 1 : 0, dot(svd.u()[j], svd.u()[k]), 1e-12);
                        assertEquals(j == k ? 1 : 0, dot(svd.v()[j], svd.v()[k]), 1e-12);
                    }
                }
                assertEquals(frob, sumSq, 1e-10 * frob); // rank ≤ d_h: nothing lost
                for (int i = 0; i < W; i++) {
                    double[] row = new double[W];
                    for (int o = 0; o < W; o++) {
                        for (int j = 0; j < DH; j++) row[o] += svd.u()[j][i] * svd.sigma()[j] * svd.v()[j][o];
                    }
                    assertArrayEquals(dense[i], row, 1e-12);
                }
            }
        }
    }

    private static double[][] mul(double[][] a, double[][] b) {
        double[][] r = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int k = 0; k < b.length; k++) {
                for (int j = 0; j < b[0].length; j++) r[i][j] += a[i][k] * b[k][j];
            }
        }
        return r;
    }

    // ---- fixture files ---------------------------------------------------------------------------
    @Test
    void fixtureFilesRoundTrip(@TempDir Path dir) throws Exception {
        VisionFixtures f = fixture();
        ObjectMapper json = new ObjectMapper();
        Path hf = f.writeHuggingFace(dir.resolve("hf"), true);
        Path oc = f.writeOpenClip(dir.resolve("oc"), false);

        JsonNode hc = json.readTree(Files.readString(dir.resolve("hf/config.json")));
        assertEquals("quick_gelu", hc.at("/vision_config/hidden_act").asText());
        assertEquals(H, hc.at("/vision_config/num_attention_heads").asInt());
        assertEquals(W, hc.at("/vision_config/hidden_size").asInt());
        assertEquals(L, hc.at("/vision_config/num_hidden_layers").asInt());
        assertEquals(4 * W, hc.at("/vision_config/intermediate_size").asInt());
        assertEquals(S, hc.at("/vision_config/image_size").asInt());
        assertEquals(PATCH, hc.at("/vision_config/patch_size").asInt());
        assertEquals("gelu", json.readTree(f.hfConfig(false)).at("/vision_config/hidden_act").asText());
        JsonNode oj = json.readTree(Files.readString(dir.resolve("oc/open_clip_config.json")));
        assertEquals(false, oj.at("/model_cfg/quick_gelu").asBoolean(true));
        assertEquals(P, oj.at("/model_cfg/embed_dim").asInt());
        assertEquals(W, oj.at("/model_cfg/vision_cfg/width").asInt());
        assertEquals(DH, oj.at("/model_cfg/vision_cfg/head_width").asInt());
        assertEquals(L, oj.at("/model_cfg/vision_cfg/layers").asInt());
        assertEquals(S, oj.at("/model_cfg/vision_cfg/image_size").asInt());
        assertEquals(PATCH, oj.at("/model_cfg/vision_cfg/patch_size").asInt());

        for (Path p : new Path[] {hf, oc}) {
            LinkedHashMap<String, TensorData> want = p == hf ? f.huggingFace() : f.openClip();
            try (SafeTensors st = SafeTensors.open(p.toString(), new Configuration())) {
                assertEquals(want.keySet(), st.names());
                for (var e : want.entrySet()) {
                    assertArrayEquals(e.getValue().shape(), st.shape(e.getKey()), e.getKey());
                    assertArrayEquals(e.getValue().data(), st.readFloats(e.getKey()), e.getKey());
                }
            }
        }
        assertEquals(3 * S * S * 2, f.randomPixels(1, 2).length);
    }
}
