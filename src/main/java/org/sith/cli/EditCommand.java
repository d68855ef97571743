package org.sith.cli;

import static org.sith.cli.OptionSpec.flag;
import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.EditJob;

final class EditCommand implements Command {
    @Override
    public String name() {
        return EditJob.NAME;
    }

    @Override
    public String summary() {
        return "Suppress or amplify singular vectors, by a table or a concept query: writes the edited checkpoint and edits/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "CLIP checkpoint to edit (.safetensors, either naming; written back in the same layout, names and dtypes)"),
                value("edits", "FILE", "CSV with a header layer,head,sv,alpha, or a Parquet table with those columns (α=0 suppresses, α>1 amplifies)"),
                value("query", "TEXT|FILE", "concept query: a text, or a file of texts one a line (instead of --edits)"),
                value("explanations", "DIR", "explanations/ of this checkpoint: needed by --query, recorded with --edits"),
                CommonOptions.CONCEPTS, CommonOptions.VOCAB,
                value("bpe", "FILE", "tokenizer for --query (default: found beside the checkpoint)"),
                value("threshold", "TAU", "--query: suppress (α=0) every vector whose relevance R ≥ τ"),
                flag("amplify", "--query: scale every explained vector by α = max(α_min, R + β) instead"),
                value("alpha-min", "X", "--amplify: smallest α", "0.8"),
                value("beta", "X", "--amplify: added to R", "0.3"),
                ImageOptions.HEADS, CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("checkpoint");
        if (o.has("edits") == o.has("query")) throw new org.sith.UserInputException("give either --edits (a table) or --query (concept texts)");
        o.required("out");
        if (o.has("threshold")) o.finiteDouble("threshold");
        o.finiteDouble("alpha-min");
        o.finiteDouble("beta");
        if (o.has("heads")) o.positiveInt("heads");
    }

    @Override
    public int run(Options o, SparkSession spark) {
        EditJob.Result r = EditJob.run(spark, new EditJob.Params(o.required("checkpoint"), o.get("edits"), o.get("explanations"),
                o.intOrNull("heads"), o.get("model-name"), o.required("out"), o.flag("overwrite"), o.get("query"), o.get("concepts"),
                o.get("vocab"), o.get("bpe"), o.has("threshold") ? o.finiteDouble("threshold") : null, o.flag("amplify"),
                o.finiteDouble("alpha-min"), o.finiteDouble("beta")));
        System.out.printf("%s: %d edits in %d blocks → %s%n", name(), r.edits(), r.blocks(), r.checkpoint());
        return 0;
    }
}
