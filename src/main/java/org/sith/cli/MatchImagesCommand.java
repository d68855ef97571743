package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.MatchImagesJob;

final class MatchImagesCommand implements Command {
    @Override
    public String name() {
        return MatchImagesJob.NAME;
    }

    @Override
    public String summary() {
        return "The images that most activate each explained vector (per-head score σ_j·⟨z_h, u_j⟩): writes matches/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "the CLIP checkpoint the explanations were made from"),
                ImageOptions.IMAGES,
                value("explanations", "DIR", "an explanations/ folder written by decompose (every vector in it is matched)"),
                value("top", "N", "images kept per vector", "10"),
                ImageOptions.HEADS, ImageOptions.ACTIVATION, ImageOptions.SIZE, CommonOptions.MODEL_NAME,
                ImageOptions.IMAGES_PER_TASK, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("checkpoint");
        o.required("images");
        o.required("explanations");
        o.required("out");
        o.positiveInt("top");
        ImageOptions.validate(o);
    }

    @Override
    public int run(Options o, SparkSession spark) {
        MatchImagesJob.Result r = MatchImagesJob.run(spark, new MatchImagesJob.Params(o.required("checkpoint"), o.required("images"),
                o.required("explanations"), o.positiveInt("top"), o.intOrNull("heads"), o.get("activation"), o.intOrNull("size"),
                o.get("model-name"), o.required("out"), o.flag("overwrite"), o.positiveInt("images-per-task")));
        System.out.printf("%s: %d images scored for %d vectors, %d skipped → %s/matches%n", name(), r.images(), r.vectors(),
                r.skipped().size(), r.out());
        return 0;
    }
}
