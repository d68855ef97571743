package org.sith.jobs;

import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.sith.UserInputException;
import org.sith.executor.ImageModel;
import org.sith.executor.ImageShards;
import org.sith.inputs.ImageSets;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.Progress;
import org.sith.run.RunRecord;

/**
 * What the commands that embed every image of a set (`image-mean`, `embed-images`) share on the driver: the
 * image model checked against the checkpoint, the images listed in id order (rows of a pixel .npy in row order),
 * the model name, their record in `_run.json`, and the shards whose tasks embed a slice each with
 * {@link ImageShards.Loader#embed}; at the end, the skipped images listed and the image set fingerprinted.
 */
record ImageEmbedding(String command, String images, ImageModel model, List<ImageSets.ImageRef> refs, String modelName,
                      ImageShards.Shards shards, ImageShards.Loader loader) {

    static ImageEmbedding prepare(JobRun run, String checkpoint, String images, ImageSettings st, String modelName) {
        Configuration conf = run.hadoopConf();
        ImageModel m = ImageModel.of(checkpoint, st, conf);
        List<ImageSets.ImageRef> refs = ImageSets.list(images, m.pre().size(), conf);
        String model = ModelName.of(checkpoint, modelName);
        run.record().checkpoint("checkpoint", checkpoint, conf);
        run.record().param("model", model).param("image_size", m.pre().size()).param("mean", m.pre().mean()).param("std", m.pre().std())
                .param("preprocessing", m.pre().source()).param("preprocess", m.pre().order().value())
                .param("preprocess_from", m.pre().orderSource()).param("activation", m.activation()).param("images_per_task", st.imagesPerTask())
                .towerPrecision(m.precision());
        ImageShards.Shards shards = ImageShards.Shards.of(run.spark(), refs, st.imagesPerTask());
        return new ImageEmbedding(run.command(), images, m, refs, model, shards, shards.loader(m));
    }

    /** Progress on stderr while the tasks embed (they count their images on {@code shards().counter()}). */
    Progress progress() {
        return new Progress("sith " + command, "images", refs.size(), 0, shards.counter());
    }

    /**
     * After the tasks ran: each skipped image on stderr; none embedded is the user's error (the harness then
     * removes what was staged); the image set and the counts recorded in `_run.json`.
     */
    void finish(JobRun run, List<String> skipped, long embedded) {
        for (String s : skipped) System.err.println("sith " + command + ": skipped " + s);
        if (embedded == 0) throw new UserInputException("--images " + images + ": none of the " + refs.size() + " images could be decoded");
        RunRecord record = run.record();
        ImageSets.record(record, "images", images, refs, shards, run.hadoopConf());
        record.result("images", embedded).result("skipped", skipped);
    }
}
