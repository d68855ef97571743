package org.sith.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Expected values are worked out by hand from the IEEE 754 bit layouts, not by the code under test. */
class FloatBitsTest {

    private static void half(int bits, float expected) {
        float got = FloatBits.halfToFloat((short) bits);
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(got),
                String.format("half 0x%04X: expected %s got %s", bits, expected, got));
    }

    private static void toHalf(float f, int expectedBits) {
        int got = FloatBits.floatToHalf(f) & 0xffff;
        assertEquals(expectedBits, got, String.format("floatToHalf(%s): expected 0x%04X got 0x%04X", f, expectedBits, got));
    }

    private static void toBf16(float f, int expectedBits) {
        int got = FloatBits.floatToBf16(f) & 0xffff;
        assertEquals(expectedBits, got, String.format("floatToBf16(%s): expected 0x%04X got 0x%04X", f, expectedBits, got));
    }

    @Test
    void decodesHalfNormals() {
        half(0x3C00, 1.0f);
        half(0xC000, -2.0f);
        half(0x3E00, 1.5f);
        half(0x7BFF, 65504f);
        half(0x3555, 1365f / 4096f); // exponent 13 -> 2^-2, mantissa 341 -> (1024+341)/1024
        half(0x0400, 0x1p-14f); // smallest normal
        half(0x8000, -0.0f);
        half(0x0000, 0.0f);
    }

    @Test
    void decodesHalfSubnormalsAndSpecials() {
        half(0x0001, 0x1p-24f);
        half(0x8001, -0x1p-24f);
        half(0x03FF, 1023 * 0x1p-24f);
        half(0x0200, 0x1p-15f);
        half(0x7C00, Float.POSITIVE_INFINITY);
        half(0xFC00, Float.NEGATIVE_INFINITY);
        assertTrue(Float.isNaN(FloatBits.halfToFloat((short) 0x7E00)));
        assertTrue(Float.isNaN(FloatBits.halfToFloat((short) 0x7C01)));
        assertTrue(Float.isNaN(FloatBits.halfToFloat((short) 0xFFFF)));
    }

    @Test
    void decodesBf16() {
        assertEquals(1.0f, FloatBits.bf16ToFloat((short) 0x3F80));
        assertEquals(-2.0f, FloatBits.bf16ToFloat((short) 0xC000));
        assertEquals(3.140625f, FloatBits.bf16ToFloat((short) 0x4049)); // top half of pi's 0x40490FDB
        assertEquals(-3.140625f, FloatBits.bf16ToFloat((short) 0xC049));
        assertEquals(0x1p-133f, FloatBits.bf16ToFloat((short) 0x0001));
        assertEquals(Float.POSITIVE_INFINITY, FloatBits.bf16ToFloat((short) 0x7F80));
        assertEquals(Float.NEGATIVE_INFINITY, FloatBits.bf16ToFloat((short) 0xFF80));
        assertTrue(Float.isNaN(FloatBits.bf16ToFloat((short) 0x7FC0)));
    }

    @Test
    void encodesHalfRoundingToNearestEven() {
        toHalf(1.0f, 0x3C00);
        toHalf(-2.0f, 0xC000);
        toHalf(65504f, 0x7BFF);
        toHalf(1f + 0x1p-11f, 0x3C00); // tie between 0x3C00 and 0x3C01 -> even
        toHalf(1f + 3 * 0x1p-11f, 0x3C02); // tie between 0x3C01 and 0x3C02 -> even
        toHalf(1f + 0x1p-11f + 0x1p-20f, 0x3C01); // just above the tie
        toHalf(1f + 0x1p-11f - 0x1p-20f, 0x3C00); // just below
        toHalf(65519f, 0x7BFF);
        toHalf(65520f, 0x7C00); // tie between 65504 (odd mantissa) and 65536 -> infinity
        toHalf(1e6f, 0x7C00);
        toHalf(-1e6f, 0xFC00);
        toHalf(Float.POSITIVE_INFINITY, 0x7C00);
        toHalf(-0.0f, 0x8000);
    }

    @Test
    void encodesHalfSubnormals() {
        toHalf(0x1p-24f, 0x0001);
        toHalf(0x1p-25f, 0x0000); // tie between 0 and 2^-24 -> even (0)
        toHalf(1.5f * 0x1p-25f, 0x0001);
        toHalf(3 * 0x1p-25f, 0x0002); // tie between 1 and 2 units -> even
        toHalf(5 * 0x1p-25f, 0x0002); // tie between 2 and 3 units -> even
        toHalf(1023.5f * 0x1p-24f, 0x0400); // tie between largest subnormal (odd) and smallest normal
        toHalf(0x1p-14f, 0x0400);
        toHalf(1e-10f, 0x0000);
        toHalf(-1e-10f, 0x8000);
        toHalf(Float.MIN_VALUE, 0x0000);
    }

    @Test
    void encodesNaNAsNaN() {
        int h = FloatBits.floatToHalf(Float.NaN) & 0xffff;
        assertEquals(0x7C00, h & 0x7C00);
        assertTrue((h & 0x03FF) != 0);
        // a NaN whose payload is only in the low 13 bits must not become infinity
        int h2 = FloatBits.floatToHalf(Float.intBitsToFloat(0x7F800001)) & 0xffff;
        assertTrue((h2 & 0x03FF) != 0);
        int b = FloatBits.floatToBf16(Float.intBitsToFloat(0x7F800001)) & 0xffff;
        assertEquals(0x7F80, b & 0x7F80);
        assertTrue((b & 0x007F) != 0);
    }

    @Test
    void encodesBf16RoundingToNearestEven() {
        toBf16(1.0f, 0x3F80);
        toBf16(-2.0f, 0xC000);
        toBf16(Float.intBitsToFloat(0x40490FDB), 0x4049); // pi: low half below the tie
        toBf16(Float.intBitsToFloat(0x40498000), 0x404A); // tie, 0x4049 odd -> up
        toBf16(Float.intBitsToFloat(0x40488000), 0x4048); // tie, 0x4048 even -> stays
        toBf16(Float.intBitsToFloat(0xC0498001), 0xC04A); // above the tie
        toBf16(1f + 0x1p-8f, 0x3F80);
        toBf16(1f + 3 * 0x1p-8f, 0x3F82);
        toBf16(1f + 0x1p-8f + 0x1p-20f, 0x3F81);
        toBf16(Float.MAX_VALUE, 0x7F80); // rounds up to infinity
        toBf16(Float.NEGATIVE_INFINITY, 0xFF80);
    }

    @Test
    void everyHalfSurvivesARoundTrip() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = FloatBits.halfToFloat((short) bits);
            if (Float.isNaN(f)) continue;
            assertEquals(bits, FloatBits.floatToHalf(f) & 0xffff, String.format("0x%04X", bits));
        }
    }

    @Test
    void float32LittleEndianBytesKeepEveryBitAndTheirOrder() {
        float[] v = {1.0f, -0.0f, Float.intBitsToFloat(0x7fc00001), Float.MIN_VALUE, -65504f};
        byte[] b = FloatBits.toLittleEndian(v);
        assertEquals(20, b.length);
        // 1.0f is 0x3F800000: least significant byte first
        assertEquals(0x00, b[0] & 0xff);
        assertEquals(0x00, b[1] & 0xff);
        assertEquals(0x80, b[2] & 0xff);
        assertEquals(0x3F, b[3] & 0xff);
        float[] back = FloatBits.fromLittleEndian(b);
        assertEquals(v.length, back.length);
        for (int i = 0; i < v.length; i++) assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(back[i]), "value " + i);
        assertEquals(null, FloatBits.fromLittleEndian(null));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> FloatBits.fromLittleEndian(new byte[6]));
    }
}
