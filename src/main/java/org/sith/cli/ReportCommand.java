package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.ReportJob;

final class ReportCommand implements Command {
    @Override
    public String name() {
        return ReportJob.NAME;
    }

    @Override
    public String summary() {
        return "One self-contained report/index.html (heat maps, concepts, thumbnails, edits, zero-shot, retrieval, diff) of the outputs under --out.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("out", "DIR", "folder of outputs to report on; report/ is written here"),
                value("in", "PATHS", "report on these Parquet folders instead (comma-separated PATH or NAME=PATH; e.g. base=/a/zeroshot,edited=/b/zeroshot)"),
                value("images", "PATH", "where the matched images are (default: the --images that match-images recorded in matches/_run.json)"),
                value("thumbs", "N", "thumbnails per vector (0: none)", "3"),
                value("thumb-size", "PX", "longest side of a thumbnail", "64"),
                value("title", "TEXT", "page title", "SITH report"),
                CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("out");
        if (o.intOrNull("thumbs") < 0) throw new org.sith.UserInputException("--thumbs must be 0 or more");
        o.positiveInt("thumb-size");
    }

    @Override
    public int run(Options o, SparkSession spark) {
        ReportJob.Result r = ReportJob.run(spark, new ReportJob.Params(o.get("in"), o.required("out"), o.flag("overwrite"), o.get("images"),
                o.intOrNull("thumbs"), o.positiveInt("thumb-size"), o.get("title")));
        System.out.printf("%s: %s (%.1f MB): %s; %d vectors, %d thumbnails%s%s%n", name(), r.file(), r.bytes() / 1e6, String.join(", ", r.shown()),
                r.vectors(), r.thumbnails(), r.unreadableImages().isEmpty() ? "" : ", " + r.unreadableImages().size() + " images not readable",
                r.ignored().isEmpty() ? "" : "; not shown: " + String.join(", ", r.ignored()));
        return 0;
    }
}
