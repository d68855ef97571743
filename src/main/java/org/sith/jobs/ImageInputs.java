package org.sith.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.io.Fs;
import org.sith.linalg.Gemm;
import org.sith.io.Npy;
import org.sith.model.ImageDecoder;
import org.sith.model.Preprocessor;
import org.sith.model.VisionTower;

/**
 * The images a command reads: a folder (searched recursively for .jpg/.jpeg/.png), a glob, or one
 * file; sorted by path so that slices, and therefore outputs, do not depend on listing order.
 */
final class ImageInputs {
    private ImageInputs() {}

    /**
     * One image: its id in the outputs (path relative to the folder, or as listed; the row index
     * for an .npy of pixels) and where to read it (row ≥ 0: a row of that .npy).
     */
    record ImageRef(String id, String path, long row) implements Serializable {
        ImageRef(String id, String path) {
            this(id, path, -1);
        }
    }

    static boolean isPixelArray(String images) {
        return images.toLowerCase(Locale.ROOT).endsWith(".npy");
    }

    /** An .npy of preprocessed pixels must be N×3×S×S float with S the model's image side. */
    static Npy.RowFile pixelArray(String images, int size, Configuration conf) {
        Npy.RowFile f = Npy.openRows("--images", images, conf, 4);
        long[] s = f.shape();
        if (s.length != 4 || s[1] != 3 || s[2] != size || s[3] != size || s[0] == 0) {
            throw new UserInputException("--images " + images + " has shape " + Arrays.toString(s) + ", expected (N, 3, " + size + ", " + size + ")");
        }
        return f;
    }

    /** One image's pixels, or why it was skipped; the SHA-256 of its bytes (null when they could not be read). */
    record Loaded(ImageRef ref, float[] pixels, String error, String sha256) {}

    static boolean isImageName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
    }

    /** The images of a folder, glob, single file, or pixel .npy (whose side must be {@code size}). */
    static List<ImageRef> list(String images, int size, Configuration conf) {
        if (isPixelArray(images)) {
            Npy.RowFile f = pixelArray(images, size, conf);
            Path p = Fs.path(images);
            String qualified = Fs.fs(p, conf).makeQualified(p).toString(); // executors may have another working folder
            List<ImageRef> out = new ArrayList<>();
            for (long r = 0; r < f.rows(); r++) out.add(new ImageRef(Long.toString(r), qualified, r));
            return out;
        }
        return list(images, conf);
    }

    static List<ImageRef> list(String images, Configuration conf) {
        Path p = Fs.path(images);
        FileSystem fs = Fs.fs(p, conf);
        List<ImageRef> out = new ArrayList<>();
        try {
            if (images.matches(".*[*?\\[{].*")) {
                FileStatus[] matched = fs.globStatus(p);
                if (matched != null) {
                    for (FileStatus st : matched) if (st.isFile()) out.add(new ImageRef(st.getPath().toString(), st.getPath().toString()));
                }
            } else if (!fs.exists(p)) {
                throw new UserInputException("--images " + images + " does not exist");
            } else if (fs.getFileStatus(p).isDirectory()) {
                String root = fs.getFileStatus(p).getPath().toString();
                RemoteIterator<LocatedFileStatus> it = fs.listFiles(p, true);
                while (it.hasNext()) {
                    LocatedFileStatus st = it.next();
                    String full = st.getPath().toString();
                    if (isImageName(st.getPath().getName()) && !st.getPath().getName().startsWith(".")) {
                        out.add(new ImageRef(full.startsWith(root + "/") ? full.substring(root.length() + 1) : full, full));
                    }
                }
            } else {
                String full = fs.getFileStatus(p).getPath().toString();
                out.add(new ImageRef(full, full));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("--images " + images + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new UserInputException("--images " + images + ": no JPEG or PNG files found");
        out.sort((a, b) -> a.path().compareTo(b.path()));
        return out;
    }

    /** An image path as written in a manifest: absolute or with a scheme as is, else relative to the manifest's folder. */
    static ImageRef inManifest(String id, String image, Path manifestFolder) {
        Path p = new Path(image).isAbsolute() || image.contains(":") ? Fs.path(image) : new Path(manifestFolder, image);
        return new ImageRef(id, p.toString());
    }

    /** Slices of consecutive images, one per task. */
    static List<List<ImageRef>> slices(List<ImageRef> refs, int perTask) {
        List<List<ImageRef>> out = new ArrayList<>();
        for (int s = 0; s < refs.size(); s += perTask) out.add(new ArrayList<>(refs.subList(s, Math.min(refs.size(), s + perTask))));
        return out;
    }

    /** Reads, decodes and preprocesses an image; any failure becomes the reason it is skipped. */
    static Loaded loadOne(ImageRef ref, Preprocessor pre, Configuration conf) {
        byte[] bytes = null;
        try {
            Path p = Fs.path(ref.path());
            try (InputStream in = Fs.fs(p, conf).open(p)) {
                bytes = in.readAllBytes();
            }
            return new Loaded(ref, pre.apply(ImageDecoder.decode(bytes, ref.id())), null, sha256(bytes));
        } catch (UserInputException e) {
            return new Loaded(ref, null, e.getMessage(), bytes == null ? null : sha256(bytes));
        } catch (IOException | RuntimeException e) {
            return new Loaded(ref, null, "image " + ref.id() + ": " + e, bytes == null ? null : sha256(bytes));
        }
    }

    /**
     * The images of one slice that decoded, as consecutive 3×S×S pixel blocks, and the ones skipped with their
     * reasons; {@code digest} lists every image's SHA-256 as `sha256sum` prints it ("hash  id" lines, in slice
     * order; null for a slice of a pixel .npy, which is fingerprinted whole).
     */
    record Batch(List<ImageRef> refs, float[] pixels, int count, List<ImageRef> decoded, List<String> skipped, String digest) {
        static Batch load(List<ImageRef> refs, Preprocessor pre, Configuration conf) {
            int block = 3 * pre.size() * pre.size();
            if (!refs.isEmpty() && refs.get(0).row() >= 0) {
                // a slice of a pixel .npy: consecutive rows, read with one open and one seek
                Npy.RowFile f = pixelArray(refs.get(0).path(), pre.size(), conf);
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

    static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Records an image set in `_run.json` after its tasks ran: a pixel .npy by the SHA-256 of the file; image
     * files by the SHA-256 of their `sha256sum` listing ("hash  id" per image, in id order), hashed by the tasks
     * from the bytes they read anyway, so fingerprinting costs no second read of the images.
     */
    static void record(RunRecord record, String role, String images, List<ImageRef> refs, Shards shards, Configuration conf) {
        if (isPixelArray(images)) {
            record.input(role, images, conf);
            return;
        }
        java.util.TreeMap<Integer, String> bySlice = new java.util.TreeMap<>();
        for (String d : shards.digests().value()) {
            int tab = d.indexOf('\t');
            bySlice.put(Integer.parseInt(d.substring(0, tab)), d.substring(tab + 1)); // a retried task reports the same lines twice
        }
        if (bySlice.size() != shards.count()) throw new IllegalStateException("image digests of " + bySlice.size() + " of " + shards.count() + " slices");
        String listing = String.join("", bySlice.values());
        record.inputFingerprint(role, images, sha256(listing.getBytes(java.nio.charset.StandardCharsets.UTF_8)),
                "sha256 of the sha256sum listing of the images (\"<sha256 of the bytes>  <image id>\" lines in id order)");
        record.inputEntry(role).put("images", refs.size());
    }

    /**
     * An image job's tasks: one per slice, with the Hadoop configuration and the slices broadcast
     * once. Lambdas must capture the broadcasts, not this record (it holds the driver's context).
     */
    /**
     * What an image task needs from the driver, small and serializable for the task's closure: the
     * Hadoop configuration, the slices, the accumulator of image digests and the preprocessing.
     */
    record Loader(Broadcast<SerializableConf> conf, Broadcast<List<List<ImageRef>>> slices, CollectionAccumulator<String> digests,
                  Preprocessor pre) implements Serializable {
        Configuration hadoop() {
            return conf.value().get();
        }

        List<ImageRef> slice(int i) {
            return slices.value().get(i);
        }

        /** Reads, decodes and preprocesses slice {@code i}, reporting its images' digest for `_run.json`. */
        Batch load(int i) {
            Batch batch = Batch.load(slice(i), pre, hadoop());
            if (batch.digest() != null) digests.add(i + "\t" + batch.digest());
            return batch;
        }

        /** The executor's vision tower (read once per JVM), with the task's cores given to BLAS. */
        VisionTower tower(String checkpoint, Integer heads, String activation) {
            TaskContext tc = TaskContext.get();
            Gemm.setBlasThreads(tc == null ? 1 : tc.cpus());
            return TowerCache.vision(checkpoint, hadoop(), heads, activation);
        }
    }

    record Shards(JavaSparkContext jsc, Broadcast<SerializableConf> conf, Broadcast<List<List<ImageRef>>> slices,
                  LongAccumulator counter, CollectionAccumulator<String> digests, int count) {
        static Shards of(SparkSession spark, List<ImageRef> refs, int perTask) {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            List<List<ImageRef>> slices = ImageInputs.slices(refs, perTask);
            return new Shards(jsc, jsc.broadcast(new SerializableConf(spark.sparkContext().hadoopConfiguration())),
                    jsc.broadcast(slices), spark.sparkContext().longAccumulator("images"),
                    spark.sparkContext().collectionAccumulator("image digests"), slices.size());
        }

        /** What each task reads its slice with. */
        Loader loader(Preprocessor pre) {
            return new Loader(conf, slices, digests, pre);
        }

        /** The slice indices, one partition each. */
        JavaRDD<Integer> tasks() {
            List<Integer> indices = new ArrayList<>();
            for (int i = 0; i < count; i++) indices.add(i);
            return jsc.parallelize(indices, count);
        }
    }
}
