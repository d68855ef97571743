package org.sith.cli;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.MatchImagesJob;

final class MatchImagesCommand implements Command<MatchImagesJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE", "the CLIP checkpoint the explanations were made from");
    static final Opt<String> EXPLANATIONS = Opt.text("explanations", "DIR", "an explanations/ folder written by decompose (every vector in it is matched)");
    static final Opt<Integer> TOP = Opt.of("top", "N", "images kept per vector", MatchImagesJob.DEFAULT_TOP, Opt::positive);

    @Override
    public String name() {
        return MatchImagesJob.NAME;
    }

    @Override
    public String summary() {
        return "The images that most activate each explained vector (per-head score σ_j·⟨z_h, u_j⟩): writes matches/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CHECKPOINT, CommonOptions.IMAGES, EXPLANATIONS, TOP));
        l.addAll(CommonOptions.images());
        l.addAll(List.of(CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE));
        return l;
    }

    @Override
    public MatchImagesJob.Config config(Options o) {
        return new MatchImagesJob.Config(o.required(CHECKPOINT), o.required(CommonOptions.IMAGES), o.required(EXPLANATIONS), o.get(TOP),
                CommonOptions.imageSettings(o), o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(MatchImagesJob.Config c, SparkSession spark) {
        MatchImagesJob.Result r = MatchImagesJob.run(spark, c);
        System.out.printf("%s: %d images scored for %d vectors, %d skipped → %s/matches%n", name(), r.images(), r.vectors(),
                r.skipped().size(), r.out());
        return 0;
    }
}
