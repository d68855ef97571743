package org.sith.jobs;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.io.Npy;
import org.sith.linalg.Vec;
import org.sith.model.Preprocessor;
import org.sith.model.VisionTower;
import org.sith.model.Workspace;

/**
 * `image-mean`: the mean of the unit-normalized image embeddings of a set of images (SPEC §10),
 * not renormalized. Tasks embed fixed slices of images and return their sums; the driver adds
 * them in slice order in double, so the result does not depend on the cluster. Images that fail
 * to decode are skipped, counted and listed.
 */
public final class ImageMeanJob {
    public static final String NAME = "image-mean";
    static final StructType SCHEMA = new StructType()
            .add("model", DataTypes.StringType, false)
            .add("images", DataTypes.LongType, false)
            .add("norm", DataTypes.DoubleType, false)
            .add("mean", DataTypes.createArrayType(DataTypes.FloatType, false), false)
            .add("skipped", DataTypes.createArrayType(DataTypes.StringType, false), false);

    public record Params(String checkpoint, String images, Integer heads, String activation, Integer size, String modelName,
                         String out, boolean overwrite, int imagesPerTask) implements Serializable {}

    public record Result(long images, List<String> skipped, double norm, String out) {}

    record SliceSum(int slice, double[] sum, long count, List<String> skipped) implements Serializable {}

    private ImageMeanJob() {}

    public static Result run(SparkSession spark, Params p) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        Inputs.mustExist("checkpoint", p.checkpoint(), conf);
        OutputDir dir = OutputDir.prepare(p.out(), List.of("image_mean", "image_mean.npy"), p.overwrite(), false, false, conf);
        RunRecord record = new RunRecord(NAME, spark).options(p);
        try {
            ImageModel m = ImageModel.of(p.checkpoint(), p.heads(), p.activation(), p.size(), conf);
            List<ImageInputs.ImageRef> refs = ImageInputs.list(p.images(), m.pre().size(), conf);
            String model = p.modelName() != null ? p.modelName() : new org.apache.hadoop.fs.Path(p.checkpoint()).getName();
            record.input("checkpoint", p.checkpoint(), conf);
            record.param("model", model).param("image_size", m.pre().size()).param("mean", m.pre().mean()).param("std", m.pre().std())
                    .param("preprocessing", m.pre().source()).param("activation", m.activation()).param("images_per_task", p.imagesPerTask());
            record.phase("prepare");

            ImageInputs.Shards shards = ImageInputs.Shards.of(spark, refs, p.imagesPerTask());
            ImageInputs.Loader loader = shards.loader(m.pre());
            LongAccumulator counter = shards.counter();
            String checkpoint = p.checkpoint();
            Integer heads = p.heads();
            String activation = m.activation();
            List<SliceSum> sums;
            try (Progress progress = new Progress("sith " + NAME, "images", refs.size(), 0, counter)) {
                sums = new ArrayList<>(shards.tasks().map(i -> {
                    VisionTower tower = loader.tower(checkpoint, heads, activation);
                    ImageInputs.Batch batch = loader.load(i);
                    double[] sum = new double[tower.projDim()];
                    float[][] e = ImageModel.embed(tower, batch);
                    for (float[] v : e) {
                        double n = Vec.norm(v);
                        for (int j = 0; j < sum.length; j++) sum[j] += v[j] / n;
                    }
                    counter.add(batch.refs().size());
                    return new SliceSum(i, sum, e.length, batch.skipped());
                }).collect());
                progress.succeeded();
            }
            sums.sort(Comparator.comparingInt(SliceSum::slice));
            double[] total = new double[m.projDim()];
            long count = 0;
            List<String> skipped = new ArrayList<>();
            for (SliceSum s : sums) {
                for (int j = 0; j < total.length; j++) total[j] += s.sum()[j];
                count += s.count();
                skipped.addAll(s.skipped());
            }
            for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
            if (count == 0) throw new UserInputException("--images " + p.images() + ": none of the " + refs.size() + " images could be decoded");
            float[] mean = new float[total.length];
            double norm = 0;
            for (int j = 0; j < mean.length; j++) {
                mean[j] = (float) (total[j] / count);
                norm += (double) mean[j] * mean[j];
            }
            norm = Math.sqrt(norm);
            Npy.write(dir.staged("image_mean.npy"), conf, new long[] {mean.length}, mean);
            spark.createDataFrame(List.of(RowFactory.create(model, count, norm, mean, skipped.toArray(new String[0]))), SCHEMA)
                    .coalesce(1).write().parquet(dir.staged("image_mean"));
            ImageInputs.record(record, "images", p.images(), refs, shards, conf);
            record.result("images", count).result("skipped", skipped).result("norm", norm);
            record.phase("embed");
            dir.commit(record.toJson());
            return new Result(count, skipped, norm, p.out());
        } catch (Throwable e) { // Spark throws undeclared checked exceptions (SparkException) too
            DecomposeJob.waitForIdle(spark);
            dir.abort(NAME, false);
            throw e;
        }
    }

    /** What the driver checks and passes to tasks about the model's image side. */
    record ImageModel(Preprocessor pre, String activation, int projDim, int tokens) {
        static ImageModel of(String checkpoint, Integer heads, String activation, Integer size, Configuration conf) {
            try (ClipCheckpoint ck = ClipCheckpoint.open(checkpoint, conf, heads)) {
                int patch = ck.patchSize();
                int tokens = ck.tokens();
                int side = (int) Math.round(Math.sqrt(tokens - 1)) * patch;
                Preprocessor pre = Preprocessor.fromConfig(checkpoint, conf, size);
                if (pre.size() != side) {
                    throw new UserInputException("image size " + pre.size() + " (" + pre.source() + ") does not fit checkpoint "
                            + checkpoint + ", which takes " + side + "×" + side + " pixels (" + (tokens - 1) + " patches of " + patch + ")");
                }
                return new ImageModel(pre, activation != null ? activation : ck.activation(), ck.projDim(), tokens);
            } catch (IOException e) {
                throw new UncheckedIOException("checkpoint " + checkpoint + ": " + e.getMessage(), e);
            }
        }

        /** Images per product so that a product has about 512 token rows. */
        static int imagesPerProduct(VisionTower t) {
            return Math.max(1, 512 / t.tokens());
        }

        /** The image embeddings of a batch's decoded images, in order. */
        static float[][] embed(VisionTower t, ImageInputs.Batch batch) {
            return t.embed(batch.pixels(), batch.count(), imagesPerProduct(t), new Workspace());
        }
    }
}
