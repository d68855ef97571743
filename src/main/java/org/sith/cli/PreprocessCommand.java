package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.PreprocessJob;

final class PreprocessCommand implements Command<PreprocessJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE", "optional: take size, mean and std from the config files beside this checkpoint");

    @Override
    public String name() {
        return PreprocessJob.NAME;
    }

    @Override
    public String summary() {
        return "Decode, resize (PIL-exact bicubic), crop and normalize images: writes pixels.npy (N×3×S×S) and pixels_index/.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(CHECKPOINT, CommonOptions.IMAGES, CommonOptions.SIZE, CommonOptions.IMAGES_PER_TASK, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public PreprocessJob.Config config(Options o) {
        return new PreprocessJob.Config(o.get(CHECKPOINT), o.required(CommonOptions.IMAGES), o.get(CommonOptions.SIZE), o.get(CommonOptions.IMAGES_PER_TASK),
                CommonOptions.output(o, false));
    }

    @Override
    public int run(PreprocessJob.Config c, SparkSession spark) {
        PreprocessJob.Result r = PreprocessJob.run(spark, c);
        System.out.printf("%s: %d images → %s/pixels.npy (%d×3×%d×%d), %d skipped%n", name(), r.rows(), r.out(), r.rows(), r.size(),
                r.size(), r.skipped().size());
        return 0;
    }
}
