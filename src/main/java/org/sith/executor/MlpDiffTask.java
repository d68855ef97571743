package org.sith.executor;

import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.sith.analysis.MlpDiff;
import org.sith.checkpoint.AdaptedCheckpoint;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.LoraAdapter;
import org.sith.checkpoint.VisionWeights;

/** The executor side of `diff --component mlp`: one block's write matrices of both sides, compared ({@link MlpDiff}). */
public final class MlpDiffTask implements Function<Integer, MlpDiff> {
    private static final long serialVersionUID = 1L;

    private final String base;
    private final String finetuned;               // null with an adapter
    private final Integer headsOverride;
    private final SerializableConf conf;
    private final Broadcast<LoraAdapter> adapter; // null with --finetuned

    public MlpDiffTask(String base, String finetuned, Integer headsOverride, SerializableConf conf, Broadcast<LoraAdapter> adapter) {
        this.base = base;
        this.finetuned = finetuned;
        this.headsOverride = headsOverride;
        this.conf = conf;
        this.adapter = adapter;
    }

    @Override
    public MlpDiff call(Integer layer) throws Exception {
        try (ClipCheckpoint b = ClipCheckpoint.open(base, conf.get(), headsOverride);
             VisionWeights f = adapter != null ? new AdaptedCheckpoint(ClipCheckpoint.open(base, conf.get(), headsOverride), adapter.value())
                     : ClipCheckpoint.open(finetuned, conf.get(), headsOverride)) {
            int hidden = b.mlpWidth(layer);
            if (f.mlpWidth(layer) != hidden) {
                throw new org.sith.UserInputException("--finetuned " + finetuned + " has " + f.mlpWidth(layer) + " MLP neurons in block " + layer
                        + ", --base " + base + " " + hidden);
            }
            return MlpDiff.compute(layer, b.mlpOutWeight(layer), f.mlpOutWeight(layer), b.width(), hidden);
        }
    }
}
