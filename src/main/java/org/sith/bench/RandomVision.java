package org.sith.bench;

import java.util.LinkedHashMap;

import org.sith.checkpoint.TensorData;

/** A random CLIP vision tower in OpenCLIP naming, for the benchmarks (its numbers do not matter, its shapes and cost do). */
final class RandomVision {
    private RandomVision() {}

    /** n random values of standard deviation {@code std} around {@code offset}. */
    interface Values {
        float[] next(int n, double std, double offset);
    }

    /**
     * The tensors, drawn from {@code v} in a fixed order: patch embedding, class token, positions, LN_pre, then per block
     * LN1, q;k;v (standard deviation {@code inProjStd}), out-projection, LN2, the MLP, then LN_post and the projection.
     */
    static LinkedHashMap<String, TensorData> tensors(int d, int layers, int patch, int tokens, int hidden, int p, double inProjStd, Values v) {
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        t.put("visual.conv1.weight", TensorData.f32(v.next(d * 3 * patch * patch, 0.02, 0), d, 3, patch, patch));
        t.put("visual.class_embedding", TensorData.f32(v.next(d, 0.05, 0), d));
        t.put("visual.positional_embedding", TensorData.f32(v.next(tokens * d, 0.02, 0), tokens, d));
        t.put("visual.ln_pre.weight", TensorData.f32(v.next(d, 0.1, 1), d));
        t.put("visual.ln_pre.bias", TensorData.f32(v.next(d, 0.1, 0), d));
        for (int l = 0; l < layers; l++) {
            String b = "visual.transformer.resblocks." + l + ".";
            t.put(b + "ln_1.weight", TensorData.f32(v.next(d, 0.1, 1), d));
            t.put(b + "ln_1.bias", TensorData.f32(v.next(d, 0.1, 0), d));
            t.put(b + "attn.in_proj_weight", TensorData.f32(v.next(3 * d * d, inProjStd, 0), 3L * d, d));
            t.put(b + "attn.in_proj_bias", TensorData.f32(v.next(3 * d, 0.01, 0), 3L * d));
            t.put(b + "attn.out_proj.weight", TensorData.f32(v.next(d * d, 0.02, 0), d, d));
            t.put(b + "attn.out_proj.bias", TensorData.f32(v.next(d, 0.01, 0), d));
            t.put(b + "ln_2.weight", TensorData.f32(v.next(d, 0.1, 1), d));
            t.put(b + "ln_2.bias", TensorData.f32(v.next(d, 0.1, 0), d));
            t.put(b + "mlp.c_fc.weight", TensorData.f32(v.next(hidden * d, 0.02, 0), hidden, d));
            t.put(b + "mlp.c_fc.bias", TensorData.f32(v.next(hidden, 0.01, 0), hidden));
            t.put(b + "mlp.c_proj.weight", TensorData.f32(v.next(d * hidden, 0.02, 0), d, hidden));
            t.put(b + "mlp.c_proj.bias", TensorData.f32(v.next(d, 0.01, 0), d));
        }
        t.put("visual.ln_post.weight", TensorData.f32(v.next(d, 0.1, 1), d));
        t.put("visual.ln_post.bias", TensorData.f32(v.next(d, 0.1, 0), d));
        t.put("visual.proj", TensorData.f32(v.next(d * p, 0.03, 0), d, p));
        return t;
    }
}
