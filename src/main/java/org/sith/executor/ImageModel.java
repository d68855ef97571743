package org.sith.executor;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;

import org.apache.hadoop.conf.Configuration;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.executor.ImageShards.Batch;
import org.sith.model.PreprocessOrder;
import org.sith.model.Preprocessor;
import org.sith.model.TowerPrecision;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
import org.sith.run.ImageSettings;

/**
 * The model's image side as the driver checked it and the tasks use it: the checkpoint and head count their towers
 * load with, the preprocessing (its image side checked against the patch grid, its order from --preprocess or the
 * checkpoint's layout), the activation, the widths, and the precision of the tower's Linear layers (bf16 checked
 * runnable here, on the driver).
 */
public record ImageModel(String checkpoint, Integer heads, Preprocessor pre, String activation, int projDim, int tokens, TowerPrecision precision)
        implements Serializable {
    public static ImageModel of(String checkpoint, ImageSettings s, Configuration conf) {
        TowerPrecision precision = s.towerPrecision().requireRunnable();
        Integer heads = s.heads();
        String activation = s.activation();
        try (ClipCheckpoint ck = ClipCheckpoint.open(checkpoint, conf, heads)) {
            int patch = ck.patchSize();
            int tokens = ck.tokens();
            int side = (int) Math.round(Math.sqrt(tokens - 1)) * patch;
            Preprocessor pre = Preprocessor.fromConfig(checkpoint, conf, s.size());
            // no config says the side (an HF folder without preprocessor_config.json, a timm file): the checkpoint's patch grid does
            if (s.size() == null && pre.fromDefaults() && pre.size() != side) pre = pre.atSize(side, "from the checkpoint's patch grid");
            pre = pre.withOrder(order(s.preprocess(), ck), orderSource(s.preprocess(), ck));
            if (pre.size() != side) {
                throw new UserInputException("image size " + pre.size() + " (" + pre.source() + ") does not fit checkpoint "
                        + checkpoint + ", which takes " + side + "×" + side + " pixels (" + (tokens - 1) + " patches of " + patch + ")");
            }
            return new ImageModel(checkpoint, heads, pre, activation != null ? activation : ck.activation(), ck.projDim(), tokens, precision);
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
    }

    /** The option's order when given, else the one of the checkpoint's ecosystem. */
    public static PreprocessOrder order(PreprocessOrder option, ClipCheckpoint ck) {
        return option != null ? option : PreprocessOrder.of(ck);
    }

    /** Where {@link #order} came from, for _run.json. */
    public static String orderSource(PreprocessOrder option, ClipCheckpoint ck) {
        if (option != null) return "--preprocess";
        return "the checkpoint's " + PreprocessOrder.ecosystem(ck) + " layout";
    }

    /** Images per product so that a product has about 512 token rows. */
    public static int imagesPerProduct(VisionTower t) {
        return Math.max(1, 512 / t.tokens());
    }

    /** The image embeddings of a batch's decoded images, in order. */
    public static float[][] embed(VisionTower t, Batch batch) {
        return t.embed(batch.pixels(), batch.count(), imagesPerProduct(t), new Workspace());
    }
}
