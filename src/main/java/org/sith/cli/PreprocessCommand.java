package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.PreprocessJob;
import org.sith.model.PreprocessOrder;

final class PreprocessCommand implements Command<PreprocessJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE",
            "optional: take size, mean and std from the config files beside this checkpoint, and the order from its naming");
    static final Opt<PreprocessOrder> PREPROCESS = Opt.of("preprocess", "openclip|hf", CommonOptions.PREPROCESS_HELP
            + " (default: the checkpoint's with --checkpoint, else openclip, the order of OpenAI's clip whose mean and std are the defaults)",
            PreprocessOrder::parse);

    @Override
    public String name() {
        return PreprocessJob.NAME;
    }

    @Override
    public String summary() {
        return "Decode, resize (PIL-exact), crop, convert to RGB (before or after, --preprocess) and normalize images: writes pixels.npy (N×3×S×S) "
                + "and pixels_index/.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(CHECKPOINT, CommonOptions.IMAGES, CommonOptions.SIZE, PREPROCESS, CommonOptions.IMAGES_PER_TASK, CommonOptions.OUT,
                CommonOptions.OVERWRITE);
    }

    @Override
    public PreprocessJob.Config config(Options o) {
        return new PreprocessJob.Config(o.get(CHECKPOINT), o.required(CommonOptions.IMAGES), o.get(CommonOptions.SIZE), o.get(PREPROCESS),
                o.get(CommonOptions.IMAGES_PER_TASK), CommonOptions.output(o, false));
    }

    @Override
    public int run(PreprocessJob.Config c, SparkSession spark) {
        PreprocessJob.Result r = PreprocessJob.run(spark, c);
        System.out.printf("%s: %d images → %s/pixels.npy (%d×3×%d×%d), %d skipped%n", name(), r.rows(), r.out(), r.rows(), r.size(),
                r.size(), r.skipped().size());
        return 0;
    }
}
