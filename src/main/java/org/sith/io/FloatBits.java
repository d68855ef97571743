package org.sith.io;

/**
 * Bit-exact conversions between float and the two 16-bit float formats of checkpoints and .npy files.
 * Encoding rounds to nearest, ties to even, like PyTorch's {@code .half()} / {@code .bfloat16()},
 * so a file we write holds the same bits PyTorch would have written.
 */
public final class FloatBits {
    private FloatBits() {}

    /** IEEE 754 binary16 bits to float; exact (every half is a float), subnormals, inf and NaN included. */
    public static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0) {
            // subnormal: mant * 2^-24, exact in float arithmetic
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** float to binary16, round to nearest even; overflow gives infinity, NaN stays NaN. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            // keep NaN a NaN even when its payload lives only in the low bits that are dropped
            return (short) (sign | 0x7c00 | (mant == 0 ? 0 : 0x200 | (mant >>> 13)));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) return (short) (sign | 0x7c00);
        if (e <= 0) {
            // below half's normal range: the result is a subnormal m * 2^-24 (or zero)
            if (e < -10) return (short) sign;
            int full = mant | 0x800000;
            return (short) (sign | roundShift(full, 14 - e));
        }
        // carry out of the mantissa correctly bumps the exponent (up to infinity)
        return (short) (sign | ((e << 10) + roundShift(mant, 13)));
    }

    /** bfloat16 is the top half of a float: exact widening. */
    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** float to bfloat16, round to nearest even; NaN stays NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x0040);
        int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /** value >> shift, rounded to nearest with ties to even. */
    private static int roundShift(int value, int shift) {
        int q = value >>> shift;
        int rem = value & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rem > half || (rem == half && (q & 1) == 1)) q++;
        return q;
    }

    /** The float32 values as little-endian bytes (4 per value), each value's bits as they are. */
    public static byte[] toLittleEndian(float[] v) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    /** The float32 values of {@link #toLittleEndian}'s bytes; null stays null. */
    public static float[] fromLittleEndian(byte[] bytes) {
        if (bytes == null) return null;
        if (bytes.length % 4 != 0) throw new IllegalArgumentException(bytes.length + " bytes are not float32 values");
        float[] v = new float[bytes.length / 4];
        java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }
}
