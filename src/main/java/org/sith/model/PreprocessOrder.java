package org.sith.model;

import java.util.Locale;

import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.Layout;

/**
 * When an image is converted to RGB relative to the resize, as the checkpoint's own ecosystem does it
 * (SPEC §2, "Other formats users have"):
 * <ul>
 * <li>{@link #OPENCLIP}: OpenCLIP's and OpenAI {@code clip}'s eval transform, {@code Resize(bicubic) → CenterCrop →
 *     convert('RGB') → ToTensor → Normalize} on the PIL image in the mode it was opened in. Pillow resizes palette
 *     and 1-bit images with nearest neighbour whatever filter is asked for, and RGBA / LA images premultiplied by
 *     their alpha; the alpha is dropped only afterwards.</li>
 * <li>{@link #HF}: Hugging Face {@code CLIPImageProcessor}, which calls {@code convert('RGB')} first and then
 *     resizes and crops the RGB image.</li>
 * </ul>
 * For RGB and grayscale images the two are the same computation (each channel is resampled on its own).
 */
public enum PreprocessOrder {
    OPENCLIP, HF;

    /** The option's spelling: openclip or hf. */
    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static PreprocessOrder parse(String s) {
        switch (s.strip().toLowerCase(Locale.ROOT)) {
            case "openclip": return OPENCLIP;
            case "hf": return HF;
            default: throw new UserInputException("unknown order '" + s + "' (openclip: resize before converting to RGB, as OpenCLIP and "
                    + "OpenAI's clip do; hf: convert first, as Hugging Face's CLIPImageProcessor does)");
        }
    }

    /**
     * The order of the ecosystem a checkpoint comes from. timm files (read in the OpenCLIP layout) map to {@link #HF}:
     * timm's datasets convert to RGB when they load an image.
     */
    public static PreprocessOrder of(ClipCheckpoint ck) {
        if (ck.tensors().timmNames()) return HF;
        return switch (ck.layout()) {
            case OPENCLIP -> OPENCLIP;
            case HF -> HF;
        };
    }

    /** Which ecosystem {@link #of} followed, for run records. */
    public static String ecosystem(ClipCheckpoint ck) {
        if (ck.tensors().timmNames()) return "timm";
        return ck.layout() == Layout.OPENCLIP ? "OpenCLIP/OpenAI" : "Hugging Face";
    }
}
