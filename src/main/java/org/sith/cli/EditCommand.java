package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.jobs.EditJob;

final class EditCommand implements Command<EditJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE",
            "CLIP checkpoint to edit (.safetensors, either naming; written back in the same layout, names and dtypes)");
    static final Opt<String> EDITS = Opt.text("edits", "FILE",
            "CSV with a header layer,head,sv,alpha, or a Parquet table with those columns (α=0 suppresses, α>1 amplifies); an optional "
                    + "component column (vo, the default, or mlp: head empty, sv = neuron, W_proj[:, sv] scaled by α)");
    static final Opt<String> QUERY = Opt.text("query", "TEXT|FILE", "concept query: a text, or a file of texts one a line (instead of --edits)");
    static final Opt<String> EXPLANATIONS = Opt.text("explanations", "DIR", "explanations/ of this checkpoint: needed by --query, recorded with --edits");
    static final Opt<Double> THRESHOLD = Opt.of("threshold", "TAU", "--query: suppress (α=0) every vector whose relevance R ≥ τ", Opt::finite);
    static final Opt<Boolean> JUDGE = Opt.flag("judge", "select by a judge model instead: suppress (α=0) every explained vector whose concepts it rates "
            + "--judge-threshold or more (1-5) for relevance to --judge-category (needs --explanations, --judge-url, --judge-model)");
    static final Opt<String> JUDGE_CATEGORY = Opt.text("judge-category", "TEXT", "--judge: what to remove, described (e.g. \"water and beach backgrounds\")");
    static final Opt<Integer> JUDGE_THRESHOLD = Opt.of("judge-threshold", "S", "--judge: suppress vectors rated S or more", EditJob.JudgeSelection.DEFAULT_THRESHOLD,
            Opt::positive);
    static final Opt<Boolean> AMPLIFY = Opt.flag("amplify", "--query: scale every explained vector by α = max(α_min, R + β) instead");
    static final Opt<Double> ALPHA_MIN = Opt.of("alpha-min", "X", "--amplify: smallest α", EditJob.Query.DEFAULT_ALPHA_MIN, Opt::finite);
    static final Opt<Double> BETA = Opt.of("beta", "X", "--amplify: added to R", EditJob.Query.DEFAULT_BETA, Opt::finite);

    @Override
    public String name() {
        return EditJob.NAME;
    }

    @Override
    public String summary() {
        return "Suppress or amplify singular vectors (or, by a table, MLP neurons), by a table, a concept query or a judge model's selection: writes the edited checkpoint and edits/.";
    }

    @Override
    public List<Opt<?>> options() {
        List<Opt<?>> o = new java.util.ArrayList<>(List.of(CHECKPOINT, EDITS, QUERY, EXPLANATIONS, CommonOptions.CONCEPTS, CommonOptions.VOCAB,
                CommonOptions.BPE, THRESHOLD, AMPLIFY, ALPHA_MIN, BETA, JUDGE, JUDGE_CATEGORY, JUDGE_THRESHOLD));
        o.addAll(JudgeOptions.all());
        o.addAll(List.of(CommonOptions.HEADS, CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE));
        return o;
    }

    @Override
    public EditJob.Config config(Options o) {
        EditJob.Query query = null;
        if (o.has(QUERY)) {
            if (!o.has(CommonOptions.CONCEPTS)) throw new UserInputException("--query needs --concepts (the embeddings of the explanations' concepts)");
            query = new EditJob.Query(o.get(QUERY), CommonOptions.concepts(o), o.get(CommonOptions.BPE), o.get(THRESHOLD), o.flag(AMPLIFY),
                    o.get(ALPHA_MIN), o.get(BETA));
        } else {
            for (Opt<?> q : List.of(THRESHOLD, AMPLIFY, ALPHA_MIN, BETA, CommonOptions.CONCEPTS, CommonOptions.VOCAB, CommonOptions.BPE)) {
                if (o.has(q)) throw new UserInputException("--" + q.name() + " is only used with --query");
            }
        }
        EditJob.JudgeSelection judge = null;
        if (o.flag(JUDGE)) {
            if (!o.has(JudgeOptions.URL)) throw new UserInputException("--judge needs --judge-url (an OpenAI-compatible endpoint) and --judge-model");
            judge = new EditJob.JudgeSelection(o.get(JUDGE_CATEGORY), o.get(JUDGE_THRESHOLD), JudgeOptions.settings(o, ""));
        } else {
            if (o.has(JUDGE_CATEGORY) || o.has(JUDGE_THRESHOLD)) throw new UserInputException("--judge-category and --judge-threshold are only used with --judge");
            for (Opt<?> x : JudgeOptions.all()) if (o.has(x)) throw new UserInputException("--" + x.name() + " is only used with --judge");
        }
        return new EditJob.Config(o.required(CHECKPOINT), o.get(EDITS), query, judge, o.get(EXPLANATIONS), o.get(CommonOptions.HEADS),
                o.get(CommonOptions.MODEL_NAME), CommonOptions.output(o, false));
    }

    @Override
    public int run(EditJob.Config c, SparkSession spark) {
        EditJob.Result r = EditJob.run(spark, c);
        System.out.printf("%s: %d edits in %d blocks → %s%n", name(), r.edits(), r.blocks(), r.checkpoint());
        return 0;
    }
}
