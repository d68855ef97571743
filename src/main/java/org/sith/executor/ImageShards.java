package org.sith.executor;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.inputs.ImageSets.ImageRef;
import org.sith.inputs.ImageSets;
import org.sith.io.Fs;
import org.sith.io.Npy;
import org.sith.model.ImageDecoder;
import org.sith.model.Preprocessor;
import org.sith.model.VisionTower;

/** The executor side of the image commands: slices of images read, decoded and preprocessed in tasks. */
public final class ImageShards {
    private ImageShards() {}

    /** Slices of consecutive images, one per task. */
    public static List<List<ImageRef>> slices(List<ImageRef> refs, int perTask) {
        List<List<ImageRef>> out = new ArrayList<>();
        for (int s = 0; s < refs.size(); s += perTask) out.add(new ArrayList<>(refs.subList(s, Math.min(refs.size(), s + perTask))));
        return out;
    }

    /** One image's pixels, or why it was skipped; the SHA-256 of its bytes (null when they could not be read). */
    public record Loaded(ImageRef ref, float[] pixels, String error, String sha256) {}

    /** Reads, decodes and preprocesses an image; any failure becomes the reason it is skipped. */
    public static Loaded loadOne(ImageRef ref, Preprocessor pre, Configuration conf) {
        byte[] bytes = null;
        try {
            Path p = Fs.path(ref.path());
            try (InputStream in = Fs.fs(p, conf).open(p)) {
                bytes = in.readAllBytes();
            }
            return new Loaded(ref, pre.apply(ImageDecoder.decode(bytes, ref.id())), null, ImageSets.sha256(bytes));
        } catch (UserInputException e) {
            return new Loaded(ref, null, e.getMessage(), bytes == null ? null : ImageSets.sha256(bytes));
        } catch (IOException | RuntimeException e) {
            return new Loaded(ref, null, "image " + ref.id() + ": " + e, bytes == null ? null : ImageSets.sha256(bytes));
        }
    }

    /**
     * The images of one slice that decoded, as consecutive 3×S×S pixel blocks, and the ones skipped with their
     * reasons; {@code digest} lists every image's SHA-256 as `sha256sum` prints it ("hash  id" lines, in slice
     * order; null for a slice of a pixel .npy, which is fingerprinted whole).
     */
    public record Batch(List<ImageRef> refs, float[] pixels, int count, List<ImageRef> decoded, List<String> skipped, String digest) {
        public static Batch load(List<ImageRef> refs, Preprocessor pre, Configuration conf) {
            int block = 3 * pre.size() * pre.size();
            if (!refs.isEmpty() && refs.get(0).row() >= 0) {
                // a slice of a pixel .npy: consecutive rows, read with one open and one seek
                Npy.RowFile f = ImageSets.pixelArray(refs.get(0).path(), pre.size(), conf);
                float[] pixels = Npy.readRows(f, conf, refs.get(0).row(), refs.size());
                return new Batch(refs, pixels, refs.size(), refs, List.of(), null);
            }
            List<float[]> ok = new ArrayList<>();
            List<ImageRef> decoded = new ArrayList<>();
            List<String> skipped = new ArrayList<>();
            StringBuilder digest = new StringBuilder();
            for (ImageRef r : refs) {
                Loaded l = loadOne(r, pre, conf);
                digest.append(l.sha256() == null ? "unreadable" : l.sha256()).append("  ").append(r.id()).append('\n');
                if (l.pixels() != null) {
                    ok.add(l.pixels());
                    decoded.add(r);
                } else {
                    skipped.add(l.error());
                }
            }
            float[] pixels = new float[ok.size() * block];
            for (int i = 0; i < ok.size(); i++) System.arraycopy(ok.get(i), 0, pixels, i * block, block);
            return new Batch(refs, pixels, ok.size(), decoded, skipped, digest.toString());
        }
    }

    /**
     * An image job's tasks: one per slice, with the Hadoop configuration and the slices broadcast
     * once. Lambdas must capture the broadcasts, not this record (it holds the driver's context).
     */
    /**
     * What an image task needs from the driver, small and serializable for the task's closure: the
     * Hadoop configuration, the slices, the accumulator of image digests and the preprocessing.
     */
    /** {@code model} null: a loader of pixels only (preprocess), with no tower. */
    public record Loader(Broadcast<SerializableConf> conf, Broadcast<List<List<ImageRef>>> slices, CollectionAccumulator<String> digests,
                  Preprocessor pre, ImageModel model) implements Serializable {
        public Configuration hadoop() {
            return conf.value().get();
        }

        public List<ImageRef> slice(int i) {
            return slices.value().get(i);
        }

        /** Reads, decodes and preprocesses slice {@code i}, reporting its images' digest for `_run.json`. */
        public Batch load(int i) {
            Batch batch = Batch.load(slice(i), pre, hadoop());
            if (batch.digest() != null) digests.add(i + "\t" + batch.digest());
            return batch;
        }

        /** The executor's vision tower in the model's precision (read once per JVM), with the task's cores given to BLAS. */
        public VisionTower tower() {
            TaskCores.toBlas();
            return TowerCache.vision(model.checkpoint(), hadoop(), model.heads(), model.activation(), model.precision());
        }

        /** Slice {@code i} read, decoded and through the executor's vision tower: one forward pass per decoded image. */
        public Embedded embed(int i) {
            VisionTower tower = tower();
            Batch batch = load(i);
            return new Embedded(i, batch.refs().size(), batch.decoded(), ImageModel.embed(tower, batch), batch.skipped());
        }
    }

    /**
     * A slice's image embeddings LN_post(x_CLS)·P (raw, not normalized), one per decoded image in slice order
     * ({@code embeddings[k]} is image {@code decoded[k]}'s), and the reasons its other images were skipped;
     * {@code images} counts both.
     */
    public record Embedded(int slice, int images, List<ImageRef> decoded, float[][] embeddings, List<String> skipped) implements Serializable {}

    public record Shards(JavaSparkContext jsc, Broadcast<SerializableConf> conf, Broadcast<List<List<ImageRef>>> slices,
                  LongAccumulator counter, CollectionAccumulator<String> digests, int count) {
        public static Shards of(SparkSession spark, List<ImageRef> refs, int perTask) {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            List<List<ImageRef>> slices = ImageShards.slices(refs, perTask);
            return new Shards(jsc, jsc.broadcast(new SerializableConf(spark.sparkContext().hadoopConfiguration())),
                    jsc.broadcast(slices), spark.sparkContext().longAccumulator("images"),
                    spark.sparkContext().collectionAccumulator("image digests"), slices.size());
        }

        /** What each task reads its slice with and embeds it by. */
        public Loader loader(ImageModel model) {
            return new Loader(conf, slices, digests, model.pre(), model);
        }

        /** A loader of pixels only. */
        public Loader loader(Preprocessor pre) {
            return new Loader(conf, slices, digests, pre, null);
        }

        /** The slice indices, one partition each. */
        public JavaRDD<Integer> tasks() {
            List<Integer> indices = new ArrayList<>();
            for (int i = 0; i < count; i++) indices.add(i);
            return jsc.parallelize(indices, count);
        }
    }
}
