package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sith.RelativeError;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.Layout;
import org.sith.checkpoint.TensorData;

/** The vision tower and its probe against the plain double-precision references. */
class VisionTowerTest {
    @TempDir
    static Path tmp;

    @ParameterizedTest
    @CsvSource({"OPENCLIP,true", "OPENCLIP,false", "HF,true", "HF,false"})
    void embeddingsEqualTheReferenceInBothLayoutsAndActivations(Layout layout, boolean quickGelu) throws Exception {
        VisionFixtures f = VisionFixtures.random(4, 32, 8, 48, 3, 4, 24);
        boolean hf = layout == Layout.HF;
        Path dir = tmp.resolve("v-" + layout + "-" + quickGelu);
        Path ckpt = hf ? f.writeHuggingFace(dir, quickGelu) : f.writeOpenClip(dir, quickGelu);
        LinkedHashMap<String, TensorData> tensors = hf ? f.huggingFace() : f.openClip();
        int n = 5;
        float[] pixels = f.randomPixels(9, n);
        float[][] got;
        try (ClipCheckpoint ck = ClipCheckpoint.open(ckpt.toString(), new Configuration(), null)) {
            VisionTower t = VisionTower.load(ck, null);
            assertEquals(32, t.imageSize());
            assertEquals(17, t.tokens());
            got = t.embed(pixels, n, 2, new Workspace()); // batches of 2, 2, 1
        }
        int block = 3 * 32 * 32;
        double worst = 0;
        for (int i = 0; i < n; i++) {
            float[] one = java.util.Arrays.copyOfRange(pixels, i * block, (i + 1) * block);
            worst = Math.max(worst, RelativeError.of(got[i], ReferenceVisionForward.embed(tensors, hf, 4, quickGelu, one)));
        }
        assertTrue(worst < 1e-5, "worst relative error " + worst);
    }

    /** What match-images reads: x̂ and the CLS attention of each probed block, and the scores built from them. */
    @Test
    void probeReportsTheReferenceTraceAndScores() throws Exception {
        VisionFixtures f = VisionFixtures.random(5, 32, 8, 48, 3, 4, 24);
        Path ckpt = f.writeOpenClip(tmp.resolve("probe"), true);
        LinkedHashMap<String, TensorData> tensors = f.openClip();
        int n = 3;
        float[] pixels = f.randomPixels(10, n);
        int block = 3 * 32 * 32;
        ReferenceVisionForward.Trace[] traces = new ReferenceVisionForward.Trace[n];
        for (int i = 0; i < n; i++) {
            traces[i] = ReferenceVisionForward.trace(tensors, false, 4, true, java.util.Arrays.copyOfRange(pixels, i * block, (i + 1) * block));
        }
        int[] calls = new int[1];
        try (ClipCheckpoint ck = ClipCheckpoint.open(ckpt.toString(), new Configuration(), null)) {
            VisionTower t = VisionTower.load(ck, null);
            int tok = t.tokens();
            t.probe(pixels, n, 4, new Workspace(), new VisionTower.Probe() {
                @Override
                public boolean wants(int layer) {
                    return layer == 1;
                }

                @Override
                public int lastLayer() {
                    return 1;
                }

                @Override
                public void block(int layer, int m, float[] xhat, float[] attention) {
                    calls[0]++;
                    assertEquals(1, layer);
                    for (int i = 0; i < m; i++) {
                        for (int h = 0; h < 4; h++) {
                            double[] want = traces[i].a()[layer][h];
                            for (int k = 0; k < tok; k++) assertEquals(want[k], attention[(i * 4 + h) * tok + k], 1e-5);
                        }
                        for (int k = 0; k < tok; k++) {
                            for (int c = 0; c < 48; c++) assertEquals(traces[i].xHat()[layer][k][c], xhat[(i * tok + k) * 48 + c], 1e-4);
                        }
                    }
                }
            });
        }
        assertEquals(1, calls[0]);
    }
}
