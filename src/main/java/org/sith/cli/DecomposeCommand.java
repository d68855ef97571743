package org.sith.cli;

import static org.sith.cli.CommonOptions.CHECKPOINT;
import static org.sith.cli.CommonOptions.CONCEPTS;
import static org.sith.cli.CommonOptions.IMAGE_MEAN;
import static org.sith.cli.CommonOptions.MODEL_NAME;
import static org.sith.cli.CommonOptions.OUT;
import static org.sith.cli.CommonOptions.OVERWRITE;
import static org.sith.cli.CommonOptions.RESUME;
import static org.sith.cli.CommonOptions.VOCAB;

import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sith.heads.Component;
import org.sith.heads.TowerKind;
import org.sith.jobs.DecomposeJob;
import org.sith.jobs.ExplainJob;

final class DecomposeCommand implements Command<DecomposeJob.Config> {
    static final Opt<TowerKind> TOWER = Opt.of("tower", "vision|text", "which transformer's weights are explained", TowerKind.VISION, TowerKind::parse);
    static final Opt<List<Component>> COMPONENT = Opt.of("component", "vo|mlp|qk|all",
            "what is explained: heads' value-output maps (vo), MLP neurons (mlp), heads' query-key circuits (qk), a comma list, or all",
            List.of(Component.VO), Component::parseList);
    static final Opt<ExplainJob.Center> CENTER = Opt.of("center", "concepts|none",
            "with --tower text: mean subtracted from the targets (default: concepts, the dictionary's mean)", ExplainCommand::center);

    @Override
    public String name() {
        return DecomposeJob.NAME;
    }

    @Override
    public String summary() {
        return "Explain every attention head's singular vectors (or MLP neurons, QK circuits; either tower) as a few concepts: "
                + "writes explanations/ and singular_vectors/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CHECKPOINT));
        l.addAll(CommonOptions.heads());
        l.addAll(List.of(TOWER, COMPONENT, CONCEPTS, VOCAB, IMAGE_MEAN, CENTER));
        l.addAll(CommonOptions.coding());
        l.addAll(List.of(MODEL_NAME, OUT, OVERWRITE, RESUME));
        return l;
    }

    @Override
    public DecomposeJob.Config config(Options o) {
        return new DecomposeJob.Config(o.required(CHECKPOINT), CommonOptions.concepts(o), o.get(IMAGE_MEAN), CommonOptions.heads(o),
                CommonOptions.coding(o), o.get(MODEL_NAME), CommonOptions.output(o, true), o.get(TOWER), o.get(COMPONENT), o.get(CENTER));
    }

    /** Started by the preflight once its checks pass, taken by run (a command object serves one execution). */
    private DecomposeJob.HeadStart headStart;

    @Override
    public void preflight(DecomposeJob.Config c, Configuration hadoop) {
        headStart = DecomposeJob.preflight(c, hadoop);
    }

    @Override
    public int run(DecomposeJob.Config c, SparkSession spark) {
        DecomposeJob.HeadStart h = headStart;
        headStart = null;
        DecomposeJob.Result r = DecomposeJob.run(spark, c, h);
        System.out.printf("decompose: %d %s (%d computed), %d vectors explained → %s%n", r.heads(), r.unitName(), r.computedHeads(), r.vectors(), r.out());
        return 0;
    }
}
