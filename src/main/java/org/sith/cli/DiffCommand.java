package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;
import java.util.Locale;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.analysis.HeadDiff;
import org.sith.heads.Side;
import org.sith.jobs.DiffJob;

final class DiffCommand implements Command {
    @Override
    public String name() {
        return DiffJob.NAME;
    }

    @Override
    public String summary() {
        return "Compare a fine-tuned checkpoint (or a LoRA adapter) with its base head by head: writes diff_heads/ and diff_vectors/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("base", "FILE", "base CLIP checkpoint (.safetensors, either naming)"),
                value("finetuned", "FILE", "fine-tuned checkpoint of the same architecture (either naming)"),
                value("adapter", "DIR|FILE", "PEFT LoRA adapter of --base instead: a folder with adapter_model.safetensors and adapter_config.json, or that file"),
                value("layers", "SPEC", "all, last:N, or a list such as 20,21,22,23 or 20-23", "all"),
                value("heads", "N", "attention heads per layer (default: config.json / open_clip_config.json beside --base, else width/64)"),
                value("side", "right|left", "vectors matched and explained: write (right) or read (left) directions", "right"),
                value("rank", "R", "singular vectors compared per head (default: the head width)"),
                CommonOptions.CONCEPTS, CommonOptions.VOCAB, CommonOptions.IMAGE_MEAN, CommonOptions.METHOD, CommonOptions.LAMBDA,
                CommonOptions.K, CommonOptions.BATCH_ROWS, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("base");
        if (o.has("finetuned") == o.has("adapter")) {
            throw new UserInputException("give either --finetuned (a checkpoint) or --adapter (a PEFT LoRA adapter of --base)");
        }
        o.required("out");
        Side.parse(o.get("side"));
        if (o.has("heads")) o.positiveInt("heads");
        if (o.has("rank")) o.positiveInt("rank");
        CommonOptions.method(o);
        CommonOptions.lambda(o);
        o.positiveInt("k");
        o.positiveInt("batch-rows");
    }

    @Override
    public int run(Options o, SparkSession spark) {
        DiffJob.Result r = DiffJob.run(spark, new DiffJob.Params(o.required("base"), o.get("finetuned"), o.get("adapter"), o.get("concepts"),
                o.get("vocab"), o.get("image-mean"), o.get("layers"), o.intOrNull("heads"), Side.parse(o.get("side")), o.intOrNull("rank"),
                CommonOptions.method(o), CommonOptions.lambda(o), o.positiveInt("k"), o.required("out"), o.flag("overwrite"),
                o.positiveInt("batch-rows")));
        System.out.println(summary(r));
        return 0;
    }

    static String summary(DiffJob.Result r) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "diff: %d heads, %d vectors compared → %s%n", r.heads(), r.vectors(), r.out()));
        if (r.mostChanged().isEmpty()) {
            b.append("no head changed\n");
        } else {
            b.append("heads most changed    rel_change  in_basis  diagonal  largest angle (rad)\n");
            for (HeadDiff h : r.mostChanged()) {
                double[] a = h.angles();
                b.append(String.format(Locale.ROOT, "  layer %3d head %3d  %10.4f  %8.4f  %8.4f  %8.4f%n", h.layer(), h.head(), h.relChange(),
                        h.inBasis(), h.diagonal(), a.length == 0 ? 0.0 : a[a.length - 1]));
            }
        }
        b.append(Double.isNaN(r.reweightingShare()) ? "share of change that is reweighting: n/a (no change)"
                : String.format(Locale.ROOT, "share of change that is reweighting: %.4f (Σ (C_jj − σ_b,j)² / Σ ‖M_ft − M_b‖², over all heads)",
                        r.reweightingShare()));
        if (r.adapter() != null) {
            b.append(String.format(Locale.ROOT, "%nadapter: %d target(s) merged into head maps", r.adapter().headTargets()));
            List<String> none = r.adapter().noEffect();
            if (!none.isEmpty()) {
                b.append(String.format(Locale.ROOT, "; %d target(s) left out, they do not change vision head maps (q/k, MLP, text tower, other): %s",
                        none.size(), String.join(", ", none.size() > 6 ? none.subList(0, 6) : none) + (none.size() > 6 ? ", ..." : "")));
            }
            for (String n : r.adapter().notes()) b.append("\nadapter: ").append(n);
        }
        return b.toString();
    }
}
