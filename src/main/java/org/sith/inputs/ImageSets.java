package org.sith.inputs;

import java.io.IOException;
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
import org.sith.UserInputException;
import org.sith.io.Fs;
import org.sith.io.Npy;
import org.sith.run.RunRecord;

/**
 * The images a command reads: a folder (searched recursively for .jpg/.jpeg/.png), a glob, or one
 * file; sorted by path so that slices, and therefore outputs, do not depend on listing order.
 */
public final class ImageSets {
    private ImageSets() {}

    /**
     * One image: its id in the outputs (path relative to the folder, or as listed; the row index
     * for an .npy of pixels) and where to read it (row ≥ 0: a row of that .npy).
     */
    public record ImageRef(String id, String path, long row) implements Serializable {
        ImageRef(String id, String path) {
            this(id, path, -1);
        }
    }

    public static boolean isPixelArray(String images) {
        return images.toLowerCase(Locale.ROOT).endsWith(".npy");
    }

    /** An .npy of preprocessed pixels must be N×3×S×S float with S the model's image side. */
    public static Npy.RowFile pixelArray(String images, int size, Configuration conf) {
        Npy.RowFile f = Npy.openRows("--images", images, conf, 4);
        long[] s = f.shape();
        if (s.length != 4 || s[1] != 3 || s[2] != size || s[3] != size || s[0] == 0) {
            throw new UserInputException("--images " + images + " has shape " + Arrays.toString(s) + ", expected (N, 3, " + size + ", " + size + ")");
        }
        return f;
    }

    public static boolean isImageName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
    }

    /** The images of a folder, glob, single file, or pixel .npy (whose side must be {@code size}). */
    public static List<ImageRef> list(String images, int size, Configuration conf) {
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

    public static List<ImageRef> list(String images, Configuration conf) {
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
    public static ImageRef inManifest(String id, String image, Path manifestFolder) {
        Path p = new Path(image).isAbsolute() || image.contains(":") ? Fs.path(image) : new Path(manifestFolder, image);
        return new ImageRef(id, p.toString());
    }

    public static String sha256(byte[] bytes) {
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
    public static void record(RunRecord record, String role, String images, List<ImageRef> refs, org.sith.executor.ImageShards.Shards shards, Configuration conf) {
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

}
