package org.sith.heads;

import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.sith.checkpoint.BlockTensors;
import org.sith.checkpoint.ClipCheckpoint;
import org.sith.checkpoint.ClipText;
import org.sith.linalg.Vec;

/**
 * One tower of a checkpoint as the weight analyses of SPEC §3 and §3b read it: the shapes, each block's weights
 * (read once per layer while a task walks its units in layer order), the final LayerNorm and the projection into the
 * joint space (d×p row-major, x·P, for both towers). Vision VO reads only the value rows, the out-projection and
 * LN1's γ, exactly as {@link LayerHeads} does; everything else reads the whole block.
 */
public final class TowerSource implements Closeable {
    private final TowerKind kind;
    private final ClipCheckpoint vision;
    private final ClipText text;
    private final int width;
    private final int layers;
    private final int heads;
    private int cachedLayer = -1;
    private BlockTensors cachedBlock;
    private LayerHeads cachedHeads;
    private String sharedKey; // null: blocks are read by this source alone

    private TowerSource(TowerKind kind, ClipCheckpoint vision, ClipText text) {
        this.kind = kind;
        this.vision = vision;
        this.text = text;
        this.width = vision != null ? vision.width() : text.width();
        this.layers = vision != null ? vision.layers() : text.layers();
        this.heads = vision != null ? vision.heads() : text.heads();
    }

    /** Opens the given tower of a checkpoint (the text tower of a vision-only file is a one-line user error). */
    public static TowerSource open(TowerKind kind, String path, org.apache.hadoop.conf.Configuration conf, Integer headsOverride) {
        return kind == TowerKind.VISION ? new TowerSource(kind, ClipCheckpoint.open(path, conf, headsOverride), null)
                : new TowerSource(kind, null, ClipText.open(path, conf, headsOverride, null));
    }

    public static TowerSource of(ClipCheckpoint vision) {
        return new TowerSource(TowerKind.VISION, vision, null);
    }

    public static TowerSource of(ClipText text) {
        return new TowerSource(TowerKind.TEXT, null, text);
    }

    public TowerKind kind() {
        return kind;
    }

    /** "openclip" or "hf": the naming the checkpoint's tensors follow. */
    public String layoutName() {
        return (vision != null ? vision.layout() : text.layout()).name().toLowerCase(java.util.Locale.ROOT);
    }

    public String path() {
        return vision != null ? vision.path() : text.path();
    }

    public int width() {
        return width;
    }

    public int layers() {
        return layers;
    }

    public int heads() {
        return heads;
    }

    public int headDim() {
        return width / heads;
    }

    public int projDim() {
        return vision != null ? vision.projDim() : text.projDim();
    }

    /** The hidden width of block l's MLP (4d for CLIP). */
    public int mlpWidth(int l) {
        return vision != null ? vision.mlpWidth(l) : text.mlpWidth(l); // the tensor's shape: no block is read
    }

    /** The final LayerNorm before the projection: vision's LN_post, text's ln_final. */
    public float[] lnFinalWeight() {
        return vision != null ? vision.lnPostWeight() : text.lnFinalWeight();
    }

    public float[] lnFinalBias() {
        return vision != null ? vision.lnPostBias() : text.lnFinalBias();
    }

    /** d×p row-major, so that x·P. */
    public float[] projection() {
        return vision != null ? vision.projection() : Vec.transpose(text.projection(), projDim(), width);
    }

    /** The tower's VO head bases as decompose has always computed them. */
    public HeadBasis voBasis(int layer, int head, int rank) {
        if (vision != null) {
            if (cachedHeads == null || cachedHeads.layer() != layer) {
                cachedHeads = null;
                cachedHeads = LayerHeads.read(vision, layer);
            }
            return cachedHeads.basis(head, rank);
        }
        BlockTensors b = block(layer);
        int d = width;
        float[] value = java.util.Arrays.copyOfRange(b.qkvWeight(), 2 * d * d, 3 * d * d);
        return HeadBasis.compute(VoFactors.of(layer, head, d, headDim(), value, b.outWeight(), b.ln1Weight(), true), rank);
    }

    /** The thin factors of head h's QK circuit B_h = Wq_hᵀ·Wk_h (LN1 folded, rows of W_in centered). */
    public VoFactors qkFactors(int layer, int head) {
        BlockTensors b = block(layer);
        return BlockFactors.qk(layer, head, width, headDim(), b.qkvWeight(), b.ln1Weight());
    }

    public HeadBasis qkBasis(int layer, int head, int rank) {
        return HeadBasis.compute(qkFactors(layer, head), rank);
    }

    /** Neurons [from, to) of block l: write (right) or read (left) vectors, folded and centered (SPEC §3b). */
    public VectorGroup mlpNeurons(int layer, int from, int to, Side side) {
        BlockTensors b = block(layer);
        return BlockFactors.mlp(layer, from, to, side, width, b);
    }

    /** Block l's tensors, kept while the following reads are of the same layer. */
    public BlockTensors block(int l) {
        if (cachedLayer != l) {
            cachedBlock = null;
            cachedBlock = sharedKey == null ? readBlock(l) : SHARED.get(sharedKey + "|" + l, () -> readBlock(l));
            cachedLayer = l;
        }
        return cachedBlock;
    }

    private BlockTensors readBlock(int l) {
        return vision != null ? vision.block(l) : text.block(l);
    }

    /**
     * Takes block weights from, and gives them to, the other sources of this JVM that share them: decompose's tasks each
     * open a source for one batch of units, and a batch of two MLP units of 256 neurons (or of a few QK circuits) reads
     * its layer's whole block (12·d² values, 48 MB in F32 for ViT-L/14), so without sharing every batch re-read it.
     * Shared blocks are keyed by the tower, the file's path, size and modification time (of the index, for a sharded
     * checkpoint), and the layer; the callers
     * only read them (the arrays must not be written to).
     */
    public TowerSource shareBlocks(org.apache.hadoop.conf.Configuration conf) {
        try {
            // the file a folder names (a shard index for a sharded checkpoint)
            org.apache.hadoop.fs.Path p = org.sith.io.Fs.path(org.sith.checkpoint.CheckpointFile.resolve(path(), conf).file());
            org.apache.hadoop.fs.FileStatus st = org.sith.io.Fs.fs(p, conf).getFileStatus(p);
            sharedKey = kind + "|" + st.getPath() + "|" + st.getLen() + "|" + st.getModificationTime();
        } catch (IOException e) {
            sharedKey = null; // (the file was opened; a path without a status is read unshared rather than fail the task)
        }
        return this;
    }

    /** How many blocks the sources of this JVM that share blocks have read from their files (tests: once per layer). */
    public static int sharedReads() {
        return SHARED.reads();
    }

    /** The shared blocks of this JVM. */
    private static final SharedBlocks SHARED = new SharedBlocks(3);

    /**
     * The last few blocks read by sharing sources, softly referenced (the collector may take them back under memory
     * pressure: they are then read again). Concurrent readers of one block wait for one read rather than read it twice.
     */
    static final class SharedBlocks {
        private final int capacity;
        private final java.util.LinkedHashMap<String, Entry> entries = new java.util.LinkedHashMap<>(8, 0.75f, true);
        private int reads;

        SharedBlocks(int capacity) {
            this.capacity = capacity;
        }

        private static final class Entry {
            java.lang.ref.SoftReference<BlockTensors> value;
        }

        BlockTensors get(String key, java.util.function.Supplier<BlockTensors> read) {
            Entry e;
            synchronized (this) {
                e = entries.computeIfAbsent(key, k -> new Entry());
                while (entries.size() > capacity) {
                    var it = entries.entrySet().iterator();
                    it.next();
                    it.remove();
                }
            }
            synchronized (e) {
                BlockTensors b = e.value == null ? null : e.value.get();
                if (b == null) {
                    b = read.get();
                    e.value = new java.lang.ref.SoftReference<>(b);
                    synchronized (this) {
                        reads++;
                    }
                }
                return b;
            }
        }

        synchronized int reads() {
            return reads;
        }
    }

    /** The groups of a batch of units, in order (what one coding of a task's batch takes). */
    public List<VectorGroup> groups(List<WorkUnit> units, Side side, int rank) {
        List<VectorGroup> out = new ArrayList<>();
        for (WorkUnit u : units) out.addAll(groups(u, side, rank));
        return out;
    }

    /** The groups of one unit of work. */
    public List<VectorGroup> groups(WorkUnit u, Side side, int rank) {
        List<VectorGroup> out = new ArrayList<>(2);
        switch (u.component()) {
            case VO -> out.add(VectorGroup.vo(voBasis(u.layer(), u.index(), rank), side));
            case QK -> {
                HeadBasis b = qkBasis(u.layer(), u.index(), rank);
                out.add(VectorGroup.of(b, Component.QK, "query", true));
                out.add(VectorGroup.of(b, Component.QK, "key", false));
            }
            case MLP -> {
                int hidden = mlpWidth(u.layer());
                int from = u.index() * WorkUnit.NEURON_BLOCK;
                out.add(mlpNeurons(u.layer(), from, Math.min(hidden, from + WorkUnit.NEURON_BLOCK), side));
            }
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        if (vision != null) vision.close();
        if (text != null) text.close();
    }
}
