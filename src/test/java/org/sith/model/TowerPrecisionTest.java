package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sith.RelativeError;
import org.sith.UserInputException;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.ClipText;
import org.sith.checkpoint.TensorMap;
import org.sith.linalg.OneDnn;

/**
 * --tower-precision bf16 (SPEC §12): the towers' block products through oneDNN in bfloat16 against the same towers
 * in f32. The embeddings must agree to a cosine of at least {@link #MIN_COSINE} (bf16 keeps 8 significant bits: a
 * rounding of u = 2⁻⁹ relative per input, which through a few blocks measured here as 1 − cos of 1e-6 … 3e-5 on
 * these random towers) and must not be identical (a bf16 tower that silently ran f32 would be). f32 stays exact.
 */
class TowerPrecisionTest {
    /** 1 − cos ≤ 1e-3: about 30× the worst measured on these towers, far below what a wrong product gives (cos ≈ 0). */
    static final double MIN_COSINE = 0.999;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void onednn() {
        // CI machines run oneDNN (with or without AMX): there a missing library is a failure, not a skip
        assumeTrue(OneDnn.unavailable() == null || org.sith.TestData.ci(), "oneDNN cannot run here: " + OneDnn.unavailable());
    }

    static double cosine(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** Worst cosine of bf16 against f32 over the rows; fails when any row is bitwise the f32 one. */
    static double worstCosine(float[][] f32, float[][] bf16) {
        assertEquals(f32.length, bf16.length);
        double worst = 1;
        double sum = 0;
        for (int i = 0; i < f32.length; i++) {
            assertFalse(Arrays.equals(f32[i], bf16[i]), "row " + i + " is the f32 embedding bit for bit: bf16 did not run");
            double c = cosine(f32[i], bf16[i]);
            worst = Math.min(worst, c);
            sum += 1 - c;
        }
        System.out.printf("TowerPrecisionTest: %d rows, 1 - cos max %.2e, mean %.2e (ISA %s)%n", f32.length, 1 - worst, sum / f32.length,
                OneDnn.isaName());
        return worst;
    }

    @Test
    void textTowerInBf16IsCloseToF32ButNotIt() {
        TextFixtures f = TextFixtures.random(5, TextTowerTest.VOCAB, TextTowerTest.CTX, 64, 3, 4, 32);
        ClipText t = ClipText.of(new TensorMap("fixture", f.openClip()), 4, "quick_gelu");
        TextTower f32 = TextTower.load(t);
        TextTower bf16 = TextTower.load(t, TowerPrecision.BF16);
        assertEquals(TowerPrecision.F32, f32.precision());
        assertEquals(TowerPrecision.BF16, bf16.precision());
        List<int[]> seqs = new ArrayList<>(TextTowerTest.sequences(11, 120));
        seqs.add(new int[] {TextTowerTest.VOCAB - 1}); // one row alone: a matrix-vector product
        float[][] want = f32.embed(seqs, 64, new Workspace());
        // batches of 64 rows, and of all ~1,300 rows at once (more than the 512 rows a weight is packed for: chunks)
        float[][] small = bf16.embed(seqs, 64, new Workspace());
        Workspace ws = new Workspace();
        float[][] large = bf16.embed(seqs, 4096, ws);
        assertTrue(worstCosine(want, small) >= MIN_COSINE);
        assertTrue(worstCosine(want, large) >= MIN_COSINE);
        float[] alone = bf16.embed(List.of(seqs.get(seqs.size() - 1)), 64, new Workspace())[0];
        assertTrue(cosine(want[seqs.size() - 1], alone) >= MIN_COSINE);
        // the same workspace again (its products and buffers reused) gives the same numbers
        assertArrayEquals(large[7], bf16.embed(List.of(seqs.get(7)), 4096, ws)[0], 1e-5f * norm(large[7]));
        // and the double-precision reference agrees with bf16 about as well as with f32's bound allows
        for (int i = 0; i < 5; i++) {
            double[] ref = ReferenceTextForward.embed(f.openClip(), false, 4, true, seqs.get(i));
            assertTrue(RelativeError.of(want[i], ref) < 1e-5);
            assertTrue(RelativeError.of(small[i], ref) < 5e-2, "bf16 sequence " + i + ": " + RelativeError.of(small[i], ref));
        }
    }

    @Test
    void visionTowerInBf16IsCloseToF32ButNotIt() throws Exception {
        VisionFixtures f = VisionFixtures.random(4, 32, 8, 64, 3, 4, 32);
        Path ckpt = f.writeOpenClip(tmp.resolve("vision"), true);
        int n = 40; // 17 tokens an image: 680 rows at once, more than the 512 a weight is packed for
        float[] pixels = f.randomPixels(9, n);
        try (ClipCheckpoint ck = ClipCheckpoint.open(ckpt.toString(), new Configuration(), null)) {
            VisionTower f32 = VisionTower.load(ck, null);
            VisionTower bf16 = VisionTower.load(ck, null, TowerPrecision.BF16);
            float[][] want = f32.embed(pixels, n, 2, new Workspace());
            assertTrue(worstCosine(want, bf16.embed(pixels, n, 2, new Workspace())) >= MIN_COSINE);
            assertTrue(worstCosine(want, bf16.embed(pixels, n, n, new Workspace())) >= MIN_COSINE);
            assertTrue(worstCosine(want, bf16.embed(pixels, n, 1, new Workspace())) >= MIN_COSINE);
        }
    }

    @Test
    void f32IsTheDefaultAndExactlyTheF32Path() throws Exception {
        TextFixtures f = TextFixtures.random(6, TextTowerTest.VOCAB, TextTowerTest.CTX, 32, 2, 2, 16);
        ClipText t = ClipText.of(new TensorMap("fixture", f.openClip()), 2, "gelu");
        List<int[]> seqs = TextTowerTest.sequences(3, 30);
        float[][] dflt = TextTower.load(t).embed(seqs, 64, new Workspace());
        float[][] f32 = TextTower.load(t, TowerPrecision.F32).embed(seqs, 64, new Workspace());
        for (int i = 0; i < seqs.size(); i++) assertArrayEquals(dflt[i], f32[i], "sequence " + i);
        assertEquals(TowerPrecision.F32, org.sith.run.ImageSettings.DEFAULTS.towerPrecision());
    }

    @Test
    void parsingAndRefusalWhenOneDnnCannotRun() {
        assertSame(TowerPrecision.BF16, TowerPrecision.parse(" BF16 "));
        assertSame(TowerPrecision.F32, TowerPrecision.parse("f32"));
        assertThrows(UserInputException.class, () -> TowerPrecision.parse("fp16"));
        assertSame(TowerPrecision.F32, TowerPrecision.F32.requireRunnable("no jnidnnl in java.library.path"), "f32 never needs oneDNN");
        UserInputException e = assertThrows(UserInputException.class,
                () -> TowerPrecision.BF16.requireRunnable("UnsatisfiedLinkError: no jnidnnl in java.library.path"));
        assertTrue(e.getMessage().startsWith("--tower-precision bf16: oneDNN cannot run") && e.getMessage().contains("no jnidnnl"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
        assertTrue(TowerPrecision.BF16.note().startsWith("approximate"), TowerPrecision.BF16.note());
    }

    static float norm(float[] a) {
        double s = 0;
        for (float v : a) s += (double) v * v;
        return (float) Math.sqrt(s);
    }
}
