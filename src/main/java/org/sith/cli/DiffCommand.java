package org.sith.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sith.analysis.HeadDiff;
import org.sith.analysis.MlpDiff;
import org.sith.heads.Component;
import org.sith.jobs.DiffJob;

final class DiffCommand implements Command<DiffJob.Config> {
    @Override
    public String name() {
        return DiffJob.NAME;
    }

    @Override
    public String summary() {
        return "Compare a fine-tuned checkpoint (or a LoRA adapter) with its base head by head (and, with --component mlp, block by block "
                + "for the MLP write matrices): writes diff_heads/ and diff_vectors/ (and diff_mlp/).";
    }

    static final Opt<String> BASE = Opt.text("base", "FILE", "base CLIP checkpoint (.safetensors, either naming)");
    static final Opt<String> FINETUNED = Opt.text("finetuned", "FILE", "fine-tuned checkpoint of the same architecture (either naming)");
    static final Opt<List<Component>> COMPONENT = Opt.of("component", "vo|mlp|all",
            "what is compared: the heads' VO maps (vo: diff_heads/, diff_vectors/), the blocks' MLP write matrices (mlp: diff_mlp/), "
                    + "or both (vo,mlp or all)", List.of(Component.VO), DiffCommand::components);
    static final Opt<String> ADAPTER = Opt.text("adapter", "DIR|FILE",
            "PEFT LoRA adapter of --base instead: a folder with adapter_model.safetensors and adapter_config.json, or that file");

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(BASE, FINETUNED, ADAPTER, COMPONENT));
        l.addAll(CommonOptions.heads());
        l.addAll(List.of(CommonOptions.CONCEPTS, CommonOptions.VOCAB, CommonOptions.IMAGE_MEAN));
        l.addAll(CommonOptions.coding());
        l.addAll(List.of(CommonOptions.OUT, CommonOptions.OVERWRITE));
        return l;
    }

    @Override
    public DiffJob.Config config(Options o) {
        return new DiffJob.Config(o.required(BASE), o.get(FINETUNED), o.get(ADAPTER), CommonOptions.optionalConcepts(o), o.get(CommonOptions.IMAGE_MEAN),
                CommonOptions.heads(o), CommonOptions.coding(o), CommonOptions.output(o, false), o.get(COMPONENT));
    }

    /** vo, mlp, all (= vo,mlp) or a comma list of them. */
    static List<Component> components(String s) {
        List<String> parts = new ArrayList<>();
        for (String part : s.split(",", -1)) parts.add(part.trim().equalsIgnoreCase("all") ? "vo,mlp" : part);
        List<Component> l = Component.parseList(String.join(",", parts));
        if (l.contains(Component.QK)) throw new org.sith.UserInputException("'" + s + "': qk circuits are not compared (vo, mlp or all)");
        return l;
    }

    @Override
    public void preflight(DiffJob.Config c, Configuration hadoop) {
        DiffJob.preflight(c, hadoop);
    }

    @Override
    public int run(DiffJob.Config c, SparkSession spark) {
        System.out.println(summary(DiffJob.run(spark, c)));
        return 0;
    }

    static String summary(DiffJob.Result r) {
        StringBuilder b = new StringBuilder();
        if (!r.mlp().isEmpty()) {
            b.append(String.format(Locale.ROOT, "diff: %d MLP blocks compared → %s/diff_mlp%n", r.mlp().size(), r.out()));
            b.append("MLP block   rel_change  in_basis (rank)  diagonal  mean cos  min cos (neuron)  neurons changed\n");
            for (MlpDiff m : r.mlp()) {
                b.append(String.format(Locale.ROOT, "  layer %3d  %10.4f  %8.4f (%4d)  %8.4f  %8.4f  %7.4f (%6d)  %d of %d%n", m.layer(), m.relChange(),
                        m.inBasis(), m.basisRank(), m.diagonal(), m.meanCos(), m.minCos(), m.minCosNeuron(), m.changed(), m.neurons()));
            }
            if (r.adapter() != null) b.append(String.format(Locale.ROOT, "adapter: %d MLP output target(s) merged into the MLP write matrices%n",
                    r.adapter().mlpOutTargets()));
            if (r.heads() == 0) return b.toString().stripTrailing();
        }
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
