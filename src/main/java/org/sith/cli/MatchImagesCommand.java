package org.sith.cli;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.heads.Component;
import org.sith.jobs.MatchImagesJob;

final class MatchImagesCommand implements Command<MatchImagesJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE", "the CLIP checkpoint the explanations were made from");
    static final Opt<String> EXPLANATIONS = Opt.text("explanations", "DIR", "an explanations/ folder written by decompose (every vector in it is matched)");
    static final Opt<List<Component>> COMPONENT = Opt.of("component", "vo|mlp|all",
            "what is matched: the explained heads' singular vectors (vo), the explained vision MLP neurons (mlp, score act_i(CLS)·‖w_i‖), "
                    + "or both (all); anything but vo adds a component column to matches/", List.of(Component.VO), MatchImagesCommand::components);
    static final Opt<Integer> TOP = Opt.of("top", "N", "images kept per vector", MatchImagesJob.DEFAULT_TOP, Opt::positive);

    /** vo, mlp, all or a comma list of vo and mlp: qk circuits have no per-image score. */
    static List<Component> components(String s) {
        List<String> parts = new java.util.ArrayList<>();
        for (String part : s.split(",", -1)) parts.add(part.trim().equalsIgnoreCase("all") ? "vo,mlp" : part);
        List<Component> l = Component.parseList(String.join(",", parts));
        if (l.contains(Component.QK)) {
            throw new org.sith.UserInputException("'" + s + "': qk circuits have no per-image score (vo, mlp or all; all means vo and mlp here)");
        }
        return l;
    }

    @Override
    public String name() {
        return MatchImagesJob.NAME;
    }

    @Override
    public String summary() {
        return "The images that most activate each explained vector (per-head score σ_j·⟨z_h, u_j⟩, or an MLP neuron's act_i·‖w_i‖): "
                + "writes matches/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CHECKPOINT, CommonOptions.IMAGES, EXPLANATIONS, COMPONENT, TOP));
        l.addAll(CommonOptions.images());
        l.addAll(List.of(CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE));
        return l;
    }

    @Override
    public MatchImagesJob.Config config(Options o) {
        return new MatchImagesJob.Config(o.required(CHECKPOINT), o.required(CommonOptions.IMAGES), o.required(EXPLANATIONS), o.get(TOP),
                CommonOptions.imageSettings(o), o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false), o.get(COMPONENT));
    }

    @Override
    public int run(MatchImagesJob.Config c, SparkSession spark) {
        MatchImagesJob.Result r = MatchImagesJob.run(spark, c);
        System.out.printf("%s: %d images scored for %d vectors, %d skipped → %s/matches%n", name(), r.images(), r.vectors(),
                r.skipped().size(), r.out());
        return 0;
    }
}
