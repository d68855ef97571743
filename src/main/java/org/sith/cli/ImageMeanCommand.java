package org.sith.cli;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.ImageMeanJob;

final class ImageMeanCommand implements Command<ImageMeanJob.Config> {
    @Override
    public String name() {
        return ImageMeanJob.NAME;
    }

    @Override
    public String summary() {
        return "Mean of the unit-normalized image embeddings of a set of images: writes image_mean.npy and image_mean/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CommonOptions.CHECKPOINT, CommonOptions.IMAGES));
        l.addAll(CommonOptions.images());
        l.addAll(List.of(CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE));
        return l;
    }

    @Override
    public ImageMeanJob.Config config(Options o) {
        return new ImageMeanJob.Config(o.required(CommonOptions.CHECKPOINT), o.required(CommonOptions.IMAGES), CommonOptions.imageSettings(o),
                o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(ImageMeanJob.Config c, SparkSession spark) {
        ImageMeanJob.Result r = ImageMeanJob.run(spark, c);
        System.out.printf("%s: mean of %d images (norm %.3f), %d skipped → %s/image_mean.npy%n", name(), r.images(), r.norm(),
                r.skipped().size(), r.out());
        return 0;
    }
}
