package org.sith.cli;

import static org.sith.cli.OptionSpec.value;

import org.sith.model.Activation;

/** Options of the commands that run the vision tower over images. */
final class ImageOptions {
    private ImageOptions() {}

    static final OptionSpec IMAGES = value("images", "PATH", "a folder (searched recursively for .jpg/.jpeg/.png), a glob, or one image");
    static final OptionSpec HEADS = value("heads", "N", "attention heads per layer (default: config.json / open_clip_config.json beside the checkpoint, else width/64)");
    static final OptionSpec ACTIVATION = value("activation", "quick_gelu|gelu", "MLP activation (default: from the config; OpenAI weights use quick_gelu)");
    static final OptionSpec SIZE = value("size", "PX", "image side (default: preprocessor_config.json / open_clip_config.json, else 224)");
    static final OptionSpec IMAGES_PER_TASK = value("images-per-task", "N", "images per Spark task", "256");

    static void validate(Options o) {
        if (o.has("heads")) o.positiveInt("heads");
        if (o.has("size")) o.positiveInt("size");
        if (o.has("activation")) Activation.parse(o.get("activation"));
        o.positiveInt("images-per-task");
    }
}
