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
import org.sith.heads.HeadBasis;
import org.sith.heads.HeadId;
import org.sith.heads.LayerHeads;
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
 * block input normalized without LN1's affine. One forward pass per image serves every selected
 * layer and head (it stops after the last selected layer); each task keeps a top-k per vector, and
 * the per-task lists are merged by key on the executors, so only the final matches reach the driver.
 */
public final class MatchImagesJob {
    public static final String NAME = "match-images";

    public static final List<String> OUTPUTS = List.of("matches");
    public static final int DEFAULT_TOP = 10;

    public record Config(String checkpoint, String images, String explanations, int top, ImageSettings settings, String modelName, OutputTarget out)
            implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("match-images needs --checkpoint");
            if (images == null) throw new UserInputException("match-images needs --images");
            if (explanations == null) throw new UserInputException("match-images needs --explanations");
            if (top < 1) throw new UserInputException("--top " + top + " must be at least 1");
            if (settings == null) settings = ImageSettings.DEFAULTS;
            if (out == null) throw new UserInputException("match-images needs --out");
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
        List<MatchScorer.HeadVectors> heads = explainedHeads(spark, p);
        int vectors = heads.stream().mapToInt(h -> h.svs().length).sum();
        List<ImageSets.ImageRef> refs = ImageSets.list(p.images(), m.pre().size(), conf);
        String model = ModelName.of(p.checkpoint(), p.modelName());
        record.checkpoint("checkpoint", p.checkpoint(), conf).input("explanations", p.explanations(), conf);
        record.param("model", model).param("top", p.top()).param("image_size", m.pre().size()).param("activation", m.activation())
                .param("preprocess", m.pre().order().value()).param("preprocess_from", m.pre().orderSource())
                .param("images_per_task", st.imagesPerTask()).param("vectors", vectors).towerPrecision(m.precision());
        run.phase("prepare");

        ImageShards.Shards shards = ImageShards.Shards.of(spark, refs, st.imagesPerTask());
        ImageShards.Loader loader = shards.loader(m);
        LongAccumulator counter = shards.counter();
        Broadcast<List<MatchScorer.HeadVectors>> headsB = shards.jsc().broadcast(heads);
        int top = p.top();
        List<String> skipped = new ArrayList<>();
        List<Tuple2<VectorId, TopK>> merged;
        try (Progress progress = new Progress("sith " + NAME, "images", refs.size(), 0, counter)) {
            JavaPairRDD<VectorId, TopK> perTask = shards.tasks().flatMapToPair(i -> {
                VisionTower tower = loader.tower();
                ImageShards.Batch batch = loader.load(i);
                MatchScorer scorer = new MatchScorer(headsB.value(), tower, batch.decoded().stream().map(ImageSets.ImageRef::id).toList(), top);
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
            for (int r = 0; r < best.size(); r++) {
                rows.add(RowFactory.create(model, v.layer(), v.head(), v.sv(), r + 1, best.get(r).image(), best.get(r).score()));
            }
        }
        skipped.sort(String::compareTo);
        for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
        if (skipped.size() == refs.size()) throw new UserInputException("--images " + p.images() + ": none of the " + refs.size() + " images could be decoded");
        spark.createDataFrame(rows, Schemas.MATCHES).coalesce(1).write().parquet(run.staged("matches"));
        ImageSets.record(record, "images", p.images(), refs, shards, conf);
        record.result("images", refs.size() - skipped.size()).result("skipped", skipped).result("vectors", vectors).result("rows", rows.size());
        run.phase("match");
        run.commit();
        return new Result(refs.size() - skipped.size(), vectors, skipped, p.out().folder());
    }

    /** The explained (layer, head, sv) triples, with u_j and σ_j recomputed from the checkpoint and checked against the file. */
    static List<MatchScorer.HeadVectors> explainedHeads(SparkSession spark, Config p) {
        List<MatchScorer.HeadVectors> out = new ArrayList<>();
        try (ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), spark.sparkContext().hadoopConfiguration(), p.settings().heads())) {
            Map<VectorId, Explanations.Explained> explained = Explanations.read(spark, p.explanations(), ck);
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
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
