package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.ZeroShotJob;

final class ZeroShotCommand implements Command {
    @Override
    public String name() {
        return ZeroShotJob.NAME;
    }

    @Override
    public String summary() {
        return "Zero-shot classification of labelled images (accuracy, per class, per group, worst group): writes zeroshot/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "CLIP checkpoint with both towers (the base or an edited one)"),
                value("images", "CSV", "manifest with a header: image,label[,group]; image paths relative to the manifest's folder; label = class name or index"),
                value("classes", "FILE", "class names, one a line (a pasted Python list of CLIP's published prompts works too)"),
                value("templates", "FILE", "prompt templates with {} for the class, one a line (default: a photo of a {}.)"),
                value("bpe", "FILE", "tokenizer (default: found beside the checkpoint)"),
                ImageOptions.HEADS, value("text-heads", "N", "text attention heads (default: from the config)"), ImageOptions.ACTIVATION,
                CommonOptions.MODEL_NAME, ImageOptions.IMAGES_PER_TASK, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("checkpoint");
        o.required("images");
        o.required("classes");
        o.required("out");
        if (o.has("text-heads")) o.positiveInt("text-heads");
        ImageOptions.validate(o);
    }

    @Override
    public int run(Options o, SparkSession spark) {
        ZeroShotJob.Result r = ZeroShotJob.run(spark, new ZeroShotJob.Params(o.required("checkpoint"), o.required("images"),
                o.required("classes"), o.get("templates"), o.get("bpe"), o.intOrNull("heads"), o.intOrNull("text-heads"),
                o.get("activation"), o.get("model-name"), o.required("out"), o.flag("overwrite"), o.positiveInt("images-per-task")));
        System.out.printf("%s: %d images, accuracy %.4f%s, %d skipped → %s/zeroshot%n", name(), r.images(), r.accuracy(),
                r.worstGroupAccuracy() == null ? "" : String.format(", worst group %.4f", r.worstGroupAccuracy()), r.skipped().size(), r.out());
        return 0;
    }
}
