package org.sith.cli;

import static org.sith.cli.CommonOptions.BATCH_ROWS;
import static org.sith.cli.CommonOptions.CHECKPOINT;
import static org.sith.cli.CommonOptions.CONCEPTS;
import static org.sith.cli.CommonOptions.IMAGE_MEAN;
import static org.sith.cli.CommonOptions.MODEL_NAME;
import static org.sith.cli.CommonOptions.OUT;
import static org.sith.cli.CommonOptions.OVERWRITE;
import static org.sith.cli.CommonOptions.SCORING;
import static org.sith.cli.CommonOptions.VOCAB;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.coding.Method;
import org.sith.jobs.SweepJob;

final class SweepCommand implements Command<SweepJob.Config> {
    static final Opt<List<Method>> METHODS = Opt.of("methods", "LIST", "sparse coders to compare, a comma list of comp, nnomp, omp, mp, topk",
            SweepJob.DEFAULT_METHODS, s -> list(s, Method::parse));
    static final Opt<List<Integer>> KS = Opt.of("ks", "LIST", "concepts per explanation, a comma list of K ≥ 1", SweepJob.DEFAULT_KS,
            s -> list(s, Opt::positive));
    static final Opt<List<Double>> LAMBDAS = Opt.of("lambdas", "LIST", "COMP's coherence weights λ ≥ 0, a comma list (comp only: the other coders have none, written as λ 0)",
            SweepJob.DEFAULT_LAMBDAS, s -> list(s, Opt::nonNegativeNumber));

    /** A comma list of items, each parsed by {@code item}; an empty item is refused. */
    static <T> List<T> list(String s, Function<String, T> item) {
        if (s.isBlank()) throw new UserInputException("is empty");
        List<T> out = new ArrayList<>();
        for (String part : s.split(",", -1)) {
            if (part.isBlank()) throw new UserInputException("'" + s + "' has an empty item (give a comma list such as 1,2,3)");
            out.add(item.apply(part.trim()));
        }
        return out;
    }

    @Override
    public String name() {
        return SweepJob.NAME;
    }

    @Override
    public String summary() {
        return "The fidelity/coherence trade-off (the paper's Figure 3): the selected heads coded with every --methods × --ks (× --lambdas); "
                + "writes sweep/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> l = new ArrayList<>(List.of(CHECKPOINT));
        l.addAll(CommonOptions.heads());
        l.addAll(List.of(DecomposeCommand.TOWER, DecomposeCommand.COMPONENT, CONCEPTS, VOCAB, IMAGE_MEAN, DecomposeCommand.CENTER));
        l.addAll(List.of(METHODS, KS, LAMBDAS, BATCH_ROWS, SCORING));
        l.addAll(JudgeOptions.all());
        l.addAll(List.of(MODEL_NAME, OUT, OVERWRITE));
        return l;
    }

    @Override
    public SweepJob.Config config(Options o) {
        SweepJob.Grid grid = new SweepJob.Grid(o.get(METHODS), o.get(KS), o.get(LAMBDAS));
        if (o.has(LAMBDAS) && !grid.methods().contains(Method.COMP)) {
            throw new UserInputException("--lambdas applies to comp only, which --methods " + grid.methodLabels().stream().collect(Collectors.joining(",")) + " does not include");
        }
        org.sith.judge.JudgeClient.Settings judge = JudgeOptions.settings(o, "");
        return new SweepJob.Config(o.required(CHECKPOINT), CommonOptions.concepts(o), o.get(IMAGE_MEAN), CommonOptions.heads(o), grid,
                o.get(BATCH_ROWS), o.get(SCORING), o.get(MODEL_NAME), CommonOptions.output(o, false), o.get(DecomposeCommand.TOWER),
                o.get(DecomposeCommand.COMPONENT), o.get(DecomposeCommand.CENTER), judge);
    }

    @Override
    public void preflight(SweepJob.Config c, Configuration hadoop) {
        SweepJob.preflight(c, hadoop);
    }

    @Override
    public int run(SweepJob.Config c, SparkSession spark) {
        SweepJob.Result r = SweepJob.run(spark, c);
        System.out.printf("sweep: %d configurations × %d vectors (%d %s, bases computed once) → %s%n", r.configurations(), r.vectors(), r.units(),
                r.units() == 1 ? "unit" : "units", r.out());
        return 0;
    }
}
