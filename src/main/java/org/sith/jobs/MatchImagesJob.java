package org.sith.jobs;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.analysis.TopK;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.executor.ImageModel;
import org.sith.executor.ImageShards;
import org.sith.checkpoint.BlockTensors;
import org.sith.heads.BlockFactors;
import org.sith.heads.Component;
import org.sith.heads.HeadBasis;
import org.sith.heads.HeadId;
import org.sith.heads.LayerHeads;
import org.sith.heads.Side;
import org.sith.heads.VectorId;
import org.sith.inputs.Explanations;
import org.sith.inputs.ImageSets;
import org.sith.inputs.Paths;
import org.sith.model.MatchScorer;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.RunRecord;
import org.sith.run.Schemas;

import scala.Tuple2;

/**
 * `match-images`: for every explained vector (layer, head, sv), the images with the highest
 * per-head score σ_j·⟨z_h, u_j⟩ (SPEC §7), z_h the class token's attention-weighted average of the
 * block input normalized without LN1's affine; with {@code --component mlp} (or {@code all}), for every
 * explained vision MLP neuron i the images with the highest act_i(CLS)·‖w_i‖. One forward pass per image
 * serves every selected layer, head and neuron (it stops after the last selected layer); each task keeps a
 * top-k per vector, and the per-task lists are merged by key on the executors, so only the final matches
 * reach the driver.
 *
 * <p>Only vision-tower rows are matched: text-tower rows (and QK rows, which have no per-image score) are
 * left out with a note on stderr, and a folder with nothing of the asked components is refused. With the
 * default {@code --component vo}, matches/ is written as it always was (no component column); any other
 * setting adds the `component` column (SPEC §10: `vo`, or `mlp` with head null and sv the neuron), as
 * decompose adds its kind columns only outside the paper's setting.
 */
public final class MatchImagesJob {
    public static final String NAME = "match-images";

    public static final List<String> OUTPUTS = List.of("matches");
    public static final int DEFAULT_TOP = 10;

    public record Config(String checkpoint, String images, String explanations, int top, ImageSettings settings, String modelName, OutputTarget out,
                         List<Component> components) implements Serializable {
        public Config {
            if (components == null) components = List.of(Component.VO);
            if (components.isEmpty()) throw new UserInputException("--component lists nothing");
            if (components.contains(Component.QK)) {
                throw new UserInputException("--component qk: query-key circuits have no per-image score to match (vo, mlp or all)");
            }
            components = List.copyOf(components);
            if (checkpoint == null) throw new UserInputException("match-images needs --checkpoint");
            if (images == null) throw new UserInputException("match-images needs --images");
            if (explanations == null) throw new UserInputException("match-images needs --explanations");
            if (top < 1) throw new UserInputException("--top " + top + " must be at least 1");
            if (settings == null) settings = ImageSettings.DEFAULTS;
            if (out == null) throw new UserInputException("match-images needs --out");
        }

        /** The paper's setting (vision VO vectors only); its output has no component column. */
        public Config(String checkpoint, String images, String explanations, int top, ImageSettings settings, String modelName, OutputTarget out) {
            this(checkpoint, images, explanations, top, settings, modelName, out, null);
        }

        /** Whether matches/ carries the component column: every setting but the default vo. */
        public boolean kinds() {
            return !components.equals(List.of(Component.VO));
        }
    }

    /** The explained head vectors and MLP neurons to score, and a note on the rows left out (empty when none). */
    record Targets(List<MatchScorer.HeadVectors> heads, List<MatchScorer.MlpNeurons> neurons, String leftOut) {
        int vectors() {
            return heads.stream().mapToInt(h -> h.svs().length).sum() + neurons.stream().mapToInt(m -> m.neurons().length).sum();
        }
    }

    public record Result(long images, long vectors, List<String> skipped, String out) {}

    /** The key under which tasks report the images they skipped. */
    private static final VectorId SKIPPED = new VectorId(-1, -1, -1);

    private MatchImagesJob() {}

    public static Result run(SparkSession spark, Config p) {
        Paths.mustExist("checkpoint", p.checkpoint(), spark.sparkContext().hadoopConfiguration());
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> match(run, p));
    }

    private static Result match(JobRun run, Config p) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        ImageSettings st = p.settings();
        ImageModel m = ImageModel.of(p.checkpoint(), st, conf);
        Targets targets = explained(spark, p);
        List<MatchScorer.HeadVectors> heads = targets.heads();
        List<MatchScorer.MlpNeurons> neurons = targets.neurons();
        int vectors = targets.vectors();
        if (!targets.leftOut().isEmpty()) System.err.println("sith " + NAME + ": left out " + targets.leftOut());
        List<ImageSets.ImageRef> refs = ImageSets.list(p.images(), m.pre().size(), conf);
        String model = ModelName.of(p.checkpoint(), p.modelName());
        record.checkpoint("checkpoint", p.checkpoint(), conf).input("explanations", p.explanations(), conf);
        record.param("model", model).param("top", p.top()).param("image_size", m.pre().size()).param("activation", m.activation())
                .param("preprocess", m.pre().order().value()).param("preprocess_from", m.pre().orderSource())
                .param("images_per_task", st.imagesPerTask()).param("vectors", vectors).param("component", Component.label(p.components()))
                .towerPrecision(m.precision());
        run.phase("prepare");

        ImageShards.Shards shards = ImageShards.Shards.of(spark, refs, st.imagesPerTask());
        ImageShards.Loader loader = shards.loader(m);
        LongAccumulator counter = shards.counter();
        Broadcast<List<MatchScorer.HeadVectors>> headsB = shards.jsc().broadcast(heads);
        Broadcast<List<MatchScorer.MlpNeurons>> neuronsB = shards.jsc().broadcast(neurons);
        int top = p.top();
        List<String> skipped = new ArrayList<>();
        List<Tuple2<VectorId, TopK>> merged;
        try (Progress progress = new Progress("sith " + NAME, "images", refs.size(), 0, counter)) {
            JavaPairRDD<VectorId, TopK> perTask = shards.tasks().flatMapToPair(i -> {
                VisionTower tower = loader.tower();
                ImageShards.Batch batch = loader.load(i);
                MatchScorer scorer = new MatchScorer(headsB.value(), neuronsB.value(), tower, batch.decoded().stream().map(ImageSets.ImageRef::id).toList(), top);
                tower.probe(batch.pixels(), batch.count(), ImageModel.imagesPerProduct(tower), new Workspace(), scorer);
                counter.add(batch.refs().size());
                List<Tuple2<VectorId, TopK>> out = new ArrayList<>();
                scorer.tops().forEach((k, v) -> out.add(new Tuple2<>(k, v)));
                if (!batch.skipped().isEmpty()) out.add(new Tuple2<>(SKIPPED, TopK.skipped(batch.skipped())));
                return out.iterator();
            });
            merged = perTask.reduceByKey(TopK::merge).collect();
            progress.succeeded();
        }
        List<Row> rows = new ArrayList<>();
        TreeMap<VectorId, TopK> sorted = new TreeMap<>();
        for (Tuple2<VectorId, TopK> t : merged) sorted.put(t._1(), t._2());
        for (Map.Entry<VectorId, TopK> e : sorted.entrySet()) {
            if (e.getKey().equals(SKIPPED)) {
                skipped.addAll(e.getValue().skippedImages());
                continue;
            }
            VectorId v = e.getKey();
            List<TopK.Entry> best = e.getValue().sorted();
            boolean mlp = v.head() == MatchScorer.MLP_HEAD;
            for (int r = 0; r < best.size(); r++) {
                if (p.kinds()) {
                    rows.add(RowFactory.create(model, v.layer(), mlp ? null : v.head(), v.sv(), r + 1, best.get(r).image(), best.get(r).score(),
                            (mlp ? Component.MLP : Component.VO).label()));
                } else {
                    rows.add(RowFactory.create(model, v.layer(), v.head(), v.sv(), r + 1, best.get(r).image(), best.get(r).score()));
                }
            }
        }
        skipped.sort(String::compareTo);
        for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
        if (skipped.size() == refs.size()) throw new UserInputException("--images " + p.images() + ": none of the " + refs.size() + " images could be decoded");
        spark.createDataFrame(rows, p.kinds() ? Schemas.MATCHES_WITH_COMPONENT : Schemas.MATCHES).coalesce(1).write().parquet(run.staged("matches"));
        ImageSets.record(record, "images", p.images(), refs, shards, conf);
        record.result("images", refs.size() - skipped.size()).result("skipped", skipped).result("vectors", vectors).result("rows", rows.size());
        if (!targets.leftOut().isEmpty()) record.result("explanations_left_out", targets.leftOut());
        run.phase("match");
        run.commit();
        return new Result(refs.size() - skipped.size(), vectors, skipped, p.out().folder());
    }

    /**
     * The explained (layer, head, sv) triples of the asked components, with u_j and σ_j recomputed from the checkpoint
     * and checked against the file, and the explained MLP neurons with their write norms (σ checked likewise, against
     * the norm of the side the row explains).
     */
    static Targets explained(SparkSession spark, Config p) {
        List<MatchScorer.HeadVectors> out = new ArrayList<>();
        List<MatchScorer.MlpNeurons> neurons = new ArrayList<>();
        boolean vo = p.components().contains(Component.VO);
        boolean mlp = p.components().contains(Component.MLP);
        String label = "--explanations " + p.explanations();
        try (ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), spark.sparkContext().hadoopConfiguration(), p.settings().heads())) {
            Explanations.Contents contents = Explanations.readAll(spark, p.explanations(), ck);
            boolean none = (!vo || contents.vo().isEmpty()) && (!mlp || contents.mlp().isEmpty());
            if (none) {
                throw new UserInputException(label + " has no vision " + (vo && mlp ? "vo vector or mlp neuron" : vo ? "vo vector" : "mlp neuron")
                        + " to match (--component " + Component.label(p.components()) + "; " + Explanations.describe(contents)
                        + "; text-tower and qk rows cannot be matched against images)");
            }
            List<String> leftOut = new ArrayList<>();
            if (!contents.leftOut().isEmpty()) leftOut.add(contents.leftOut());
            if (!vo && !contents.vo().isEmpty()) leftOut.add(contents.vo().size() + " vo rows (--component is " + Component.label(p.components()) + ")");
            if (!mlp && !contents.mlp().isEmpty()) leftOut.add(contents.mlp().size() + " mlp rows (give --component mlp or all to match them)");
            if (vo) out.addAll(headVectors(p, ck, contents.vo()));
            if (mlp) neurons.addAll(neurons(label, p.checkpoint(), ck, contents.mlp()));
            return new Targets(out, neurons, String.join(", ", leftOut));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<MatchScorer.HeadVectors> headVectors(Config p, ClipCheckpoint ck, Map<VectorId, Explanations.Explained> explained) {
        List<MatchScorer.HeadVectors> out = new ArrayList<>();
        if (explained.isEmpty()) return out;
        LayerHeads.Cursor layers = new LayerHeads.Cursor(ck);
        for (Map.Entry<HeadId, List<Integer>> e : Explanations.byHead(explained).entrySet()) {
            HeadId h = e.getKey();
            HeadBasis b = layers.at(h.layer()).basis(h.head(), ck.headDim());
            int[] svs = e.getValue().stream().mapToInt(Integer::intValue).sorted().toArray();
            double[] sigma = new double[svs.length];
            float[] u = new float[svs.length * ck.width()];
            for (int j = 0; j < svs.length; j++) {
                double inFile = explained.get(h.vector(svs[j])).sigma();
                sigma[j] = b.sigma()[svs[j]];
                if (!(Math.abs(sigma[j] - inFile) <= 1e-4 * Math.max(1, Math.abs(sigma[j])))) {
                    throw new UserInputException("--explanations " + p.explanations() + ": " + h.vector(svs[j]) + " has σ " + inFile
                            + " but checkpoint " + p.checkpoint() + " gives " + sigma[j] + ": the explanations were made from another checkpoint");
                }
                for (int i = 0; i < ck.width(); i++) u[j * ck.width() + i] = (float) b.u()[svs[j]][i];
            }
            out.add(new MatchScorer.HeadVectors(h.layer(), h.head(), svs, sigma, u));
        }
        return out;
    }

    /** Per layer, the explained neurons (each once, ascending) and their centered write norms ‖w_i‖. */
    static List<MatchScorer.MlpNeurons> neurons(String label, String checkpoint, ClipCheckpoint ck, List<Explanations.Neuron> rows) {
        TreeMap<Integer, List<Explanations.Neuron>> byLayer = new TreeMap<>();
        for (Explanations.Neuron n : rows) byLayer.computeIfAbsent(n.layer(), k -> new ArrayList<>()).add(n);
        List<MatchScorer.MlpNeurons> out = new ArrayList<>();
        for (var e : byLayer.entrySet()) {
            int layer = e.getKey();
            int hidden = ck.mlpWidth(layer);
            BlockTensors block = ck.block(layer);
            TreeMap<Integer, Double> norms = new TreeMap<>();
            for (Explanations.Neuron n : e.getValue()) {
                if (n.neuron() >= hidden) {
                    throw new UserInputException(label + " has mlp layer " + layer + " neuron " + n.neuron() + ", outside checkpoint " + checkpoint
                            + " (" + hidden + " neurons per block)");
                }
                Side side = Side.parse(n.side());
                double sigma = BlockFactors.mlp(layer, n.neuron(), n.neuron() + 1, side, ck.width(), block).sigma()[0];
                if (!(Math.abs(sigma - n.sigma()) <= 1e-4 * Math.max(1, Math.abs(sigma)))) {
                    throw new UserInputException(label + ": mlp layer " + layer + " neuron " + n.neuron() + " (" + n.side() + ") has σ " + n.sigma()
                            + " but checkpoint " + checkpoint + " gives " + sigma + ": the explanations were made from another checkpoint");
                }
                double write = side == Side.RIGHT ? sigma : BlockFactors.mlp(layer, n.neuron(), n.neuron() + 1, Side.RIGHT, ck.width(), block).sigma()[0];
                norms.put(n.neuron(), write);
            }
            int[] ids = norms.keySet().stream().mapToInt(Integer::intValue).toArray();
            double[] w = norms.values().stream().mapToDouble(Double::doubleValue).toArray();
            out.add(new MatchScorer.MlpNeurons(layer, ids, w));
        }
        return out;
    }
}
