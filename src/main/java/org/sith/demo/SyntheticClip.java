package org.sith.demo;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.sith.checkpoint.ClipText;
import org.sith.checkpoint.TensorData;
import org.sith.checkpoint.TensorMap;
import org.sith.concepts.ConceptDictionary;
import org.sith.io.FloatBits;
import org.sith.linalg.Vec;
import org.sith.model.ClipTokenizer;
import org.sith.model.TextTower;
import org.sith.model.Workspace;

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
    public final int textWidth = 128;
    public final int textLayers = 2;
    public final int textHeads = 2;
    public final int context = 77;
    public final String[] concepts;
    /** BPE merges learned from the concept names: the model's own small tokenizer. */
    public final List<String[]> merges;
    public final ClipTokenizer tokenizer;
    public final float[] embeddings; // raw concept embeddings from the text tower, N×p
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
        this.merges = DemoBpe.learn(Arrays.asList(concepts));
        this.tokenizer = ClipTokenizer.fromMerges(merges, "demo BPE (" + merges.size() + " merges)");
        buildText(rnd);
        TextTower tower = TextTower.load(ClipText.of(new TensorMap("demo model", tensors), textHeads, "quick_gelu"));
        List<int[]> tokens = new ArrayList<>();
        for (String c : concepts) tokens.add(tokenizer.encode(c, context));
        float[][] e = tower.embed(tokens, 512, new Workspace());
        embeddings = new float[n * p];
        for (int i = 0; i < n; i++) System.arraycopy(e[i], 0, embeddings, i * p, p);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = i;
        ConceptDictionary dict = ConceptDictionary.fromRows(ids, concepts, embeddings, p, "demo");
        build(rnd, dict);
    }

    /**
     * A random text tower in OpenCLIP naming. Weights are scaled so that attention carries each
     * word's tokens into the EOT row with a weight comparable to the EOT token itself: concept
     * embeddings then differ as much as real CLIP ones do after the dictionary's centering.
     */
    private void buildText(Random rnd) {
        int d = textWidth;
        int v = tokenizer.vocabSize();
        double w = 1 / Math.sqrt(d);
        put("token_embedding.weight", new long[] {v, d}, randomF(rnd, v * d, 1.0));
        put("positional_embedding", new long[] {context, d}, randomF(rnd, context * d, 0.1));
        for (int l = 0; l < textLayers; l++) {
            String b = "transformer.resblocks." + l + ".";
            put(b + "ln_1.weight", new long[] {d}, constant(d, 1f));
            put(b + "ln_1.bias", new long[] {d}, new float[d]);
            put(b + "attn.in_proj_weight", new long[] {3 * d, d}, randomF(rnd, 3 * d * d, w));
            put(b + "attn.in_proj_bias", new long[] {3 * d}, new float[3 * d]);
            put(b + "attn.out_proj.weight", new long[] {d, d}, randomF(rnd, d * d, 2 * w));
            put(b + "attn.out_proj.bias", new long[] {d}, new float[d]);
            put(b + "ln_2.weight", new long[] {d}, constant(d, 1f));
            put(b + "ln_2.bias", new long[] {d}, new float[d]);
            put(b + "mlp.c_fc.weight", new long[] {4 * d, d}, randomF(rnd, 4 * d * d, w));
            put(b + "mlp.c_fc.bias", new long[] {4 * d}, new float[4 * d]);
            put(b + "mlp.c_proj.weight", new long[] {d, 4 * d}, randomF(rnd, 4 * d * d, 0.5 * w));
            put(b + "mlp.c_proj.bias", new long[] {d}, new float[d]);
        }
        put("ln_final.weight", new long[] {d}, constant(d, 1f));
        put("ln_final.bias", new long[] {d}, new float[d]);
        put("text_projection", new long[] {d, p}, randomF(rnd, d * p, w));
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
        separateInNullSpace(rnd, proj, planted);
        double[][] v = new double[dh][];
        // Planted directions first (in sv order); they are already orthogonal, so Gram–Schmidt keeps them.
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

    /**
     * Two planted write directions of one head are rarely orthogonal (their concepts correlate),
     * and Gram–Schmidt would bend the later one away from its concepts. Instead each gets a
     * component n_j in the residual directions the projection ignores (⊥ P's columns and ⊥ 1),
     * with n_i·n_j = −w_i·w_j: the directions become orthogonal while their joint images stay
     * exactly the planted combinations. The n_j are the rows of L·E with L·Lᵀ = s·I − G (G the
     * Gram matrix, s large enough that this is positive definite) and E orthonormal null vectors.
     */
    private void separateInNullSpace(Random rnd, double[][] proj, double[][] planted) {
        List<Integer> js = new ArrayList<>();
        for (int j = 0; j < planted.length; j++) if (planted[j] != null) js.add(j);
        int k = js.size();
        if (k < 2) return;
        double[][] m = new double[k][k];
        double s = 0;
        for (int a = 0; a < k; a++) {
            double row = 0;
            for (int b = 0; b < k; b++) {
                m[a][b] = -Vec.dot(planted[js.get(a)], planted[js.get(b)]);
                if (a != b) row += Math.abs(m[a][b]);
            }
            s = Math.max(s, row);
        }
        for (int a = 0; a < k; a++) m[a][a] = 1.01 * s + 1e-3; // diagonally dominant, so positive definite
        double[][] low = new double[k][k];
        for (int a = 0; a < k; a++) {
            for (int b = 0; b <= a; b++) {
                double sum = m[a][b];
                for (int c = 0; c < b; c++) sum -= low[a][c] * low[b][c];
                low[a][b] = a == b ? Math.sqrt(sum) : sum / low[b][b];
            }
        }
        List<double[]> basis = new ArrayList<>();
        for (double[] col : proj) basis.add(col.clone());
        double[][] e = new double[k][];
        for (int c = 0; c < k; c++) e[c] = orthonormalize(gaussian(rnd, width, 1.0), basis);
        for (int a = 0; a < k; a++) {
            double[] w = planted[js.get(a)];
            for (int c = 0; c <= a; c++) {
                for (int i = 0; i < width; i++) w[i] += low[a][c] * e[c][i];
            }
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
                + ", \"patch_size\": " + patch + "},\n    \"text_cfg\": {\"context_length\": " + context + ", \"vocab_size\": "
                + tokenizer.vocabSize() + ", \"width\": " + textWidth + ", \"heads\": " + textHeads + ", \"layers\": " + textLayers
                + "}\n  }\n}\n";
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
            splitBlock(hf, o, b, h, d);
        }
        hf.put("vision_model.post_layernorm.weight", o.get("visual.ln_post.weight"));
        hf.put("vision_model.post_layernorm.bias", o.get("visual.ln_post.bias"));
        hf.put("visual_projection.weight", new TensorData("F32", new long[] {p, d}, Vec.transpose(o.get("visual.proj").data(), d, p)));
        hf.put("logit_scale", o.get("logit_scale"));
        putTextHf(hf);
        return hf;
    }

    /** The text tower under HF names: q/k/v split, projection transposed to (p, d_t). */
    private void putTextHf(LinkedHashMap<String, TensorData> hf) {
        Map<String, TensorData> o = tensors;
        int d = textWidth;
        hf.put("text_model.embeddings.token_embedding.weight", o.get("token_embedding.weight"));
        hf.put("text_model.embeddings.position_embedding.weight", o.get("positional_embedding"));
        for (int l = 0; l < textLayers; l++) {
            String b = "transformer.resblocks." + l + ".";
            String h = "text_model.encoder.layers." + l + ".";
            splitBlock(hf, o, b, h, d);
        }
        hf.put("text_model.final_layer_norm.weight", o.get("ln_final.weight"));
        hf.put("text_model.final_layer_norm.bias", o.get("ln_final.bias"));
        hf.put("text_projection.weight", new TensorData("F32", new long[] {p, d}, Vec.transpose(o.get("text_projection").data(), d, p)));
    }

    /** One residual block from OpenCLIP prefix b to HF prefix h (fused q;k;v split into three). */
    private static void splitBlock(LinkedHashMap<String, TensorData> hf, Map<String, TensorData> o, String b, String h, int d) {
        hf.put(h + "layer_norm1.weight", o.get(b + "ln_1.weight"));
        hf.put(h + "layer_norm1.bias", o.get(b + "ln_1.bias"));
        float[] w = o.get(b + "attn.in_proj_weight").data();
        float[] bias = o.get(b + "attn.in_proj_bias").data();
        String[] qkv = {"q", "k", "v"};
        for (int i = 0; i < 3; i++) {
            hf.put(h + "self_attn." + qkv[i] + "_proj.weight", new TensorData("F32", new long[] {d, d},
                    Arrays.copyOfRange(w, i * d * d, (i + 1) * d * d)));
            hf.put(h + "self_attn." + qkv[i] + "_proj.bias", new TensorData("F32", new long[] {d},
                    Arrays.copyOfRange(bias, i * d, (i + 1) * d)));
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


    /** An HF config.json for this model. */
    public String hfConfig() {
        return "{\n  \"architectures\": [\"CLIPModel\"],\n  \"projection_dim\": " + p + ",\n  \"vision_config\": {\"hidden_size\": " + width
                + ", \"num_attention_heads\": " + heads + ", \"num_hidden_layers\": " + layers + ", \"hidden_act\": \"quick_gelu\", "
                + "\"image_size\": " + image + ", \"patch_size\": " + patch + ", \"intermediate_size\": " + (4 * width) + "},\n"
                + "  \"text_config\": {\"hidden_size\": " + textWidth + ", \"num_attention_heads\": " + textHeads
                + ", \"num_hidden_layers\": " + textLayers + ", \"hidden_act\": \"quick_gelu\", \"intermediate_size\": "
                + (4 * textWidth) + ", \"max_position_embeddings\": " + context + ", \"vocab_size\": " + tokenizer.vocabSize() + "}\n}\n";
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
