package org.sith.cli;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.heads.Component;
import org.sith.jobs.ExplainImagesJob;

final class ExplainImagesCommand implements Command<ExplainImagesJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "PATH", "the CLIP checkpoint whose vision tower sees the images");
    static final Opt<String> EXPLANATIONS = Opt.text("explanations", "DIR",
            "an explanations/ folder of this checkpoint (decompose): each ranked vector gets its concepts (vision vo rows; mlp write-side rows with --contributions vo,mlp)");
    static final Opt<Integer> TOP = Opt.of("top", "N", "vectors ranked per image by their share of its embedding; the rest is summed by kind",
            ExplainImagesJob.DEFAULT_TOP, Opt::positive);
    static final Opt<List<Component>> CONTRIBUTIONS = Opt.of("contributions", "vo|vo,mlp",
            "what is ranked: every head's singular vectors (vo), or those and every MLP neuron (vo,mlp; the MLP rest then splits into mlp_rest and mlp_bias)",
            List.of(Component.VO), ExplainImagesCommand::contributions);

    /** vo, or vo and mlp (all means both): the head vectors are always ranked, qk circuits write nothing. */
    static List<Component> contributions(String s) {
        List<String> parts = new ArrayList<>();
        for (String part : s.split(",", -1)) parts.add(part.trim().equalsIgnoreCase("all") ? "vo,mlp" : part);
        List<Component> l = Component.parseList(String.join(",", parts));
        if (l.contains(Component.QK)) throw new UserInputException("'" + s + "': qk circuits write nothing into the residual stream (vo or vo,mlp)");
        if (!l.contains(Component.VO)) throw new UserInputException("'" + s + "': the head vectors are always ranked (vo or vo,mlp)");
        return l;
    }

    @Override
    public String name() {
        return ExplainImagesJob.NAME;
    }

    @Override
    public String summary() {
        return "Why the model sees each image so: every head vector's (and MLP neuron's) share of its embedding, and the embedding explained: "
                + "writes image_embeddings/, image_contributions/, image_explanations/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CHECKPOINT, CommonOptions.IMAGES, CommonOptions.CONCEPTS, CommonOptions.VOCAB, EXPLANATIONS,
                CommonOptions.IMAGE_MEAN, TOP, CONTRIBUTIONS));
        l.addAll(CommonOptions.coding());
        l.addAll(CommonOptions.images());
        l.addAll(List.of(CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE));
        return l;
    }

    @Override
    public ExplainImagesJob.Config config(Options o) {
        return new ExplainImagesJob.Config(o.required(CHECKPOINT), o.required(CommonOptions.IMAGES), CommonOptions.concepts(o), o.get(EXPLANATIONS),
                o.get(CommonOptions.IMAGE_MEAN), o.get(TOP), o.get(CONTRIBUTIONS), CommonOptions.coding(o), CommonOptions.imageSettings(o),
                o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(ExplainImagesJob.Config c, SparkSession spark) {
        ExplainImagesJob.Result r = ExplainImagesJob.run(spark, c);
        System.out.printf("%s: %d images explained, %d skipped → %s/image_contributions (largest relative gap between the rebuilt and the tower's embedding %.2e)%n",
                name(), r.images(), r.skipped().size(), r.out(), r.maxReconstructionError());
        return 0;
    }
}
