package org.sith.run;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.sith.UserInputException;
import org.sith.checkpoint.VisionWeights;
import org.sith.heads.HeadId;
import org.sith.heads.Side;

/**
 * Which heads and vectors a command works on: `--layers`, `--heads` (the head count when no config
 * beside the checkpoint says it), `--side` and `--rank`. Checked against the model by {@link #resolve}.
 */
public record HeadSelection(LayerSpec layers, Integer heads, Side side, Integer rank) implements Serializable, RunRecord.Recordable {
    public static final HeadSelection DEFAULTS = new HeadSelection(LayerSpec.ALL, null, Side.RIGHT, null);

    public HeadSelection {
        if (layers == null) layers = LayerSpec.ALL;
        if (side == null) side = Side.RIGHT;
        if (heads != null && heads < 1) throw new UserInputException("--heads " + heads + " must be at least 1");
        if (rank != null && rank < 1) throw new UserInputException("--rank " + rank + " must be at least 1");
    }

    public HeadSelection withLayers(LayerSpec l) {
        return new HeadSelection(l, heads, side, rank);
    }

    /** The selection on one model: layers in range, rank within the head width. */
    public Resolved resolve(VisionWeights model) {
        return resolve(model.layers(), model.heads(), model.headDim(), model.path());
    }

    /** The selection on a tower of {@code layers} blocks of {@code heads} heads of width {@code headDim}. */
    public Resolved resolve(int modelLayers, int modelHeads, int headDim, String path) {
        int[] ls = layers.resolve(modelLayers, path);
        int r = rank == null ? headDim : rank;
        if (r > headDim) {
            throw new UserInputException("--rank " + r + " is above the head width " + headDim + " of " + path);
        }
        return new Resolved(ls, modelHeads, headDim, r);
    }

    /** The layers, the model's head count and width, and the vectors kept per head. */
    public record Resolved(int[] layers, int heads, int headDim, int rank) implements Serializable {
        public List<HeadId> all() {
            List<HeadId> out = new ArrayList<>();
            for (int l : layers) for (int h = 0; h < heads; h++) out.add(new HeadId(l, h));
            return out;
        }

        public int count() {
            return layers.length * heads;
        }
    }

    @Override
    public void recordOptions(Map<String, Object> options) {
        options.put("layers", layers.toString());
        options.put("heads", heads);
        options.put("side", side.label());
        options.put("rank", rank);
    }
}
