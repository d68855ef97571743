package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.ZeroShotJob;

final class ZeroShotCommand implements Command<ZeroShotJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE", "CLIP checkpoint with both towers (the base or an edited one)");
    static final Opt<String> IMAGES = Opt.text("images", "CSV",
            "manifest with a header: image,label[,group]; image paths relative to the manifest's folder; label = class name or index");
    static final Opt<String> CLASSES = Opt.text("classes", "FILE", "class names, one a line (a pasted Python list of CLIP's published prompts works too)");
    static final Opt<String> TEMPLATES = Opt.text("templates", "FILE",
            "prompt templates with {} for the class, one a line (default: " + ZeroShotJob.DEFAULT_TEMPLATE + ")");
    static final Opt<Integer> TEXT_HEADS = Opt.of("text-heads", "N", "text attention heads (default: from the config)", Opt::positive);

    @Override
    public String name() {
        return ZeroShotJob.NAME;
    }

    @Override
    public String summary() {
        return "Zero-shot classification of labelled images (accuracy, per class, per group, worst group): writes zeroshot/.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(CHECKPOINT, IMAGES, CLASSES, TEMPLATES, CommonOptions.BPE, CommonOptions.HEADS, TEXT_HEADS, CommonOptions.ACTIVATION,
                CommonOptions.PREPROCESS, CommonOptions.TOWER_PRECISION, CommonOptions.MODEL_NAME, CommonOptions.IMAGES_PER_TASK, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public ZeroShotJob.Config config(Options o) {
        return new ZeroShotJob.Config(o.required(CHECKPOINT), o.required(IMAGES), o.required(CLASSES), o.get(TEMPLATES), o.get(CommonOptions.BPE),
                o.get(TEXT_HEADS), CommonOptions.imageSettingsWithoutSize(o),
                o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(ZeroShotJob.Config c, SparkSession spark) {
        ZeroShotJob.Result r = ZeroShotJob.run(spark, c);
        System.out.printf("%s: %d images, accuracy %.4f%s, %d skipped → %s/zeroshot%n", name(), r.images(), r.accuracy(),
                r.worstGroupAccuracy() == null ? "" : String.format(", worst group %.4f", r.worstGroupAccuracy()), r.skipped().size(), r.out());
        return 0;
    }
}
