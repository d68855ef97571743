package org.sith.model;

import org.sith.checkpoint.BlockTensors;

/**
 * One pre-LN transformer block, {@code x += attn(LN1(x)); x += mlp(LN2(x))}, over a batch of
 * packed sequences: rows of all sequences sit one after another, so the four Linear layers are
 * single large products and only attention looks at sequence boundaries.
 */
final class ResidualBlock {
    private final int d;
    private final int heads;
    private final LayerNorm ln1;
    private final LayerNorm ln2;
    private final Linear qkv;
    private final Linear out;
    private final Linear fc;
    private final Linear proj;
    private final Activation act;

    ResidualBlock(BlockTensors t, int d, int heads, Activation act) {
        this(t, d, heads, act, TowerPrecision.F32, 0);
    }

    /** With {@link TowerPrecision#BF16}, the four Linear layers run through oneDNN, packed for calls of {@code maxRows} rows. */
    ResidualBlock(BlockTensors t, int d, int heads, Activation act, TowerPrecision precision, int maxRows) {
        this.d = d;
        this.heads = heads;
        this.ln1 = new LayerNorm(t.ln1Weight(), t.ln1Bias());
        this.ln2 = new LayerNorm(t.ln2Weight(), t.ln2Bias());
        this.qkv = new Linear(t.qkvWeight(), t.qkvBias(), 3 * d, d, precision, maxRows);
        this.out = new Linear(t.outWeight(), t.outBias(), d, d, precision, maxRows);
        this.fc = new Linear(t.fcWeight(), t.fcBias(), t.mlpWidth(), d, precision, maxRows);
        this.proj = new Linear(t.projWeight(), t.projBias(), d, t.mlpWidth(), precision, maxRows);
        this.act = act;
    }

    /** Updates x (rows × d) in place; sequence s occupies rows [starts[s], starts[s] + lengths[s]). */
    void forward(float[] x, int rows, int[] starts, int[] lengths, boolean causal, Workspace ws) {
        forward(x, rows, starts, lengths, causal, ws, null);
    }

    /**
     * As above; with {@code firstRowAttention} (sequences of equal length T), also stores each
     * sequence's first-row attention weights at [s·heads·T + h·T + t].
     */
    void forward(float[] x, int rows, int[] starts, int[] lengths, boolean causal, Workspace ws, float[] firstRowAttention) {
        forward(x, rows, starts, lengths, causal, ws, firstRowAttention, null);
    }

    /**
     * As above; with {@code firstRowHidden}, also stores each sequence's first-row MLP activations (after the
     * activation function, the input of the output map) at [s·mlpWidth + i].
     */
    void forward(float[] x, int rows, int[] starts, int[] lengths, boolean causal, Workspace ws, float[] firstRowAttention,
                 float[] firstRowHidden) {
        float[] h = ws.floats("h", rows * d);
        float[] big = ws.floats("big", rows * Math.max(3 * d, fc.out));
        float[] a = ws.floats("attn", rows * d);
        ln1.apply(x, rows, h);
        qkv.apply(h, rows, big, ws);
        for (int s = 0; s < starts.length; s++) {
            Attention.heads(big, starts[s], lengths[s], d, heads, causal, a, firstRowAttention, s * heads * lengths[s]);
        }
        out.apply(a, rows, h, ws);
        addInPlace(x, h, rows * d);
        ln2.apply(x, rows, h);
        fc.apply(h, rows, big, ws);
        act.apply(big, rows * fc.out);
        if (firstRowHidden != null) {
            for (int s = 0; s < starts.length; s++) System.arraycopy(big, starts[s] * fc.out, firstRowHidden, s * fc.out, fc.out);
        }
        proj.apply(big, rows, h, ws);
        addInPlace(x, h, rows * d);
    }

    /** The MLP's hidden width. */
    int mlpWidth() {
        return fc.out;
    }

    /** Multiply-adds of the Linear layers per row (attention's own products are extra). */
    long flopsPerRow() {
        return qkv.flopsPerRow() + out.flopsPerRow() + fc.flopsPerRow() + proj.flopsPerRow();
    }

    private static void addInPlace(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }
}
