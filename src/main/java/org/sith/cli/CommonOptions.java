package org.sith.cli;

import java.util.List;

import org.sith.coding.Method;
import org.sith.coding.Scoring;
import org.sith.heads.Side;
import org.sith.inputs.ConceptsInput;
import org.sith.model.Activation;
import org.sith.model.PreprocessOrder;
import org.sith.model.TowerPrecision;
import org.sith.run.Coding;
import org.sith.run.HeadSelection;
import org.sith.run.ImageSettings;
import org.sith.run.LayerSpec;
import org.sith.run.OutputTarget;
import org.sith.run.WriteMode;

/**
 * The options several commands share, with the exact names of SPEC §10, and the typed pieces of
 * configuration they make. Defaults come from those pieces ({@link Coding#DEFAULTS}, {@link HeadSelection#DEFAULTS},
 * {@link ImageSettings#DEFAULT_IMAGES_PER_TASK}), so `--help` shows what the code uses.
 */
final class CommonOptions {
    private CommonOptions() {}

    static final Opt<String> CHECKPOINT = Opt.text("checkpoint", "PATH", "CLIP checkpoint: .safetensors, a shard index, a PyTorch .bin/.pt/.pth (read without running it) or a folder holding one; OpenCLIP/OpenAI, Hugging Face or timm naming");

    // concepts
    static final Opt<String> CONCEPTS = Opt.text("concepts", "PATH", "concepts/ Parquet folder, or an .npy (N×p or p×N) with --vocab");
    static final Opt<String> VOCAB = Opt.text("vocab", "FILE", "concept strings of an .npy dictionary, one a line, in row order");
    static final Opt<String> IMAGE_MEAN = Opt.text("image-mean", "PATH", "image mean in the joint space (.npy or Parquet) subtracted before coding");

    // coding
    static final Opt<Method> METHOD = Opt.of("method", "comp|nnomp|omp|mp|topk", "sparse coder", Coding.DEFAULT_METHOD, Method::parse);
    static final Opt<Double> LAMBDA = Opt.of("lambda", "X", "COMP coherence weight λ (≥ 0; the other coders have none)", Coding.DEFAULT_LAMBDA,
            Opt::nonNegativeNumber);
    static final Opt<Integer> K = Opt.of("k", "N", "concepts per explanation", Coding.DEFAULT_K, Opt::positive);
    static final Opt<Integer> BATCH_ROWS = Opt.of("batch-rows", "N", "vectors coded together in one product (≥ 256 keeps BLAS near its roofline)",
            Coding.DEFAULT_BATCH_ROWS, Opt::positive);
    static final Opt<Scoring> SCORING = Opt.of("scoring", "auto|fp32|bf16",
            "how the coders' big product runs: bf16 on AMX (auto), OpenBLAS f32, or oneDNN bf16; every setting selects the same concepts (SPEC §12)",
            Coding.DEFAULT_SCORING, Scoring::parse);

    // heads
    static final Opt<LayerSpec> LAYERS = Opt.of("layers", "SPEC", "all, last:N, or a list such as 20,21,22,23 or 20-23", LayerSpec.ALL, LayerSpec::parse);
    static final Opt<Integer> HEADS = Opt.of("heads", "N",
            "attention heads per layer (default: config.json / open_clip_config.json beside the checkpoint, else width/64)", Opt::positive);
    static final Opt<Side> SIDE = Opt.of("side", "right|left", "explain write (right) or read (left) directions", HeadSelection.DEFAULTS.side(), Side::parse);
    static final Opt<Integer> RANK = Opt.of("rank", "R", "singular vectors kept per head (default: the head width)", Opt::positive);

    // output
    static final Opt<String> MODEL_NAME = Opt.text("model-name", "NAME",
            "value of the model column (default: the checkpoint's file name, or its folder's for model.safetensors and the like)");
    static final Opt<String> OUT = Opt.text("out", "DIR", "output folder (local, file:, hdfs:, s3a:)");
    static final Opt<Boolean> OVERWRITE = Opt.flag("overwrite", "replace this command's existing outputs under --out");
    static final Opt<Boolean> RESUME = Opt.flag("resume", "keep existing outputs under --out and compute only what is missing");

    // images
    static final Opt<String> IMAGES = Opt.text("images", "PATH", "a folder (searched recursively for .jpg/.jpeg/.png), a glob, one image, or an .npy of preprocessed pixels");
    static final Opt<String> ACTIVATION = Opt.of("activation", "quick_gelu|gelu", "MLP activation (default: from the config; OpenAI weights use quick_gelu)",
            s -> Activation.parse(s).configName);
    static final Opt<Integer> SIZE = Opt.of("size", "PX", "image side (default: preprocessor_config.json / open_clip_config.json, else 224)", Opt::positive);
    static final Opt<Integer> IMAGES_PER_TASK = Opt.of("images-per-task", "N", "images per Spark task", ImageSettings.DEFAULT_IMAGES_PER_TASK, Opt::positive);
    static final String PREPROCESS_HELP = "when images become RGB: openclip resizes and crops first, as OpenCLIP and OpenAI's clip do; "
            + "hf converts first, as Hugging Face's CLIPImageProcessor does (they differ on palette, 1-bit and alpha images)";
    static final Opt<PreprocessOrder> PREPROCESS = Opt.of("preprocess", "openclip|hf",
            PREPROCESS_HELP + " (default: the checkpoint's: openclip for OpenCLIP/OpenAI naming, hf for Hugging Face and timm)", PreprocessOrder::parse);
    static final Opt<TowerPrecision> TOWER_PRECISION = Opt.of("tower-precision", "f32|bf16",
            "precision of the towers' attention and MLP products: f32 (OpenBLAS, exact) or bf16 (oneDNN bfloat16 matmul, fast on AMX; "
                    + "approximate results, and _run.json says so)", ImageSettings.DEFAULT_TOWER_PRECISION,
            s -> TowerPrecision.parse(s).requireRunnable());
    static final Opt<String> BPE = Opt.text("bpe", "FILE", "tokenizer file (default: the tokenizer files beside the checkpoint)");

    static List<Opt<?>> coding() {
        return List.of(METHOD, LAMBDA, K, BATCH_ROWS, SCORING);
    }

    static List<Opt<?>> heads() {
        return List.of(LAYERS, HEADS, SIDE, RANK);
    }

    static List<Opt<?>> images() {
        return List.of(HEADS, ACTIVATION, SIZE, IMAGES_PER_TASK, PREPROCESS, TOWER_PRECISION);
    }

    static Coding coding(Options o) {
        return new Coding(o.get(METHOD), o.get(LAMBDA), o.get(K), o.get(BATCH_ROWS), o.get(SCORING));
    }

    static HeadSelection heads(Options o) {
        return new HeadSelection(o.get(LAYERS), o.get(HEADS), o.get(SIDE), o.get(RANK));
    }

    static ImageSettings imageSettings(Options o) {
        return new ImageSettings(o.get(HEADS), o.get(ACTIVATION), o.get(SIZE), o.get(IMAGES_PER_TASK), o.get(PREPROCESS), o.get(TOWER_PRECISION));
    }

    /** The settings of a command that takes its image side from the checkpoint only (no --size). */
    static ImageSettings imageSettingsWithoutSize(Options o) {
        return new ImageSettings(o.get(HEADS), o.get(ACTIVATION), null, o.get(IMAGES_PER_TASK), o.get(PREPROCESS), o.get(TOWER_PRECISION));
    }

    /** --concepts (required) with --vocab. */
    static ConceptsInput concepts(Options o) {
        return new ConceptsInput(o.required(CONCEPTS), o.get(VOCAB));
    }

    /** --concepts when given, else null (and then --vocab makes no sense). */
    static ConceptsInput optionalConcepts(Options o) {
        if (!o.has(CONCEPTS)) {
            if (o.has(VOCAB)) throw new org.sith.UserInputException("--vocab is only used with --concepts");
            return null;
        }
        return concepts(o);
    }

    /** --out with --overwrite and, for commands that can resume, --resume. */
    static OutputTarget output(Options o, boolean resumable) {
        return new OutputTarget(o.required(OUT), WriteMode.of(o.flag(OVERWRITE), resumable && o.flag(RESUME)));
    }
}
