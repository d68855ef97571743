package org.sith.demo;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.sith.checkpoint.TensorData;
import org.sith.concepts.ConceptDictionary;
import org.sith.io.FloatBits;

/**
 * A small CLIP vision tower whose heads write known concepts: for each {@link Plant}, head (layer,
 * head)'s singular write direction `sv` is built so that its joint-space image is a known positive
 * combination of prepared concept atoms. Every other direction is random. LN1 has a random affine
 * (so LN folding matters), all read/write directions are orthogonal to the all-ones vector (so
 * centering is exact), and the post-LN is the identity affine.
 */
public final class SyntheticClip {
    public record Plant(int layer, int head, int sv, String[] concepts, double[] weights) {}

    public static final List<Plant> PLANTS = List.of(
            new Plant(3, 0, 0, new String[] {"red telephone", "scarlet"}, new double[] {0.8, 0.5}),
            new Plant(3, 0, 1, new String[] {"stripes", "zebra"}, new double[] {0.7, 0.6}),
            new Plant(3, 1, 0, new String[] {"golden retriever", "puppy"}, new double[] {0.7, 0.6}),
            new Plant(3, 2, 0, new String[] {"sandy beach", "ocean waves", "palm tree"}, new double[] {0.6, 0.5, 0.4}),
            new Plant(3, 3, 0, new String[] {"snowy mountain", "ski slope"}, new double[] {0.75, 0.55}),
            new Plant(2, 0, 0, new String[] {"handwritten text", "letters"}, new double[] {0.8, 0.45}),
            new Plant(2, 1, 0, new String[] {"women in sports", "athlete"}, new double[] {0.7, 0.6}),
            new Plant(2, 1, 1, new String[] {"wooden table", "kitchen"}, new double[] {0.65, 0.6}),
            new Plant(2, 2, 0, new String[] {"city skyline at night", "neon lights"}, new double[] {0.7, 0.55}),
            new Plant(1, 3, 0, new String[] {"green forest", "moss"}, new double[] {0.8, 0.5}));

    public final int width;
    public final int layers;
    public final int heads;
    public final int p;
    public final int patch = 16;
    public final int image = 64;
    public final String[] concepts;
    public final float[] embeddings; // raw concept embeddings, N×p
    /** The model in OpenCLIP naming, F32, insertion-ordered. */
    public final LinkedHashMap<String, TensorData> tensors = new LinkedHashMap<>();

    public SyntheticClip(long seed) {
        this(seed, 256, 4, 4, 128);
    }

    public SyntheticClip(long seed, int width, int layers, int heads, int p) {
        this.width = width;
        this.layers = layers;
        this.heads = heads;
        this.p = p;
        Random rnd = new Random(seed);
        this.concepts = readConcepts();
        int n = concepts.length;
        // CLIP text embeddings share a large common direction; the dictionary preparation removes it.
        double[] common = gaussian(rnd, p, 1.0);
        embeddings = new float[n * p];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < p; j++) embeddings[i * p + j] = (float) (rnd.nextGaussian() + 1.5 * common[j]);
        }
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        ConceptDictionary dict = ConceptDictionary.fromRows(ids, concepts, embeddings, p, "demo");
        build(rnd, dict);
    }

    private void build(Random rnd, ConceptDictionary dict) {
        int d = width;
        int dh = d / heads;
        int t = (image / patch) * (image / patch) + 1;
        double[][] proj = orthonormalColumns(rnd, d, p, new ArrayList<>()); // p columns ⊥ 1
        put("visual.class_embedding", new long[] {d}, randomF(rnd, d, 0.05));
        put("visual.positional_embedding", new long[] {t, d}, randomF(rnd, t * d, 0.02));
        put("visual.proj", new long[] {d, p}, toRowMajor(proj, d, p));
        put("visual.conv1.weight", new long[] {d, 3, patch, patch}, randomF(rnd, d * 3 * patch * patch, 0.02));
        put("visual.ln_pre.weight", new long[] {d}, constant(d, 1f));
        put("visual.ln_pre.bias", new long[] {d}, new float[d]);
        for (int l = 0; l < layers; l++) {
            String b = "visual.transformer.resblocks." + l + ".";
            float[] gamma = new float[d];
            for (int i = 0; i < d; i++) gamma[i] = (float) (0.5 + rnd.nextDouble());
            float[] inProj = randomF(rnd, 3 * d * d, 0.02);
            float[] outProj = new float[d * d];
            for (int h = 0; h < heads; h++) plantHead(rnd, dict, proj, l, h, dh, gamma, inProj, outProj);
            put(b + "ln_1.weight", new long[] {d}, gamma);
            put(b + "ln_1.bias", new long[] {d}, randomF(rnd, d, 0.1));
            put(b + "attn.in_proj_weight", new long[] {3 * d, d}, inProj);
            put(b + "attn.in_proj_bias", new long[] {3 * d}, randomF(rnd, 3 * d, 0.01));
            put(b + "attn.out_proj.weight", new long[] {d, d}, outProj);
            put(b + "attn.out_proj.bias", new long[] {d}, randomF(rnd, d, 0.01));
            put(b + "ln_2.weight", new long[] {d}, constant(d, 1f));
            put(b + "ln_2.bias", new long[] {d}, new float[d]);
            put(b + "mlp.c_fc.weight", new long[] {4 * d, d}, randomF(rnd, 4 * d * d, 0.02));
            put(b + "mlp.c_fc.bias", new long[] {4 * d}, new float[4 * d]);
            put(b + "mlp.c_proj.weight", new long[] {d, 4 * d}, randomF(rnd, 4 * d * d, 0.02));
            put(b + "mlp.c_proj.bias", new long[] {d}, new float[d]);
        }
        put("visual.ln_post.weight", new long[] {d}, constant(d, 1f));
        put("visual.ln_post.bias", new long[] {d}, new float[d]);
        put("logit_scale", new long[] {}, new float[] {4.6052f});
    }

    /** M_h = U·diag(σ)·Vᵀ with the planted write directions among V's columns. */
    private void plantHead(Random rnd, ConceptDictionary dict, double[][] proj, int l, int h, int dh,
                           float[] gamma, float[] inProj, float[] outProj) {
        int d = width;
        List<double[]> vCols = new ArrayList<>();
        double[][] planted = new double[dh][];
        for (Plant pl : PLANTS) {
            if (pl.layer() == l && pl.head() == h) planted[pl.sv()] = writeDirection(dict, proj, pl);
        }
        double[][] v = new double[dh][];
        // Planted directions first (in sv order) so Gram–Schmidt keeps the first one exact.
        for (int j = 0; j < dh; j++) {
            if (planted[j] != null) v[j] = orthonormalize(planted[j].clone(), vCols);
        }
        for (int j = 0; j < dh; j++) {
            if (v[j] == null) v[j] = orthonormalize(gaussian(rnd, d, 1.0), vCols);
        }
        double[][] u = orthonormalColumns(rnd, d, dh, new ArrayList<>());
        for (double[] col : u) {
            int arg = 0;
            for (int i = 1; i < d; i++) if (Math.abs(col[i]) > Math.abs(col[arg])) arg = i;
            if (col[arg] < 0) for (int i = 0; i < d; i++) col[i] = -col[i];
        }
        for (int j = 0; j < dh; j++) {
            double sigma = j == 0 ? 20 : j == 1 ? 15 : 10 * Math.pow(0.95, j - 2);
            int row = 2 * d + h * dh + j; // value rows of the stacked q;k;v projection
            for (int k = 0; k < d; k++) inProj[row * d + k] = (float) (sigma * u[j][k] / gamma[k]);
            int col = h * dh + j;
            for (int o = 0; o < d; o++) outProj[o * d + col] = (float) v[j][o];
        }
    }

    /** The residual direction w with LN_post(w)·P ∝ Σ c_i d_i (P has orthonormal columns ⊥ 1). */
    private double[] writeDirection(ConceptDictionary dict, double[][] proj, Plant pl) {
        double[] target = new double[p];
        for (int i = 0; i < pl.concepts().length; i++) {
            int row = rowOf(dict, pl.concepts()[i]);
            float[] atoms = dict.atoms();
            for (int j = 0; j < p; j++) target[j] += pl.weights()[i] * atoms[row * p + j];
        }
        double[] w = new double[width];
        for (int j = 0; j < p; j++) {
            for (int k = 0; k < width; k++) w[k] += proj[j][k] * target[j];
        }
        return w;
    }

    static int rowOf(ConceptDictionary dict, String concept) {
        for (int r = 0; r < dict.size(); r++) if (dict.concept(r).equals(concept)) return r;
        throw new IllegalStateException("planted concept not in the demo vocabulary: " + concept);
    }

    /** n orthonormal vectors of length d, each orthogonal to the all-ones vector and to {@code basis}. */
    private static double[][] orthonormalColumns(Random rnd, int d, int n, List<double[]> basis) {
        double[][] out = new double[n][];
        for (int j = 0; j < n; j++) out[j] = orthonormalize(gaussian(rnd, d, 1.0), basis);
        return out;
    }

    /** Removes the mean and the components along {@code basis} (twice, for stability), normalizes, appends. */
    private static double[] orthonormalize(double[] x, List<double[]> basis) {
        for (int pass = 0; pass < 2; pass++) {
            double mean = 0;
            for (double v : x) mean += v;
            mean /= x.length;
            for (int i = 0; i < x.length; i++) x[i] -= mean;
            for (double[] b : basis) {
                double dot = 0;
                for (int i = 0; i < x.length; i++) dot += x[i] * b[i];
                for (int i = 0; i < x.length; i++) x[i] -= dot * b[i];
            }
        }
        double n = 0;
        for (double v : x) n += v * v;
        n = Math.sqrt(n);
        for (int i = 0; i < x.length; i++) x[i] /= n;
        basis.add(x);
        return x;
    }

    private static float[] toRowMajor(double[][] cols, int rows, int ncols) {
        float[] out = new float[rows * ncols];
        for (int c = 0; c < ncols; c++) for (int r = 0; r < rows; r++) out[r * ncols + c] = (float) cols[c][r];
        return out;
    }

    private static double[] gaussian(Random rnd, int n, double scale) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = rnd.nextGaussian() * scale;
        return x;
    }

    private static float[] randomF(Random rnd, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * scale);
        return x;
    }

    private static float[] constant(int n, float v) {
        float[] x = new float[n];
        java.util.Arrays.fill(x, v);
        return x;
    }

    private void put(String name, long[] shape, float[] data) {
        tensors.put(name, new TensorData("F32", shape, data));
    }

    static String[] readConcepts() {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                SyntheticClip.class.getResourceAsStream("concepts.txt"), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) if (!line.isBlank()) out.add(line.trim());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toArray(new String[0]);
    }

    /** An open_clip_config.json for this model (QuickGELU, as OpenAI weights). */
    public String openClipConfig() {
        return "{\n  \"model_cfg\": {\n    \"embed_dim\": " + p + ",\n    \"quick_gelu\": true,\n    \"vision_cfg\": {\"image_size\": "
                + image + ", \"layers\": " + layers + ", \"width\": " + width + ", \"head_width\": " + (width / heads)
                + ", \"patch_size\": " + patch + "}\n  }\n}\n";
    }

    /** The same weights in Hugging Face CLIPModel naming (q/k/v split, projection transposed). */
    public LinkedHashMap<String, TensorData> huggingFace() {
        int d = width;
        LinkedHashMap<String, TensorData> hf = new LinkedHashMap<>();
        Map<String, TensorData> o = tensors;
        hf.put("vision_model.embeddings.class_embedding", o.get("visual.class_embedding"));
        hf.put("vision_model.embeddings.patch_embedding.weight", o.get("visual.conv1.weight"));
        hf.put("vision_model.embeddings.position_embedding.weight", o.get("visual.positional_embedding"));
        hf.put("vision_model.pre_layrnorm.weight", o.get("visual.ln_pre.weight"));
        hf.put("vision_model.pre_layrnorm.bias", o.get("visual.ln_pre.bias"));
        for (int l = 0; l < layers; l++) {
            String b = "visual.transformer.resblocks." + l + ".";
            String h = "vision_model.encoder.layers." + l + ".";
            hf.put(h + "layer_norm1.weight", o.get(b + "ln_1.weight"));
            hf.put(h + "layer_norm1.bias", o.get(b + "ln_1.bias"));
            float[] w = o.get(b + "attn.in_proj_weight").data();
            float[] bias = o.get(b + "attn.in_proj_bias").data();
            String[] qkv = {"q", "k", "v"};
            for (int i = 0; i < 3; i++) {
                hf.put(h + "self_attn." + qkv[i] + "_proj.weight", new TensorData("F32", new long[] {d, d},
                        java.util.Arrays.copyOfRange(w, i * d * d, (i + 1) * d * d)));
                hf.put(h + "self_attn." + qkv[i] + "_proj.bias", new TensorData("F32", new long[] {d},
                        java.util.Arrays.copyOfRange(bias, i * d, (i + 1) * d)));
            }
            hf.put(h + "self_attn.out_proj.weight", o.get(b + "attn.out_proj.weight"));
            hf.put(h + "self_attn.out_proj.bias", o.get(b + "attn.out_proj.bias"));
            hf.put(h + "layer_norm2.weight", o.get(b + "ln_2.weight"));
            hf.put(h + "layer_norm2.bias", o.get(b + "ln_2.bias"));
            hf.put(h + "mlp.fc1.weight", o.get(b + "mlp.c_fc.weight"));
            hf.put(h + "mlp.fc1.bias", o.get(b + "mlp.c_fc.bias"));
            hf.put(h + "mlp.fc2.weight", o.get(b + "mlp.c_proj.weight"));
            hf.put(h + "mlp.fc2.bias", o.get(b + "mlp.c_proj.bias"));
        }
        hf.put("vision_model.post_layernorm.weight", o.get("visual.ln_post.weight"));
        hf.put("vision_model.post_layernorm.bias", o.get("visual.ln_post.bias"));
        float[] proj = o.get("visual.proj").data();
        float[] t = new float[p * d];
        for (int r = 0; r < d; r++) for (int c = 0; c < p; c++) t[c * d + r] = proj[r * p + c];
        hf.put("visual_projection.weight", new TensorData("F32", new long[] {p, d}, t));
        hf.put("logit_scale", o.get("logit_scale"));
        return hf;
    }

    /** An HF config.json for this model. */
    public String hfConfig() {
        return "{\n  \"architectures\": [\"CLIPModel\"],\n  \"projection_dim\": " + p + ",\n  \"vision_config\": {\"hidden_size\": " + width
                + ", \"num_attention_heads\": " + heads + ", \"num_hidden_layers\": " + layers + ", \"hidden_act\": \"quick_gelu\", "
                + "\"image_size\": " + image + ", \"patch_size\": " + patch + ", \"intermediate_size\": " + (4 * width) + "}\n}\n";
    }

    /** Rounds every weight to the nearest BF16 value, so F32 and BF16 files of this model hold the same numbers. */
    public void roundToBf16() {
        for (var e : tensors.entrySet()) {
            float[] x = e.getValue().data();
            for (int i = 0; i < x.length; i++) {
                x[i] = FloatBits.bf16ToFloat(FloatBits.floatToBf16(x[i]));
            }
        }
    }
}
