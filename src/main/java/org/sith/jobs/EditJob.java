package org.sith.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.sith.UserInputException;
import org.sith.checkpoint.CheckpointFile;
import org.sith.checkpoint.ClipTensors;
import org.sith.checkpoint.EditedCheckpoint;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.ClipText;
import org.sith.concepts.ConceptDictionary;
import org.sith.heads.BlockEdit;
import org.sith.heads.Component;
import org.sith.heads.MlpEdit;
import org.sith.heads.Relevance;
import org.sith.heads.VectorEdit;
import org.sith.heads.VectorId;
import org.sith.inputs.Concepts;
import org.sith.inputs.ConceptsInput;
import org.sith.inputs.EditTable;
import org.sith.inputs.Explanations;
import org.sith.inputs.Paths;
import org.sith.inputs.QueryTexts;
import org.sith.inputs.Tokenizers;
import org.sith.io.Fs;
import org.sith.judge.JudgeClient;
import org.sith.model.ClipTokenizer;
import org.sith.model.TextTower;
import org.sith.model.Workspace;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.RunRecord;
import org.sith.run.Schemas;

/**
 * `edit`: scale factors α per (layer, head, sv), from a table or selected by a concept query (SPEC §8), applied
 * and exported as a checkpoint in the input's own layout, names and dtypes (only the edited blocks' out_proj
 * weight and bias change; every other byte is copied), beside copies of its config and tokenizer files, plus
 * {@code edits/} recording each edit, in (layer, head, sv) order, with the explanation behind it when known.
 * A table may also scale vision MLP neurons (component {@code mlp}, sv the neuron): W_proj[:, i] ← α·W_proj[:, i]
 * in the block's c_proj / fc2 weight, nothing else of the block changes ({@link MlpEdit}); edits/ then gains a
 * `component` column (head null for a neuron, which sorts before the block's heads). A concept query selects VO
 * vectors only.
 */
public final class EditJob {
    public static final String NAME = "edit";
    /** Files that travel with a checkpoint and are copied beside the edited one. */
    static final List<String> SIDECARS = List.of("config.json", "open_clip_config.json", "preprocessor_config.json",
            "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "vocab.json", "merges.txt",
            "bpe_simple_vocab_16e6.txt.gz");

    /**
     * A concept query (SPEC §8): {@code texts} (a text, or a file of them one a line) embedded with the checkpoint's
     * text tower; suppress vectors whose relevance reaches {@code threshold}, or with {@code amplify} scale every
     * explained vector by max(α_min, R + β).
     */
    public record Query(String texts, ConceptsInput concepts, String bpe, Double threshold, boolean amplify, double alphaMin, double beta)
            implements Serializable, RunRecord.Recordable {
        public static final double DEFAULT_ALPHA_MIN = 0.8;
        public static final double DEFAULT_BETA = 0.3;

        public Query {
            if (texts == null || texts.isBlank()) throw new UserInputException("--query is empty");
            if (concepts == null) throw new UserInputException("--query needs --concepts (the embeddings of the explanations' concepts)");
            if (!amplify && threshold == null) throw new UserInputException("--query needs --threshold τ (suppress R ≥ τ) or --amplify");
            if (amplify && threshold != null) throw new UserInputException("--threshold and --amplify exclude each other");
        }

        String selection() {
            return amplify ? "query-amplify" : "query-suppress";
        }

        @Override
        public void recordOptions(Map<String, Object> o) {
            o.put("query", texts);
            concepts.recordOptions(o);
            o.put("bpe", bpe);
            o.put("threshold", threshold);
            o.put("amplify", amplify);
            o.put("alpha-min", alphaMin);
            o.put("beta", beta);
        }
    }

    /**
     * A selection by a judge model, as the paper's code selects background or unsafe vectors: every explained vision VO
     * vector's concepts are rated 1–5 for relevance to {@code category} ({@link JudgeClient#relevance}); those rated
     * {@code threshold} or more are suppressed (α = 0), their score recorded as the relevance.
     */
    public record JudgeSelection(String category, int threshold, JudgeClient.Settings judge) implements Serializable, RunRecord.Recordable {
        public static final int DEFAULT_THRESHOLD = 4;

        public JudgeSelection {
            if (category == null || category.isBlank()) throw new UserInputException("--judge needs --judge-category (a description of what to remove)");
            if (threshold < 1 || threshold > 5) throw new UserInputException("--judge-threshold " + threshold + " must be within 1–5 (the judge's scale)");
            if (judge == null) throw new UserInputException("--judge needs --judge-url and --judge-model");
        }

        @Override
        public void recordOptions(Map<String, Object> o) {
            o.put("judge", true);
            o.put("judge-category", category);
            o.put("judge-threshold", threshold);
            judge.recordOptions(o);
        }
    }

    /** Exactly one of {@code edits} (a table), {@code query} and {@code judge}; a query or a judge needs {@code explanations}. */
    public record Config(String checkpoint, String edits, Query query, JudgeSelection judge, String explanations, Integer heads, String modelName,
                         OutputTarget out) implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("edit needs --checkpoint");
            int given = (edits == null ? 0 : 1) + (query == null ? 0 : 1) + (judge == null ? 0 : 1);
            if (given != 1) throw new UserInputException("give one of --edits (a table), --query (concept texts) or --judge (a judge model's selection)");
            if (query != null && explanations == null) throw new UserInputException("--query needs --explanations (what each vector means)");
            if (judge != null && explanations == null) throw new UserInputException("--judge needs --explanations (what each vector means)");
            if (heads != null && heads < 1) throw new UserInputException("--heads " + heads + " must be at least 1");
            if (out == null) throw new UserInputException("edit needs --out");
        }

        public Config(String checkpoint, String edits, Query query, String explanations, Integer heads, String modelName, OutputTarget out) {
            this(checkpoint, edits, query, null, explanations, heads, modelName, out);
        }

        String selection() {
            return judge != null ? "judge" : query == null ? "table" : query.selection();
        }
    }

    public record Result(String checkpoint, int edits, int blocks) {}

    private EditJob() {}

    public static Result run(SparkSession spark, Config c) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Paths.mustExist("checkpoint", c.checkpoint(), conf);
        Paths.mustExist("explanations", c.explanations(), conf);
        // the judge's key, read before anything is claimed (a missing one leaves --out as it was); never recorded
        String judgeKey = c.judge() == null ? null : JudgeClient.key(c.judge().judge(), System::getenv);
        CheckpointFile file = CheckpointFile.resolve(c.checkpoint(), conf);
        List<String> files;
        try (ClipTensors t = ClipTensors.open(c.checkpoint(), conf)) {
            files = EditedCheckpoint.files(t);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path sourceDir = Fs.path(file.dir());
        Path outRoot = Fs.path(c.out().folder());
        // Fs.path gives folders a trailing slash; compare without it
        String inDir = Fs.fs(sourceDir, conf).makeQualified(sourceDir).toString().replaceAll("/+$", "");
        String outDir = Fs.fs(outRoot, conf).makeQualified(outRoot).toString().replaceAll("/+$", "");
        if (inDir.equals(outDir)) {
            throw new UserInputException("--out " + c.out().folder() + " is the checkpoint's own folder: the edited " + files.get(0)
                    + " would replace the input; choose another --out");
        }
        List<String> sidecars = new ArrayList<>();
        for (String s : SIDECARS) if (Fs.exists(file.sidecar(s).toString(), conf)) sidecars.add(s);
        List<String> outputs = new ArrayList<>(files);
        outputs.add("edits");
        outputs.addAll(sidecars);
        return JobRun.run(spark, NAME, c.out(), outputs, c, run -> edit(run, c, file, files, sidecars, judgeKey));
    }

    private static Result edit(JobRun run, Config c, CheckpointFile file, List<String> files, List<String> sidecars, String judgeKey) throws IOException {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        try (ClipCheckpoint ck = ClipCheckpoint.open(c.checkpoint(), conf, c.heads())) {
            SortedMap<VectorId, Explanations.Explained> explained = new TreeMap<>();
            // the right-side (write) explanation of each explained vision MLP neuron, recorded beside its edit
            Map<VectorId, List<Row>> neuronConcepts = new HashMap<>();
            if (c.explanations() != null) {
                Explanations.Contents all = Explanations.readAll(spark, c.explanations(), ck);
                explained = c.query() != null || c.judge() != null || all.mlp().isEmpty() ? Explanations.requireVo(all, c.explanations()) : all.vo();
                for (Explanations.Neuron n : all.mlp()) {
                    if (n.side().equals("right")) neuronConcepts.put(new VectorId(n.layer(), VectorId.MLP_HEAD, n.neuron()), n.concepts());
                }
            }
            RunRecord record = run.record();
            List<VectorEdit> edits = c.edits() != null ? EditTable.read(spark, c.edits(), ck)
                    : c.judge() != null ? selectByJudge(c.judge(), judgeKey, explained, record) : select(spark, c, ck, explained);
            edits = new ArrayList<>(edits);
            edits.sort((a, b) -> a.id().compareTo(b.id()));
            String model = ModelName.of(c.checkpoint(), c.modelName());
            record.checkpoint("checkpoint", c.checkpoint(), conf);
            if (c.edits() != null) record.input("edits", c.edits(), conf);
            if (c.explanations() != null) record.input("explanations", c.explanations(), conf);
            if (c.query() != null) record.input("concepts", c.query().concepts().concepts(), conf);
            record.param("model", model).param("selection", c.selection());
            if (c.query() != null) {
                record.param("query", c.query().texts()).param("threshold", c.query().threshold()).param("alpha_min", c.query().alphaMin())
                        .param("beta", c.query().beta());
            }

            // VO: per layer, per head: sv → α; MLP: per layer, neuron → α
            TreeMap<Integer, TreeMap<Integer, Map<Integer, Double>>> byLayer = new TreeMap<>();
            TreeMap<Integer, Map<Integer, Double>> mlpByLayer = new TreeMap<>();
            for (VectorEdit e : edits) {
                if (e.component() == Component.MLP) {
                    mlpByLayer.computeIfAbsent(e.id().layer(), k -> new HashMap<>()).put(e.id().sv(), e.alpha());
                } else {
                    byLayer.computeIfAbsent(e.id().layer(), k -> new TreeMap<>()).computeIfAbsent(e.id().head(), k -> new HashMap<>())
                            .put(e.id().sv(), e.alpha());
                }
            }
            Map<String, float[]> replaced = new LinkedHashMap<>();
            Map<VectorId, Double> sigmas = new HashMap<>();
            for (var layer : byLayer.entrySet()) {
                BlockEdit.Result r = BlockEdit.apply(ck, layer.getKey(), layer.getValue());
                replaced.put(ck.outWeightName(layer.getKey()), r.outWeight());
                replaced.put(ck.outBiasName(layer.getKey()), r.outBias());
                sigmas.putAll(r.sigma());
            }
            for (var layer : mlpByLayer.entrySet()) {
                MlpEdit.Result r = MlpEdit.apply(ck, layer.getKey(), layer.getValue());
                replaced.put(ck.mlpOutWeightName(layer.getKey()), r.projWeight());
                r.sigma().forEach((i, s) -> sigmas.put(new VectorId(layer.getKey(), VectorId.MLP_HEAD, i), s));
            }
            java.util.Set<Integer> blocks = new java.util.TreeSet<>(byLayer.keySet());
            blocks.addAll(mlpByLayer.keySet());
            boolean kinds = !mlpByLayer.isEmpty();
            EditedCheckpoint.write(ck.tensors(), replaced, run::staged, conf);
            for (String s : sidecars) copy(file.sidecar(s), Fs.path(run.staged(s)), conf);

            List<Row> rows = new ArrayList<>();
            for (VectorEdit e : edits) {
                boolean mlp = e.component() == Component.MLP;
                List<Row> concepts = mlp ? neuronConcepts.get(e.id()) : explained.containsKey(e.id()) ? explained.get(e.id()).concepts() : null;
                Object seq = concepts == null ? null : scala.jdk.javaapi.CollectionConverters.asScala(concepts);
                if (kinds) {
                    rows.add(RowFactory.create(model, e.id().layer(), mlp ? null : e.id().head(), e.id().sv(), e.alpha(), sigmas.get(e.id()), c.selection(),
                            e.relevance(), seq, e.component().label()));
                } else {
                    rows.add(RowFactory.create(model, e.id().layer(), e.id().head(), e.id().sv(), e.alpha(), sigmas.get(e.id()), c.selection(),
                            e.relevance(), seq));
                }
            }
            spark.createDataFrame(rows, kinds ? Schemas.EDITS_WITH_COMPONENT : Schemas.EDITS).coalesce(1).write().parquet(run.staged("edits"));
            String written = new Path(run.root(), files.get(0)).toString();
            record.result("edits", edits.size()).result("blocks", blocks.size()).result("checkpoint", written);
            if (kinds) record.result("mlp_edits", edits.stream().filter(e -> e.component() == Component.MLP).count());
            run.phase("edit");
            run.commit();
            return new Result(written, edits.size(), blocks.size());
        }
    }

    /** The edits a concept query selects: the relevance of every explained vector to the query texts (SPEC §8). */
    private static List<VectorEdit> select(SparkSession spark, Config c, ClipCheckpoint ck, SortedMap<VectorId, Explanations.Explained> explained) {
        Query q = c.query();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        float[][] queries = embed(c, conf, QueryTexts.read(q.texts(), conf), ck.projDim());
        ConceptDictionary dict = Concepts.read(spark, q.concepts(), ck.projDim());
        Map<Integer, Integer> rowOfId = new HashMap<>();
        for (int r = 0; r < dict.size(); r++) rowOfId.put(dict.id(r), r);
        TreeMap<VectorId, Relevance.Explained> vectors = new TreeMap<>();
        for (var e : explained.entrySet()) {
            List<Row> cs = e.getValue().concepts();
            double[] w = new double[cs.size()];
            float[][] emb = new float[cs.size()][];
            for (int k = 0; k < cs.size(); k++) {
                Integer row = rowOfId.get(cs.get(k).getInt(0));
                if (row == null) {
                    throw new UserInputException("--explanations uses concept id " + cs.get(k).getInt(0) + " ('" + cs.get(k).getString(1)
                            + "'), which --concepts " + q.concepts().concepts() + " does not have: they belong to different dictionaries");
                }
                w[k] = ((Number) cs.get(k).get(2)).doubleValue();
                emb[k] = dict.rawEmbedding(row);
            }
            vectors.put(e.getKey(), new Relevance.Explained(w, emb));
        }
        Relevance.Selection s = Relevance.select(vectors, queries, q.threshold(), q.amplify(), q.alphaMin(), q.beta());
        if (s.edits().isEmpty()) {
            throw new UserInputException(String.format(Locale.ROOT, "no explained vector reaches relevance --threshold %s for the query (the largest is %.4f)",
                    q.threshold(), s.maxRelevance()));
        }
        return s.edits();
    }

    /**
     * The edits a judge selects: each explained vector's concepts rated 1–5 for relevance to the category; α = 0 for a
     * score at or above the threshold. A vector the judge could not score is left unedited and reported.
     */
    private static List<VectorEdit> selectByJudge(JudgeSelection j, String key, SortedMap<VectorId, Explanations.Explained> explained, RunRecord record) {
        List<VectorId> ids = new ArrayList<>(explained.keySet());
        List<List<String>> lists = new ArrayList<>();
        for (VectorId v : ids) {
            List<String> names = new ArrayList<>();
            List<String> all = new ArrayList<>();
            for (Row r : explained.get(v).concepts()) {
                double w = r.getDouble(2);
                String shown = w < 0 ? "(opposite) " + r.getString(1) : r.getString(1);
                all.add(shown);
                if (w != 0) names.add(shown);
            }
            lists.add(names.isEmpty() ? all : names);
        }
        List<JudgeClient.Outcome> outcomes;
        try (JudgeClient client = new JudgeClient(j.judge(), key)) {
            outcomes = client.relevance(lists, j.category(), new java.util.concurrent.atomic.AtomicInteger());
        }
        List<VectorEdit> edits = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        int best = 0;
        for (int i = 0; i < ids.size(); i++) {
            JudgeClient.Outcome o = outcomes.get(i);
            if (!o.ok()) {
                failed.add(ids.get(i) + ": " + o.error());
                continue;
            }
            best = Math.max(best, o.score());
            if (o.score() >= j.threshold()) edits.add(new VectorEdit(ids.get(i), 0.0, (double) o.score()));
        }
        record.param("selection_rule", "judge relevance >= threshold").param("judge_model", j.judge().model())
                .param("judge_endpoint", j.judge().endpoint().toString()).param("judge_prompt", org.sith.judge.JudgePrompts.relevanceTemplate(j.category()))
                .result("judged", ids.size()).result("judge_failed", failed.size()).result("judge_selected", edits.size())
                .result("judge_requests", outcomes.stream().mapToInt(JudgeClient.Outcome::attempts).sum());
        if (!failed.isEmpty()) {
            System.err.println("sith " + NAME + ": the judge gave no score for " + failed.size() + " of " + ids.size() + " vector(s), left unedited: "
                    + String.join("; ", failed.subList(0, Math.min(5, failed.size()))) + (failed.size() > 5 ? "; …" : ""));
        }
        if (edits.isEmpty()) {
            throw new UserInputException("the judge rated no explained vector " + j.threshold() + " or more for --judge-category '" + j.category()
                    + "' (the highest score was " + (best == 0 ? "none" : best) + (failed.isEmpty() ? "" : "; " + failed.size() + " vector(s) got no score") + ")");
        }
        return edits;
    }

    private static float[][] embed(Config c, Configuration conf, List<String> texts, int projDim) {
        ClipTokenizer tok = Tokenizers.of(c.query().bpe(), c.checkpoint(), conf);
        try (ClipText t = ClipText.open(c.checkpoint(), conf, null, null)) {
            TextTower tower = TextTower.load(t);
            if (tower.projDim() != projDim) throw new UserInputException("checkpoint " + c.checkpoint() + ": text and image projections differ in width");
            List<int[]> seqs = new ArrayList<>();
            for (String s : texts) seqs.add(tok.encode(s, tower.contextLength()));
            return tower.embed(seqs, 512, new Workspace());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void copy(Path from, Path to, Configuration conf) throws IOException {
        FileSystem fs = Fs.fs(from, conf);
        try (InputStream in = fs.open(from); OutputStream out = Fs.fs(to, conf).create(to, true)) {
            in.transferTo(out);
        }
    }
}
