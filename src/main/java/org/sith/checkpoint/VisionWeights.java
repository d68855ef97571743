package org.sith.checkpoint;

import java.io.Closeable;

/**
 * What a head analysis reads from a vision tower: the shapes, each block's LN1 weight and value and
 * out projections (and its MLP output map, for the MLP diff), and the map into the joint space. A checkpoint file gives them as stored; a base
 * checkpoint with a LoRA adapter ({@link AdaptedCheckpoint}) gives them merged.
 */
public interface VisionWeights extends Closeable {
    /** What error messages and records call these weights. */
    String path();

    int width();

    int layers();

    int heads();

    int headDim();

    int projDim();

    float[] ln1Weight(int l);

    /** d×d, (out, in). */
    float[] valueWeight(int l);

    /** d×d, (out, in). */
    float[] outWeight(int l);

    /** The hidden width of block l's MLP. */
    int mlpWidth(int l);

    /** Block l's MLP output map (c_proj / fc2), d × hidden, (out, in). */
    float[] mlpOutWeight(int l);

    float[] lnPostWeight();

    float[] lnPostBias();

    /** d×p row-major, so that x·P. */
    float[] projection();
}
