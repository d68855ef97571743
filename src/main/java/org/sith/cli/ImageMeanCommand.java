package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.ImageMeanJob;

final class ImageMeanCommand implements Command {
    @Override
    public String name() {
        return ImageMeanJob.NAME;
    }

    @Override
    public String summary() {
        return "Mean of the unit-normalized image embeddings of a set of images: writes image_mean.npy and image_mean/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "CLIP checkpoint (.safetensors, OpenCLIP/OpenAI or Hugging Face naming)"),
                ImageOptions.IMAGES, ImageOptions.HEADS, ImageOptions.ACTIVATION, ImageOptions.SIZE, CommonOptions.MODEL_NAME,
                ImageOptions.IMAGES_PER_TASK, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("checkpoint");
        o.required("images");
        o.required("out");
        ImageOptions.validate(o);
    }

    @Override
    public int run(Options o, SparkSession spark) {
        ImageMeanJob.Result r = ImageMeanJob.run(spark, new ImageMeanJob.Params(o.required("checkpoint"), o.required("images"),
                o.intOrNull("heads"), o.get("activation"), o.intOrNull("size"), o.get("model-name"), o.required("out"),
                o.flag("overwrite"), o.positiveInt("images-per-task")));
        System.out.printf("%s: mean of %d images (norm %.3f), %d skipped → %s/image_mean.npy%n", name(), r.images(), r.norm(),
                r.skipped().size(), r.out());
        return 0;
    }
}
