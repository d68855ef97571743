package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.heads.Side;
import org.sith.jobs.DecomposeJob;

final class DecomposeCommand implements Command {
    @Override
    public String name() {
        return "decompose";
    }

    @Override
    public String summary() {
        return "Explain every attention head's singular vectors as a few concepts: writes explanations/ and singular_vectors/.";
    }

    @Override
    public List<OptionSpec> options() {
        List<OptionSpec> l = new ArrayList<>();
        l.add(value("checkpoint", "FILE", "CLIP checkpoint (.safetensors, OpenCLIP/OpenAI or Hugging Face naming)"));
        l.add(value("layers", "SPEC", "all, last:N, or a list such as 20,21,22,23 or 20-23", "all"));
        l.add(value("heads", "N", "attention heads per layer (default: config.json / open_clip_config.json beside the checkpoint, else width/64)"));
        l.add(value("side", "right|left", "explain write (right) or read (left) directions", "right"));
        l.add(value("rank", "R", "singular vectors kept per head (default: the head width)"));
        l.addAll(CommonOptions.coding());
        l.add(CommonOptions.OUT);
        l.add(CommonOptions.OVERWRITE);
        l.add(CommonOptions.RESUME);
        return l;
    }

    @Override
    public void validate(Options o) {
        o.required("checkpoint");
        CommonOptions.validateCoding(o);
        Side.parse(o.get("side"));
        if (o.has("heads")) o.positiveInt("heads");
        if (o.has("rank")) o.positiveInt("rank");
    }

    static DecomposeJob.Params params(Options o) {
        return new DecomposeJob.Params(o.required("checkpoint"), o.required("concepts"), o.get("vocab"), o.get("image-mean"),
                o.get("layers"), o.intOrNull("heads"), Side.parse(o.get("side")), o.intOrNull("rank"), CommonOptions.method(o),
                CommonOptions.lambda(o), o.positiveInt("k"), o.get("model-name"), o.required("out"), o.flag("overwrite"),
                o.flag("resume"), o.positiveInt("batch-rows"));
    }

    @Override
    public int run(Options o, SparkSession spark) {
        DecomposeJob.Result r = DecomposeJob.run(spark, params(o));
        System.out.printf("decompose: %d heads (%d computed), %d vectors explained → %s%n", r.heads(), r.computedHeads(), r.vectors(), r.out());
        return 0;
    }
}
