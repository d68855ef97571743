package org.sith.checkpoint;

import java.io.IOException;

/** A base checkpoint seen through a LoRA adapter: value and out projections and the MLP output maps merged, the rest as stored. */
public final class AdaptedCheckpoint implements VisionWeights {
    private final ClipCheckpoint base;
    private final LoraAdapter adapter;

    public AdaptedCheckpoint(ClipCheckpoint base, LoraAdapter adapter) {
        this.base = base;
        this.adapter = adapter;
    }

    @Override
    public String path() {
        return base.path() + " + " + adapter.path();
    }

    @Override
    public int width() {
        return base.width();
    }

    @Override
    public int layers() {
        return base.layers();
    }

    @Override
    public int heads() {
        return base.heads();
    }

    @Override
    public int headDim() {
        return base.headDim();
    }

    @Override
    public int projDim() {
        return base.projDim();
    }

    @Override
    public float[] ln1Weight(int l) {
        return base.ln1Weight(l);
    }

    @Override
    public float[] valueWeight(int l) {
        return adapter.mergeValue(l, base.valueWeight(l));
    }

    @Override
    public float[] outWeight(int l) {
        return adapter.mergeOut(l, base.outWeight(l));
    }

    @Override
    public int mlpWidth(int l) {
        return base.mlpWidth(l);
    }

    @Override
    public float[] mlpOutWeight(int l) {
        return adapter.mergeMlpOut(l, base.mlpOutWeight(l));
    }

    @Override
    public float[] lnPostWeight() {
        return base.lnPostWeight();
    }

    @Override
    public float[] lnPostBias() {
        return base.lnPostBias();
    }

    @Override
    public float[] projection() {
        return base.projection();
    }

    @Override
    public void close() throws IOException {
        base.close();
    }
}
