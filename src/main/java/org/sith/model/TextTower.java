package org.sith.model;

import java.util.List;

import org.sith.checkpoint.ClipText;

/**
 * CLIP's text encoder (SPEC §7): token + position embeddings, causal pre-LN blocks, final LN at the
 * EOT position, text projection. Because attention is causal, the features at EOT depend only on
 * the tokens up to it, so each sequence is run at its own length rather than padded to the
 * context: a concept of a few tokens costs a few rows, not 77. Sequences are packed into batches of
 * about {@code batchTokens} rows so that every Linear is one large product.
 *
 * <p>Immutable after loading: concurrent {@link #embed} calls share the weights, each with its own
 * {@link Workspace}.
 */
public final class TextTower {
    private final int width;
    private final int heads;
    private final int contextLength;
    private final int vocabSize;
    private final int projDim;
    private final Activation activation;
    private final float[] tokens;
    private final float[] positions;
    private final ResidualBlock[] blocks;
    private final LayerNorm lnFinal;
    private final Linear projection;

    /** Rows a bf16 tower's Linear layers are packed for: a default batch (512 token rows); larger calls run in chunks. */
    static final int PACKED_ROWS = 512;

    private final TowerPrecision precision;

    private TextTower(ClipText t, TowerPrecision precision) {
        this.precision = precision;
        this.width = t.width();
        this.heads = t.heads();
        this.contextLength = t.contextLength();
        this.vocabSize = t.vocabSize();
        this.projDim = t.projDim();
        this.activation = Activation.parse(t.activation());
        this.tokens = t.tokenEmbedding();
        this.positions = t.positions();
        this.blocks = new ResidualBlock[t.layers()];
        int rows = Math.max(PACKED_ROWS, contextLength);
        for (int l = 0; l < blocks.length; l++) blocks[l] = new ResidualBlock(t.block(l), width, heads, activation, precision, rows);
        this.lnFinal = new LayerNorm(t.lnFinalWeight(), t.lnFinalBias());
        this.projection = new Linear(t.projection(), null, projDim, width);
    }

    public static TextTower load(ClipText t) {
        return new TextTower(t, TowerPrecision.F32);
    }

    /**
     * The tower with its blocks' Linear layers in {@code precision}; bf16 packs each weight once (and keeps no f32
     * copy of it), and needs oneDNN ({@link TowerPrecision#requireRunnable}).
     */
    public static TextTower load(ClipText t, TowerPrecision precision) {
        return new TextTower(t, precision.requireRunnable());
    }

    public TowerPrecision precision() {
        return precision;
    }

    public int width() {
        return width;
    }

    public int layers() {
        return blocks.length;
    }

    public int heads() {
        return heads;
    }

    public int contextLength() {
        return contextLength;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public int projDim() {
        return projDim;
    }

    public Activation activation() {
        return activation;
    }

    /** Multiply-adds ×2 of the Linear layers for one token through all blocks (the model's dominant cost). */
    public long flopsPerToken() {
        long f = 0;
        for (ResidualBlock b : blocks) f += b.flopsPerRow();
        return f;
    }

    public long projectionFlops() {
        return projection.flopsPerRow();
    }

    /**
     * Embeddings (raw, not normalized) of token sequences, in order. A sequence is read up to its
     * EOT, the position of its largest id (SPEC §7); it must fit the context.
     */
    public float[][] embed(List<int[]> sequences, int batchTokens, Workspace ws) {
        float[][] out = new float[sequences.size()][];
        int first = 0;
        while (first < sequences.size()) {
            int last = first;
            int rows = 0;
            while (last < sequences.size() && (last == first || rows + eotLength(sequences.get(last)) <= batchTokens)) {
                rows += eotLength(sequences.get(last));
                last++;
            }
            embedBatch(sequences.subList(first, last), rows, out, first, ws);
            first = last;
        }
        return out;
    }

    private void embedBatch(List<int[]> batch, int rows, float[][] out, int outOffset, Workspace ws) {
        int n = batch.size();
        int[] starts = new int[n];
        int[] lengths = new int[n];
        float[] x = ws.floats("x", rows * width);
        int row = 0;
        for (int s = 0; s < n; s++) {
            int[] ids = batch.get(s);
            int len = eotLength(ids);
            starts[s] = row;
            lengths[s] = len;
            for (int t = 0; t < len; t++, row++) {
                int id = ids[t];
                if (id < 0 || id >= vocabSize) {
                    throw new IllegalArgumentException("token id " + id + " outside the model's vocabulary of " + vocabSize);
                }
                int o = row * width;
                int e = id * width;
                int p = t * width;
                for (int i = 0; i < width; i++) x[o + i] = tokens[e + i] + positions[p + i];
            }
        }
        for (ResidualBlock b : blocks) b.forward(x, rows, starts, lengths, true, ws);
        float[] eot = ws.floats("eot", n * width);
        for (int s = 0; s < n; s++) lnFinal.apply(x, (starts[s] + lengths[s] - 1) * width, eot, s * width);
        float[] y = ws.floats("proj", n * projDim);
        projection.apply(eot, n, y, ws);
        for (int s = 0; s < n; s++) {
            float[] e = new float[projDim];
            System.arraycopy(y, s * projDim, e, 0, projDim);
            out[outOffset + s] = e;
        }
    }

    /** Rows that matter: up to and including the first occurrence of the largest id (the EOT). */
    int eotLength(int[] ids) {
        if (ids.length == 0) throw new IllegalArgumentException("empty token sequence");
        int at = 0;
        for (int i = 1; i < ids.length; i++) {
            if (ids[i] > ids[at]) at = i;
        }
        if (at >= contextLength) {
            throw new IllegalArgumentException("sequence of " + ids.length + " tokens exceeds the context of " + contextLength);
        }
        return at + 1;
    }
}
