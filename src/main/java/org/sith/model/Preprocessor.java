package org.sith.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.Arrays;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import org.sith.UserInputException;
import org.sith.io.Fs;

/**
 * CLIP's image preprocessing: resize the shorter side to {@link #resizeSize()} with Pillow's
 * bicubic, center crop to {@link #size()} (torchvision's rounding), then per channel
 * {@code (byte / 255 - mean) / std} in float32, as torchvision's ToTensor + Normalize (and HF's
 * rescale + normalize) compute it. Output is channel-major 3 x S x S.
 *
 * <p>The numbers come from {@code preprocessor_config.json} (Hugging Face) or
 * {@code open_clip_config.json} beside the checkpoint, else CLIP's defaults. When the image is
 * converted to RGB is its {@link #order()}: {@link PreprocessOrder#OPENCLIP} resizes and crops the
 * image in the mode it was opened in and converts afterwards, as OpenCLIP and OpenAI's {@code clip}
 * do (Pillow then resizes palette and 1-bit images with nearest neighbour and RGBA / LA images
 * premultiplied by their alpha: see {@link PilImage}); {@link PreprocessOrder#HF} converts first,
 * as Hugging Face's CLIPImageProcessor does. The two differ only for palette, 1-bit, LA and RGBA
 * images. The factories here give {@link PreprocessOrder#HF}; the image commands set the
 * checkpoint's order with {@link #withOrder}.
 */
public final class Preprocessor implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    public static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};
    public static final int DEFAULT_SIZE = 224;
    static final String HF_FILE = "preprocessor_config.json";
    static final String OPEN_CLIP_FILE = "open_clip_config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int resizeSize;
    private final int size;
    private final double[] mean;
    private final double[] std;
    private final String source;
    private final PreprocessOrder order;
    private final String orderSource;

    private Preprocessor(int resizeSize, int size, double[] mean, double[] std, String source) {
        this(resizeSize, size, mean, std, source, PreprocessOrder.HF, "default");
    }

    private Preprocessor(int resizeSize, int size, double[] mean, double[] std, String source, PreprocessOrder order, String orderSource) {
        if (resizeSize <= 0 || size <= 0) throw new IllegalArgumentException("sizes must be positive: " + resizeSize + ", " + size);
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 values");
        for (double s : std) if (!(s > 0) || Double.isInfinite(s)) throw new IllegalArgumentException("std must be positive: " + Arrays.toString(std));
        this.resizeSize = resizeSize;
        this.size = size;
        this.mean = mean.clone();
        this.std = std.clone();
        this.source = source;
        this.order = java.util.Objects.requireNonNull(order, "order");
        this.orderSource = orderSource;
    }

    /** The same numbers with the given conversion order; {@code why} says where it came from (for _run.json). */
    public Preprocessor withOrder(PreprocessOrder order, String why) {
        return new Preprocessor(resizeSize, size, mean, std, source, order, why);
    }

    /** Resize the shorter side to size and crop size x size. */
    public static Preprocessor of(int size, double[] mean, double[] std) {
        return new Preprocessor(size, size, mean, std, "given (size " + size + ")");
    }

    /**
     * The preprocessing saved beside the checkpoint: preprocessor_config.json, else
     * open_clip_config.json, else CLIP's defaults at size 224. sizeOverride (if not null) replaces
     * both the resize and the crop size; mean and std still come from the file.
     */
    public static Preprocessor fromConfig(String checkpointPath, Configuration conf, Integer sizeOverride) {
        if (sizeOverride != null && sizeOverride <= 0) throw new UserInputException("image size " + sizeOverride + " must be positive");
        Path dir = folder(checkpointPath, conf);
        Preprocessor p = null;
        if (dir != null) {
            JsonNode hf = read(new Path(dir, HF_FILE), conf);
            if (hf != null) {
                p = fromHf(new Path(dir, HF_FILE).toString(), hf);
            } else {
                JsonNode oc = read(new Path(dir, OPEN_CLIP_FILE), conf);
                if (oc != null) p = fromOpenClip(new Path(dir, OPEN_CLIP_FILE).toString(), oc);
            }
        }
        if (p == null) {
            int s = sizeOverride != null ? sizeOverride : DEFAULT_SIZE;
            return new Preprocessor(s, s, CLIP_MEAN, CLIP_STD, "CLIP defaults (no " + HF_FILE + " or " + OPEN_CLIP_FILE
                    + " beside " + checkpointPath + ")" + (sizeOverride != null ? ", size " + s + " as given" : ""));
        }
        if (sizeOverride == null) return p;
        return new Preprocessor(sizeOverride, sizeOverride, p.mean, p.std, p.source + ", size " + sizeOverride + " as given");
    }

    /** Whether no config file gave these numbers (CLIP's mean, std and 224). */
    public boolean fromDefaults() {
        return source.startsWith("CLIP defaults");
    }

    /** The same numbers at another image side, saying why. */
    public Preprocessor atSize(int side, String why) {
        return new Preprocessor(side, side, mean, std, source + ", size " + side + " " + why);
    }

    /** The checkpoint's folder: the path itself if it is a folder, else its parent. */
    private static Path folder(String checkpointPath, Configuration conf) {
        return org.sith.checkpoint.CheckpointFile.dirOf(checkpointPath, conf);
    }

    static Preprocessor fromHf(String file, JsonNode root) {
        JsonNode resample = root.get("resample");
        if (resample != null && !(resample.isIntegralNumber() && resample.intValue() == 3)) {
            throw new UserInputException("config " + file + ": resample is " + resample + ", only 3 (bicubic) is supported");
        }
        for (String flag : new String[] {"do_resize", "do_center_crop", "do_rescale", "do_normalize"}) {
            JsonNode v = root.get(flag);
            if (v != null && !v.asBoolean(true)) throw new UserInputException("config " + file + ": " + flag + " is " + v + ", only true is supported");
        }
        JsonNode rescale = root.get("rescale_factor");
        if (rescale != null && !(rescale.isNumber() && Math.abs(rescale.doubleValue() * 255 - 1) < 1e-9)) {
            throw new UserInputException("config " + file + ": rescale_factor is " + rescale + ", only 1/255 is supported");
        }
        // HF's size {height, width} would squash to that shape, not keep the aspect: not CLIP's, not supported
        int resize = side(file, root.get("size"), "shortest_edge", false, DEFAULT_SIZE);
        int crop = side(file, root.get("crop_size"), null, true, resize);
        return new Preprocessor(resize, crop, triple(file, root, "image_mean", CLIP_MEAN), triple(file, root, "image_std", CLIP_STD), file);
    }

    static Preprocessor fromOpenClip(String file, JsonNode root) {
        JsonNode pc = root.path("preprocess_cfg");
        String interpolation = pc.path("interpolation").asText("bicubic");
        if (!interpolation.equals("bicubic")) {
            throw new UserInputException("config " + file + ": preprocess_cfg.interpolation is '" + interpolation + "', only bicubic is supported");
        }
        String mode = pc.path("resize_mode").asText("shortest");
        if (!mode.equals("shortest")) {
            throw new UserInputException("config " + file + ": preprocess_cfg.resize_mode is '" + mode + "', only shortest is supported");
        }
        JsonNode vision = root.path("model_cfg").path("vision_cfg");
        int s = side(file, vision.get("image_size"), null, true, DEFAULT_SIZE);
        return new Preprocessor(s, s, triple(file, pc, "mean", CLIP_MEAN), triple(file, pc, "std", CLIP_STD), file);
    }

    /** An int, or {key: int}, or (if square is allowed) [n, n] or {height: n, width: n}; dflt when absent. */
    private static int side(String file, JsonNode v, String key, boolean square, int dflt) {
        if (v == null || v.isNull()) return dflt;
        if (v.isIntegralNumber() && v.intValue() > 0) return v.intValue();
        if (square && v.isArray() && v.size() == 2 && v.get(0).isIntegralNumber() && v.get(0).equals(v.get(1)) && v.get(0).intValue() > 0) {
            return v.get(0).intValue();
        }
        if (v.isObject()) {
            if (key != null && v.path(key).isIntegralNumber() && v.get(key).intValue() > 0) return v.get(key).intValue();
            JsonNode hh = v.get("height"), ww = v.get("width");
            if (square && hh != null && ww != null && hh.isIntegralNumber() && hh.equals(ww) && hh.intValue() > 0) return hh.intValue();
        }
        throw new UserInputException("config " + file + ": image size " + v + " is not supported (expected a positive integer"
                + (key != null ? " or {\"" + key + "\": n}" : "") + (square ? " or a square {\"height\": n, \"width\": n}" : "") + ")");
    }

    private static double[] triple(String file, JsonNode parent, String field, double[] dflt) {
        JsonNode v = parent.get(field);
        if (v == null || v.isNull()) return dflt;
        if (!v.isArray() || v.size() != 3) throw new UserInputException("config " + file + ": " + field + " is " + v + ", expected 3 numbers");
        double[] out = new double[3];
        for (int i = 0; i < 3; i++) {
            if (!v.get(i).isNumber()) throw new UserInputException("config " + file + ": " + field + " is " + v + ", expected 3 numbers");
            out[i] = v.get(i).doubleValue();
        }
        if (field.contains("std")) {
            for (double s : out) if (!(s > 0)) throw new UserInputException("config " + file + ": " + field + " is " + v + ", expected positive numbers");
        }
        return out;
    }

    private static JsonNode read(Path p, Configuration conf) {
        FileSystem fs = Fs.fs(p, conf);
        try {
            if (!fs.exists(p)) return null;
            try (InputStream in = fs.open(p)) {
                JsonNode root = JSON.readTree(in);
                if (root == null || !root.isObject()) throw new UserInputException("config " + p + ": not a JSON object");
                return root;
            }
        } catch (JsonProcessingException e) {
            throw new UserInputException("config " + p + ": not valid JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("config " + p + ": " + e.getMessage(), e);
        }
    }

    /** 3 x size x size floats, channel-major. */
    public float[] apply(ImageDecoder.Decoded img) {
        return apply(img, order);
    }

    /** The same in the given order. */
    public float[] apply(ImageDecoder.Decoded img, PreprocessOrder order) {
        int[] wh = PilResize.resizeShorterSide(img.width(), img.height(), resizeSize);
        if (order == PreprocessOrder.OPENCLIP && img.image().mode().orderMatters()) {
            // resize and crop in the image's own mode, then convert('RGB')
            return normalize(img.image().resizedCrop(wh[0], wh[1], size).toRgb(), size * size);
        }
        // convert('RGB') first (for RGB and gray images both orders are this)
        byte[] crop;
        if (wh[0] >= size && wh[1] >= size) { // the usual case: resize only what the crop keeps
            int left = PilResize.cropOffset(wh[0], size);
            int top = PilResize.cropOffset(wh[1], size);
            crop = PilResize.resizeWindow(img.rgb(), img.width(), img.height(), wh[0], wh[1], left, top, size, size);
        } else { // crop larger than the resized image: torchvision pads with zeros
            byte[] resized = PilResize.resize(img.rgb(), img.width(), img.height(), wh[0], wh[1]);
            crop = PilResize.centerCrop(resized, wh[0], wh[1], size);
        }
        return normalize(crop, size * size);
    }

    /** float32 throughout, as torch: (b / 255f - (float) mean) / (float) std. */
    float[] normalize(byte[] rgb, int pixels) {
        float[] out = new float[3 * pixels];
        for (int c = 0; c < 3; c++) {
            // one table per channel: the same float ops for each of the 256 byte values
            float m = (float) mean[c], s = (float) std[c];
            float[] lut = new float[256];
            for (int b = 0; b < 256; b++) lut[b] = (b / 255f - m) / s;
            for (int i = 0, o = c * pixels; i < pixels; i++, o++) out[o] = lut[rgb[i * 3 + c] & 0xFF];
        }
        return out;
    }

    /** The crop side: the model's input size. */
    public int size() {
        return size;
    }

    /** The shorter side after resizing (usually equal to size()). */
    public int resizeSize() {
        return resizeSize;
    }

    public double[] mean() {
        return mean.clone();
    }

    public double[] std() {
        return std.clone();
    }

    /** Where the numbers came from: a config file, the caller, or the defaults. */
    public String source() {
        return source;
    }

    /** When the image is converted to RGB: before (hf) or after (openclip) resizing and cropping. */
    public PreprocessOrder order() {
        return order;
    }

    /** Where the order came from: the option, the checkpoint's layout, or a default. */
    public String orderSource() {
        return orderSource;
    }

    @Override
    public String toString() {
        return "Preprocessor[resize " + resizeSize + ", crop " + size + ", mean " + Arrays.toString(mean) + ", std "
                + Arrays.toString(std) + ", from " + source + ", order " + order.value() + " (" + orderSource + ")]";
    }
}
