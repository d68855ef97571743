package org.sith.checkpoint;

import java.io.IOException;
import java.util.Arrays;

import org.apache.hadoop.conf.Configuration;

import org.sith.UserInputException;
import org.sith.linalg.Vec;

/**
 * The vision tower of a CLIP checkpoint in either layout, behind accessors with one convention:
 * Linear weights are row-major (out, in) and the projection is (d, p), so a residual-stream row
 * vector x maps to x·P. Everything a head analysis reads is shape-checked on open, so a bad file
 * fails before a Spark job starts rather than in the middle of one.
 */
public final class ClipCheckpoint implements VisionWeights {
    private final ClipTensors tensors;
    private final Layout layout;
    private final int width;
    private final int layers;
    private final int heads;
    private final int projDim;
    private final String activation;

    private ClipCheckpoint(ClipTensors tensors, Layout layout, int width, int layers, ModelConfig config,
                           int projDim) {
        this.tensors = tensors;
        this.layout = layout;
        this.width = width;
        this.layers = layers;
        this.heads = config.heads();
        this.activation = config.activation();
        this.projDim = projDim;
    }

    public static ClipCheckpoint open(String path, Configuration conf, Integer headsOverride) {
        ClipTensors st = ClipTensors.open(path, conf);
        try {
            Layout layout = detect(st);
            int layers = 0;
            while (st.has(layout.blockMarker(layers))) layers++;
            int width = rank1Length(st, layout.ln1(0, "weight"));
            int projDim = projectionDim(st, layout, width);
            validateBlocks(st, layout, width, layers);
            ModelConfig config = ModelConfig.resolve(st.file(), conf, layout, width, headsOverride);
            return new ClipCheckpoint(st, layout, width, layers, config, projDim);
        } catch (RuntimeException e) {
            try {
                st.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private static Layout detect(ClipTensors st) {
        for (Layout l : Layout.values()) {
            if (st.has(l.blockMarker(0))) return l;
        }
        throw new UserInputException("checkpoint " + st.path() + ": not a CLIP vision transformer "
                + "(no visual.transformer.resblocks.*, vision_model.encoder.layers.* or timm's blocks.* tensors)");
    }

    private static int rank1Length(ClipTensors st, String name) {
        long[] s = st.shape(name);
        if (s.length != 1 || s[0] <= 0 || s[0] > Integer.MAX_VALUE) {
            throw BlockTensors.badShape(st, name, s, "a non-empty vector (d)");
        }
        return (int) s[0];
    }

    private static int projectionDim(ClipTensors st, Layout layout, int d) {
        long[] s = st.shape(layout.projection());
        int dAxis = layout == Layout.HF ? 1 : 0;
        if (s.length != 2 || s[dAxis] != d || s[1 - dAxis] <= 0) {
            throw BlockTensors.badShape(st, layout.projection(), s, layout == Layout.HF ? "(p," + d + ")" : "(" + d + ",p)");
        }
        return (int) s[1 - dAxis];
    }

    private static void validateBlocks(ClipTensors st, Layout layout, int d, int layers) {
        long vRows = layout == Layout.HF ? d : 3L * d;
        for (int l = 0; l < layers; l++) {
            expect(st, layout.ln1(l, "weight"), d);
            expect(st, layout.ln1(l, "bias"), d);
            expect(st, layout.valueWeight(l), vRows, d);
            expect(st, layout.valueBias(l), vRows);
            expect(st, layout.outProj(l, "weight"), d, d);
            expect(st, layout.outProj(l, "bias"), d);
        }
        expect(st, layout.lnPost("weight"), d);
        expect(st, layout.lnPost("bias"), d);
    }

    private static void expect(ClipTensors st, String name, long... shape) {
        long[] actual = st.shape(name);
        if (!Arrays.equals(actual, shape)) throw BlockTensors.badShape(st, name, actual, TensorInfo.shapeString(shape));
        if (!Dtypes.isFloatingPoint(st.dtype(name))) {
            throw new UserInputException("checkpoint " + st.path() + ": tensor '" + st.storedName(name) + "' has dtype " + st.dtype(name)
                    + ", expected F32, F16, BF16 or F64");
        }
    }

    @Override
    public int width() {
        return width;
    }

    @Override
    public int layers() {
        return layers;
    }

    @Override
    public int heads() {
        return heads;
    }

    @Override
    public int headDim() {
        return width / heads;
    }

    @Override
    public int projDim() {
        return projDim;
    }

    public Layout layout() {
        return layout;
    }

    @Override
    public String path() {
        return tensors.path();
    }

    public ClipTensors tensors() {
        return tensors;
    }

    /** "quick_gelu" (x·σ(1.702x), OpenAI's CLIP) or "gelu". */
    public String activation() {
        return activation;
    }

    public boolean hasTextTower() {
        return tensors.has(layout.tokenEmbedding());
    }

    @Override
    public float[] ln1Weight(int l) {
        return tensors.readFloats(layout.ln1(layer(l), "weight"));
    }

    public float[] ln1Bias(int l) {
        return tensors.readFloats(layout.ln1(layer(l), "bias"));
    }

    /** d×d, (out, in). In OpenCLIP only the v rows 2d..3d of the fused q;k;v weight are read. */
    @Override
    public float[] valueWeight(int l) {
        return layout == Layout.HF ? tensors.readFloats(valueWeightName(l))
                : tensors.readRows(valueWeightName(l), 2L * width, width);
    }

    public float[] valueBias(int l) {
        return layout == Layout.HF ? tensors.readFloats(valueBiasName(l))
                : tensors.readRows(valueBiasName(l), 2L * width, width);
    }

    @Override
    public float[] outWeight(int l) {
        return tensors.readFloats(outWeightName(l));
    }

    public float[] outBias(int l) {
        return tensors.readFloats(outBiasName(l));
    }

    @Override
    public float[] lnPostWeight() {
        return tensors.readFloats(layout.lnPost("weight"));
    }

    @Override
    public float[] lnPostBias() {
        return tensors.readFloats(layout.lnPost("bias"));
    }

    /** Always d×p row-major, so that x·P; HF stores Pᵀ and is transposed here. */
    @Override
    public float[] projection() {
        float[] stored = tensors.readFloats(layout.projection());
        if (layout == Layout.OPENCLIP) return stored;
        return Vec.transpose(stored, projDim, width);
    }

    /** Block l's full weights for a forward pass, shape-checked. */
    public BlockTensors block(int l) {
        return BlockTensors.read(tensors, layout, layout.block(layer(l)), width);
    }

    /** Patch size P of the (d, 3, P, P) patch convolution. */
    public int patchSize() {
        long[] s = tensors.shape(layout.patchEmbed());
        if (s.length != 4 || s[0] != width || s[1] != 3 || s[2] != s[3] || s[2] <= 0 || s[2] > 1024) {
            throw BlockTensors.badShape(tensors, layout.patchEmbed(), s, "(" + width + ",3,P,P)");
        }
        return (int) s[2];
    }

    /** The patch convolution as a (d, 3·P·P) Linear weight, inputs in (channel, row, column) order. */
    public float[] patchWeight() {
        int p = patchSize();
        return BlockTensors.read(tensors, layout.patchEmbed(), width, 3, p, p);
    }

    public float[] classEmbedding() {
        return BlockTensors.read(tensors, layout.classToken(), width);
    }

    /** (T, d) with T = 1 + (image/P)²: the class token's position first. */
    public float[] positions() {
        long[] s = tensors.shape(layout.positions());
        if (s.length != 2 || s[1] != width || s[0] < 2) throw BlockTensors.badShape(tensors, layout.positions(), s, "(T," + width + ")");
        return tensors.readFloats(layout.positions());
    }

    public int tokens() {
        return (int) tensors.shape(layout.positions())[0];
    }

    public float[] lnPreWeight() {
        return BlockTensors.read(tensors, layout.lnPre("weight"), width);
    }

    public float[] lnPreBias() {
        return BlockTensors.read(tensors, layout.lnPre("bias"), width);
    }

    /** The stored tensor holding layer l's value weight (the fused q;k;v weight in OpenCLIP). */
    public String valueWeightName(int l) {
        return layout.valueWeight(layer(l));
    }

    /** The stored tensor holding layer l's value bias (the fused q;k;v bias in OpenCLIP). */
    public String valueBiasName(int l) {
        return layout.valueBias(layer(l));
    }

    public String outWeightName(int l) {
        return layout.outProj(layer(l), "weight");
    }

    public String outBiasName(int l) {
        return layout.outProj(layer(l), "bias");
    }

    /** The stored tensor of block l's MLP output map (c_proj / fc2 weight, (d, hidden)). */
    public String mlpOutWeightName(int l) {
        return layout.mlpOutAt(layout.block(layer(l)), "weight");
    }

    /** The hidden width of block l's MLP (4d for CLIP), from the shape of its output map. */
    @Override
    public int mlpWidth(int l) {
        String name = mlpOutWeightName(l);
        long[] s = tensors.shape(name);
        if (s.length != 2 || s[0] != width || s[1] <= 0 || s[1] > Integer.MAX_VALUE / width) {
            throw BlockTensors.badShape(tensors, name, s, "(" + width + ",hidden)");
        }
        return (int) s[1];
    }

    /** Block l's MLP output map W_proj, d×hidden, (out, in) row-major. */
    @Override
    public float[] mlpOutWeight(int l) {
        return BlockTensors.read(tensors, mlpOutWeightName(l), width, mlpWidth(l));
    }

    private int layer(int l) {
        if (l < 0 || l >= layers) {
            throw new UserInputException("layer " + l + " out of range: checkpoint " + path() + " has " + layers
                    + " layers");
        }
        return l;
    }

    @Override
    public void close() throws IOException {
        tensors.close();
    }
}
