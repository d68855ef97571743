package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.jobs.EmbedConceptsJob;
import org.sith.model.Activation;

final class EmbedConceptsCommand implements Command {
    @Override
    public String name() {
        return EmbedConceptsJob.NAME;
    }

    @Override
    public String summary() {
        return "Embed a vocabulary (one concept a line) with the checkpoint's own tokenizer and text tower: writes concepts/.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("checkpoint", "FILE", "CLIP checkpoint with a text tower (.safetensors, OpenCLIP/OpenAI or Hugging Face naming)"),
                value("vocab", "FILE", "concepts, one a line (UTF-8); blank lines and duplicates are reported and skipped"),
                value("bpe", "FILE", "tokenizer: bpe_simple_vocab_16e6.txt.gz, vocab.json, merges.txt or tokenizer.json "
                        + "(default: found beside the checkpoint)"),
                value("text-heads", "N", "text attention heads (default: config.json / open_clip_config.json beside the checkpoint, else width/64)"),
                value("activation", "quick_gelu|gelu", "text MLP activation (default: from the config; OpenAI weights use quick_gelu)"),
                value("concepts-per-task", "N", "concepts per Spark task (fixes the output bytes whatever the cluster)", "2048"),
                value("batch-tokens", "N", "token rows per product inside a task (≥ 512 keeps BLAS near its roofline)", "512"),
                CommonOptions.OUT,
                CommonOptions.OVERWRITE);
    }

    @Override
    public void validate(Options o) {
        o.required("checkpoint");
        o.required("vocab");
        o.required("out");
        if (o.has("text-heads")) o.positiveInt("text-heads");
        if (o.has("activation")) Activation.parse(o.get("activation"));
        o.positiveInt("concepts-per-task");
        o.positiveInt("batch-tokens");
    }

    @Override
    public int run(Options o, SparkSession spark) {
        EmbedConceptsJob.Result r = EmbedConceptsJob.run(spark, new EmbedConceptsJob.Params(o.required("checkpoint"),
                o.required("vocab"), o.get("bpe"), o.intOrNull("text-heads"), o.get("activation"), o.required("out"),
                o.flag("overwrite"), o.positiveInt("concepts-per-task"), o.positiveInt("batch-tokens")));
        System.out.printf("%s: %d concepts embedded (%d lines) → %s/concepts%n", name(), r.embedded(), r.lines(), r.out());
        return 0;
    }
}
