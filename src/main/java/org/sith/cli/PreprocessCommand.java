package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.PreprocessJob;

final class PreprocessCommand implements Command {
    @Override
    public String name() {
        return PreprocessJob.NAME;
    }

    @Override
    public String summary() {
        return "Decode, resize (PIL-exact bicubic), crop and normalize images: writes pixels.npy (N×3×S×S) and pixels_index/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "optional: take size, mean and std from the config files beside this checkpoint"),
                ImageOptions.IMAGES, ImageOptions.SIZE, ImageOptions.IMAGES_PER_TASK, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("images");
        o.required("out");
        if (o.has("size")) o.positiveInt("size");
        o.positiveInt("images-per-task");
    }

    @Override
    public int run(Options o, SparkSession spark) {
        PreprocessJob.Result r = PreprocessJob.run(spark, new PreprocessJob.Params(o.get("checkpoint"), o.required("images"),
                o.intOrNull("size"), o.required("out"), o.flag("overwrite"), o.positiveInt("images-per-task")));
        System.out.printf("%s: %d images → %s/pixels.npy (%d×3×%d×%d), %d skipped%n", name(), r.rows(), r.out(), r.rows(), r.size(),
                r.size(), r.skipped().size());
        return 0;
    }
}
