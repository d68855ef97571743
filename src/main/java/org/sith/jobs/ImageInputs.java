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

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import org.sith.UserInputException;
import org.sith.io.Fs;
import org.sith.io.Npy;
import org.sith.model.ImageDecoder;
import org.sith.model.Preprocessor;

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

    /** One image's pixels, or why it was skipped. */
    record Loaded(ImageRef ref, float[] pixels, String error) {}

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
        try {
            Path p = Fs.path(ref.path());
            byte[] bytes;
            try (InputStream in = Fs.fs(p, conf).open(p)) {
                bytes = in.readAllBytes();
            }
            return new Loaded(ref, pre.apply(ImageDecoder.decode(bytes, ref.id())), null);
        } catch (UserInputException e) {
            return new Loaded(ref, null, e.getMessage());
        } catch (IOException | RuntimeException e) {
            return new Loaded(ref, null, "image " + ref.id() + ": " + e);
        }
    }

    /** The images of one slice that decoded, as consecutive 3×S×S pixel blocks, and the ones skipped with their reasons. */
    record Batch(List<ImageRef> refs, float[] pixels, int count, List<ImageRef> decoded, List<String> skipped) {
        static Batch load(List<ImageRef> refs, Preprocessor pre, Configuration conf) {
            int block = 3 * pre.size() * pre.size();
            if (!refs.isEmpty() && refs.get(0).row() >= 0) {
                // a slice of a pixel .npy: consecutive rows, read with one open and one seek
                Npy.RowFile f = pixelArray(refs.get(0).path(), pre.size(), conf);
                float[] pixels = Npy.readRows(f, conf, refs.get(0).row(), refs.size());
                return new Batch(refs, pixels, refs.size(), refs, List.of());
            }
            List<float[]> ok = new ArrayList<>();
            List<ImageRef> decoded = new ArrayList<>();
            List<String> skipped = new ArrayList<>();
            for (ImageRef r : refs) {
                Loaded l = loadOne(r, pre, conf);
                if (l.pixels() != null) {
                    ok.add(l.pixels());
                    decoded.add(r);
                } else {
                    skipped.add(l.error());
                }
            }
            float[] pixels = new float[ok.size() * block];
            for (int i = 0; i < ok.size(); i++) System.arraycopy(ok.get(i), 0, pixels, i * block, block);
            return new Batch(refs, pixels, ok.size(), decoded, skipped);
        }
    }

    /** A fingerprint of the listing (the image ids in order); the bytes are not hashed, which would read every image twice. */
    static String fingerprint(List<ImageRef> refs) {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            for (ImageRef r : refs) md.update((r.id() + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(md.digest()) + " (" + refs.size() + " image paths)";
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * An image job's tasks: one per slice, with the Hadoop configuration and the slices broadcast
     * once. Lambdas must capture the broadcasts, not this record (it holds the driver's context).
     */
    record Shards(JavaSparkContext jsc, Broadcast<SerializableConf> conf, Broadcast<List<List<ImageRef>>> slices,
                  LongAccumulator counter, int count) {
        static Shards of(SparkSession spark, List<ImageRef> refs, int perTask) {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            List<List<ImageRef>> slices = ImageInputs.slices(refs, perTask);
            return new Shards(jsc, jsc.broadcast(new SerializableConf(spark.sparkContext().hadoopConfiguration())),
                    jsc.broadcast(slices), spark.sparkContext().longAccumulator("images"), slices.size());
        }

        /** The slice indices, one partition each. */
        JavaRDD<Integer> tasks() {
            List<Integer> indices = new ArrayList<>();
            for (int i = 0; i < count; i++) indices.add(i);
            return jsc.parallelize(indices, count);
        }
    }
}
