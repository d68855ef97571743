package org.sith.cli;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.EmbedImagesJob;

final class EmbedImagesCommand implements Command<EmbedImagesJob.Config> {
    @Override
    public String name() {
        return EmbedImagesJob.NAME;
    }

    @Override
    public String summary() {
        return "Each image's embedding e = LN_post(x_CLS)·P as e/‖e‖ and ‖e‖, one row per image: writes image_embeddings/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CommonOptions.CHECKPOINT, CommonOptions.IMAGES));
        l.addAll(CommonOptions.images());
        l.addAll(List.of(CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE));
        return l;
    }

    @Override
    public EmbedImagesJob.Config config(Options o) {
        return new EmbedImagesJob.Config(o.required(CommonOptions.CHECKPOINT), o.required(CommonOptions.IMAGES), CommonOptions.imageSettings(o),
                o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(EmbedImagesJob.Config c, SparkSession spark) {
        EmbedImagesJob.Result r = EmbedImagesJob.run(spark, c);
        System.out.printf("%s: %d images embedded (p = %d), %d skipped → %s/%s%n", name(), r.images(), r.dim(), r.skipped().size(), r.out(),
                EmbedImagesJob.FOLDER);
        return 0;
    }
}
