package org.sith.model;

import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;

/**
 * CLIP's image encoder (SPEC §7): patch convolution (as one product per batch), class token,
 * positions, LN_pre, pre-LN blocks without a mask, LN_post of the class token, projection.
 * Images are processed a batch at a time with all their tokens stacked, so every Linear is one
 * large product. Immutable after loading; each thread uses its own {@link Workspace}.
 */
public final class VisionTower {
    private final int width;
    private final int heads;
    private final int patch;
    private final int grid;
    private final int tokens;
    private final int projDim;
    private final Linear patchEmbed;
    private final float[] classToken;
    private final float[] positions;
    private final LayerNorm lnPre;
    private final ResidualBlock[] blocks;
    private final LayerNorm lnPost;
    private final LayerNorm standard;
    private final Linear projection;

    /** What a forward pass can report of one block, for the per-head image scores of SPEC §7. */
    public interface Probe {
        /** Whether block l's input and CLS attention are wanted. */
        boolean wants(int layer);

        /**
         * Block l of a batch of n images: xhat (n·T × d) is the block input normalized without
         * LN1's affine, attention (n × heads × T) the class token's attention weights.
         */
        void block(int layer, int n, float[] xhat, float[] attention);

        /** The last layer needed: the pass stops after it (later blocks cannot change what was reported). */
        int lastLayer();

        /**
         * z_h = Σ_t a_t·x̂_t of SPEC §7 for image {@code i} of a {@link #block} report and head {@code head}: the class
         * token's attention over the block input standardized without LN1's affine, into {@code z} (length d).
         */
        static void classReadout(float[] xhat, float[] attention, int i, int head, int heads, int tokens, double[] z) {
            int d = z.length;
            java.util.Arrays.fill(z, 0);
            int a = (i * heads + head) * tokens;
            for (int t = 0; t < tokens; t++) {
                double w = attention[a + t];
                int x = (i * tokens + t) * d;
                for (int c = 0; c < d; c++) z[c] += w * xhat[x + c];
            }
        }

        /** Whether block l's MLP activations at the class token are wanted. */
        default boolean wantsMlp(int layer) {
            return false;
        }

        /**
         * Block l of a batch of n images: hidden (n × width) holds each image's MLP post-activation values at the
         * class token (after the activation, the input of c_proj / fc2).
         */
        default void mlp(int layer, int n, float[] hidden, int width) {}

        /** The n images of the last calls have passed every block the probe asked for. */
        default void batchDone(int n) {}
    }

    /** Rows a bf16 tower's Linear layers are packed for: a batch of about 512 token rows (one image when it has more). */
    static final int PACKED_ROWS = 512;

    private final TowerPrecision precision;

    private VisionTower(ClipCheckpoint ck, Activation act, TowerPrecision precision) {
        this.precision = precision;
        this.width = ck.width();
        this.heads = ck.heads();
        this.patch = ck.patchSize();
        this.tokens = ck.tokens();
        int g = (int) Math.round(Math.sqrt(tokens - 1));
        if (g * g != tokens - 1) {
            throw new UserInputException("checkpoint " + ck.path() + ": " + tokens + " positions is not 1 + a square number of patches");
        }
        this.grid = g;
        this.projDim = ck.projDim();
        this.patchEmbed = new Linear(ck.patchWeight(), null, width, 3 * patch * patch);
        this.classToken = ck.classEmbedding();
        this.positions = ck.positions();
        this.lnPre = new LayerNorm(ck.lnPreWeight(), ck.lnPreBias());
        this.blocks = new ResidualBlock[ck.layers()];
        int rows = Math.max(PACKED_ROWS, tokens);
        for (int l = 0; l < blocks.length; l++) blocks[l] = new ResidualBlock(ck.block(l), width, heads, act, precision, rows);
        this.lnPost = new LayerNorm(ck.lnPostWeight(), ck.lnPostBias());
        this.standard = LayerNorm.standard(width);
        float[] p = ck.projection(); // d×p, for x·P
        float[] w = new float[p.length];
        for (int i = 0; i < width; i++) for (int j = 0; j < projDim; j++) w[j * width + i] = p[i * projDim + j];
        this.projection = new Linear(w, null, projDim, width);
    }

    /** The tower with the checkpoint's activation, or {@code activation} ("quick_gelu"/"gelu") when given. */
    public static VisionTower load(ClipCheckpoint ck, String activation) {
        return load(ck, activation, TowerPrecision.F32);
    }

    /**
     * As above with the blocks' Linear layers in {@code precision}; bf16 packs each weight once (and keeps no f32 copy
     * of it), and needs oneDNN ({@link TowerPrecision#requireRunnable}).
     */
    public static VisionTower load(ClipCheckpoint ck, String activation, TowerPrecision precision) {
        return new VisionTower(ck, Activation.parse(activation != null ? activation : ck.activation()), precision.requireRunnable());
    }

    public TowerPrecision precision() {
        return precision;
    }

    /** Side of the square input image, in pixels. */
    public int imageSize() {
        return grid * patch;
    }

    public int tokens() {
        return tokens;
    }

    public int width() {
        return width;
    }

    public int heads() {
        return heads;
    }

    public int layers() {
        return blocks.length;
    }

    public int projDim() {
        return projDim;
    }

    /** Multiply-adds ×2 of the Linear layers (patch embedding included) for one image. */
    public long flopsPerImage() {
        long f = (long) grid * grid * patchEmbed.flopsPerRow() + projection.flopsPerRow();
        for (ResidualBlock b : blocks) f += tokens * b.flopsPerRow();
        return f;
    }

    /**
     * Embeddings (raw, not normalized) of n images of 3×S×S floats (C-order, consecutive in
     * {@code pixels}), {@code batch} images per product.
     */
    public float[][] embed(float[] pixels, int n, int batch, Workspace ws) {
        return embed(pixels, n, batch, ws, null);
    }

    /**
     * As above, reporting every block to {@code probe} on the way (null: none); the probe must ask for the last block,
     * so that the pass it sees is the one that gives the embeddings.
     */
    public float[][] embed(float[] pixels, int n, int batch, Workspace ws, Probe probe) {
        if (probe != null && probe.lastLayer() < blocks.length - 1) {
            throw new IllegalArgumentException("a probe that stops at layer " + probe.lastLayer() + " cannot see a whole pass of " + blocks.length + " blocks");
        }
        float[][] out = new float[n][];
        for (int first = 0; first < n; first += batch) {
            int m = Math.min(batch, n - first);
            float[] x = run(pixels, first, m, ws, probe);
            float[] cls = ws.floats("cls", m * width);
            for (int i = 0; i < m; i++) lnPost.apply(x, i * tokens * width, cls, i * width);
            float[] y = ws.floats("proj", m * projDim);
            projection.apply(cls, m, y, ws);
            for (int i = 0; i < m; i++) {
                out[first + i] = new float[projDim];
                System.arraycopy(y, i * projDim, out[first + i], 0, projDim);
            }
        }
        return out;
    }

    /** Runs images [first, first+m) through the blocks the probe needs, reporting to it; no embedding. */
    public void probe(float[] pixels, int n, int batch, Workspace ws, Probe probe) {
        for (int first = 0; first < n; first += batch) run(pixels, first, Math.min(batch, n - first), ws, probe);
    }

    /** The residual stream after the last block run (all blocks without a probe). */
    private float[] run(float[] pixels, int first, int m, Workspace ws, Probe probe) {
        int s = imageSize();
        int pp = 3 * patch * patch;
        int np = grid * grid;
        float[] patches = ws.floats("patches", m * np * pp);
        for (int i = 0; i < m; i++) {
            int img = (first + i) * 3 * s * s;
            for (int gy = 0; gy < grid; gy++) {
                for (int gx = 0; gx < grid; gx++) {
                    int row = (i * np + gy * grid + gx) * pp;
                    for (int c = 0; c < 3; c++) {
                        for (int py = 0; py < patch; py++) {
                            System.arraycopy(pixels, img + (c * s + gy * patch + py) * s + gx * patch,
                                    patches, row + (c * patch + py) * patch, patch);
                        }
                    }
                }
            }
        }
        float[] emb = ws.floats("patchEmb", m * np * width);
        patchEmbed.apply(patches, m * np, emb, ws);
        int rows = m * tokens;
        float[] x = ws.floats("x", rows * width);
        int[] starts = new int[m];
        int[] lengths = new int[m];
        for (int i = 0; i < m; i++) {
            starts[i] = i * tokens;
            lengths[i] = tokens;
            int o = i * tokens * width;
            for (int k = 0; k < width; k++) x[o + k] = classToken[k] + positions[k];
            for (int t = 1; t < tokens; t++) {
                int e = (i * np + t - 1) * width;
                for (int k = 0; k < width; k++) x[o + t * width + k] = emb[e + k] + positions[t * width + k];
            }
        }
        lnPre.apply(x, rows, x);
        int last = probe == null ? blocks.length - 1 : Math.min(blocks.length - 1, probe.lastLayer());
        for (int l = 0; l <= last; l++) {
            boolean attention = probe != null && probe.wants(l);
            boolean mlp = probe != null && probe.wantsMlp(l);
            if (attention || mlp) {
                float[] xhat = null;
                float[] att = null;
                if (attention) {
                    xhat = ws.floats("xhat", rows * width);
                    standard.apply(x, rows, xhat);
                    att = ws.floats("clsAttention", m * heads * tokens);
                }
                int hiddenWidth = blocks[l].mlpWidth();
                float[] hidden = mlp ? ws.floats("clsHidden", m * hiddenWidth) : null;
                blocks[l].forward(x, rows, starts, lengths, false, ws, att, hidden);
                if (attention) probe.block(l, m, xhat, att);
                if (mlp) probe.mlp(l, m, hidden, hiddenWidth);
            } else {
                blocks[l].forward(x, rows, starts, lengths, false, ws);
            }
        }
        if (probe != null) probe.batchDone(m);
        return x;
    }
}
