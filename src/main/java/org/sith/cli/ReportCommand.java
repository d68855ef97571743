package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.ReportJob;

final class ReportCommand implements Command<ReportJob.Config> {
    static final Opt<String> OUT = Opt.text("out", "DIR", "folder of outputs to report on; report/ is written here");
    static final Opt<String> IN = Opt.text("in", "PATHS",
            "report on these Parquet folders instead (comma-separated PATH or NAME=PATH; e.g. base=/a/zeroshot,edited=/b/zeroshot)");
    static final Opt<String> IMAGES = Opt.text("images", "PATH", "where the matched images are (default: the --images that match-images or explain-images recorded in its _run.json)");
    static final Opt<Integer> THUMBS = Opt.of("thumbs", "N", "thumbnails per vector (0: none)", ReportJob.DEFAULT_THUMBS, Opt::nonNegative);
    static final Opt<Integer> THUMB_SIZE = Opt.of("thumb-size", "PX", "longest side of a thumbnail", ReportJob.DEFAULT_THUMB_SIZE, Opt::positive);
    static final Opt<Integer> NEURONS = Opt.of("neurons", "N", "MLP neurons listed per layer, largest σ first (the rest are counted)", ReportJob.DEFAULT_NEURONS,
            Opt::positive);
    static final Opt<Integer> IMAGES_SHOWN = Opt.of("images-shown", "N",
            "images of explain-images' outputs shown with their contributions, the first by id (the rest are counted)", ReportJob.DEFAULT_IMAGES_SHOWN,
            Opt::positive);
    static final Opt<String> TITLE = Opt.of("title", "TEXT", "page title", ReportJob.DEFAULT_TITLE, s -> s);

    @Override
    public String name() {
        return ReportJob.NAME;
    }

    @Override
    public String summary() {
        return "One self-contained report/index.html (heat maps, concepts, thumbnails, QK pairs, MLP neurons, the text tower, per-image contributions, edits, zero-shot, retrieval, diff, the sweep's trade-off plot) of the outputs under --out.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(OUT, IN, IMAGES, THUMBS, THUMB_SIZE, NEURONS, IMAGES_SHOWN, TITLE, CommonOptions.OVERWRITE);
    }

    @Override
    public ReportJob.Config config(Options o) {
        return new ReportJob.Config(o.get(IN), o.get(IMAGES), o.get(THUMBS), o.get(THUMB_SIZE), o.get(TITLE), o.get(NEURONS), o.get(IMAGES_SHOWN),
                new org.sith.run.OutputTarget(o.required(OUT), org.sith.run.WriteMode.of(o.flag(CommonOptions.OVERWRITE), false)));
    }

    @Override
    public int run(ReportJob.Config c, SparkSession spark) {
        ReportJob.Result r = ReportJob.run(spark, c);
        System.out.printf("%s: %s (%.1f MB): %s; %d vectors, %d thumbnails%s%s%n", name(), r.file(), r.bytes() / 1e6, String.join(", ", r.shown()),
                r.vectors(), r.thumbnails(), r.unreadableImages().isEmpty() ? "" : ", " + r.unreadableImages().size() + " images not readable",
                r.ignored().isEmpty() ? "" : "; not shown: " + String.join(", ", r.ignored()));
        return 0;
    }
}
