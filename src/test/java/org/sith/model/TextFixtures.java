package org.sith.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;

import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;

/**
 * A random small CLIP text tower held in plain arrays (OpenCLIP orientation: Linear weights are
 * (out, in) row-major, {@code proj} is (width, p) used as x·P), writable in both naming layouts.
 * Magnitudes keep activations O(1): LN weights 1 ± 0.3, LN biases ± 0.1, Linear weights with std
 * 1/sqrt(in), token embeddings std 0.5, positions std 0.1. The arrays are public and mutable so a
 * test can zero or edit them before calling {@link #openClip()} / {@link #huggingFace()}.
 */
public final class TextFixtures {
    public final int vocab, ctx, width, layers, heads, p, mlp;
    public final float[] tok, pos;                 // (vocab, width), (ctx, width)
    public final float[][] ln1W, ln1B, qW, kW, vW, qB, kB, vB, outW, outB;
    public final float[][] ln2W, ln2B, fc1W, fc1B, fc2W, fc2B;
    public final float[] lnFinalW, lnFinalB, proj; // proj: (width, p)
    public float logitScale = 2.6592f;             // ln(1/0.07)

    private final FixtureArrays draw;

    private TextFixtures(long seed, int vocab, int ctx, int width, int layers, int heads, int p, int mlp) {
        if (width % heads != 0) throw new IllegalArgumentException("width % heads != 0");
        this.vocab = vocab; this.ctx = ctx; this.width = width; this.layers = layers;
        this.heads = heads; this.p = p; this.mlp = mlp;
        this.draw = new FixtureArrays(seed);
        tok = draw.gauss(vocab * width, 0.5);
        pos = draw.gauss(ctx * width, 0.1);
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
            fc1W[l] = draw.linear(mlp, width); fc1B[l] = draw.uniform(mlp, 0.5);
            fc2W[l] = draw.linear(width, mlp); fc2B[l] = draw.uniform(width, 0.1);
        }
        lnFinalW = draw.lnWeight(width); lnFinalB = draw.uniform(width, 0.1);
        proj = draw.gauss(width * p, 1 / Math.sqrt(width));
    }

    /** A random tower with MLP width 4·width. */
    public static TextFixtures random(long seed, int vocab, int ctx, int width, int layers, int heads, int p) {
        return new TextFixtures(seed, vocab, ctx, width, layers, heads, p, 4 * width);
    }

    /** A zero-filled tower (any MLP width) for hand-made weights. */
    public static TextFixtures zeros(int vocab, int ctx, int width, int layers, int heads, int p, int mlp) {
        TextFixtures f = new TextFixtures(0, vocab, ctx, width, layers, heads, p, mlp);
        for (float[] a : new float[][] {f.tok, f.pos, f.lnFinalW, f.lnFinalB, f.proj}) java.util.Arrays.fill(a, 0f);
        for (float[][] m : new float[][][] {f.ln1W, f.ln1B, f.qW, f.kW, f.vW, f.qB, f.kB, f.vB, f.outW, f.outB,
                f.ln2W, f.ln2B, f.fc1W, f.fc1B, f.fc2W, f.fc2B}) {
            for (float[] a : m) java.util.Arrays.fill(a, 0f);
        }
        return f;
    }

    /** The end-of-text token: the largest id. */
    public int eot() {
        return vocab - 1;
    }

    /** OpenCLIP / OpenAI naming (text tower + logit_scale only). */
    public LinkedHashMap<String, TensorData> openClip() {
        LinkedHashMap<String, TensorData> m = new LinkedHashMap<>();
        int w = width;
        FixtureArrays.put(m, "token_embedding.weight", tok, vocab, w);
        FixtureArrays.put(m, "positional_embedding", pos, ctx, w);
        for (int l = 0; l < layers; l++) {
            String b = "transformer.resblocks." + l + ".";
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
        FixtureArrays.put(m, "ln_final.weight", lnFinalW, w);
        FixtureArrays.put(m, "ln_final.bias", lnFinalB, w);
        FixtureArrays.put(m, "text_projection", proj, w, p);
        FixtureArrays.put(m, "logit_scale", new float[] {logitScale});
        return m;
    }

    /** Hugging Face CLIPModel naming of the same weights (text tower + logit_scale only). */
    public LinkedHashMap<String, TensorData> huggingFace() {
        LinkedHashMap<String, TensorData> m = new LinkedHashMap<>();
        int w = width;
        FixtureArrays.put(m, "text_model.embeddings.token_embedding.weight", tok, vocab, w);
        FixtureArrays.put(m, "text_model.embeddings.position_embedding.weight", pos, ctx, w);
        for (int l = 0; l < layers; l++) {
            String b = "text_model.encoder.layers." + l + ".";
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
        FixtureArrays.put(m, "text_model.final_layer_norm.weight", lnFinalW, w);
        FixtureArrays.put(m, "text_model.final_layer_norm.bias", lnFinalB, w);
        FixtureArrays.put(m, "text_projection.weight", FixtureArrays.transpose(proj, w, p), p, w);
        FixtureArrays.put(m, "logit_scale", new float[] {logitScale});
        return m;
    }

    // ---- config files; the vision part describes a tiny tower the caller may add --------------

    public static final int VISION_WIDTH = 16, VISION_HEADS = 2, VISION_LAYERS = 1, IMAGE_SIZE = 8, PATCH = 4;

    public String hfConfig(boolean quickGelu) {
        return hfConfig(quickGelu, VISION_WIDTH, VISION_HEADS, VISION_LAYERS, IMAGE_SIZE, PATCH);
    }

    /** A CLIPConfig {@code config.json}. */
    public String hfConfig(boolean quickGelu, int vWidth, int vHeads, int vLayers, int imageSize, int patch) {
        String act = quickGelu ? "quick_gelu" : "gelu";
        return String.format(Locale.ROOT, """
                {
                  "architectures": ["CLIPModel"],
                  "model_type": "clip",
                  "projection_dim": %d,
                  "logit_scale_init_value": 2.6592,
                  "text_config": {
                    "model_type": "clip_text_model",
                    "hidden_size": %d,
                    "num_attention_heads": %d,
                    "num_hidden_layers": %d,
                    "intermediate_size": %d,
                    "max_position_embeddings": %d,
                    "vocab_size": %d,
                    "hidden_act": "%s",
                    "layer_norm_eps": 1e-05,
                    "projection_dim": %d
                  },
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
                """, p, width, heads, layers, mlp, ctx, vocab, act, p,
                vWidth, vHeads, vLayers, 4 * vWidth, imageSize, patch, act, p);
    }

    public String openClipConfig(boolean quickGelu) {
        return openClipConfig(quickGelu, VISION_WIDTH, VISION_HEADS, VISION_LAYERS, IMAGE_SIZE, PATCH);
    }

    /** An {@code open_clip_config.json}; vision heads are given as head_width = width / heads. */
    public String openClipConfig(boolean quickGelu, int vWidth, int vHeads, int vLayers, int imageSize, int patch) {
        return String.format(Locale.ROOT, """
                {
                  "model_cfg": {
                    "embed_dim": %d,
                    "quick_gelu": %b,
                    "text_cfg": {"width": %d, "heads": %d, "layers": %d, "context_length": %d, "vocab_size": %d},
                    "vision_cfg": {"width": %d, "head_width": %d, "layers": %d, "image_size": %d, "patch_size": %d}
                  }
                }
                """, p, quickGelu, width, heads, layers, ctx, vocab,
                vWidth, vWidth / vHeads, vLayers, imageSize, patch);
    }

    // ---- writing ---------------------------------------------------------------------------------

    /** Writes {@code dir/checkpointName} (safetensors, F32 unless the TensorData say otherwise) and
     *  {@code dir/configName}; returns the checkpoint path. {@code configName} may be null. */
    public static Path write(Path dir, String checkpointName, LinkedHashMap<String, TensorData> tensors,
                             String configName, String configJson) {
        try {
            Files.createDirectories(dir);
            Path ckpt = dir.resolve(checkpointName);
            SafeTensorsWriter.write(ckpt.toString(), new Configuration(), tensors, Map.of("format", "pt"));
            if (configName != null) Files.writeString(dir.resolve(configName), configJson, StandardCharsets.UTF_8);
            return ckpt;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code dir/model.safetensors} in OpenCLIP naming plus {@code open_clip_config.json}. */
    public Path writeOpenClip(Path dir, boolean quickGelu) {
        return write(dir, "model.safetensors", openClip(), "open_clip_config.json", openClipConfig(quickGelu));
    }

    /** {@code dir/model.safetensors} in HF naming plus {@code config.json}. */
    public Path writeHuggingFace(Path dir, boolean quickGelu) {
        return write(dir, "model.safetensors", huggingFace(), "config.json", hfConfig(quickGelu));
    }
}
