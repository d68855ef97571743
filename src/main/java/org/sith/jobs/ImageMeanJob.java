package org.sith.jobs;

import java.io.Serializable;
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
import org.sith.executor.ImageModel;
import org.sith.executor.ImageShards;
import org.sith.inputs.ImageSets;
import org.sith.inputs.Paths;
import org.sith.io.Npy;
import org.sith.linalg.Vec;
import org.sith.model.VisionTower;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.ModelName;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.RunRecord;

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

    public static final List<String> OUTPUTS = List.of("image_mean", "image_mean.npy");

    public record Config(String checkpoint, String images, ImageSettings settings, String modelName, OutputTarget out) implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("image-mean needs --checkpoint");
            if (images == null) throw new UserInputException("image-mean needs --images");
            if (settings == null) settings = ImageSettings.DEFAULTS;
            if (out == null) throw new UserInputException("image-mean needs --out");
        }
    }

    public record Result(long images, List<String> skipped, double norm, String out) {}

    record SliceSum(int slice, double[] sum, long count, List<String> skipped) implements Serializable {}

    private ImageMeanJob() {}

    public static Result run(SparkSession spark, Config p) {
        Paths.mustExist("checkpoint", p.checkpoint(), spark.sparkContext().hadoopConfiguration());
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> mean(run, p));
    }

    private static Result mean(JobRun run, Config p) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        ImageSettings st = p.settings();
        ImageModel m = ImageModel.of(p.checkpoint(), st, conf);
        List<ImageSets.ImageRef> refs = ImageSets.list(p.images(), m.pre().size(), conf);
        String model = ModelName.of(p.checkpoint(), p.modelName());
        record.input("checkpoint", p.checkpoint(), conf);
        record.param("model", model).param("image_size", m.pre().size()).param("mean", m.pre().mean()).param("std", m.pre().std())
                .param("preprocessing", m.pre().source()).param("preprocess", m.pre().order().value())
                .param("preprocess_from", m.pre().orderSource()).param("activation", m.activation()).param("images_per_task", st.imagesPerTask());
        run.phase("prepare");

        ImageShards.Shards shards = ImageShards.Shards.of(spark, refs, st.imagesPerTask());
        ImageShards.Loader loader = shards.loader(m);
        LongAccumulator counter = shards.counter();
        List<SliceSum> sums;
        try (Progress progress = new Progress("sith " + NAME, "images", refs.size(), 0, counter)) {
            sums = new ArrayList<>(shards.tasks().map(i -> {
                VisionTower tower = loader.tower();
                ImageShards.Batch batch = loader.load(i);
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
        Npy.write(run.staged("image_mean.npy"), conf, new long[] {mean.length}, mean);
        spark.createDataFrame(List.of(RowFactory.create(model, count, norm, mean, skipped.toArray(new String[0]))), SCHEMA)
                .coalesce(1).write().parquet(run.staged("image_mean"));
        ImageSets.record(record, "images", p.images(), refs, shards, conf);
        record.result("images", count).result("skipped", skipped).result("norm", norm);
        run.phase("embed");
        run.commit();
        return new Result(count, skipped, norm, p.out().folder());
    }

}
