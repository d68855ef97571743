package org.sith.cli;

import java.nio.file.Files;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.bench.Benchmark;
import org.sith.run.Coding;

final class BenchmarkCommand implements Command<BenchmarkCommand.Config> {
    static final List<String> SUITES = List.of("coding", "text", "vision", "decompose", "decompose-paper", "mlp", "embed", "match");
    static final Opt<Integer> CONCEPTS_N = Opt.of("concepts-n", "N", "dictionary size", 50000, Opt::positive);
    static final Opt<Integer> P = Opt.of("p", "P", "joint-space width", 768, Opt::positive);
    static final Opt<Integer> BATCH_ROWS = Opt.of("batch-rows", "N", "rows per product", Coding.DEFAULT_BATCH_ROWS, Opt::positive);
    static final Opt<String> WORK = Opt.text("work", "DIR", "scratch folder for the random model and outputs (default: a temporary folder)");
    static final Opt<Set<String>> SUITE = Opt.of("suite", "LIST", "comma list of coding, text, vision, decompose, decompose-paper (layers 20-23 only), mlp (decompose --component mlp of all 98,304 neurons of a ViT-L/14, then its VO), embed, match (embed needs --vocab and --bpe)",
            new LinkedHashSet<>(List.of("coding", "text", "vision", "decompose")), BenchmarkCommand::suites);
    static final Opt<Integer> MATCH_IMAGES = Opt.of("match-images", "N", "images for the match suite", 10000, Opt::positive);
    static final Opt<String> VOCAB = Opt.text("vocab", "FILE", "a real vocabulary for the embed suite (e.g. 50k concepts)");
    static final Opt<String> BPE = Opt.text("bpe", "FILE", "the tokenizer for the embed suite (bpe_simple_vocab_16e6.txt.gz, vocab.json, ...)");

    record Config(int conceptsN, int p, int batchRows, Set<String> suites, String work, String vocab, String bpe, int matchImages) {
        Config {
            if (suites.contains("embed") && (vocab == null || bpe == null)) throw new UserInputException("--suite embed needs --vocab and --bpe");
        }
    }

    @Override
    public String name() {
        return "benchmark";
    }

    @Override
    public String summary() {
        return "Print measured figures: sgemm roofline, COMP throughput, head SVD time, text-tower throughput, a full ViT-L/14-shaped decompose.";
    }

    @Override
    public List<Opt<?>> options() {
        return List.of(CONCEPTS_N, P, BATCH_ROWS, WORK, SUITE, MATCH_IMAGES, VOCAB, BPE);
    }

    static Set<String> suites(String list) {
        Set<String> s = new LinkedHashSet<>();
        for (String part : list.split(",")) {
            if (part.isBlank()) continue;
            if (!SUITES.contains(part.trim())) throw new UserInputException("unknown part '" + part.trim() + "' (" + String.join(", ", SUITES) + ")");
            s.add(part.trim());
        }
        return s;
    }

    @Override
    public Config config(Options o) {
        return new Config(o.get(CONCEPTS_N), o.get(P), o.get(BATCH_ROWS), o.get(SUITE), o.get(WORK), o.get(VOCAB), o.get(BPE), o.get(MATCH_IMAGES));
    }

    @Override
    public int run(Config c, SparkSession spark) throws Exception {
        String work = c.work() != null ? c.work() : Files.createTempDirectory("sith-bench-").toString();
        Files.createDirectories(java.nio.file.Path.of(work));
        Benchmark.run(spark, c.conceptsN(), c.p(), c.batchRows(), c.suites(), work, c.vocab(), c.bpe(), c.matchImages());
        return 0;
    }
}
