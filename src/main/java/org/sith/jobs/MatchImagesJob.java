package org.sith.jobs;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
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
import org.sith.analysis.MatchScorer;
import org.sith.analysis.TopK;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.heads.HeadBasis;
import org.sith.heads.VoFactors;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;
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

    public record Params(String checkpoint, String images, String explanations, int top, Integer heads, String activation,
                         Integer size, String modelName, String out, boolean overwrite, int imagesPerTask) implements Serializable {}

    public record Result(long images, long vectors, List<String> skipped, String out) {}


    private MatchImagesJob() {}

    public static Result run(SparkSession spark, Params p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Inputs.mustExist("checkpoint", p.checkpoint(), conf);
        Inputs.mustExist("explanations", p.explanations(), conf);
        OutputDir dir = OutputDir.prepare(p.out(), List.of("matches"), p.overwrite(), false, false, conf);
        RunRecord record = new RunRecord(NAME, spark).options(p);
        try {
            ImageMeanJob.ImageModel m = ImageMeanJob.ImageModel.of(p.checkpoint(), p.heads(), p.activation(), p.size(), conf);
            List<MatchScorer.HeadVectors> heads = explainedHeads(spark, p);
            int vectors = heads.stream().mapToInt(h -> h.svs().length).sum();
            List<ImageInputs.ImageRef> refs = ImageInputs.list(p.images(), m.pre().size(), conf);
            String model = p.modelName() != null ? p.modelName() : new org.apache.hadoop.fs.Path(p.checkpoint()).getName();
            record.input("checkpoint", p.checkpoint(), conf).input("explanations", p.explanations(), conf);
            record.param("model", model).param("top", p.top()).param("image_size", m.pre().size()).param("activation", m.activation())
                    .param("images_per_task", p.imagesPerTask()).param("vectors", vectors);
            record.phase("prepare");

            ImageInputs.Shards shards = ImageInputs.Shards.of(spark, refs, p.imagesPerTask());
            ImageInputs.Loader loader = shards.loader(m.pre());
            LongAccumulator counter = shards.counter();
            Broadcast<List<MatchScorer.HeadVectors>> headsB = shards.jsc().broadcast(heads);
            String checkpoint = p.checkpoint();
            Integer headsOverride = p.heads();
            String activation = m.activation();
            int top = p.top();
            List<String> skipped = new ArrayList<>();
            List<Tuple2<Long, TopK>> merged;
            try (Progress progress = new Progress("sith " + NAME, "images", refs.size(), 0, counter)) {
                JavaPairRDD<Long, TopK> perTask = shards.tasks().flatMapToPair(i -> {
                    VisionTower tower = loader.tower(checkpoint, headsOverride, activation);
                    ImageInputs.Batch batch = loader.load(i);
                    MatchScorer scorer = new MatchScorer(headsB.value(), tower, batch.decoded().stream().map(ImageInputs.ImageRef::id).toList(), top);
                    tower.probe(batch.pixels(), batch.count(), ImageMeanJob.ImageModel.imagesPerProduct(tower), new Workspace(), scorer);
                    counter.add(batch.refs().size());
                    List<Tuple2<Long, TopK>> out = new ArrayList<>();
                    scorer.tops().forEach((k, v) -> out.add(new Tuple2<>(k, v)));
                    if (!batch.skipped().isEmpty()) out.add(new Tuple2<>(-1L, TopK.skipped(batch.skipped())));
                    return out.iterator();
                });
                merged = perTask.reduceByKey(TopK::merge).collect();
                progress.succeeded();
            }
            List<Row> rows = new ArrayList<>();
            TreeMap<Long, TopK> sorted = new TreeMap<>();
            for (Tuple2<Long, TopK> t : merged) sorted.put(t._1(), t._2());
            for (Map.Entry<Long, TopK> e : sorted.entrySet()) {
                if (e.getKey() < 0) {
                    skipped.addAll(e.getValue().skippedImages());
                    continue;
                }
                int[] key = MatchScorer.decode(e.getKey());
                List<TopK.Entry> best = e.getValue().sorted();
                for (int r = 0; r < best.size(); r++) {
                    rows.add(RowFactory.create(model, key[0], key[1], key[2], r + 1, best.get(r).image(), best.get(r).score()));
                }
            }
            skipped.sort(String::compareTo);
            for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
            if (skipped.size() == refs.size()) throw new UserInputException("--images " + p.images() + ": none of the " + refs.size() + " images could be decoded");
            spark.createDataFrame(rows, Schemas.MATCHES).coalesce(1).write().parquet(dir.staged("matches"));
            ImageInputs.record(record, "images", p.images(), refs, shards, conf);
            record.result("images", refs.size() - skipped.size()).result("skipped", skipped).result("vectors", vectors).result("rows", rows.size());
            record.phase("match");
            dir.commit(record.toJson());
            return new Result(refs.size() - skipped.size(), vectors, skipped, p.out());
        } catch (Throwable e) { // Spark throws undeclared checked exceptions (SparkException) too
            DecomposeJob.waitForIdle(spark);
            dir.abort(NAME, false);
            throw e;
        }
    }


    /** The explained (layer, head, sv) triples, with u_j and σ_j recomputed from the checkpoint and checked against the file. */
    static List<MatchScorer.HeadVectors> explainedHeads(SparkSession spark, Params p) {
        Map<Long, Double> sigmaInFile = new HashMap<>();
        TreeMap<Long, List<Integer>> byHead = new TreeMap<>();
        List<Row> triples;
        try {
            triples = spark.read().parquet(p.explanations()).select("layer", "head", "sv", "sigma").distinct().collectAsList();
        } catch (Exception e) {
            throw new UserInputException("--explanations " + p.explanations() + ": not an explanations/ Parquet folder with layer, head, sv, sigma ("
                    + Inputs.firstLine(e) + ")");
        }
        for (Row r : triples) {
            if (r.isNullAt(0) || r.isNullAt(1) || r.isNullAt(2)) {
                throw new UserInputException("--explanations " + p.explanations() + ": rows without layer/head/sv (the output of explain, not decompose)");
            }
            int l = r.getInt(0);
            int h = r.getInt(1);
            int sv = r.getInt(2);
            sigmaInFile.put(MatchScorer.key(l, h, sv), r.getDouble(3));
            byHead.computeIfAbsent(MatchScorer.key(l, h, 0), k -> new ArrayList<>()).add(sv);
        }
        if (byHead.isEmpty()) throw new UserInputException("--explanations " + p.explanations() + " is empty");
        List<MatchScorer.HeadVectors> out = new ArrayList<>();
        try (ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), spark.sparkContext().hadoopConfiguration(), p.heads())) {
            int loaded = -1;
            float[] value = null;
            float[] outW = null;
            float[] gamma = null;
            for (Map.Entry<Long, List<Integer>> e : byHead.entrySet()) {
                int[] lh = MatchScorer.decode(e.getKey());
                int l = lh[0];
                int h = lh[1];
                if (l >= ck.layers() || h >= ck.heads()) {
                    throw new UserInputException("--explanations " + p.explanations() + " has layer " + l + " head " + h
                            + ", which checkpoint " + p.checkpoint() + " does not have");
                }
                if (l != loaded) {
                    value = ck.valueWeight(l);
                    outW = ck.outWeight(l);
                    gamma = ck.ln1Weight(l);
                    loaded = l;
                }
                HeadBasis b = HeadBasis.compute(VoFactors.of(l, h, ck.width(), ck.headDim(), value, outW, gamma, true), ck.headDim());
                int[] svs = e.getValue().stream().mapToInt(Integer::intValue).sorted().toArray();
                double[] sigma = new double[svs.length];
                float[] u = new float[svs.length * ck.width()];
                for (int j = 0; j < svs.length; j++) {
                    double inFile = sigmaInFile.get(MatchScorer.key(l, h, svs[j]));
                    sigma[j] = b.sigma()[svs[j]];
                    if (Math.abs(sigma[j] - inFile) > 1e-4 * Math.max(1, Math.abs(sigma[j]))) {
                        throw new UserInputException("--explanations " + p.explanations() + ": layer " + l + " head " + h + " sv " + svs[j]
                                + " has σ " + inFile + " but checkpoint " + p.checkpoint() + " gives " + sigma[j]
                                + ": the explanations were made from another checkpoint");
                    }
                    for (int i = 0; i < ck.width(); i++) u[j * ck.width() + i] = (float) b.u()[svs[j]][i];
                }
                out.add(new MatchScorer.HeadVectors(l, h, svs, sigma, u));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
