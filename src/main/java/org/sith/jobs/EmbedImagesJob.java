package org.sith.jobs;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.executor.ImageShards;
import org.sith.inputs.Paths;
import org.sith.run.ImageSettings;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.Schemas;

/**
 * `embed-images`: every image's embedding e = LN_post(x_CLS)·P as SPEC §11 defines {@code image_embeddings/}: the
 * unit vector e/‖e‖ (what image-mean averages), plus the norm ‖e‖ so that the raw embedding (what OpenCLIP's
 * encode_image returns) is {@code embedding · norm}; one row per image, so users can compare with their own pipeline. Tasks embed fixed slices of images (one forward pass each) and write their rows themselves,
 * one Parquet file per slice, so no embedding passes through the driver; files and rows follow the image ids,
 * whatever the cluster. Images that fail to decode are skipped, counted and listed.
 */
public final class EmbedImagesJob {
    public static final String NAME = "embed-images";
    public static final String FOLDER = "image_embeddings";

    public static final List<String> OUTPUTS = List.of(FOLDER);

    public record Config(String checkpoint, String images, ImageSettings settings, String modelName, OutputTarget out) implements Serializable {
        public Config {
            if (checkpoint == null) throw new UserInputException("embed-images needs --checkpoint");
            if (images == null) throw new UserInputException("embed-images needs --images");
            if (settings == null) settings = ImageSettings.DEFAULTS;
            if (out == null) throw new UserInputException("embed-images needs --out");
        }
    }

    public record Result(long images, List<String> skipped, int dim, String out) {}

    /** The images one slice skipped, with the reasons (reported per slice, so a retried task replaces its report). */
    record SliceSkips(int slice, List<String> skipped) implements Serializable {}

    private EmbedImagesJob() {}

    public static Result run(SparkSession spark, Config p) {
        Paths.mustExist("checkpoint", p.checkpoint(), spark.sparkContext().hadoopConfiguration());
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> embed(run, p));
    }

    private static Result embed(JobRun run, Config p) {
        SparkSession spark = run.spark();
        ImageEmbedding in = ImageEmbedding.prepare(run, p.checkpoint(), p.images(), p.settings(), p.modelName());
        run.phase("prepare");

        ImageShards.Loader loader = in.loader();
        LongAccumulator counter = in.shards().counter();
        CollectionAccumulator<SliceSkips> skips = spark.sparkContext().collectionAccumulator("skipped images");
        String model = in.modelName();
        JavaRDD<Row> rows = in.shards().tasks().flatMap(i -> {
            ImageShards.Embedded e = loader.embed(i);
            List<Row> out = new ArrayList<>(e.embeddings().length);
            for (int k = 0; k < e.embeddings().length; k++) {
                float[] raw = e.embeddings()[k];
                double norm = 0;
                for (float v : raw) norm += (double) v * v;
                norm = Math.sqrt(norm);
                float[] unit = new float[raw.length];
                for (int j = 0; j < raw.length; j++) unit[j] = (float) (raw[j] / norm);
                out.add(RowFactory.create(model, e.decoded().get(k).id(), unit, norm));
            }
            if (!e.skipped().isEmpty()) skips.add(new SliceSkips(i, e.skipped()));
            counter.add(e.images());
            return out.iterator();
        });
        try (Progress progress = in.progress()) {
            spark.createDataFrame(rows, Schemas.IMAGE_EMBEDDINGS).write().parquet(run.staged(FOLDER));
            progress.succeeded();
        }
        TreeMap<Integer, List<String>> bySlice = new TreeMap<>();
        for (SliceSkips s : skips.value()) bySlice.put(s.slice(), s.skipped());
        List<String> skipped = new ArrayList<>();
        bySlice.values().forEach(skipped::addAll);
        long embedded = in.refs().size() - skipped.size();
        in.finish(run, skipped, embedded);
        run.record().result("embedding_dim", in.model().projDim());
        run.phase("embed");
        run.commit();
        return new Result(embedded, skipped, in.model().projDim(), p.out().folder());
    }
}
