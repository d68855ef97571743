package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.RetrievalJob;

final class RetrievalCommand implements Command<RetrievalJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE", "CLIP checkpoint with both towers");
    static final Opt<String> EDITED = Opt.text("edited", "FILE", "optional: an edited checkpoint, evaluated the same way (before/after)");
    static final Opt<String> IMAGES = Opt.text("images", "CSV", "pairs with a header image,unsafe,text (text last; unsafe 1/0); image paths relative to the CSV");

    @Override
    public String name() {
        return RetrievalJob.NAME;
    }

    @Override
    public String summary() {
        return "Text↔image recall@1/5/10 on safe pairs and the unsafe-retrieval rate, for a checkpoint and optionally an edited one: writes retrieval/.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(CHECKPOINT, EDITED, IMAGES, CommonOptions.BPE, CommonOptions.HEADS, CommonOptions.ACTIVATION, CommonOptions.PREPROCESS,
                CommonOptions.TOWER_PRECISION, CommonOptions.MODEL_NAME,
                CommonOptions.IMAGES_PER_TASK, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public RetrievalJob.Config config(Options o) {
        return new RetrievalJob.Config(o.required(CHECKPOINT), o.get(EDITED), o.required(IMAGES), o.get(CommonOptions.BPE),
                CommonOptions.imageSettingsWithoutSize(o),
                o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(RetrievalJob.Config c, SparkSession spark) {
        RetrievalJob.Result r = RetrievalJob.run(spark, c);
        r.figures().forEach((which, f) -> System.out.printf("%s %s: %s%n", name(), which, f));
        return 0;
    }
}
