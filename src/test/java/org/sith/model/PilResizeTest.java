package org.sith.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.sith.TestData;

/** PilResize against a plain reference (PilReference), Pillow's own expectations and hand-worked numbers. */
class PilResizeTest {
    private static void assertSameAsReference(byte[] rgb, int w, int h, int outW, int outH) {
        byte[] expected = PilReference.toBytes(PilReference.resize(PilReference.toArray(rgb, w, h), outW, outH));
        byte[] actual = PilResize.resize(rgb, w, h, outW, outH);
        assertEquals(expected.length, actual.length, w + "x" + h + " -> " + outW + "x" + outH);
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                int px = i / 3;
                throw new AssertionError(w + "x" + h + " -> " + outW + "x" + outH + ": pixel (" + px % outW + ", " + px / outW
                        + ") channel " + i % 3 + " is " + (actual[i] & 0xFF) + ", reference " + (expected[i] & 0xFF));
            }
        }
    }

    /** Gray image as RGB with all three channels equal. */
    private static byte[] gray(int w, int h, java.util.function.IntBinaryOperator f) {
        byte[] b = new byte[w * h * 3];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) for (int c = 0; c < 3; c++) b[(y * w + x) * 3 + c] = (byte) f.applyAsInt(x, y);
        return b;
    }

    private static byte[] random(int w, int h, long seed) {
        byte[] b = new byte[w * h * 3];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void kernelValuesWorkedByHand() {
        assertEquals(1.0, PilResize.bicubic(0), 0);
        assertEquals(0.0, PilResize.bicubic(1), 0);
        assertEquals(0.0, PilResize.bicubic(-1), 0);
        assertEquals(0.0, PilResize.bicubic(2), 0);
        assertEquals(0.0, PilResize.bicubic(-2), 0);
        assertEquals(0.0, PilResize.bicubic(3.7), 0);
        // ((a+2)x - (a+3)) x^2 + 1 at x = 0.5: ((1.5)(0.5) - 2.5)(0.25) + 1 = 0.5625
        assertEquals(0.5625, PilResize.bicubic(0.5), 0);
        assertEquals(0.5625, PilResize.bicubic(-0.5), 0);
        // (((x-5)x + 8)x - 4) a at x = 1.5: ((-5.25 + 8)(1.5) - 4)(-0.5) = (0.125)(-0.5) = -0.0625
        assertEquals(-0.0625, PilResize.bicubic(1.5), 0);
        // Pillow's evaluation order and the textbook polynomial are the same function, but not the same
        // doubles: near |x| = 2 the textbook form cancels large terms and differs by ~2e-15. Such a last bit
        // can move a 22-bit weight across a rounding boundary, so both implementations use Pillow's order.
        for (double x = -2.5; x <= 2.5; x += 0.001) assertEquals(PilReference.textbookKernel(x), PilResize.bicubic(x), 1e-14, "x=" + x);
    }

    /**
     * Row [0,0,0,0,255,255,255,255], 8 -> 4 (scale 2: support 4, kernel argument (j - center + 0.5) / 2).
     * Kernel values: k(0.25) = 0.8671875, k(0.75) = 0.2265625, k(1.25) = -0.0703125, k(1.75) = -0.0234375
     * (in 128ths: 111, 29, -9, -3).
     * <ul>
     * <li>out 0: center 1, inputs 0..4, weights (111 111 29 -9 -3)/239; only input 4 is 255 with -3/239 -> below 0 -> 0.</li>
     * <li>out 1: center 3, inputs 0..6, weights (-9 29 111 111 29 -9 -3)/259. Fixed point (x 2^22, half away from 0):
     *     29/259 -> 469632.49 -> 469632; -9/259 -> -145748.02 -> -145748; -3/259 -> -48582.67 -> -48583.
     *     255 (469632 - 145748 - 48583) + 2^21 = 72298907, >> 22 = 17.</li>
     * <li>out 2: center 5, inputs 1..7, weights (-3 -9 29 111 111 29 -9)/259; inputs 4..7:
     *     111/259 -> 1797558.86 -> 1797559 (twice), 469632, -145748: 255 x 3919002 + 2^21 = 1001442662, >> 22 = 238.</li>
     * <li>out 3: center 7, inputs 3..7, weights (-3 -9 29 111 111)/239; inputs 4..7 sum 242/239 > 1 -> 258 -> 255.</li>
     * </ul>
     */
    @Test
    void halvingAStepWorkedByHand() {
        byte[] row = gray(8, 1, (x, y) -> x < 4 ? 0 : 255);
        byte[] out = PilResize.resize(row, 8, 1, 4, 1);
        int[] expected = {0, 17, 238, 255};
        for (int i = 0; i < 4; i++) {
            for (int c = 0; c < 3; c++) assertEquals(expected[i], out[i * 3 + c] & 0xFF, "output " + i);
        }
        assertSameAsReference(row, 8, 1, 4, 1);
    }

    @Test
    void halvingAThinLineKeepsItsEnergyWhereTheLineWas() {
        // a white column at x = 4 of 8 sits at output coordinate (4 + 0.5) / 2 - 0.5 = 1.75: mostly in 2, some in 1
        byte[] img = gray(8, 5, (x, y) -> x == 4 ? 255 : 0);
        byte[] out = PilResize.resize(img, 8, 5, 4, 5);
        for (int y = 0; y < 5; y++) {
            int[] v = new int[4];
            for (int x = 0; x < 4; x++) v[x] = out[(y * 4 + x) * 3] & 0xFF;
            assertEquals(0, v[0], "row " + y);
            assertEquals(0, v[3], "row " + y);
            assertTrue(v[2] > v[1] && v[1] > 0, "row " + y + ": " + java.util.Arrays.toString(v));
            // 255 x 111/259 = 109.3 -> 109 and 255 x 29/259 = 28.6 -> 29 (the 2^21 start rounds to nearest):
            // the line's 255 spread over two pixels, about halved, as averaging two pixels should
            assertEquals(109, v[2]);
            assertEquals(29, v[1]);
        }
    }

    /** Pillow's own Tests/test_image_resample.py expectations: two bright (0xe1) and two dark squares. */
    @Test
    void pillowTestSuiteExpectations() {
        checkPillowCase(12, 6, "e1 e3 d4 e3 e5 d6 d4 d6 c9");
        checkPillowCase(4, 8, "e1 e5 ee b9 e5 e9 f3 bc ee f3 fd c1 b9 bc c1 a2");
    }

    private static void checkPillowCase(int size, int out, String quarter) {
        int half = size / 2;
        byte[] img = gray(size, size, (x, y) -> (x < half) == (y < half) ? 0xe1 : 0xff - 0xe1);
        byte[] r = PilResize.resize(img, size, size, out, out);
        String[] hex = quarter.split(" ");
        int q = out / 2;
        for (int y = 0; y < q; y++) {
            for (int x = 0; x < q; x++) {
                int v = Integer.parseInt(hex[y * q + x], 16);
                // the sample is the top-left quarter; the others follow by symmetry (mirrored, dark = 255 - bright)
                assertEquals(v, r[(y * out + x) * 3] & 0xFF, "(" + x + "," + y + ")");
                assertEquals(v, r[((out - 1 - y) * out + out - 1 - x) * 3 + 1] & 0xFF);
                assertEquals(255 - v, r[((out - 1 - y) * out + x) * 3 + 2] & 0xFF);
                assertEquals(255 - v, r[(y * out + out - 1 - x) * 3] & 0xFF);
            }
        }
    }

    /** Bounds and 22-bit weights per output pixel, compared directly (the resize tests see them only through pixels). */
    @Test
    void fixedPointWeightsMatchTheReference() {
        int[][] axes = {{8, 4}, {37, 224}, {1001, 224}, {224, 672}, {5, 1}, {1, 7}, {640, 335}, {427, 224}, {16, 4096}, {3000, 7}};
        for (int[] a : axes) {
            PilResize.Coeffs c = PilResize.coeffs(a[0], a[1]);
            for (int i = 0; i < a[1]; i++) {
                long[] t = PilReference.taps(a[0], a[1], i);
                String where = a[0] + " -> " + a[1] + " output " + i;
                assertEquals(t[0], c.start()[i], where);
                assertEquals(t.length - 1, c.count()[i], where);
                assertTrue(c.count()[i] <= c.ksize(), where);
                long sum = 0;
                for (int j = 0; j < c.count()[i]; j++) {
                    assertEquals(t[1 + j], c.weights()[i * c.ksize() + j], where + " tap " + j);
                    sum += t[1 + j];
                }
                assertEquals(1 << 22, sum, c.ksize(), where + ": weights sum to one, give or take their rounding");
            }
        }
    }

    @Test
    void constantImagesStayConstant() {
        int[][] sizes = {{7, 5, 224, 160}, {1001, 333, 224, 74}, {300, 200, 17, 500}, {1, 9, 5, 3}};
        for (int[] s : sizes) {
            for (int v : new int[] {0, 1, 12, 128, 254, 255}) {
                byte[] out = PilResize.resize(gray(s[0], s[1], (x, y) -> v), s[0], s[1], s[2], s[3]);
                for (byte b : out) assertEquals(v, b & 0xFF, java.util.Arrays.toString(s) + " value " + v);
            }
        }
    }

    @Test
    void sharpEdgesMatchTheReference() {
        byte[] checker = gray(16, 16, (x, y) -> ((x + y) & 1) == 0 ? 255 : 0);
        assertSameAsReference(checker, 16, 16, 7, 7);
        assertSameAsReference(checker, 16, 16, 37, 23);
        byte[] coarse = gray(40, 30, (x, y) -> ((x / 5 + y / 5) & 1) == 0 ? 255 : 0);
        assertSameAsReference(coarse, 40, 30, 224, 168);
        assertSameAsReference(coarse, 40, 30, 13, 9);
        byte[] dot = gray(9, 9, (x, y) -> x == 4 && y == 4 ? 255 : 0);
        assertSameAsReference(dot, 9, 9, 4, 4);
        assertSameAsReference(dot, 9, 9, 31, 31);
        assertSameAsReference(dot, 9, 9, 9, 2);
        byte[] stripes = gray(50, 20, (x, y) -> x % 3 == 0 ? 255 : 0);
        assertSameAsReference(stripes, 50, 20, 21, 20);
        assertSameAsReference(stripes, 50, 20, 50, 7);
        byte[] rows = gray(20, 50, (x, y) -> y % 2 == 0 ? 250 : 5);
        assertSameAsReference(rows, 20, 50, 20, 24);
    }

    @Test
    void oddSizesMatchTheReference() {
        assertSameAsReference(random(37, 23, 1), 37, 23, 224, 138);
        int[] up = PilResize.resizeShorterSide(37, 23, 224);
        assertSameAsReference(random(37, 23, 1), 37, 23, up[0], up[1]);
        int[] down = PilResize.resizeShorterSide(1001, 333, 224);
        assertArrayEquals(new int[] {673, 224}, down); // 224 x 1001 / 333 = 673.3
        assertSameAsReference(random(1001, 333, 2), 1001, 333, down[0], down[1]);
        assertSameAsReference(random(1, 57, 3), 1, 57, 1, 224);
        assertSameAsReference(random(1, 57, 3), 1, 57, 3, 19);
        assertSameAsReference(random(61, 1, 4), 61, 1, 224, 1);
        assertSameAsReference(random(61, 1, 4), 61, 1, 5, 2);
        assertSameAsReference(random(1, 1, 5), 1, 1, 224, 224);
        assertSameAsReference(random(3, 2, 6), 3, 2, 2, 3);
    }

    @Test
    void identityIsACopy() {
        byte[] img = random(31, 17, 7);
        byte[] out = PilResize.resize(img, 31, 17, 31, 17);
        assertArrayEquals(img, out);
        out[0]++;
        assertTrue(img[0] != out[0], "a copy, not the input");
        assertSameAsReference(img, 31, 17, 31, 17);
    }

    /** The preprocessor resizes only the crop window; that must equal cropping the full resize. */
    @Test
    void windowEqualsCropOfFullResize() {
        Random rnd = new Random(8);
        for (int t = 0; t < 40; t++) {
            int w = 1 + rnd.nextInt(90), h = 1 + rnd.nextInt(90), ow = 1 + rnd.nextInt(90), oh = 1 + rnd.nextInt(90);
            if (t % 4 == 0) ow = w;
            if (t % 4 == 1) oh = h;
            byte[] img = random(w, h, t);
            byte[] full = PilResize.resize(img, w, h, ow, oh);
            int cw = 1 + rnd.nextInt(ow), ch = 1 + rnd.nextInt(oh);
            int left = rnd.nextInt(ow - cw + 1), top = rnd.nextInt(oh - ch + 1);
            byte[] win = PilResize.resizeWindow(img, w, h, ow, oh, left, top, cw, ch);
            for (int y = 0; y < ch; y++) {
                for (int i = 0; i < cw * 3; i++) {
                    assertEquals(full[((y + top) * ow + left) * 3 + i], win[y * cw * 3 + i],
                            w + "x" + h + " -> " + ow + "x" + oh + " window " + cw + "x" + ch + "+" + left + "+" + top);
                }
            }
        }
    }

    @Test
    void shorterSideSizes() {
        assertArrayEquals(new int[] {224, 224}, PilResize.resizeShorterSide(500, 500, 224));
        assertArrayEquals(new int[] {336, 224}, PilResize.resizeShorterSide(600, 400, 224));
        assertArrayEquals(new int[] {224, 336}, PilResize.resizeShorterSide(400, 600, 224));
        assertArrayEquals(new int[] {331, 224}, PilResize.resizeShorterSide(741, 500, 224)); // 331.968 truncated
        assertArrayEquals(new int[] {335, 224}, PilResize.resizeShorterSide(640, 427, 224)); // 335.7
        assertArrayEquals(new int[] {224, 6944}, PilResize.resizeShorterSide(10, 310, 224));
    }

    @Test
    void shippedPhotosMatchTheReference() throws IOException {
        for (String name : new String[] {"astronaut.png", "camera.png", "chelsea.png", "coffee.png", "grass.png", "motorcycle_left.png", "rocket.jpg"}) {
            ImageDecoder.Decoded d = ImageDecoder.decode(Files.readAllBytes(TestData.require("images/" + name)), name);
            for (int size : new int[] {224, 336, 64}) {
                int[] wh = PilResize.resizeShorterSide(d.width(), d.height(), size);
                assertSameAsReference(d.rgb(), d.width(), d.height(), wh[0], wh[1]);
            }
        }
    }
}
