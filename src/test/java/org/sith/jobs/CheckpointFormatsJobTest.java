package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sith.SparkTestBase;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.SafeTensors;
import org.sith.checkpoint.SafeTensorsWriter;
import org.sith.checkpoint.TensorData;
import org.sith.io.Npy;

/**
 * The checkpoint forms end to end through the command line (SPEC §2): decompose gives the same explanations and
 * singular vectors as the plain safetensors file of the same weights on every form; match-images, edit and diff
 * run on them too, with the same results; and heads 104 wide decompose to the dense SVD of their VO matrices.
 */
class CheckpointFormatsJobTest extends SparkTestBase {
    static final Path FORMATS = Path.of("src/test/resources/org/sith/checkpoint/formats");
    static final String REF = FORMATS.resolve("ref").toString();
    static final String FOLDED = FORMATS.resolve("layerscale_folded").toString();

    @TempDir
    static Path tmp;
    static String concepts;
    static String vocab;
    static String pixels;

    @BeforeAll
    static void inputs() throws IOException {
        Random r = new Random(5);
        int n = 40;
        int p = 12;
        float[] e = new float[n * p];
        for (int i = 0; i < e.length; i++) e[i] = (float) r.nextGaussian();
        concepts = tmp.resolve("concepts.npy").toString();
        Npy.write(concepts, new Configuration(), new long[] {n, p}, e);
        List<String> words = new ArrayList<>();
        for (int i = 0; i < n; i++) words.add("concept" + i);
        vocab = tmp.resolve("vocab.txt").toString();
        Files.writeString(Path.of(vocab), String.join("\n", words) + "\n", StandardCharsets.UTF_8);
        float[] px = new float[6 * 3 * 8 * 8];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        pixels = tmp.resolve("pixels.npy").toString();
        byte[] header = Npy.header("<f4", new long[] {6, 3, 8, 8});
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(header.length + px.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.put(header);
        bb.asFloatBuffer().put(px);
        Files.write(Path.of(pixels), bb.array());
    }

    static String out(String name) {
        return tmp.resolve("out-" + name).toString();
    }

    static void decompose(String checkpoint, String out, String... extra) {
        List<String> a = new ArrayList<>(List.of("decompose", "--checkpoint", checkpoint, "--concepts", concepts, "--vocab", vocab,
                "--model-name", "m", "--k", "3", "--out", out));
        a.addAll(List.of(extra));
        Run run = cli(a.toArray(new String[0]));
        assertEquals(0, run.status(), run.stderr());
    }

    /** Every row of a folder, every column, ordered; as text, so nested arrays compare by value. */
    static List<String> rows(String folder, String... order) {
        Column[] by = Stream.of(order).map(org.apache.spark.sql.functions::col).toArray(Column[]::new);
        return spark.read().parquet(folder).orderBy(by).collectAsList().stream().map(Row::toString).toList();
    }

    static Stream<Arguments> forms() {
        return Stream.of(
                Arguments.of("openclip-bin", FORMATS.resolve("openclip_bin").toString(), REF, new String[0]),
                Arguments.of("nested-pt", FORMATS.resolve("nested/epoch_7.pt").toString(), REF, new String[0]),
                Arguments.of("hf-bin", FORMATS.resolve("hf_bin/pytorch_model.bin").toString(), REF, new String[0]),
                Arguments.of("hf-sharded", FORMATS.resolve("hf_sharded").toString(), REF, new String[0]),
                Arguments.of("timm", FORMATS.resolve("timm/model.safetensors").toString(), REF, new String[0]),
                Arguments.of("torchscript", FORMATS.resolve("torchscript/ViT-T-4.pt").toString(), REF, new String[] {"--heads", "2"}),
                Arguments.of("layerscale", FORMATS.resolve("layerscale").toString(), FOLDED, new String[0]));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("forms")
    void decomposeGivesTheSameExplanationsAsThePlainSafetensorsFile(String label, String checkpoint, String reference, String[] extra) {
        String refOut = out("ref-" + label);
        decompose(reference, refOut);
        decompose(checkpoint, out(label), extra);
        List<String> want = rows(refOut + "/explanations", "layer", "head", "sv");
        assertEquals(2 * 2 * 12, want.size());
        assertEquals(want, rows(out(label) + "/explanations", "layer", "head", "sv"));
        assertEquals(rows(refOut + "/singular_vectors", "layer", "head", "sv"), rows(out(label) + "/singular_vectors", "layer", "head", "sv"));
    }

    @Test
    void matchImagesEditAndDiffRunOnTheFormsWithTheSameResults() throws IOException {
        String explained = out("match-explained");
        decompose(REF, explained);
        Map<String, String> forms = new LinkedHashMap<>();
        forms.put("ref", REF);
        forms.put("openclip-bin", FORMATS.resolve("openclip_bin").toString());
        forms.put("hf-sharded", FORMATS.resolve("hf_sharded").toString());
        forms.put("timm", FORMATS.resolve("timm/model.safetensors").toString());
        List<String> first = null;
        for (Map.Entry<String, String> f : forms.entrySet()) {
            String o = out("match-" + f.getKey());
            Run run = cli("match-images", "--checkpoint", f.getValue(), "--images", pixels, "--explanations", explained + "/explanations",
                    "--top", "3", "--model-name", "m", "--out", o);
            assertEquals(0, run.status(), run.stderr());
            List<String> m = rows(o + "/matches", "layer", "head", "sv", "rank");
            assertEquals(2 * 2 * 12 * 3, m.size(), f.getKey());
            if (first == null) first = m;
            else assertEquals(first, m, f.getKey());
        }

        // edit: the same edit of every form gives the same tower, written in the input's own form
        Path edits = tmp.resolve("edits.csv");
        Files.writeString(edits, "layer,head,sv,alpha\n1,0,0,0\n1,1,2,1.5\n0,1,0,0.25\n");
        Map<String, List<String>> written = new LinkedHashMap<>();
        written.put("ref", List.of("open_clip_model.safetensors", "open_clip_config.json"));
        written.put("openclip-bin", List.of("open_clip_model.safetensors", "open_clip_config.json"));
        written.put("hf-sharded", List.of("model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "config.json"));
        written.put("timm", List.of("model.safetensors", "config.json"));
        String refEdited = null;
        for (Map.Entry<String, String> f : forms.entrySet()) {
            Path o = Path.of(out("edit-" + f.getKey()));
            Run run = cli("edit", "--checkpoint", f.getValue(), "--edits", edits.toString(), "--out", o.toString());
            assertEquals(0, run.status(), run.stderr());
            for (String name : written.get(f.getKey())) assertTrue(Files.exists(o.resolve(name)), f.getKey() + ": " + name);
            String edited = o.resolve(written.get(f.getKey()).get(0)).toString();
            if (refEdited == null) {
                refEdited = edited;
                continue;
            }
            try (ClipCheckpoint a = ClipCheckpoint.open(edited, new Configuration(), null);
                 ClipCheckpoint b = ClipCheckpoint.open(refEdited, new Configuration(), null)) {
                org.sith.checkpoint.CheckpointFormatsTest.assertSameTower(a, b);
            }
        }
        // the converted archive keeps every tensor of the input under its own name and dtype
        try (SafeTensors st = SafeTensors.open(out("edit-openclip-bin") + "/open_clip_model.safetensors", new Configuration());
             SafeTensors ref = SafeTensors.open(FORMATS.resolve("ref/open_clip_model.safetensors").toString(), new Configuration())) {
            assertEquals(ref.names(), st.names());
            assertArrayEquals(ref.readFloats("visual.conv1.weight"), st.readFloats("visual.conv1.weight"));
        }
        // LayerScale: the edit is written folded with γ = 1, and equals the edit of the folded weights
        Run ls = cli("edit", "--checkpoint", FORMATS.resolve("layerscale").toString(), "--edits", edits.toString(), "--out", out("edit-ls"));
        assertEquals(0, ls.status(), ls.stderr());
        Run lsf = cli("edit", "--checkpoint", FOLDED, "--edits", edits.toString(), "--out", out("edit-lsf"));
        assertEquals(0, lsf.status(), lsf.stderr());
        try (ClipCheckpoint a = ClipCheckpoint.open(out("edit-ls"), new Configuration(), null);
             ClipCheckpoint b = ClipCheckpoint.open(out("edit-lsf"), new Configuration(), null)) {
            org.sith.checkpoint.CheckpointFormatsTest.assertSameTower(a, b);
            float[] g = a.tensors().stored().readFloats("visual.transformer.resblocks.1.ls_1.gamma");
            for (float v : g) assertEquals(1f, v);
            float[] untouched = a.tensors().stored().readFloats("visual.transformer.resblocks.1.ls_2.gamma");
            assertFalse(untouched[0] == 1f, "the MLP branch's γ of an edited block stays as it was");
        }

        // diff: the same weights in two forms change nothing; the LayerScale model against the unscaled one changes
        Run same = cli("diff", "--base", FORMATS.resolve("hf_sharded").toString(), "--finetuned", FORMATS.resolve("timm/model.safetensors").toString(),
                "--out", out("diff-same"));
        assertEquals(0, same.status(), same.stderr());
        for (Row r : spark.read().parquet(out("diff-same") + "/diff_heads").collectAsList()) {
            assertEquals(0.0, r.getDouble(r.fieldIndex("rel_change")), 1e-12, r.toString());
        }
        Run changed = cli("diff", "--base", REF, "--finetuned", FORMATS.resolve("layerscale").toString(), "--out", out("diff-ls"));
        assertEquals(0, changed.status(), changed.stderr());
        for (Row r : spark.read().parquet(out("diff-ls") + "/diff_heads").collectAsList()) {
            assertTrue(r.getDouble(r.fieldIndex("rel_change")) > 0.01, r.toString());
        }
    }

    @Test
    void headsOf104DecomposeToTheDenseSvdOfTheirVoMatrices() throws IOException {
        int d = 208;
        int dh = 104;
        Random r = new Random(104);
        LinkedHashMap<String, TensorData> t = new LinkedHashMap<>();
        String b = "visual.transformer.resblocks.0.";
        t.put("visual.class_embedding", TensorData.f32(gaussian(r, d), d));
        t.put("visual.positional_embedding", TensorData.f32(gaussian(r, 5 * d), 5, d));
        t.put("visual.proj", TensorData.f32(gaussian(r, d * 12), d, 12));
        t.put("visual.conv1.weight", TensorData.f32(gaussian(r, d * 3 * 16), d, 3, 4, 4));
        t.put("visual.ln_pre.weight", TensorData.f32(gaussian(r, d), d));
        t.put("visual.ln_pre.bias", TensorData.f32(gaussian(r, d), d));
        float[] gamma = new float[d];
        for (int i = 0; i < d; i++) gamma[i] = (float) (0.5 + r.nextDouble());
        t.put(b + "ln_1.weight", TensorData.f32(gamma, d));
        t.put(b + "ln_1.bias", TensorData.f32(gaussian(r, d), d));
        float[] inProj = gaussian(r, 3 * d * d);
        float[] outProj = gaussian(r, d * d);
        for (int i = 0; i < outProj.length; i++) outProj[i] += 0.3f; // a mean to center away
        t.put(b + "attn.in_proj_weight", TensorData.f32(inProj, 3 * d, d));
        t.put(b + "attn.in_proj_bias", TensorData.f32(gaussian(r, 3 * d), 3 * d));
        t.put(b + "attn.out_proj.weight", TensorData.f32(outProj, d, d));
        t.put(b + "attn.out_proj.bias", TensorData.f32(gaussian(r, d), d));
        t.put(b + "ln_2.weight", TensorData.f32(gaussian(r, d), d));
        t.put(b + "ln_2.bias", TensorData.f32(gaussian(r, d), d));
        t.put(b + "mlp.c_fc.weight", TensorData.f32(gaussian(r, 16 * d), 16, d));
        t.put(b + "mlp.c_fc.bias", TensorData.f32(gaussian(r, 16), 16));
        t.put(b + "mlp.c_proj.weight", TensorData.f32(gaussian(r, 16 * d), d, 16));
        t.put(b + "mlp.c_proj.bias", TensorData.f32(gaussian(r, d), d));
        t.put("visual.ln_post.weight", TensorData.f32(gaussian(r, d), d));
        t.put("visual.ln_post.bias", TensorData.f32(gaussian(r, d), d));
        Path dir = Files.createDirectories(tmp.resolve("bigG-like"));
        SafeTensorsWriter.write(dir.resolve("open_clip_model.safetensors").toString(), new Configuration(), t, Map.of());
        Files.writeString(dir.resolve("open_clip_config.json"),
                "{\"model_cfg\": {\"embed_dim\": 12, \"vision_cfg\": {\"width\": 208, \"head_width\": 104, \"layers\": 1, \"patch_size\": 4}}}");
        decompose(dir.toString(), out("hw104"));
        List<Row> sv = spark.read().parquet(out("hw104") + "/singular_vectors").orderBy("head", "sv").collectAsList();
        assertEquals(2 * dh, sv.size(), "two heads of 104, full rank");
        for (int h = 0; h < 2; h++) {
            double[] sigma = new SingularValueDecomposition(denseVo(inProj, outProj, gamma, d, dh, h)).getSingularValues();
            for (int j = 0; j < dh; j++) {
                Row row = sv.get(h * dh + j);
                assertEquals(h, row.getInt(row.fieldIndex("head")));
                assertEquals(d, row.getList(row.fieldIndex("vector")).size());
                assertEquals(sigma[j], row.getDouble(row.fieldIndex("sigma")), 1e-9 * sigma[0], "head " + h + " sv " + j);
            }
        }
    }

    static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /** SPEC §3 written out on the full matrices: fold γ into the input map, center both maps, slice head h, M = Wv_hᵀ·Wo_hᵀ. */
    static RealMatrix denseVo(float[] inProj, float[] outProj, float[] gamma, int d, int dh, int h) {
        double[][] wv = new double[dh][d];
        for (int i = 0; i < dh; i++) {
            int row = 2 * d + h * dh + i;
            double mean = 0;
            for (int k = 0; k < d; k++) mean += inProj[row * d + k] * (double) gamma[k];
            for (int k = 0; k < d; k++) wv[i][k] = inProj[row * d + k] * (double) gamma[k] - mean / d;
        }
        double[][] wo = new double[d][dh];
        for (int c = 0; c < dh; c++) {
            int col = h * dh + c;
            double mean = 0;
            for (int o = 0; o < d; o++) mean += outProj[o * d + col];
            for (int o = 0; o < d; o++) wo[o][c] = outProj[o * d + col] - mean / d;
        }
        return new Array2DRowRealMatrix(wv).transpose().multiply(new Array2DRowRealMatrix(wo).transpose());
    }
}
