package org.sith.jobs;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.coding.Code;
import org.sith.executor.CodingContext;
import org.sith.executor.ImageModel;
import org.sith.executor.ImageShards;
import org.sith.executor.TowerCache;
import org.sith.heads.BlockFactors;
import org.sith.heads.Component;
import org.sith.heads.ImageContributions;
import org.sith.heads.JointSpace;
import org.sith.heads.Side;
import org.sith.heads.VectorId;
import org.sith.inputs.ConceptsInput;
import org.sith.inputs.Explanations;
import org.sith.inputs.ImageMeans;
import org.sith.inputs.ImageSets;
import org.sith.inputs.Paths;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
import org.sith.run.Coding;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.RunRecord;
import org.sith.run.Schemas;

/**
 * `explain-images` (SPEC §11): why the model sees each image as it does. One forward pass per image (images sharded
 * over the executors in slices, as the other image commands) reports every block's x̂ and class attention and the
 * class token's MLP activations to an {@link ImageContributions.Probe}, which splits the embedding into the share of
 * every head's singular vector (and, with {@code --contributions vo,mlp}, every MLP neuron) and of the constant terms.
 * Writes {@code image_embeddings/} (as embed-images: e/‖e‖ of the tower's own pass, and ‖e‖), {@code image_contributions/}
 * (the top vectors and the rest by kind; shares add to 1) and {@code image_explanations/} (the sparse code of each
 * normalized embedding, minus {@code --image-mean} when given). Rows follow the image ids, one file per slice. Images that
 * fail to decode are skipped, counted and listed.
 */
public final class ExplainImagesJob {
    public static final String NAME = "explain-images";
    public static final List<String> OUTPUTS = List.of("image_embeddings", "image_contributions", "image_explanations");
    public static final int DEFAULT_TOP = 20;

    public record Config(String checkpoint, String images, ConceptsInput concepts, String explanations, String imageMean, int top,
                         List<Component> contributions, Coding coding, ImageSettings settings, String modelName, OutputTarget out)
            implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("explain-images needs --checkpoint");
            if (images == null) throw new UserInputException("explain-images needs --images");
            if (concepts == null) throw new UserInputException("explain-images needs --concepts");
            if (top < 1) throw new UserInputException("--top " + top + " must be at least 1");
            if (contributions == null) contributions = List.of(Component.VO);
            if (!contributions.contains(Component.VO)) {
                throw new UserInputException("--contributions " + Component.label(contributions) + ": the head vectors (vo) are always ranked; give vo or vo,mlp");
            }
            if (contributions.contains(Component.QK)) {
                throw new UserInputException("--contributions " + Component.label(contributions) + ": query-key circuits write nothing into the residual stream (vo or vo,mlp)");
            }
            contributions = List.copyOf(contributions);
            if (coding == null) coding = Coding.DEFAULTS;
            if (settings == null) settings = ImageSettings.DEFAULTS;
            if (out == null) throw new UserInputException("explain-images needs --out");
        }

        public boolean neurons() {
            return contributions.contains(Component.MLP);
        }
    }

    public record Result(long images, List<String> skipped, double maxReconstructionError, String out) {}

    /** One image's three outputs. */
    record ImageOut(String image, float[] unit, double norm, List<Row> contributions, double reconstructionError) implements Serializable {}

    /** One slice's images in order and the reasons its other images were skipped. */
    record SliceOut(int slice, List<ImageOut> images, List<String> skipped) implements Serializable {}

    /** The executor's contribution model, loaded once per JVM like the towers. */
    static final TowerCache<ImageContributions> MODELS = new TowerCache<>();

    private ExplainImagesJob() {}

    public static Result run(SparkSession spark, Config p) {
        Paths.mustExist("checkpoint", p.checkpoint(), spark.sparkContext().hadoopConfiguration());
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> explain(run, p));
    }

    private static Result explain(JobRun run, Config p) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        ImageSettings st = p.settings();
        ImageModel m = ImageModel.of(p.checkpoint(), st, conf);
        HashMap<VectorId, List<Row>> concepts = p.explanations() == null ? new HashMap<>() : explained(spark, p);
        CodingContext coding = CodingContext.prepare(run, p.concepts(), m.projDim(), p.coding());
        double[] mean = p.imageMean() == null ? null : ImageMeans.read(spark, p.imageMean(), m.projDim());
        List<ImageSets.ImageRef> refs = ImageSets.list(p.images(), m.pre().size(), conf);
        String model = ModelName.of(p.checkpoint(), p.modelName());
        record.checkpoint("checkpoint", p.checkpoint(), conf);
        if (p.explanations() != null) record.input("explanations", p.explanations(), conf);
        coding.record(run, p.imageMean());
        record.param("model", model).param("top", p.top()).param("contributions", Component.label(p.contributions()))
                .param("image_size", m.pre().size()).param("activation", m.activation()).param("preprocess", m.pre().order().value())
                .param("preprocess_from", m.pre().orderSource()).param("images_per_task", st.imagesPerTask())
                .param("center", p.imageMean() == null ? "none" : "image-mean").towerPrecision(m.precision());
        run.phase("prepare");

        ImageShards.Shards shards = ImageShards.Shards.of(spark, refs, st.imagesPerTask());
        ImageShards.Loader loader = shards.loader(m);
        LongAccumulator counter = shards.counter();
        Broadcast<HashMap<VectorId, List<Row>>> conceptsB = shards.jsc().broadcast(concepts);
        int top = p.top();
        boolean neurons = p.neurons();
        String checkpoint = p.checkpoint();
        Integer heads = m.heads();
        JavaRDD<SliceOut> slices = shards.tasks().map(i -> {
            VisionTower tower = loader.tower();
            ImageContributions cm = MODELS.get(checkpoint, loader.hadoop(), String.valueOf(heads), (c, cf) -> {
                try (ClipCheckpoint ck = ClipCheckpoint.open(c, cf, heads)) {
                    return ImageContributions.of(ck);
                }
            });
            ImageShards.Batch batch = loader.load(i);
            ImageContributions.Probe probe = new ImageContributions.Probe(cm, tower.tokens());
            float[][] emb = tower.embed(batch.pixels(), batch.count(), ImageModel.imagesPerProduct(tower), new Workspace(), probe);
            List<ImageOut> out = new ArrayList<>(emb.length);
            for (int k = 0; k < emb.length; k++) {
                String id = batch.decoded().get(k).id();
                out.add(image(model, id, emb[k], probe.images().get(k), cm, top, neurons, conceptsB.value()));
            }
            counter.add(batch.refs().size());
            return new SliceOut(i, out, batch.skipped());
        }).persist(StorageLevel.MEMORY_AND_DISK_SER());
        try {
            List<String> skipped = new ArrayList<>();
            double maxError;
            try (Progress progress = new Progress("sith " + NAME, "images", refs.size(), 0, counter)) {
                for (List<String> s : slices.map(SliceOut::skipped).collect()) skipped.addAll(s);
                maxError = slices.flatMap(s -> s.images().stream().map(ImageOut::reconstructionError).iterator()).fold(0.0, Math::max);
                progress.succeeded();
            }
            for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
            long explained = refs.size() - skipped.size();
            if (explained == 0) throw new UserInputException("--images " + p.images() + ": none of the " + refs.size() + " images could be decoded");
            run.phase("contributions");

            JavaRDD<Row> embRows = slices.flatMap(s -> s.images().stream()
                    .map(o -> RowFactory.create(model, o.image(), o.unit(), o.norm())).iterator());
            spark.createDataFrame(embRows, Schemas.IMAGE_EMBEDDINGS).write().parquet(run.staged("image_embeddings"));
            JavaRDD<Row> contRows = slices.flatMap(s -> s.images().stream().flatMap(o -> o.contributions().stream()).iterator());
            spark.createDataFrame(contRows, Schemas.IMAGE_CONTRIBUTIONS).write().parquet(run.staged("image_contributions"));
            Coding cod = p.coding();
            JavaRDD<Row> explRows = slices.flatMap(s -> {
                List<ImageOut> ims = s.images();
                if (ims.isEmpty()) return java.util.Collections.<Row>emptyIterator();
                double[][] x = new double[ims.size()][];
                for (int k = 0; k < x.length; k++) x[k] = target(ims.get(k).unit(), mean);
                Code[] codes = coding.withCoder(coder -> coder.code(x, cod.method(), cod.k(), cod.effectiveLambda()));
                List<Row> out = new ArrayList<>(codes.length);
                for (int k = 0; k < codes.length; k++) out.add(explanationRow(model, ims.get(k).image(), cod, coding, codes[k]));
                return out.iterator();
            });
            spark.createDataFrame(explRows, Schemas.IMAGE_EXPLANATIONS).write().parquet(run.staged("image_explanations"));
            ImageSets.record(record, "images", p.images(), refs, shards, conf);
            record.result("images", explained).result("skipped", skipped).result("max_reconstruction_error", maxError).result("explanations_joined", concepts.size());
            run.phase("write");
            run.commit();
            return new Result(explained, skipped, maxError, p.out().folder());
        } finally {
            slices.unpersist(false);
        }
    }

    /** The coding target of an image: its unit embedding as written, minus the image mean when given, normalized (SPEC §11). */
    static double[] target(float[] unit, double[] mean) {
        double[] x = new double[unit.length];
        for (int j = 0; j < x.length; j++) x[j] = unit[j];
        JointSpace.prepare(x, mean);
        return x;
    }

    static Row explanationRow(String model, String image, Coding cod, CodingContext coding, Code c) {
        return RowFactory.create(model, null, null, null, null, null, null, cod.methodLabel(), cod.effectiveLambda(), cod.k(),
                org.sith.run.Rows.concepts(c, coding.dictionary()), c.fidelity(), null, c.coherence(), null, coding.label(), image);
    }

    /** One image's outputs from the tower's embedding and the probe's contributions. */
    static ImageOut image(String model, String id, float[] raw, ImageContributions.Image im, ImageContributions cm, int top, boolean neurons,
                          Map<VectorId, List<Row>> concepts) {
        double norm = 0;
        for (float x : raw) norm += (double) x * x;
        norm = Math.sqrt(norm);
        float[] unit = new float[raw.length];
        double diff = 0;
        for (int j = 0; j < raw.length; j++) {
            unit[j] = (float) (raw[j] / norm);
            double dj = im.embedding()[j] - raw[j];
            diff += dj * dj;
        }
        ImageContributions.Ranked ranked = cm.rank(im, top, neurons);
        List<Row> rows = new ArrayList<>(ranked.top().size() + 8);
        int rank = 1;
        for (ImageContributions.Pick k : ranked.top()) {
            VectorId key = new VectorId(k.layer(), k.head(), k.sv());
            List<Row> c = concepts.get(key);
            rows.add(RowFactory.create(model, id, rank++, k.layer(), k.mlp() ? null : k.head(), k.sv(), (k.mlp() ? Component.MLP : Component.VO).label(),
                    k.score(), k.share(), c == null ? null : scala.jdk.javaapi.CollectionConverters.asScala(c)));
        }
        for (ImageContributions.Kind kind : kinds(neurons)) {
            rows.add(RowFactory.create(model, id, null, null, null, null, kind.label, null, ranked.rest()[kind.ordinal()], null));
        }
        return new ImageOut(id, unit, norm, rows, Math.sqrt(diff) / norm);
    }

    /** The rest rows written, in order: with neurons ranked, the MLP splits into mlp_rest and mlp_bias. */
    static List<ImageContributions.Kind> kinds(boolean neurons) {
        List<ImageContributions.Kind> l = new ArrayList<>();
        for (ImageContributions.Kind k : ImageContributions.Kind.values()) {
            boolean skip = neurons ? k == ImageContributions.Kind.MLP : (k == ImageContributions.Kind.MLP_REST || k == ImageContributions.Kind.MLP_BIAS);
            if (!skip) l.add(k);
        }
        return l;
    }

    /**
     * The concepts of the folder's vision vectors by key: VO vectors by (layer, head, sv), each σ checked against the
     * checkpoint (a mismatch means the explanations are another model's); with {@code --contributions vo,mlp} also the
     * neurons' write-side (right) explanations by (layer, {@link VectorId#MLP_HEAD}, neuron), σ checked likewise.
     */
    static HashMap<VectorId, List<Row>> explained(SparkSession spark, Config p) {
        String label = "--explanations " + p.explanations();
        HashMap<VectorId, List<Row>> out = new HashMap<>();
        try (ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), spark.sparkContext().hadoopConfiguration(), p.settings().heads())) {
            Explanations.Contents c = Explanations.readAll(spark, p.explanations(), ck);
            List<Explanations.Neuron> neurons = new ArrayList<>();
            if (p.neurons()) for (Explanations.Neuron n : c.mlp()) if (Side.parse(n.side()) == Side.RIGHT) neurons.add(n);
            if (c.vo().isEmpty() && neurons.isEmpty()) {
                throw new UserInputException(label + " has no vision " + (p.neurons() ? "vo vector or write-side mlp neuron" : "vo vector")
                        + " to join (" + Explanations.describe(c) + ")");
            }
            org.sith.heads.LayerHeads.Cursor layers = new org.sith.heads.LayerHeads.Cursor(ck);
            for (Map.Entry<org.sith.heads.HeadId, List<Integer>> e : Explanations.byHead(c.vo()).entrySet()) {
                org.sith.heads.HeadBasis b = layers.at(e.getKey().layer()).basis(e.getKey().head(), ck.headDim());
                for (int sv : e.getValue()) {
                    VectorId v = e.getKey().vector(sv);
                    double inFile = c.vo().get(v).sigma();
                    double sigma = b.sigma()[sv];
                    if (!(Math.abs(sigma - inFile) <= 1e-4 * Math.max(1, Math.abs(sigma)))) {
                        throw new UserInputException(label + ": " + v + " has σ " + inFile + " but checkpoint " + p.checkpoint() + " gives " + sigma
                                + ": the explanations were made from another checkpoint");
                    }
                    out.put(v, c.vo().get(v).concepts());
                }
            }
            Map<Integer, org.sith.checkpoint.BlockTensors> blocks = new HashMap<>();
            for (Explanations.Neuron n : neurons) {
                int hidden = ck.mlpWidth(n.layer());
                if (n.neuron() >= hidden) {
                    throw new UserInputException(label + " has mlp layer " + n.layer() + " neuron " + n.neuron() + ", outside checkpoint " + p.checkpoint()
                            + " (" + hidden + " neurons per block)");
                }
                double sigma = BlockFactors.mlp(n.layer(), n.neuron(), n.neuron() + 1, Side.RIGHT, ck.width(), blocks.computeIfAbsent(n.layer(), ck::block)).sigma()[0];
                if (!(Math.abs(sigma - n.sigma()) <= 1e-4 * Math.max(1, Math.abs(sigma)))) {
                    throw new UserInputException(label + ": mlp layer " + n.layer() + " neuron " + n.neuron() + " has σ " + n.sigma() + " but checkpoint "
                            + p.checkpoint() + " gives " + sigma + ": the explanations were made from another checkpoint");
                }
                out.put(new VectorId(n.layer(), VectorId.MLP_HEAD, n.neuron()), n.concepts());
            }
            if (!c.leftOut().isEmpty()) System.err.println("sith " + NAME + ": --explanations: left out " + c.leftOut());
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
