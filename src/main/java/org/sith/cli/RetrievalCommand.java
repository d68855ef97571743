package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.RetrievalJob;

final class RetrievalCommand implements Command {
    @Override
    public String name() {
        return RetrievalJob.NAME;
    }

    @Override
    public String summary() {
        return "Text↔image recall@1/5/10 on safe pairs and the unsafe-retrieval rate, for a checkpoint and optionally an edited one: writes retrieval/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "CLIP checkpoint with both towers"),
                value("edited", "FILE", "optional: an edited checkpoint, evaluated the same way (before/after)"),
                value("images", "CSV", "pairs with a header image,unsafe,text (text last; unsafe 1/0); image paths relative to the CSV"),
                value("bpe", "FILE", "tokenizer (default: found beside the checkpoint)"),
                ImageOptions.HEADS, ImageOptions.ACTIVATION, CommonOptions.MODEL_NAME, ImageOptions.IMAGES_PER_TASK,
                CommonOptions.OUT, CommonOptions.OVERWRITE);
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
        RetrievalJob.Result r = RetrievalJob.run(spark, new RetrievalJob.Params(o.required("checkpoint"), o.get("edited"),
                o.required("images"), o.get("bpe"), o.intOrNull("heads"), o.get("activation"), o.get("model-name"),
                o.required("out"), o.flag("overwrite"), o.positiveInt("images-per-task")));
        r.figures().forEach((which, f) -> System.out.printf("%s %s: %s%n", name(), which, f));
        return 0;
    }
}
