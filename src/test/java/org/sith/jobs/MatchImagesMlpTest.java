package org.sith.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.SparkTestBase;
import org.sith.checkpoint.TensorData;
import org.sith.model.ReferenceMatchScores;
import org.sith.model.ReferenceVisionForward;

/**
 * match-images --component mlp|all (SPEC §7, §10): a neuron's score act_i(CLS)·‖w_i‖ and its top images against a plain
 * double-precision forward pass of the random tower (the activations read at the class token, the centered write norm
 * computed here from the stored c_proj weight) and brute force over every image; VO vectors of the same run against the
 * dense SVD; the default run reads a folder of every component and still writes the paper's matches/; text-tower rows
 * and neurons outside the checkpoint are refused.
 */
class MatchImagesMlpTest extends SparkTestBase {
    static final int HEADS = SyntheticImages.HEADS;
    static final int D = 48;
    static final int HIDDEN = 4 * D;
    static final int TOP = 3;

    @TempDir
    static Path tmp;
    static SyntheticImages in;
    static String explanations;

    @BeforeAll
    static void decomposeEveryComponent() throws Exception {
        in = SyntheticImages.write(tmp);
        Path concepts = ImagesTest.writeConcepts(tmp.resolve("concepts"));
        String dec = tmp.resolve("dec-all").toString();
        Run d = cli("decompose", "--checkpoint", in.checkpoint().toString(), "--concepts", concepts + "/emb.npy", "--vocab", concepts + "/vocab.txt",
                "--component", "all", "--layers", "1,2", "--rank", "3", "--out", dec);
        assertEquals(0, d.status(), d.stderr());
        explanations = dec + "/explanations";
    }

    /** ‖w_i‖: column i of block l's stored c_proj weight (d × hidden) minus its mean over the d outputs. */
    static double writeNorm(Map<String, TensorData> t, int l, int i) {
        float[] w = t.get("visual.transformer.resblocks." + l + ".mlp.c_proj.weight").data();
        double mean = 0;
        for (int o = 0; o < D; o++) mean += w[o * HIDDEN + i];
        mean /= D;
        double ss = 0;
        for (int o = 0; o < D; o++) ss += (w[o * HIDDEN + i] - mean) * (w[o * HIDDEN + i] - mean);
        return Math.sqrt(ss);
    }

    /** key "layer/head/sv" (head -1 for a neuron) → the top images and their scores by brute force. */
    static Map<String, List<Object[]>> bruteForce() {
        Map<String, double[][]> acts = new HashMap<>();
        Map<String, ReferenceVisionForward.Trace> traces = new HashMap<>();
        in.pixels().forEach((id, px) -> {
            acts.put(id, ReferenceVisionForward.mlpClsActivations(in.tensors(), false, HEADS, true, px));
            traces.put(id, ReferenceVisionForward.trace(in.tensors(), false, HEADS, true, px));
        });
        Map<String, List<Object[]>> want = new HashMap<>();
        for (int layer : new int[] {1, 2}) {
            for (int i = 0; i < HIDDEN; i++) {
                double norm = writeNorm(in.tensors(), layer, i);
                List<Object[]> scored = new ArrayList<>();
                for (String id : in.pixels().keySet()) scored.add(new Object[] {id, acts.get(id)[layer][i] * norm});
                want.put(layer + "/-1/" + i, top(scored));
            }
            for (int h = 0; h < HEADS; h++) {
                ReferenceMatchScores.HeadSvd svd = ReferenceMatchScores.headSvdRead(in.tensors(), false, layer, h, HEADS);
                for (int sv = 0; sv < 3; sv++) {
                    List<Object[]> scored = new ArrayList<>();
                    for (String id : in.pixels().keySet()) {
                        double[] z = ReferenceVisionForward.z(traces.get(id), layer, h);
                        scored.add(new Object[] {id, ReferenceMatchScores.score(z, svd.sigma()[sv], svd.u()[sv])});
                    }
                    want.put(layer + "/" + h + "/" + sv, top(scored));
                }
            }
        }
        return want;
    }

    static List<Object[]> top(List<Object[]> scored) {
        scored.sort(Comparator.<Object[]>comparingDouble(o -> -(double) o[1]).thenComparing(o -> (String) o[0]));
        return scored.subList(0, TOP);
    }

    @Test
    void neuronScoresAndTopImagesEqualTheReferenceForwardPassInOnePassWithTheHeads() throws Exception {
        String out = tmp.resolve("out-all").toString();
        Run run = cli("match-images", "--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--explanations", explanations,
                "--component", "all", "--top", Integer.toString(TOP), "--out", out, "--images-per-task", "4");
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("left out") && run.stderr().contains("qk rows"), run.stderr());
        var df = spark.read().parquet(out + "/matches");
        assertEquals(List.of("model", "layer", "head", "sv", "rank", "image", "score", "component"), Arrays.asList(df.columns()));
        Map<String, List<Object[]>> want = bruteForce();
        int mlpRows = 0;
        int voRows = 0;
        double spread = 0;
        for (Row r : df.collectAsList()) {
            String component = r.getString(7);
            boolean mlp = component.equals("mlp");
            if (mlp) {
                assertTrue(r.isNullAt(2), "an mlp row has no head");
                mlpRows++;
            } else {
                assertEquals("vo", component);
                voRows++;
            }
            String key = r.getInt(1) + "/" + (mlp ? -1 : r.getInt(2)) + "/" + r.getInt(3);
            Object[] w = want.get(key).get(r.getInt(4) - 1);
            double score = r.getDouble(6);
            assertEquals((double) w[1], score, 1e-4 * Math.max(1, Math.abs((double) w[1])), key + " rank " + r.getInt(4));
            assertEquals(w[0], r.getString(5), key + " rank " + r.getInt(4));
            if (mlp) spread = Math.max(spread, Math.abs(score));
        }
        assertEquals(2 * HIDDEN * TOP, mlpRows);
        assertEquals(2 * HEADS * 3 * TOP, voRows);
        assertTrue(spread > 1e-2, "the neuron scores are not all zero: " + spread);
    }

    /**
     * The default run on a folder of vo, mlp and qk rows matches the vo vectors alone, with the paper's columns (no
     * component column, head non-null), equal to the vo rows of the run with every component; before the reader knew
     * the kind columns, the qk rows (which have a head) were taken for vo vectors and refused as another checkpoint's.
     */
    @Test
    void theDefaultRunMatchesOnlyVoVectorsAndWritesThePapersColumns() throws Exception {
        String out = tmp.resolve("out-vo").toString();
        Run run = cli("match-images", "--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--explanations", explanations,
                "--top", Integer.toString(TOP), "--out", out, "--images-per-task", "4");
        assertEquals(0, run.status(), run.stderr());
        assertTrue(run.stderr().contains("mlp rows (give --component mlp or all"), run.stderr());
        var df = spark.read().parquet(out + "/matches");
        assertEquals(List.of("model", "layer", "head", "sv", "rank", "image", "score"), Arrays.asList(df.columns()));
        Map<String, List<Object[]>> want = bruteForce();
        List<Row> rows = df.collectAsList();
        assertEquals(2 * HEADS * 3 * TOP, rows.size());
        for (Row r : rows) {
            Object[] w = want.get(r.getInt(1) + "/" + r.getInt(2) + "/" + r.getInt(3)).get(r.getInt(4) - 1);
            assertEquals(w[0], r.getString(5));
            assertEquals((double) w[1], r.getDouble(6), 1e-4 * Math.max(1, Math.abs((double) w[1])));
        }
    }

    @Test
    void textTowerRowsAndNeuronsOutsideTheCheckpointAreRefused() throws Exception {
        var expl = spark.read().parquet(explanations);
        // only text-tower rows: nothing is matchable
        String text = tmp.resolve("expl-text").toString();
        expl.withColumn("tower", functions.lit("text")).write().parquet(text);
        String out = tmp.resolve("out-text").toString();
        Run run = cli("match-images", "--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--explanations", text,
                "--component", "mlp", "--out", out);
        assertEquals(2, run.status(), run.stderr());
        assertTrue(run.stderr().contains("no vision mlp neuron to match") && run.stderr().contains("text-tower"), run.stderr());
        assertFalse(Files.exists(Path.of(out, "matches")));

        // a neuron index past the MLP width
        String far = tmp.resolve("expl-far").toString();
        expl.filter("component = 'mlp' AND sv = 5").withColumn("sv", functions.lit(HIDDEN + 7)).write().parquet(far);
        String out2 = tmp.resolve("out-far").toString();
        Run run2 = cli("match-images", "--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--explanations", far,
                "--component", "mlp", "--out", out2);
        assertEquals(2, run2.status(), run2.stderr());
        assertTrue(run2.stderr().contains("neuron " + (HIDDEN + 7)) && run2.stderr().contains("192 neurons per block"), run2.stderr());
        assertFalse(Files.exists(Path.of(out2, "matches")));

        // qk asked for
        Run run3 = cli("match-images", "--checkpoint", in.checkpoint().toString(), "--images", in.images().toString(), "--explanations", explanations,
                "--component", "qk", "--out", tmp.resolve("out-qk").toString());
        assertEquals(2, run3.status(), run3.stderr());
        assertTrue(run3.stderr().contains("qk circuits have no per-image score"), run3.stderr());
    }
}
