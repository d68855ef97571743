package org.sith.heads;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.sith.checkpoint.BlockTensors;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.model.VisionTower;

/**
 * SPEC §11: an image's embedding split into the contributions of every term of the class token's final residual
 * x_L. With the weights of SPEC §3 (LN1 folded, W_in and W_out centered), x_L minus a multiple of the all-ones vector
 * is the sum of the terms c_k: the embedding stage at CLS ({@code embed}, the same for every image), each head's value
 * bias (b_v + W_v·β₁) through its output map ({@code vo_bias}), each block's output bias ({@code out_bias}), each
 * block's MLP output at CLS ({@code mlp}: its neurons act_i·w_i plus the c_proj bias, {@code mlp_bias}), and for every
 * head and singular vector σ_j⟨z_h, u_j⟩·v_j ({@code vo}, all blocks, all heads, full rank). Each term contributes
 * e_k = ((c_k − mean c_k)/s ⊙ γ)·P to e = ((x_L − m)/s ⊙ γ + β)·P, LN_post's bias e_β = β·P, and Σ e_k + e_β = e.
 *
 * <p>Only inner products with e are needed, never the e_k themselves: with g = γ ⊙ (P·e) centered (g̃),
 * ⟨e_k, e⟩ = ⟨c_k, g̃⟩/s, so share_k = ⟨c_k, g̃⟩/(s·‖e‖²). Per image that is one d×p product for e, one for g, and one
 * inner product per vector (L·d² for the heads, L·d·hidden for the neurons): no per-vector joint image is kept.
 * Everything is computed in double from the tower's float probe (x̂, attention, MLP activations); x_L is rebuilt from
 * the terms, so the identity and the shares' sum hold to double rounding, and {@link Image#embedding} can be compared
 * with the tower's own embedding.
 *
 * <p>Built once per executor from the checkpoint (the head bases from {@link LayerHeads}, as decompose computes them);
 * read-only afterwards.
 */
public final class ImageContributions {
    private final int layers;
    private final int heads;
    private final int dh;
    private final int d;
    private final int p;
    private final int[] hidden;
    private final float[][] u; // [layer] (heads·dh) × d: read directions, head h's vector j at row h·dh + j
    private final float[][] v; // [layer] (heads·dh) × d: write directions (unit, centered)
    private final double[][] sigma; // [layer] heads·dh
    private final float[][] proj; // [layer] c_proj weight as stored, d × hidden (out, in)
    private final double[][] writeNorm; // [layer] hidden: ‖w_i‖, the centered write vector's norm
    private final double[] embed; // LN_pre(class + pos₀)
    private final double[] voBias; // Σ_l (b_v + W_v·β₁)·W_oᵀ
    private final double[] outBias; // Σ_l b_o
    private final double[] mlpBias; // Σ_l b_proj
    private final double[] gamma;
    private final double[] projection; // d × p
    private final double[] betaP; // β·P

    /** The kinds of SPEC §11's rest rows, in the order they are written. */
    public enum Kind {
        VO_REST("vo_rest"), MLP_REST("mlp_rest"), VO_BIAS("vo_bias"), OUT_BIAS("out_bias"), MLP("mlp"), MLP_BIAS("mlp_bias"),
        EMBED("embed"), LN_POST_BIAS("ln_post_bias");

        public final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    private ImageContributions(ClipCheckpoint ck) {
        this.layers = ck.layers();
        this.heads = ck.heads();
        this.dh = ck.headDim();
        this.d = ck.width();
        this.p = ck.projDim();
        this.hidden = new int[layers];
        this.u = new float[layers][];
        this.v = new float[layers][];
        this.sigma = new double[layers][];
        this.proj = new float[layers][];
        this.writeNorm = new double[layers][];
        this.voBias = new double[d];
        this.outBias = new double[d];
        this.mlpBias = new double[d];
        LayerHeads.Cursor cursor = new LayerHeads.Cursor(ck);
        for (int l = 0; l < layers; l++) {
            LayerHeads lh = cursor.at(l);
            u[l] = new float[heads * dh * d];
            v[l] = new float[heads * dh * d];
            sigma[l] = new double[heads * dh];
            for (int h = 0; h < heads; h++) {
                HeadBasis b = lh.basis(h, dh);
                for (int j = 0; j < dh; j++) {
                    int row = h * dh + j;
                    sigma[l][row] = b.sigma()[j];
                    for (int c = 0; c < d; c++) {
                        u[l][row * d + c] = (float) b.u()[j][c];
                        v[l][row * d + c] = (float) b.v()[j][c];
                    }
                }
            }
            BlockTensors t = ck.block(l);
            // value bias with LN1's β folded through the stored, unscaled value weight: b_v + W_v·β₁
            double[] bv = new double[d];
            float[] qkvW = t.qkvWeight();
            float[] qkvB = t.qkvBias();
            float[] beta1 = t.ln1Bias();
            for (int r = 0; r < d; r++) {
                double s = qkvB[2 * d + r];
                int row = (2 * d + r) * d;
                for (int c = 0; c < d; c++) s += (double) qkvW[row + c] * beta1[c];
                bv[r] = s;
            }
            float[] outW = t.outWeight();
            for (int o = 0; o < d; o++) {
                double s = 0;
                for (int i = 0; i < d; i++) s += (double) outW[o * d + i] * bv[i];
                voBias[o] += s;
                outBias[o] += t.outBias()[o];
                mlpBias[o] += t.projBias()[o];
            }
            hidden[l] = t.mlpWidth();
            proj[l] = t.projWeight();
            int hw = hidden[l];
            double[] mean = new double[hw];
            for (int o = 0; o < d; o++) for (int i = 0; i < hw; i++) mean[i] += proj[l][o * hw + i];
            for (int i = 0; i < hw; i++) mean[i] /= d;
            double[] ss = new double[hw];
            for (int o = 0; o < d; o++) {
                for (int i = 0; i < hw; i++) {
                    double x = proj[l][o * hw + i] - mean[i];
                    ss[i] += x * x;
                }
            }
            writeNorm[l] = new double[hw];
            for (int i = 0; i < hw; i++) writeNorm[l][i] = Math.sqrt(ss[i]);
        }
        float[] cls = ck.classEmbedding();
        float[] pos = ck.positions();
        double[] x0 = new double[d];
        for (int c = 0; c < d; c++) x0[c] = (double) cls[c] + pos[c];
        this.embed = layerNorm(x0, ck.lnPreWeight(), ck.lnPreBias());
        float[] g = ck.lnPostWeight();
        float[] b = ck.lnPostBias();
        this.gamma = new double[d];
        for (int c = 0; c < d; c++) gamma[c] = g[c];
        float[] pr = ck.projection();
        this.projection = new double[d * p];
        for (int i = 0; i < d * p; i++) projection[i] = pr[i];
        this.betaP = new double[p];
        for (int c = 0; c < d; c++) for (int j = 0; j < p; j++) betaP[j] += b[c] * projection[c * p + j];
    }

    public static ImageContributions of(ClipCheckpoint ck) {
        return new ImageContributions(ck);
    }

    private static double[] layerNorm(double[] x, float[] w, float[] b) {
        int n = x.length;
        double m = 0;
        for (double a : x) m += a;
        m /= n;
        double var = 0;
        for (double a : x) var += (a - m) * (a - m);
        var /= n;
        double inv = 1.0 / Math.sqrt(var + JointSpace.LN_EPS);
        double[] y = new double[n];
        for (int i = 0; i < n; i++) y[i] = (x[i] - m) * inv * w[i] + b[i];
        return y;
    }

    public int layers() {
        return layers;
    }

    public int heads() {
        return heads;
    }

    public int headDim() {
        return dh;
    }

    public int width() {
        return d;
    }

    public int projDim() {
        return p;
    }

    public int mlpWidth(int layer) {
        return hidden[layer];
    }

    /** σ_j of layer l, head h (full rank). */
    public double sigma(int layer, int head, int sv) {
        return sigma[layer][head * dh + sv];
    }

    /** ‖w_i‖ of block l's neuron i (centered write vector). */
    public double writeNorm(int layer, int neuron) {
        return writeNorm[layer][neuron];
    }

    /**
     * One image's contributions. {@code voScore[l][h·dh + j]} = σ_j⟨z_h, u_j⟩ and {@code voShare} its share;
     * {@code mlpScore[l][i]} = act_i·‖w_i‖ and {@code mlpShare} neuron i's share (act_i·w_i, without the bias); {@code kinds}
     * the shares of the constant terms by {@link Kind} ordinal ({@code VO_BIAS}, {@code OUT_BIAS}, {@code MLP_BIAS},
     * {@code EMBED}, {@code LN_POST_BIAS}; the others 0); {@code embedding} e rebuilt from the terms (p), {@code s} LN_post's
     * standard deviation of the rebuilt x_L.
     */
    public record Image(double[] embedding, double s, double[][] voScore, double[][] voShare, double[][] mlpScore, double[][] mlpShare,
                        double[] kinds) {
        /** Σ of every share: 1 up to rounding. */
        public double total() {
            double t = 0;
            for (double[] a : voShare) for (double x : a) t += x;
            for (double[] a : mlpShare) for (double x : a) t += x;
            for (double x : kinds) t += x;
            return t;
        }
    }

    /**
     * @param voScore per layer the heads' σ_j⟨z_h, u_j⟩ ({@link #scores}), heads·dh each
     * @param act     per layer the class token's MLP activations (hidden each)
     */
    public Image compute(double[][] voScore, float[][] act) {
        double[] x = new double[d];
        for (int c = 0; c < d; c++) x[c] = embed[c] + voBias[c] + outBias[c] + mlpBias[c];
        for (int l = 0; l < layers; l++) {
            float[] vl = v[l];
            double[] sc = voScore[l];
            for (int r = 0; r < heads * dh; r++) {
                double a = sc[r];
                int o = r * d;
                for (int c = 0; c < d; c++) x[c] += a * vl[o + c];
            }
            int hw = hidden[l];
            float[] w = proj[l];
            float[] al = act[l];
            for (int o = 0; o < d; o++) {
                double s = 0;
                int row = o * hw;
                for (int i = 0; i < hw; i++) s += (double) w[row + i] * al[i];
                x[o] += s;
            }
        }
        double m = 0;
        for (double a : x) m += a;
        m /= d;
        double var = 0;
        for (double a : x) var += (a - m) * (a - m);
        var /= d;
        double s = Math.sqrt(var + JointSpace.LN_EPS);
        double[] e = betaP.clone();
        for (int c = 0; c < d; c++) {
            double y = (x[c] - m) / s * gamma[c];
            int row = c * p;
            for (int j = 0; j < p; j++) e[j] += y * projection[row + j];
        }
        double ee = 0;
        for (double a : e) ee += a * a;
        double[] g = new double[d];
        double gm = 0;
        for (int c = 0; c < d; c++) {
            double t = 0;
            int row = c * p;
            for (int j = 0; j < p; j++) t += projection[row + j] * e[j];
            g[c] = gamma[c] * t;
            gm += g[c];
        }
        gm /= d;
        for (int c = 0; c < d; c++) g[c] -= gm;
        double denom = s * ee;
        double[][] voShare = new double[layers][];
        double[][] mlpScore = new double[layers][];
        double[][] mlpShare = new double[layers][];
        for (int l = 0; l < layers; l++) {
            float[] vl = v[l];
            voShare[l] = new double[heads * dh];
            for (int r = 0; r < heads * dh; r++) {
                double t = 0;
                int o = r * d;
                for (int c = 0; c < d; c++) t += vl[o + c] * g[c];
                voShare[l][r] = voScore[l][r] * t / denom;
            }
            int hw = hidden[l];
            double[] q = new double[hw];
            float[] w = proj[l];
            for (int o = 0; o < d; o++) {
                double go = g[o];
                int row = o * hw;
                for (int i = 0; i < hw; i++) q[i] += w[row + i] * go;
            }
            mlpScore[l] = new double[hw];
            mlpShare[l] = new double[hw];
            for (int i = 0; i < hw; i++) {
                mlpScore[l][i] = act[l][i] * writeNorm[l][i];
                mlpShare[l][i] = act[l][i] * q[i] / denom;
            }
        }
        double[] kinds = new double[Kind.values().length];
        kinds[Kind.VO_BIAS.ordinal()] = dot(voBias, g) / denom;
        kinds[Kind.OUT_BIAS.ordinal()] = dot(outBias, g) / denom;
        kinds[Kind.MLP_BIAS.ordinal()] = dot(mlpBias, g) / denom;
        kinds[Kind.EMBED.ordinal()] = dot(embed, g) / denom;
        kinds[Kind.LN_POST_BIAS.ordinal()] = dot(betaP, e) / ee;
        return new Image(e, s, voScore, voShare, mlpScore, mlpShare, kinds);
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /**
     * σ_j⟨z_h, u_j⟩ of every head of block {@code layer} for image {@code i} of a probe's batch: z_h = Σ_t a_t·x̂_t from
     * the block input standardized without LN1's affine and the class token's attention (SPEC §7), into {@code out}
     * (heads·dh).
     */
    public void scores(int layer, int i, int tokens, float[] xhat, float[] attention, double[] out) {
        double[] z = new double[d];
        for (int h = 0; h < heads; h++) {
            VisionTower.Probe.classReadout(xhat, attention, i, h, heads, tokens, z);
            for (int j = 0; j < dh; j++) {
                int r = h * dh + j;
                int o = r * d;
                double t = 0;
                for (int c = 0; c < d; c++) t += z[c] * u[layer][o + c];
                out[r] = sigma[layer][r] * t;
            }
        }
    }

    /**
     * The probe that turns a forward pass into contributions: every block's x̂ and class attention (reduced at once to
     * the heads' scores) and MLP activations at CLS; when a batch is done, each image's {@link Image} in order.
     */
    public static final class Probe implements VisionTower.Probe {
        private final ImageContributions model;
        private final int tokens;
        private final List<Image> images = new ArrayList<>();
        private double[][][] scores; // [image][layer][heads·dh]
        private float[][][] acts; // [image][layer][hidden]

        public Probe(ImageContributions model, int tokens) {
            this.model = model;
            this.tokens = tokens;
        }

        /** The images of every finished batch, in the order the tower received them. */
        public List<Image> images() {
            return images;
        }

        private void ensure(int n) {
            if (scores == null || scores.length != n) {
                scores = new double[n][model.layers][model.heads * model.dh];
                acts = new float[n][model.layers][];
            }
        }

        @Override
        public boolean wants(int layer) {
            return true;
        }

        @Override
        public boolean wantsMlp(int layer) {
            return true;
        }

        @Override
        public int lastLayer() {
            return model.layers - 1;
        }

        @Override
        public void block(int layer, int n, float[] xhat, float[] attention) {
            ensure(n);
            for (int i = 0; i < n; i++) model.scores(layer, i, tokens, xhat, attention, scores[i][layer]);
        }

        @Override
        public void mlp(int layer, int n, float[] hidden, int width) {
            ensure(n);
            for (int i = 0; i < n; i++) acts[i][layer] = Arrays.copyOfRange(hidden, i * width, (i + 1) * width);
        }

        @Override
        public void batchDone(int n) {
            for (int i = 0; i < n; i++) images.add(model.compute(scores[i], acts[i]));
            scores = null;
            acts = null;
        }
    }

    /** One ranked vector of an image: a head's singular vector (head ≥ 0) or an MLP neuron (head {@link VectorId#MLP_HEAD}). */
    public record Pick(int layer, int head, int sv, double score, double share) {
        public boolean mlp() {
            return head == VectorId.MLP_HEAD;
        }
    }

    /**
     * An image's top {@code top} vectors by signed share, descending (ties: lower layer, then a block's head vectors
     * before its neurons, then lower head, sv), among every head vector and, when {@code neurons}, every MLP neuron;
     * and the shares of what is left, by {@link Kind} ordinal (VO_REST and MLP_REST the unpicked vectors; with
     * {@code neurons} MLP stays 0 and MLP_BIAS holds the c_proj biases, without it MLP holds the whole MLP output and
     * MLP_BIAS 0).
     */
    public record Ranked(List<Pick> top, double[] rest) {}

    public Ranked rank(Image im, int top, boolean neurons) {
        java.util.PriorityQueue<Pick> heap = new java.util.PriorityQueue<>(top + 1, ImageContributions::worseFirst);
        double voAll = 0;
        double mlpAll = 0;
        for (int l = 0; l < layers; l++) {
            for (int r = 0; r < heads * dh; r++) {
                double sh = im.voShare()[l][r];
                voAll += sh;
                offer(heap, top, new Pick(l, r / dh, r % dh, im.voScore()[l][r], sh));
            }
            for (int i = 0; i < hidden[l]; i++) {
                double sh = im.mlpShare()[l][i];
                mlpAll += sh;
                if (neurons) offer(heap, top, new Pick(l, VectorId.MLP_HEAD, i, im.mlpScore()[l][i], sh));
            }
        }
        List<Pick> picks = new ArrayList<>(heap);
        picks.sort((a, b) -> worseFirst(b, a));
        double voPicked = 0;
        double mlpPicked = 0;
        for (Pick k : picks) {
            if (k.mlp()) mlpPicked += k.share();
            else voPicked += k.share();
        }
        double[] rest = im.kinds().clone();
        rest[Kind.VO_REST.ordinal()] = voAll - voPicked;
        if (neurons) {
            rest[Kind.MLP_REST.ordinal()] = mlpAll - mlpPicked;
        } else {
            rest[Kind.MLP.ordinal()] = mlpAll + rest[Kind.MLP_BIAS.ordinal()];
            rest[Kind.MLP_BIAS.ordinal()] = 0;
        }
        return new Ranked(picks, rest);
    }

    private static void offer(java.util.PriorityQueue<Pick> heap, int top, Pick k) {
        if (heap.size() < top) {
            heap.add(k);
        } else if (worseFirst(k, heap.peek()) > 0) {
            heap.poll();
            heap.add(k);
        }
    }

    /** Negative when a ranks below b: smaller share, or on a tie the later key (layer, head vectors before neurons, head, sv). */
    static int worseFirst(Pick a, Pick b) {
        int c = Double.compare(a.share(), b.share());
        if (c != 0) return c;
        c = Integer.compare(b.layer(), a.layer());
        if (c != 0) return c;
        c = Boolean.compare(b.mlp(), a.mlp()); // a head vector (mlp false) ranks above a neuron
        if (c != 0) return c;
        c = Integer.compare(b.head(), a.head());
        if (c != 0) return c;
        return Integer.compare(b.sv(), a.sv());
    }
}
