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
import org.sith.jobs.DecomposeJob;

final class DecomposeCommand implements Command<DecomposeJob.Config> {
    @Override
    public String name() {
        return DecomposeJob.NAME;
    }

    @Override
    public String summary() {
        return "Explain every attention head's singular vectors as a few concepts: writes explanations/ and singular_vectors/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CHECKPOINT));
        l.addAll(CommonOptions.heads());
        l.addAll(List.of(CONCEPTS, VOCAB, IMAGE_MEAN));
        l.addAll(CommonOptions.coding());
        l.addAll(List.of(MODEL_NAME, OUT, OVERWRITE, RESUME));
        return l;
    }

    @Override
    public DecomposeJob.Config config(Options o) {
        return new DecomposeJob.Config(o.required(CHECKPOINT), CommonOptions.concepts(o), o.get(IMAGE_MEAN), CommonOptions.heads(o),
                CommonOptions.coding(o), o.get(MODEL_NAME), CommonOptions.output(o, true));
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
        System.out.printf("decompose: %d heads (%d computed), %d vectors explained → %s%n", r.heads(), r.computedHeads(), r.vectors(), r.out());
        return 0;
    }
}
