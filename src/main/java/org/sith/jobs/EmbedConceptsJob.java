package org.sith.jobs;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipText;
import org.sith.concepts.WordNetPool;
import org.sith.executor.SerializableConf;
import org.sith.executor.TowerCache;
import org.sith.inputs.Paths;
import org.sith.inputs.Tokenizers;
import org.sith.io.TextLines;
import org.sith.model.ClipTokenizer;
import org.sith.model.TextTower;
import org.sith.model.TowerPrecision;
import org.sith.model.Workspace;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.RunRecord;
import org.sith.run.Schemas;

/**
 * `embed-concepts`: a vocabulary (one concept a line) through the checkpoint's own tokenizer and
 * text tower into {@code concepts/} (id = 0-based line number, the line's text, raw embedding).
 * The driver tokenizes (cheap) so that blank lines and concepts with identical tokens are found
 * and reported before any work; executors embed fixed slices of concepts with the tower loaded
 * once per JVM. Slices and the batches inside them depend only on the vocabulary, and tasks use
 * one BLAS thread each, so the output bytes do not depend on the cluster's shape.
 */
public final class EmbedConceptsJob {
    public static final String NAME = "embed-concepts";
    private static final int LISTED = 5;

    public static final List<String> OUTPUTS = List.of("concepts");
    /** With --pool: the concepts/ folder, the list used (one lemma a line: id = line − 1) and WordNet's licence notice. */
    public static final List<String> POOL_OUTPUTS = List.of("concepts", "vocab.txt", "LICENSE-WordNet");
    public static final int DEFAULT_CONCEPTS_PER_TASK = 2048;
    public static final int DEFAULT_BATCH_TOKENS = 512;

    /**
     * The options of embed-concepts; {@code textHeads} and {@code activation} override the checkpoint's config;
     * {@code towerPrecision} bf16 runs the tower's block products through oneDNN (approximate). Exactly one of
     * {@code vocab} (a file) and {@code pool} (SPEC §13's WordNet pool) names the concepts; {@code poolLimit} keeps the
     * pool's first N lemmas (a sample to try a model on, and the tests').
     */
    public record Config(String checkpoint, String vocab, WordNetPool.Spec pool, Integer poolLimit, String bpe, Integer textHeads, String activation,
                         int conceptsPerTask, int batchTokens, TowerPrecision towerPrecision, OutputTarget out) implements Serializable {
        public Config {
            if (towerPrecision == null) towerPrecision = TowerPrecision.F32;
            if (checkpoint == null) throw new UserInputException("embed-concepts needs --checkpoint");
            if (vocab == null && pool == null) throw new UserInputException("embed-concepts needs --vocab (a file, one concept a line) or --pool wordnet");
            if (vocab != null && pool != null) throw new UserInputException("give either --vocab or --pool, not both");
            if (poolLimit != null && pool == null) throw new UserInputException("--pool-limit is only used with --pool");
            if (poolLimit != null && poolLimit < 1) throw new UserInputException("--pool-limit " + poolLimit + " must be at least 1");
            if (textHeads != null && textHeads < 1) throw new UserInputException("--text-heads " + textHeads + " must be at least 1");
            if (conceptsPerTask < 1) throw new UserInputException("--concepts-per-task " + conceptsPerTask + " must be at least 1");
            if (batchTokens < 1) throw new UserInputException("--batch-tokens " + batchTokens + " must be at least 1");
            if (out == null) throw new UserInputException("embed-concepts needs --out");
        }

        /** A vocabulary file, the tower in the given precision. */
        public Config(String checkpoint, String vocab, String bpe, Integer textHeads, String activation, int conceptsPerTask, int batchTokens,
                      TowerPrecision towerPrecision, OutputTarget out) {
            this(checkpoint, vocab, null, null, bpe, textHeads, activation, conceptsPerTask, batchTokens, towerPrecision, out);
        }

        /** A vocabulary file, the tower in f32. */
        public Config(String checkpoint, String vocab, String bpe, Integer textHeads, String activation, int conceptsPerTask, int batchTokens,
                      OutputTarget out) {
            this(checkpoint, vocab, bpe, textHeads, activation, conceptsPerTask, batchTokens, TowerPrecision.F32, out);
        }

        public static Config of(String checkpoint, String vocab, String bpe, OutputTarget out) {
            return new Config(checkpoint, vocab, bpe, null, null, DEFAULT_CONCEPTS_PER_TASK, DEFAULT_BATCH_TOKENS, out);
        }

        public Config withTowerPrecision(TowerPrecision p) {
            return new Config(checkpoint, vocab, pool, poolLimit, bpe, textHeads, activation, conceptsPerTask, batchTokens, p, out);
        }

        /** What the concepts are called in messages: the vocabulary file, or the pool. */
        String source() {
            return vocab != null ? "vocabulary " + vocab : "pool " + pool;
        }
    }

    public record Result(int embedded, int lines, List<String> notes, String out) {}

    /** Concepts [first..] of the vocabulary with their token ids. */
    record Slice(int[] ids, String[] concepts, int[][] tokens) implements Serializable {}

    private EmbedConceptsJob() {}

    public static Result run(SparkSession spark, Config p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("checkpoint", p.checkpoint(), conf);
        Paths.mustExist("vocab", p.vocab(), conf);
        Paths.mustExist("bpe", p.bpe(), conf);
        p.towerPrecision().requireRunnable();
        return JobRun.run(spark, NAME, p.out(), p.pool() != null ? POOL_OUTPUTS : OUTPUTS, p, run -> embed(run, p));
    }

    private static Result embed(JobRun run, Config p) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        TextShape shape = TextShape.of(p, conf);
        int heads = shape.heads();
        String activation = shape.activation();
        int context = shape.context();
        int projDim = shape.projDim();
        int modelVocab = shape.vocab();
        ClipTokenizer tok = Tokenizers.of(p.bpe(), p.checkpoint(), conf);
        if (tok.vocabSize() > modelVocab) {
            throw new UserInputException("tokenizer " + tok.source() + " has " + tok.vocabSize()
                    + " tokens but the checkpoint's token embedding has only " + modelVocab + " rows: they do not belong together");
        }
        String[] lines;
        WordNetPool.Pool pool = null;
        if (p.pool() != null) {
            pool = WordNetPool.read(p.pool());
            List<String> used = p.poolLimit() == null ? pool.lemmas() : pool.lemmas().subList(0, Math.min(p.poolLimit(), pool.lemmas().size()));
            lines = used.toArray(new String[0]);
        } else {
            lines = TextLines.read(p.vocab(), conf, "vocabulary " + p.vocab());
        }
        Vocabulary v = Vocabulary.tokenize(lines, tok, context);
        if (v.ids.isEmpty()) throw new UserInputException(p.source() + " has no concepts (only blank lines)");
        List<String> notes = v.notes(p.vocab() != null ? p.vocab() : "pool " + p.pool(), context);
        for (String n : notes) System.err.println("sith " + NAME + ": " + n);

        record.checkpoint("checkpoint", p.checkpoint(), conf);
        if (pool != null) {
            record.inputFingerprint("pool", WordNetPool.SOURCE + ", " + p.pool(), pool.sha256(), "sha256 of the index files read, in pool order");
            record.param("pool", p.pool().toString()).param("pool_lemmas", pool.lemmas().size()).param("pool_used", lines.length)
                    .param("pool_listed_per_pos", pool.listed()).param("pool_added_per_pos", pool.added());
            writeText(run, "vocab.txt", String.join("\n", lines) + "\n", conf);
            writeText(run, "LICENSE-WordNet", WordNetPool.licenceFile(pool, lines.length), conf);
        } else {
            record.input("vocab", p.vocab(), conf);
        }
        record.inputFingerprint("tokenizer", tok.source(), tok.fingerprint(), "sha256 of the ordered merges and token ids (equal fingerprints tokenize alike)");
        record.param("text_heads", heads).param("activation", activation).param("context_length", context)
                .param("concepts_per_task", p.conceptsPerTask()).param("batch_tokens", p.batchTokens()).towerPrecision(p.towerPrecision());
        run.phase("tokenize");

        List<Slice> slices = v.slices(p.conceptsPerTask());
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<SerializableConf> confB = jsc.broadcast(new SerializableConf(conf));
        LongAccumulator counter = spark.sparkContext().longAccumulator("concepts");
        String checkpoint = p.checkpoint();
        int batchTokens = p.batchTokens();
        TowerPrecision precision = p.towerPrecision();
        var rows = jsc.parallelize(slices, slices.size()).flatMap(slice -> {
            TextTower tower = TowerCache.textForTask(checkpoint, confB.value().get(), heads, activation, precision);
            float[][] e = tower.embed(Arrays.asList(slice.tokens()), batchTokens, new Workspace());
            List<Row> out = new ArrayList<>(e.length);
            for (int i = 0; i < e.length; i++) out.add(RowFactory.create(slice.ids()[i], slice.concepts()[i], e[i]));
            counter.add(e.length);
            return out.iterator();
        });
        try (Progress progress = new Progress("sith " + NAME, "concepts", v.ids.size(), 0, counter)) {
            spark.createDataFrame(rows, Schemas.CONCEPTS).write().parquet(run.staged("concepts"));
            progress.succeeded();
        }
        record.result("concepts", v.ids.size()).result("lines", lines.length).result("embedding_dim", projDim)
                .result("blank_lines", v.blank).result("duplicates", v.duplicates).result("truncated", v.truncated);
        run.phase("embed");
        run.commit();
        return new Result(v.ids.size(), lines.length, notes, p.out().folder());
    }

    private static void writeText(JobRun run, String name, String text, Configuration conf) {
        org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(run.staged(name));
        try (java.io.OutputStream o = org.sith.io.Fs.fs(path, conf).create(path, true)) {
            o.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": " + e.getMessage(), e);
        }
    }

    /** What the driver needs of the text tower; executors load the weights themselves. */
    private record TextShape(int heads, String activation, int context, int vocab, int projDim) {
        static TextShape of(Config p, Configuration conf) {
            try (ClipText t = ClipText.open(p.checkpoint(), conf, p.textHeads(), p.activation())) {
                return new TextShape(t.heads(), t.activation(), t.contextLength(), t.vocabSize(), t.projDim());
            } catch (IOException e) {
                throw new UncheckedIOException("checkpoint " + p.checkpoint() + ": " + e.getMessage(), e);
            }
        }
    }

    /** The vocabulary's lines sorted into concepts to embed, blank lines and duplicates. */
    static final class Vocabulary {
        final List<Integer> ids = new ArrayList<>();
        final List<String> concepts = new ArrayList<>();
        final List<int[]> tokens = new ArrayList<>();
        final List<Integer> blank = new ArrayList<>();
        final List<String> duplicates = new ArrayList<>();
        final List<String> truncated = new ArrayList<>();

        /** A line's concept is its text without surrounding whitespace; two lines with the same tokens embed identically, so the later is dropped. */
        static Vocabulary tokenize(String[] lines, ClipTokenizer tok, int context) {
            Vocabulary v = new Vocabulary();
            Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < lines.length; i++) {
                String c = lines[i].strip();
                if (c.isEmpty()) {
                    v.blank.add(i + 1);
                    continue;
                }
                int[] full = tok.encode(c, Integer.MAX_VALUE);
                int[] t = full.length > context ? tok.encode(c, context) : full;
                Integer first = seen.putIfAbsent(Arrays.toString(t), i);
                if (first != null) {
                    v.duplicates.add("line " + (i + 1) + " '" + c + "' duplicates line " + (first + 1) + " '"
                            + lines[first].strip() + "'" + (lines[first].strip().equals(c) ? "" : " (same tokens)"));
                    continue;
                }
                if (full.length > context) v.truncated.add("line " + (i + 1) + " (" + (full.length - 2) + " tokens)");
                v.ids.add(i);
                v.concepts.add(c);
                v.tokens.add(t);
            }
            return v;
        }

        List<String> notes(String vocab, int context) {
            List<String> out = new ArrayList<>();
            if (!blank.isEmpty()) {
                out.add("skipped " + blank.size() + " blank line(s) of " + vocab + ": line " + listed(blank.stream().map(String::valueOf).toList()));
            }
            if (!duplicates.isEmpty()) {
                out.add("skipped " + duplicates.size() + " duplicate(s): " + listed(duplicates));
            }
            if (!truncated.isEmpty()) {
                out.add(truncated.size() + " concept(s) longer than the " + context + "-token context were truncated (EOT kept): "
                        + listed(truncated));
            }
            return out;
        }

        private static String listed(List<String> items) {
            String s = String.join(", ", items.subList(0, Math.min(LISTED, items.size())));
            return items.size() > LISTED ? s + ", … (" + (items.size() - LISTED) + " more in _run.json)" : s;
        }

        List<Slice> slices(int perTask) {
            List<Slice> out = new ArrayList<>();
            for (int s = 0; s < ids.size(); s += perTask) {
                int n = Math.min(perTask, ids.size() - s);
                int[] id = new int[n];
                String[] c = new String[n];
                int[][] t = new int[n][];
                for (int i = 0; i < n; i++) {
                    id[i] = ids.get(s + i);
                    c[i] = concepts.get(s + i);
                    t[i] = tokens.get(s + i);
                }
                out.add(new Slice(id, c, t));
            }
            return out;
        }
    }
}
