package org.sith.checkpoint;

import java.util.Arrays;

import org.sith.UserInputException;

/**
 * One pre-LN residual block's weights, read from either layout into one convention: Linear
 * weights (out, in) row-major, q;k;v fused into one (3d, d) weight as OpenCLIP stores it. Every
 * shape is checked, so a bad file fails before a forward pass starts.
 */
public record BlockTensors(float[] ln1Weight, float[] ln1Bias, float[] qkvWeight, float[] qkvBias,
                           float[] outWeight, float[] outBias, float[] ln2Weight, float[] ln2Bias,
                           float[] fcWeight, float[] fcBias, float[] projWeight, float[] projBias, int mlpWidth) {

    public static BlockTensors read(TensorSource src, Layout layout, String block, int d) {
        float[] qkvW;
        float[] qkvB;
        if (layout == Layout.HF) {
            qkvW = new float[3 * d * d];
            qkvB = new float[3 * d];
            String[] parts = {"q", "k", "v"};
            for (int i = 0; i < 3; i++) {
                System.arraycopy(read(src, layout.projAt(block, parts[i], "weight"), d, d), 0, qkvW, i * d * d, d * d);
                System.arraycopy(read(src, layout.projAt(block, parts[i], "bias"), d), 0, qkvB, i * d, d);
            }
        } else {
            qkvW = read(src, layout.fusedQkvAt(block, "weight"), 3L * d, d);
            qkvB = read(src, layout.fusedQkvAt(block, "bias"), 3L * d);
        }
        String fc = layout.mlpInAt(block, "weight");
        long[] fcShape = src.shape(fc);
        if (fcShape.length != 2 || fcShape[1] != d || fcShape[0] <= 0 || fcShape[0] > Integer.MAX_VALUE / d) {
            throw badShape(src, fc, fcShape, "(hidden," + d + ")");
        }
        int hidden = (int) fcShape[0];
        return new BlockTensors(
                read(src, layout.ln1At(block, "weight"), d), read(src, layout.ln1At(block, "bias"), d),
                qkvW, qkvB,
                read(src, layout.outProjAt(block, "weight"), d, d), read(src, layout.outProjAt(block, "bias"), d),
                read(src, layout.ln2At(block, "weight"), d), read(src, layout.ln2At(block, "bias"), d),
                read(src, fc, hidden, d), read(src, layout.mlpInAt(block, "bias"), hidden),
                read(src, layout.mlpOutAt(block, "weight"), d, hidden), read(src, layout.mlpOutAt(block, "bias"), d),
                hidden);
    }

    /** The tensor's values after checking that it has exactly this shape. */
    static float[] read(TensorSource src, String name, long... shape) {
        long[] actual = src.shape(name);
        if (!Arrays.equals(actual, shape)) throw badShape(src, name, actual, TensorInfo.shapeString(shape));
        return src.readFloats(name);
    }

    static UserInputException badShape(TensorSource src, String name, long[] actual, String expected) {
        return new UserInputException("checkpoint " + src.path() + ": tensor '" + src.storedName(name) + "' has shape "
                + TensorInfo.shapeString(actual) + ", expected " + expected);
    }
}
