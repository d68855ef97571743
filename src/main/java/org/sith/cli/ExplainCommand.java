package org.sith.cli;

import static org.sith.cli.CommonOptions.CONCEPTS;
import static org.sith.cli.CommonOptions.IMAGE_MEAN;
import static org.sith.cli.CommonOptions.MODEL_NAME;
import static org.sith.cli.CommonOptions.OUT;
import static org.sith.cli.CommonOptions.OVERWRITE;
import static org.sith.cli.CommonOptions.VOCAB;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.jobs.ExplainJob;

final class ExplainCommand implements Command<ExplainJob.Config> {
    static final Opt<String> VECTORS = Opt.text("vectors", "PATH", "vectors in the joint space: .npy (N×p) or a Parquet folder with an array column");
    static final Opt<ExplainJob.Center> CENTER = Opt.of("center", "concepts|none",
            "mean subtracted after normalizing (default: concepts; none with --image-mean)", ExplainCommand::center);

    @Override
    public String name() {
        return ExplainJob.NAME;
    }

    @Override
    public String summary() {
        return "Explain arbitrary joint-space vectors (.npy rows or a Parquet array column) as a few concepts: writes explanations/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(VECTORS, CENTER, CONCEPTS, VOCAB, IMAGE_MEAN));
        l.addAll(CommonOptions.coding());
        l.addAll(List.of(MODEL_NAME, OUT, OVERWRITE));
        return l;
    }

    static ExplainJob.Center center(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "concepts" -> ExplainJob.Center.CONCEPTS;
            case "none" -> ExplainJob.Center.NONE;
            default -> throw new UserInputException("unknown value '" + s + "' (concepts or none)");
        };
    }

    @Override
    public ExplainJob.Config config(Options o) {
        return new ExplainJob.Config(o.required(VECTORS), CommonOptions.concepts(o), o.get(IMAGE_MEAN), o.get(CENTER), CommonOptions.coding(o),
                o.get(MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(ExplainJob.Config c, SparkSession spark) {
        long n = ExplainJob.run(spark, c);
        System.out.printf("explain: %d vectors explained → %s%n", n, c.out().folder());
        return 0;
    }
}
