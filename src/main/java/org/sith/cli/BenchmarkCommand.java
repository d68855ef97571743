package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import java.nio.file.Files;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.sith.bench.Benchmark;

final class BenchmarkCommand implements Command {
    @Override
    public String name() {
        return "benchmark";
    }

    @Override
    public String summary() {
        return "Print measured figures: sgemm roofline, COMP throughput, head SVD time, text-tower throughput, a full ViT-L/14-shaped decompose.";
    }

    @Override
    public List<OptionSpec> options() {
        return List.of(value("concepts-n", "N", "dictionary size", "50000"),
                value("p", "P", "joint-space width", "768"),
                value("batch-rows", "N", "rows per product", "512"),
                value("work", "DIR", "scratch folder for the random model and outputs (default: a temporary folder)"),
                value("suite", "LIST", "comma list of coding, text, vision, decompose, embed, match (embed needs --vocab and --bpe)", "coding,text,vision,decompose"),
                value("match-images", "N", "images for the match suite", "10000"),
                value("vocab", "FILE", "a real vocabulary for the embed suite (e.g. 50k concepts)"),
                value("bpe", "FILE", "the tokenizer for the embed suite (bpe_simple_vocab_16e6.txt.gz, vocab.json, ...)"));
    }

    @Override
    public void validate(Options o) {
        o.positiveInt("concepts-n");
        o.positiveInt("p");
        o.positiveInt("batch-rows");
        o.positiveInt("match-images");
        for (String s : suites(o)) {
            if (!List.of("coding", "text", "vision", "decompose", "embed", "match").contains(s)) {
                throw new org.sith.UserInputException("--suite: unknown part '" + s + "' (coding, text, vision, decompose, embed, match)");
            }
        }
        if (suites(o).contains("embed")) {
            o.required("vocab");
            o.required("bpe");
        }
    }

    private static java.util.Set<String> suites(Options o) {
        java.util.Set<String> s = new java.util.LinkedHashSet<>();
        for (String part : o.get("suite").split(",")) if (!part.isBlank()) s.add(part.trim());
        return s;
    }

    @Override
    public int run(Options o, SparkSession spark) throws Exception {
        String work = o.get("work") != null ? o.get("work") : Files.createTempDirectory("sith-bench-").toString();
        Files.createDirectories(java.nio.file.Path.of(work));
        Benchmark.run(spark, o.positiveInt("concepts-n"), o.positiveInt("p"), o.positiveInt("batch-rows"), suites(o), work,
                o.get("vocab"), o.get("bpe"), o.positiveInt("match-images"));
        return 0;
    }
}
