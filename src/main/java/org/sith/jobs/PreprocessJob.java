package org.sith.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.executor.ImageModel;
import org.sith.executor.ImageShards;
import org.sith.inputs.ImageSets;
import org.sith.inputs.Paths;
import org.sith.io.Fs;
import org.sith.io.Npy;
import org.sith.model.PreprocessOrder;
import org.sith.model.Preprocessor;
import org.sith.run.JobRun;
import org.sith.run.OutputTarget;
import org.sith.run.Progress;
import org.sith.run.RunRecord;

/**
 * `preprocess`: images decoded, resized (PIL-exact), center-cropped, converted to RGB (after the crop or
 * before the resize: {@link PreprocessOrder}) and normalized into
 * one {@code pixels.npy} (N×3×S×S float32) plus {@code pixels_index/} (row → image, and every
 * skipped image with the reason). Tasks write their slice's pixels as raw parts; the driver
 * streams the parts, in slice order, behind one .npy header.
 */
public final class PreprocessJob {
    public static final String NAME = "preprocess";
    static final StructType INDEX = new StructType()
            .add("row", DataTypes.IntegerType, true)
            .add("image", DataTypes.StringType, false)
            .add("error", DataTypes.StringType, true);

    public static final List<String> OUTPUTS = List.of("pixels.npy", "pixels_index");

    /**
     * The order without --checkpoint or --preprocess: OpenAI clip's, whose preprocessing the default size, mean and
     * std are (OpenCLIP's too).
     */
    public static final PreprocessOrder DEFAULT_ORDER = PreprocessOrder.OPENCLIP;

    /**
     * {@code checkpoint} (optional) supplies the image side and normalization, and the order from its layout;
     * {@code size} overrides the side, {@code preprocess} the order (null: the checkpoint's, else
     * {@link #DEFAULT_ORDER}).
     */
    public record Config(String checkpoint, String images, Integer size, PreprocessOrder preprocess, int imagesPerTask, OutputTarget out)
            implements Serializable {
        public Config {
            if (images == null) throw new UserInputException("preprocess needs --images");
            if (size != null && size < 1) throw new UserInputException("--size " + size + " must be at least 1");
            if (imagesPerTask < 1) throw new UserInputException("--images-per-task " + imagesPerTask + " must be at least 1");
            if (out == null) throw new UserInputException("preprocess needs --out");
        }
    }

    public record Result(int rows, List<String> skipped, int size, String out) {}

    /** A slice's image ids in listing order, each with null (decoded) or the reason it was skipped. */
    record SliceResult(int slice, List<String> ids, List<String> errors) implements Serializable {
        int decoded() {
            return (int) errors.stream().filter(e -> e == null).count();
        }
    }

    private PreprocessJob() {}

    public static Result run(SparkSession spark, Config p) {
        Paths.mustExist("checkpoint", p.checkpoint(), spark.sparkContext().hadoopConfiguration());
        if (ImageSets.isPixelArray(p.images())) throw new UserInputException("--images " + p.images() + " is already an array of preprocessed pixels");
        return JobRun.run(spark, NAME, p.out(), OUTPUTS, p, run -> preprocess(run, p));
    }

    private static Result preprocess(JobRun run, Config p) {
        SparkSession spark = run.spark();
        Configuration conf = run.hadoopConf();
        RunRecord record = run.record();
        Preprocessor pre = p.checkpoint() != null ? Preprocessor.fromConfig(p.checkpoint(), conf, p.size())
                : Preprocessor.of(p.size() != null ? p.size() : Preprocessor.DEFAULT_SIZE, Preprocessor.CLIP_MEAN, Preprocessor.CLIP_STD);
        pre = withOrder(pre, p, conf);
        List<ImageSets.ImageRef> refs = ImageSets.list(p.images(), conf);
        if (p.checkpoint() != null) record.checkpoint("checkpoint", p.checkpoint(), conf);
        record.param("size", pre.size()).param("mean", pre.mean()).param("std", pre.std()).param("preprocessing", pre.source())
                .param("preprocess", pre.order().value()).param("preprocess_from", pre.orderSource())
                .param("images_per_task", p.imagesPerTask());
        run.phase("prepare");

        ImageShards.Shards shards = ImageShards.Shards.of(spark, refs, p.imagesPerTask());
        ImageShards.Loader loader = shards.loader(pre);
        LongAccumulator counter = shards.counter();
        String parts = run.work().toString();
        List<SliceResult> results;
        try (Progress progress = new Progress("sith " + NAME, "images", refs.size(), 0, counter)) {
            results = new ArrayList<>(shards.tasks().map(i -> {
                List<ImageSets.ImageRef> slice = loader.slice(i);
                ImageShards.Batch batch = loader.load(i);
                writePart(new Path(parts, String.format("part-%05d.f32", i)), batch.pixels(), loader.hadoop());
                List<String> ids = new ArrayList<>();
                List<String> errors = new ArrayList<>();
                int skippedSeen = 0;
                for (ImageSets.ImageRef r : slice) {
                    ids.add(r.id());
                    errors.add(batch.decoded().contains(r) ? null : batch.skipped().get(skippedSeen++));
                }
                counter.add(slice.size());
                return new SliceResult(i, ids, errors);
            }).collect());
            progress.succeeded();
        }
        results.sort(Comparator.comparingInt(SliceResult::slice));
        int rows = results.stream().mapToInt(SliceResult::decoded).sum();
        List<String> skipped = new ArrayList<>();
        for (SliceResult r : results) for (String e : r.errors()) if (e != null) skipped.add(e);
        for (String s : skipped) System.err.println("sith " + NAME + ": skipped " + s);
        if (rows == 0) throw new UserInputException("--images " + p.images() + ": none of the " + refs.size() + " images could be decoded");
        concatenate(run.staged("pixels.npy"), parts, shards.count(), new long[] {rows, 3, pre.size(), pre.size()}, conf);
        List<Row> index = new ArrayList<>();
        int row = 0;
        for (SliceResult r : results) {
            for (int k = 0; k < r.ids().size(); k++) {
                String e = r.errors().get(k);
                index.add(RowFactory.create(e == null ? row++ : null, r.ids().get(k), e));
            }
        }
        spark.createDataFrame(index, INDEX).coalesce(1).write().parquet(run.staged("pixels_index"));
        ImageSets.record(record, "images", p.images(), refs, shards, conf);
        record.result("rows", rows).result("skipped", skipped);
        run.phase("preprocess");
        run.commit();
        run.deleteWork();
        return new Result(rows, skipped, pre.size(), p.out().folder());
    }

    /** --preprocess, else the checkpoint's layout's order (only then is the checkpoint opened), else the default. */
    static Preprocessor withOrder(Preprocessor pre, Config p, Configuration conf) {
        if (p.preprocess() != null || p.checkpoint() == null) {
            return pre.withOrder(p.preprocess() != null ? p.preprocess() : DEFAULT_ORDER,
                    p.preprocess() != null ? "--preprocess" : "default without --checkpoint");
        }
        try (ClipCheckpoint ck = ClipCheckpoint.open(p.checkpoint(), conf, null)) {
            return pre.withOrder(ImageModel.order(null, ck), ImageModel.orderSource(null, ck));
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint " + p.checkpoint() + ": " + e.getMessage(), e);
        }
    }

    private static void writePart(Path p, float[] data, Configuration conf) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(data);
        try (OutputStream o = Fs.fs(p, conf).create(p, true)) {
            o.write(bb.array());
        }
    }

    private static void concatenate(String target, String parts, int n, long[] shape, Configuration conf) {
        Path t = Fs.path(target);
        FileSystem fs = Fs.fs(t, conf);
        try (OutputStream o = fs.create(t, true)) {
            o.write(Npy.header("<f4", shape));
            for (int i = 0; i < n; i++) {
                Path part = new Path(parts, String.format("part-%05d.f32", i));
                try (InputStream in = fs.open(part)) {
                    in.transferTo(o);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }
}
