package org.sith.checkpoint;

import java.io.Closeable;
import java.io.IOException;

import org.apache.hadoop.conf.Configuration;

import org.sith.UserInputException;
import org.sith.linalg.Vec;

/**
 * The text tower of a CLIP checkpoint in either layout, shape-checked on open. The head count and
 * activation come from the config beside the file (or the overrides), as for the vision tower.
 */
public final class ClipText implements Closeable {
    private final TensorSource src;
    private final Layout layout;
    private final int width;
    private final int layers;
    private final int contextLength;
    private final int vocabSize;
    private final int projDim;
    private final ModelConfig config;

    private ClipText(TensorSource src, Layout layout, ModelConfig config) {
        this.src = src;
        this.layout = layout;
        long[] tok = src.shape(layout.tokenEmbedding());
        if (tok.length != 2 || tok[0] <= 0 || tok[1] <= 0 || tok[0] * tok[1] > Integer.MAX_VALUE - 8) {
            throw BlockTensors.badShape(src, layout.tokenEmbedding(), tok, "(vocab,width)");
        }
        this.vocabSize = (int) tok[0];
        this.width = (int) tok[1];
        long[] pos = src.shape(layout.textPositions());
        if (pos.length != 2 || pos[1] != width || pos[0] < 2 || pos[0] > 100_000) {
            throw BlockTensors.badShape(src, layout.textPositions(), pos, "(context," + width + ")");
        }
        this.contextLength = (int) pos[0];
        int n = 0;
        while (src.has(layout.textBlockMarker(n))) n++;
        if (n == 0) {
            throw new UserInputException("checkpoint " + src.path() + ": text tower has no blocks (no "
                    + layout.textBlockMarker(0) + ")");
        }
        this.layers = n;
        long[] proj = src.shape(layout.textProjection());
        int dAxis = layout == Layout.HF ? 1 : 0;
        if (proj.length != 2 || proj[dAxis] != width || proj[1 - dAxis] <= 0) {
            throw BlockTensors.badShape(src, layout.textProjection(), proj,
                    layout == Layout.HF ? "(p," + width + ")" : "(" + width + ",p)");
        }
        this.projDim = (int) proj[1 - dAxis];
        this.config = config;
    }

    /** Opens the text tower of a safetensors checkpoint; a vision-only file is a user error. */
    public static ClipText open(String path, Configuration conf, Integer headsOverride, String activationOverride) {
        ClipTensors st = ClipTensors.open(path, conf);
        try {
            Layout layout = detect(st);
            int width = (int) st.shape(layout.tokenEmbedding())[st.shape(layout.tokenEmbedding()).length - 1];
            return new ClipText(st, layout, ModelConfig.resolveText(st.file(), conf, layout, width, headsOverride, activationOverride));
        } catch (RuntimeException e) {
            try {
                st.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** A text tower held in memory (the demo, tests), with its head count and activation given. */
    public static ClipText of(TensorSource src, int heads, String activation) {
        Layout layout = detect(src);
        return new ClipText(src, layout, new ModelConfig(heads, "given", ModelConfig.activation(activation)));
    }

    /** Whether a source holds a text tower in either layout. */
    public static boolean present(TensorSource src) {
        for (Layout l : Layout.values()) {
            if (src.has(l.tokenEmbedding()) && src.has(l.textBlockMarker(0))) return true;
        }
        return false;
    }

    private static Layout detect(TensorSource src) {
        for (Layout l : Layout.values()) {
            if (src.has(l.tokenEmbedding()) && src.has(l.textBlockMarker(0))) return l;
        }
        boolean vision = false;
        for (Layout l : Layout.values()) vision |= src.has(l.blockMarker(0)) || src.has(l.classToken());
        throw new UserInputException("checkpoint " + src.path() + " has no text tower (no token_embedding.weight + "
                + "transformer.resblocks.* nor text_model.* tensors)" + (vision ? ": it holds only the vision tower" : ""));
    }

    public Layout layout() {
        return layout;
    }

    public String path() {
        return src.path();
    }

    public int width() {
        return width;
    }

    public int layers() {
        return layers;
    }

    public int heads() {
        return config.heads();
    }

    public String headsSource() {
        return config.headsSource();
    }

    /** "quick_gelu" or "gelu". */
    public String activation() {
        return config.activation();
    }

    public int contextLength() {
        return contextLength;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public int projDim() {
        return projDim;
    }

    /** (vocab, width) row-major. */
    public float[] tokenEmbedding() {
        return src.readFloats(layout.tokenEmbedding());
    }

    /** (context, width) row-major. */
    public float[] positions() {
        return src.readFloats(layout.textPositions());
    }

    public BlockTensors block(int l) {
        if (l < 0 || l >= layers) throw new IllegalArgumentException("text layer " + l + " of " + layers);
        return BlockTensors.read(src, layout, layout.textBlock(l), width);
    }

    /** The hidden width of block l's MLP (4d for CLIP), from the shape of its output map (nothing is read). */
    public int mlpWidth(int l) {
        if (l < 0 || l >= layers) throw new IllegalArgumentException("text layer " + l + " of " + layers);
        String name = layout.mlpOutAt(layout.textBlock(l), "weight");
        long[] s = src.shape(name);
        if (s.length != 2 || s[0] != width || s[1] <= 0 || s[1] > Integer.MAX_VALUE / width) {
            throw BlockTensors.badShape(src, name, s, "(" + width + ",hidden)");
        }
        return (int) s[1];
    }

    public float[] lnFinalWeight() {
        return BlockTensors.read(src, layout.lnFinal("weight"), width);
    }

    public float[] lnFinalBias() {
        return BlockTensors.read(src, layout.lnFinal("bias"), width);
    }

    /** Always (p, width) row-major, the (out, in) form of a Linear: OpenCLIP's (width, p) is transposed here. */
    public float[] projection() {
        float[] stored = src.readFloats(layout.textProjection());
        if (layout == Layout.HF) return stored;
        return Vec.transpose(stored, width, projDim);
    }

    @Override
    public void close() throws IOException {
        if (src instanceof Closeable c) c.close();
    }
}
