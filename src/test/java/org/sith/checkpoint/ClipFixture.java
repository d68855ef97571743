package org.sith.checkpoint;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import org.apache.hadoop.conf.Configuration;

/**
 * Random CLIP-shaped weights that can be written in either layout. Values are k/64 with |k| <= 128,
 * exact in F32, F16 and BF16 alike, so files of any dtype hold the same numbers.
 */
public final class ClipFixture {
    final int d;
    final int layers;
    final int p;
    final int patch = 2;
    final int tokens = 5;
    final int mlp;
    final Random rnd;

    /** OpenCLIP convention: the source of truth the tests compare against. */
    final float[][] ln1W, ln1B, inProjW, inProjB, outW, outB, ln2W, ln2B, fcW, fcB, cprojW, cprojB;
    final float[] conv1, classEmb, posEmb, lnPreW, lnPreB, lnPostW, lnPostB, proj;

    public ClipFixture(int d, int layers, int p, long seed) {
        this.d = d;
        this.layers = layers;
        this.p = p;
        this.mlp = 4 * d;
        this.rnd = new Random(seed);
        ln1W = blocks(d); ln1B = blocks(d);
        inProjW = blocks(3 * d * d); inProjB = blocks(3 * d);
        outW = blocks(d * d); outB = blocks(d);
        ln2W = blocks(d); ln2B = blocks(d);
        fcW = blocks(mlp * d); fcB = blocks(mlp);
        cprojW = blocks(d * mlp); cprojB = blocks(d);
        conv1 = rand(d * 3 * patch * patch);
        classEmb = rand(d);
        posEmb = rand(tokens * d);
        lnPreW = rand(d); lnPreB = rand(d);
        lnPostW = rand(d); lnPostB = rand(d);
        proj = rand(d * p);
    }

    private float[] rand(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (rnd.nextInt(257) - 128) / 64f;
        return a;
    }

    private float[][] blocks(int n) {
        float[][] a = new float[layers][];
        for (int l = 0; l < layers; l++) a[l] = rand(n);
        return a;
    }

    /** Rows [from, from+count) of a row-major matrix with the given row length. */
    static float[] rows(float[] m, int rowLength, int from, int count) {
        return Arrays.copyOfRange(m, from * rowLength, (from + count) * rowLength);
    }

    /** The (cols, rows) transpose of a row-major (rows, cols) matrix. */
    static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
        }
        return t;
    }

    public LinkedHashMap<String, TensorData> openClip(String dtype, boolean textTower) {
        T t = new T(dtype);
        t.put("visual.class_embedding", classEmb, d);
        t.put("visual.positional_embedding", posEmb, tokens, d);
        t.put("visual.proj", proj, d, p);
        t.put("visual.conv1.weight", conv1, d, 3, patch, patch);
        t.put("visual.ln_pre.weight", lnPreW, d);
        t.put("visual.ln_pre.bias", lnPreB, d);
        for (int l = 0; l < layers; l++) {
            String b = "visual.transformer.resblocks." + l + ".";
            t.put(b + "ln_1.weight", ln1W[l], d);
            t.put(b + "ln_1.bias", ln1B[l], d);
            t.put(b + "attn.in_proj_weight", inProjW[l], 3 * d, d);
            t.put(b + "attn.in_proj_bias", inProjB[l], 3 * d);
            t.put(b + "attn.out_proj.weight", outW[l], d, d);
            t.put(b + "attn.out_proj.bias", outB[l], d);
            t.put(b + "ln_2.weight", ln2W[l], d);
            t.put(b + "ln_2.bias", ln2B[l], d);
            t.put(b + "mlp.c_fc.weight", fcW[l], mlp, d);
            t.put(b + "mlp.c_fc.bias", fcB[l], mlp);
            t.put(b + "mlp.c_proj.weight", cprojW[l], d, mlp);
            t.put(b + "mlp.c_proj.bias", cprojB[l], d);
        }
        t.put("visual.ln_post.weight", lnPostW, d);
        t.put("visual.ln_post.bias", lnPostB, d);
        if (textTower) {
            int dt = 8;
            t.put("token_embedding.weight", rand(11 * dt), 11, dt);
            t.put("positional_embedding", rand(4 * dt), 4, dt);
            t.put("transformer.resblocks.0.ln_1.weight", rand(dt), dt);
            t.put("ln_final.weight", rand(dt), dt);
            t.put("text_projection", rand(dt * p), dt, p);
            t.put("logit_scale", new float[] {4.5f});
        }
        return t.map;
    }

    LinkedHashMap<String, TensorData> hf(String dtype, boolean textTower) {
        T t = new T(dtype);
        String e = "vision_model.embeddings.";
        t.put(e + "class_embedding", classEmb, d);
        t.put(e + "patch_embedding.weight", conv1, d, 3, patch, patch);
        t.put(e + "position_embedding.weight", posEmb, tokens, d);
        t.put("vision_model.pre_layrnorm.weight", lnPreW, d);
        t.put("vision_model.pre_layrnorm.bias", lnPreB, d);
        for (int l = 0; l < layers; l++) {
            String b = "vision_model.encoder.layers." + l + ".";
            t.put(b + "layer_norm1.weight", ln1W[l], d);
            t.put(b + "layer_norm1.bias", ln1B[l], d);
            String[] qkv = {"q", "k", "v"};
            for (int i = 0; i < 3; i++) {
                t.put(b + "self_attn." + qkv[i] + "_proj.weight", rows(inProjW[l], d, i * d, d), d, d);
                t.put(b + "self_attn." + qkv[i] + "_proj.bias", rows(inProjB[l], 1, i * d, d), d);
            }
            t.put(b + "self_attn.out_proj.weight", outW[l], d, d);
            t.put(b + "self_attn.out_proj.bias", outB[l], d);
            t.put(b + "layer_norm2.weight", ln2W[l], d);
            t.put(b + "layer_norm2.bias", ln2B[l], d);
            t.put(b + "mlp.fc1.weight", fcW[l], mlp, d);
            t.put(b + "mlp.fc1.bias", fcB[l], mlp);
            t.put(b + "mlp.fc2.weight", cprojW[l], d, mlp);
            t.put(b + "mlp.fc2.bias", cprojB[l], d);
        }
        t.put("vision_model.post_layernorm.weight", lnPostW, d);
        t.put("vision_model.post_layernorm.bias", lnPostB, d);
        t.put("visual_projection.weight", transpose(proj, d, p), p, d);
        if (textTower) {
            int dt = 8;
            t.put("text_model.embeddings.token_embedding.weight", rand(11 * dt), 11, dt);
            t.put("text_model.final_layer_norm.weight", rand(dt), dt);
            t.put("text_projection.weight", rand(p * dt), p, dt);
            t.put("logit_scale", new float[] {4.5f});
        }
        return t.map;
    }

    public static String write(String path, LinkedHashMap<String, TensorData> tensors) {
        SafeTensorsWriter.write(path, new Configuration(), tensors, Map.of("format", "pt"));
        return path;
    }

    /** Collects tensors of one dtype. */
    private static final class T {
        final String dtype;
        final LinkedHashMap<String, TensorData> map = new LinkedHashMap<>();

        T(String dtype) {
            this.dtype = dtype;
        }

        void put(String name, float[] data, long... shape) {
            map.put(name, new TensorData(dtype, shape, data));
        }
    }
}
