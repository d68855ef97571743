package org.sith.cli;

import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.concepts.WordNetPool;
import org.sith.jobs.EmbedConceptsJob;
import org.sith.model.Activation;

final class EmbedConceptsCommand implements Command<EmbedConceptsJob.Config> {
    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "FILE", "CLIP checkpoint with a text tower (.safetensors, a shard index, a PyTorch .bin/.pt or a folder; OpenCLIP/OpenAI or Hugging Face naming)");
    static final Opt<String> VOCAB = Opt.text("vocab", "FILE", "concepts, one a line (UTF-8); blank lines and duplicates are reported and skipped");
    static final Opt<WordNetPool.Spec> POOL = Opt.of("pool", "wordnet[:noun,adj]",
            "instead of --vocab: WordNet 3.1's noun lemmas (:noun,adj adds adjectives), _ as space, case-insensitive duplicates dropped, "
                    + "nouns then adjectives in index-file order; the list is written as vocab.txt under --out with LICENSE-WordNet", WordNetPool.Spec::parse);
    static final Opt<Integer> POOL_LIMIT = Opt.of("pool-limit", "N", "--pool: embed only the pool's first N lemmas (a quick sample; the full noun pool is 117,953)",
            Opt::positive);
    static final Opt<String> BPE = Opt.text("bpe", "FILE", "tokenizer: bpe_simple_vocab_16e6.txt.gz, vocab.json, merges.txt or tokenizer.json "
            + "(default: found beside the checkpoint)");
    static final Opt<Integer> TEXT_HEADS = Opt.of("text-heads", "N",
            "text attention heads (default: config.json / open_clip_config.json beside the checkpoint, else width/64)", Opt::positive);
    static final Opt<String> ACTIVATION = Opt.of("activation", "quick_gelu|gelu", "text MLP activation (default: from the config; OpenAI weights use quick_gelu)",
            s -> Activation.parse(s).configName);
    static final Opt<Integer> CONCEPTS_PER_TASK = Opt.of("concepts-per-task", "N", "concepts per Spark task (fixes the output bytes whatever the cluster)",
            EmbedConceptsJob.DEFAULT_CONCEPTS_PER_TASK, Opt::positive);
    static final Opt<Integer> BATCH_TOKENS = Opt.of("batch-tokens", "N", "token rows per product inside a task (≥ 512 keeps BLAS near its roofline)",
            EmbedConceptsJob.DEFAULT_BATCH_TOKENS, Opt::positive);

    @Override
    public String name() {
        return EmbedConceptsJob.NAME;
    }

    @Override
    public String summary() {
        return "Embed a vocabulary (one concept a line, or --pool wordnet) with the checkpoint's own tokenizer and text tower: writes concepts/.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(CHECKPOINT, VOCAB, POOL, POOL_LIMIT, BPE, TEXT_HEADS, ACTIVATION, CONCEPTS_PER_TASK, BATCH_TOKENS, CommonOptions.TOWER_PRECISION, CommonOptions.OUT,
                CommonOptions.OVERWRITE);
    }

    @Override
    public EmbedConceptsJob.Config config(Options o) {
        if (!o.has(VOCAB) && !o.has(POOL)) throw new org.sith.UserInputException("embed-concepts needs --vocab FILE or --pool wordnet (see embed-concepts --help)");
        return new EmbedConceptsJob.Config(o.required(CHECKPOINT), o.get(VOCAB), o.get(POOL), o.get(POOL_LIMIT), o.get(BPE), o.get(TEXT_HEADS), o.get(ACTIVATION),
                o.get(CONCEPTS_PER_TASK), o.get(BATCH_TOKENS), o.get(CommonOptions.TOWER_PRECISION), CommonOptions.output(o, false));
    }

    @Override
    public int run(EmbedConceptsJob.Config c, SparkSession spark) {
        EmbedConceptsJob.Result r = EmbedConceptsJob.run(spark, c);
        System.out.printf("%s: %d concepts embedded (%d %s) → %s/concepts%n", name(), r.embedded(), r.lines(), c.pool() != null ? "pool lemmas" : "lines",
                r.out());
        return 0;
    }
}
