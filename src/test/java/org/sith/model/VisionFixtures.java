package org.sith.model;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Random;

import org.sith.checkpoint.TensorData;

/**
 * A random small CLIP vision tower held in plain arrays (OpenCLIP orientation: Linear weights are
 * (out, in) row-major, {@code conv} is (width, 3, P, P), {@code proj} is (width, p) used as x·P),
 * writable in both naming layouts. Magnitudes keep activations O(1): LN weights 1 ± 0.3, biases
 * ± 0.1, Linear weights std 1/sqrt(in), conv std 1/sqrt(3·P·P), class embedding std 0.5, positions
 * std 0.1, projection std 1/sqrt(width). The arrays are public and mutable so a test can zero or
 * edit them before calling {@link #openClip()} / {@link #huggingFace()}.
 */
public final class VisionFixtures {
    public final int image, patch, width, layers, heads, p, mlp, grid, tokens;
    public final float[] conv, cls, pos;           // (width, 3, P, P), (width), (tokens, width)
    public final float[] lnPreW, lnPreB;
    public final float[][] ln1W, ln1B, qW, kW, vW, qB, kB, vB, outW, outB;
    public final float[][] ln2W, ln2B, fc1W, fc1B, fc2W, fc2B;
    public final float[] lnPostW, lnPostB, proj;   // proj: (width, p)
    public float logitScale = 2.6592f;             // ln(1/0.07)

    private final FixtureArrays draw;

    private VisionFixtures(long seed, int image, int patch, int width, int layers, int heads, int p, int mlp) {
        if (width % heads != 0) throw new IllegalArgumentException("width % heads != 0");
        if (image % patch != 0) throw new IllegalArgumentException("image % patch != 0");
        this.image = image; this.patch = patch; this.width = width; this.layers = layers;
        this.heads = heads; this.p = p; this.mlp = mlp;
        this.grid = image / patch;
        this.tokens = grid * grid + 1;
        this.draw = new FixtureArrays(seed);
        conv = draw.gauss(width * 3 * patch * patch, 1 / Math.sqrt(3.0 * patch * patch));
        cls = draw.gauss(width, 0.5);
        pos = draw.gauss(tokens * width, 0.1);
        lnPreW = draw.lnWeight(width); lnPreB = draw.uniform(width, 0.1);
        ln1W = new float[layers][]; ln1B = new float[layers][];
        qW = new float[layers][]; kW = new float[layers][]; vW = new float[layers][];
        qB = new float[layers][]; kB = new float[layers][]; vB = new float[layers][];
        outW = new float[layers][]; outB = new float[layers][];
        ln2W = new float[layers][]; ln2B = new float[layers][];
        fc1W = new float[layers][]; fc1B = new float[layers][];
        fc2W = new float[layers][]; fc2B = new float[layers][];
        for (int l = 0; l < layers; l++) {
            ln1W[l] = draw.lnWeight(width); ln1B[l] = draw.uniform(width, 0.1);
            qW[l] = draw.linear(width, width); qB[l] = draw.uniform(width, 0.1);
            kW[l] = draw.linear(width, width); kB[l] = draw.uniform(width, 0.1);
            vW[l] = draw.linear(width, width); vB[l] = draw.uniform(width, 0.1);
            outW[l] = draw.linear(width, width); outB[l] = draw.uniform(width, 0.1);
            ln2W[l] = draw.lnWeight(width); ln2B[l] = draw.uniform(width, 0.1);
            fc1W[l] = draw.linear(mlp, width); fc1B[l] = draw.uniform(mlp, 0.1);
            fc2W[l] = draw.linear(width, mlp); fc2B[l] = draw.uniform(width, 0.1);
        }
        lnPostW = draw.lnWeight(width); lnPostB = draw.uniform(width, 0.1);
        proj = draw.gauss(width * p, 1 / Math.sqrt(width));
    }

    /** A random tower with MLP width 4·width. */
    public static VisionFixtures random(long seed, int image, int patch, int width, int layers, int heads, int p) {
        return new VisionFixtures(seed, image, patch, width, layers, heads, p, 4 * width);
    }

    /** A zero-filled tower (any MLP width) for hand-made weights. */
    public static VisionFixtures zeros(int image, int patch, int width, int layers, int heads, int p, int mlp) {
        VisionFixtures f = new VisionFixtures(0, image, patch, width, layers, heads, p, mlp);
        for (float[] a : new float[][] {f.conv, f.cls, f.pos, f.lnPreW, f.lnPreB, f.lnPostW, f.lnPostB, f.proj}) {
            Arrays.fill(a, 0f);
        }
        for (float[][] m : new float[][][] {f.ln1W, f.ln1B, f.qW, f.kW, f.vW, f.qB, f.kB, f.vB, f.outW, f.outB,
                f.ln2W, f.ln2B, f.fc1W, f.fc1B, f.fc2W, f.fc2B}) {
            for (float[] a : m) Arrays.fill(a, 0f);
        }
        return f;
    }

    /** {@code n} images of 3×image×image floats, C-order, values ~N(0, 1). */
    public float[] randomPixels(long seed, int n) {
        Random r = new Random(seed);
        float[] a = new float[n * 3 * image * image];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /** OpenCLIP / OpenAI naming (vision tower + logit_scale only). */
    public LinkedHashMap<String, TensorData> openClip() {
        LinkedHashMap<String, TensorData> m = new LinkedHashMap<>();
        int w = width;
        FixtureArrays.put(m, "visual.conv1.weight", conv, w, 3, patch, patch);
        FixtureArrays.put(m, "visual.class_embedding", cls, w);
        FixtureArrays.put(m, "visual.positional_embedding", pos, tokens, w);
        FixtureArrays.put(m, "visual.ln_pre.weight", lnPreW, w);
        FixtureArrays.put(m, "visual.ln_pre.bias", lnPreB, w);
        for (int l = 0; l < layers; l++) {
            String b = "visual.transformer.resblocks." + l + ".";
            FixtureArrays.put(m, b + "ln_1.weight", ln1W[l], w);
            FixtureArrays.put(m, b + "ln_1.bias", ln1B[l], w);
            FixtureArrays.put(m, b + "attn.in_proj_weight", FixtureArrays.concat(qW[l], kW[l], vW[l]), 3L * w, w);
            FixtureArrays.put(m, b + "attn.in_proj_bias", FixtureArrays.concat(qB[l], kB[l], vB[l]), 3L * w);
            FixtureArrays.put(m, b + "attn.out_proj.weight", outW[l], w, w);
            FixtureArrays.put(m, b + "attn.out_proj.bias", outB[l], w);
            FixtureArrays.put(m, b + "ln_2.weight", ln2W[l], w);
            FixtureArrays.put(m, b + "ln_2.bias", ln2B[l], w);
            FixtureArrays.put(m, b + "mlp.c_fc.weight", fc1W[l], mlp, w);
            FixtureArrays.put(m, b + "mlp.c_fc.bias", fc1B[l], mlp);
            FixtureArrays.put(m, b + "mlp.c_proj.weight", fc2W[l], w, mlp);
            FixtureArrays.put(m, b + "mlp.c_proj.bias", fc2B[l], w);
        }
        FixtureArrays.put(m, "visual.ln_post.weight", lnPostW, w);
        FixtureArrays.put(m, "visual.ln_post.bias", lnPostB, w);
        FixtureArrays.put(m, "visual.proj", proj, w, p);
        FixtureArrays.put(m, "logit_scale", new float[] {logitScale});
        return m;
    }

    /** Hugging Face CLIPModel naming of the same weights (vision tower + logit_scale only). */
    public LinkedHashMap<String, TensorData> huggingFace() {
        LinkedHashMap<String, TensorData> m = new LinkedHashMap<>();
        int w = width;
        FixtureArrays.put(m, "vision_model.embeddings.patch_embedding.weight", conv, w, 3, patch, patch);
        FixtureArrays.put(m, "vision_model.embeddings.class_embedding", cls, w);
        FixtureArrays.put(m, "vision_model.embeddings.position_embedding.weight", pos, tokens, w);
        FixtureArrays.put(m, "vision_model.pre_layrnorm.weight", lnPreW, w);   // sic: HF's spelling
        FixtureArrays.put(m, "vision_model.pre_layrnorm.bias", lnPreB, w);
        for (int l = 0; l < layers; l++) {
            String b = "vision_model.encoder.layers." + l + ".";
            FixtureArrays.put(m, b + "layer_norm1.weight", ln1W[l], w);
            FixtureArrays.put(m, b + "layer_norm1.bias", ln1B[l], w);
            FixtureArrays.put(m, b + "self_attn.q_proj.weight", qW[l], w, w);
            FixtureArrays.put(m, b + "self_attn.q_proj.bias", qB[l], w);
            FixtureArrays.put(m, b + "self_attn.k_proj.weight", kW[l], w, w);
            FixtureArrays.put(m, b + "self_attn.k_proj.bias", kB[l], w);
            FixtureArrays.put(m, b + "self_attn.v_proj.weight", vW[l], w, w);
            FixtureArrays.put(m, b + "self_attn.v_proj.bias", vB[l], w);
            FixtureArrays.put(m, b + "self_attn.out_proj.weight", outW[l], w, w);
            FixtureArrays.put(m, b + "self_attn.out_proj.bias", outB[l], w);
            FixtureArrays.put(m, b + "layer_norm2.weight", ln2W[l], w);
            FixtureArrays.put(m, b + "layer_norm2.bias", ln2B[l], w);
            FixtureArrays.put(m, b + "mlp.fc1.weight", fc1W[l], mlp, w);
            FixtureArrays.put(m, b + "mlp.fc1.bias", fc1B[l], mlp);
            FixtureArrays.put(m, b + "mlp.fc2.weight", fc2W[l], w, mlp);
            FixtureArrays.put(m, b + "mlp.fc2.bias", fc2B[l], w);
        }
        FixtureArrays.put(m, "vision_model.post_layernorm.weight", lnPostW, w);
        FixtureArrays.put(m, "vision_model.post_layernorm.bias", lnPostB, w);
        FixtureArrays.put(m, "visual_projection.weight", FixtureArrays.transpose(proj, w, p), p, w);
        FixtureArrays.put(m, "logit_scale", new float[] {logitScale});
        return m;
    }

    // ---- config files ----------------------------------------------------------------------------

    /** A CLIPConfig {@code config.json} with a vision_config only. */
    public String hfConfig(boolean quickGelu) {
        return String.format(Locale.ROOT, """
                {
                  "architectures": ["CLIPModel"],
                  "model_type": "clip",
                  "projection_dim": %d,
                  "logit_scale_init_value": 2.6592,
                  "vision_config": {
                    "model_type": "clip_vision_model",
                    "hidden_size": %d,
                    "num_attention_heads": %d,
                    "num_hidden_layers": %d,
                    "intermediate_size": %d,
                    "image_size": %d,
                    "patch_size": %d,
                    "hidden_act": "%s",
                    "layer_norm_eps": 1e-05,
                    "projection_dim": %d
                  }
                }
                """, p, width, heads, layers, mlp, image, patch, quickGelu ? "quick_gelu" : "gelu", p);
    }

    /** An {@code open_clip_config.json}; heads are given as head_width = width / heads. */
    public String openClipConfig(boolean quickGelu) {
        return String.format(Locale.ROOT, """
                {
                  "model_cfg": {
                    "embed_dim": %d,
                    "quick_gelu": %b,
                    "vision_cfg": {"width": %d, "layers": %d, "head_width": %d, "patch_size": %d, "image_size": %d}
                  }
                }
                """, p, quickGelu, width, layers, width / heads, patch, image);
    }

    // ---- writing ---------------------------------------------------------------------------------

    /** {@code dir/model.safetensors} in OpenCLIP naming plus {@code open_clip_config.json}. */
    public Path writeOpenClip(Path dir, boolean quickGelu) {
        return TextFixtures.write(dir, "model.safetensors", openClip(), "open_clip_config.json", openClipConfig(quickGelu));
    }

    /** {@code dir/model.safetensors} in HF naming plus {@code config.json}. */
    public Path writeHuggingFace(Path dir, boolean quickGelu) {
        return TextFixtures.write(dir, "model.safetensors", huggingFace(), "config.json", hfConfig(quickGelu));
    }
}
