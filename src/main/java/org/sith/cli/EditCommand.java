package org.sith.cli;

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
        return "Suppress or amplify singular vectors (a table of layer,head,sv,alpha): writes the edited checkpoint and edits/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "CLIP checkpoint to edit (.safetensors, either naming; written back in the same layout, names and dtypes)"),
                value("edits", "FILE", "CSV with a header layer,head,sv,alpha, or a Parquet table with those columns (α=0 suppresses, α>1 amplifies)"),
                value("explanations", "DIR", "optional: an explanations/ folder, to record the concepts behind each edit"),
                ImageOptions.HEADS, CommonOptions.MODEL_NAME, CommonOptions.OUT, CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("checkpoint");
        o.required("edits");
        o.required("out");
        if (o.has("heads")) o.positiveInt("heads");
    }

    @Override
    public int run(Options o, SparkSession spark) {
        EditJob.Result r = EditJob.run(spark, new EditJob.Params(o.required("checkpoint"), o.required("edits"), o.get("explanations"),
                o.intOrNull("heads"), o.get("model-name"), o.required("out"), o.flag("overwrite")));
        System.out.printf("%s: %d edits in %d blocks → %s%n", name(), r.edits(), r.blocks(), r.checkpoint());
        return 0;
    }
}
