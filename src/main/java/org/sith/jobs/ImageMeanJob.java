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
import org.sith.executor.ImageShards;
import org.sith.inputs.Paths;
import org.sith.io.Npy;
import org.sith.linalg.Vec;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;

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
        ImageEmbedding in = ImageEmbedding.prepare(run, p.checkpoint(), p.images(), p.settings(), p.modelName());
        run.phase("prepare");

        ImageShards.Loader loader = in.loader();
        LongAccumulator counter = in.shards().counter();
        List<SliceSum> sums;
        try (Progress progress = in.progress()) {
            sums = new ArrayList<>(in.shards().tasks().map(i -> {
                ImageShards.Embedded e = loader.embed(i);
                double[] sum = new double[loader.model().projDim()];
                for (float[] v : e.embeddings()) {
                    double n = Vec.norm(v);
                    for (int j = 0; j < sum.length; j++) sum[j] += v[j] / n;
                }
                counter.add(e.images());
                return new SliceSum(i, sum, e.embeddings().length, e.skipped());
            }).collect());
            progress.succeeded();
        }
        sums.sort(Comparator.comparingInt(SliceSum::slice));
        double[] total = new double[in.model().projDim()];
        long count = 0;
        List<String> skipped = new ArrayList<>();
        for (SliceSum s : sums) {
            for (int j = 0; j < total.length; j++) total[j] += s.sum()[j];
            count += s.count();
            skipped.addAll(s.skipped());
        }
        in.finish(run, skipped, count);
        float[] mean = new float[total.length];
        double norm = 0;
        for (int j = 0; j < mean.length; j++) {
            mean[j] = (float) (total[j] / count);
            norm += (double) mean[j] * mean[j];
        }
        norm = Math.sqrt(norm);
        Npy.write(run.staged("image_mean.npy"), conf, new long[] {mean.length}, mean);
        spark.createDataFrame(List.of(RowFactory.create(in.modelName(), count, norm, mean, skipped.toArray(new String[0]))), SCHEMA)
                .coalesce(1).write().parquet(run.staged("image_mean"));
        run.record().result("norm", norm);
        run.phase("embed");
        run.commit();
        return new Result(count, skipped, norm, p.out().folder());
    }

}
