package org.sith.checkpoint;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.hadoop.conf.Configuration;

import org.sith.UserInputException;
import org.sith.linalg.Vec;

/**
 * A checkpoint's tensors as the towers read them: in the OpenCLIP or Hugging Face names of SPEC §2,
 * whatever the file called them. A {@code module.} prefix is dropped; timm's own CLIP ViT names are
 * mapped onto OpenCLIP's (the class token and positions lose their leading unit axes, the head is
 * transposed into the (d, p) projection); LayerScale is folded into each branch's output map
 * ({@code W_out ← diag(γ)·W_out}, {@code b_out ← γ ⊙ b_out}) and its γ tensors hidden, so every reader
 * sees one convention.
 */
public final class ClipTensors implements TensorStore {
    /** How a tensor of the view comes from the stored one. */
    enum Transform { AS_STORED, RESHAPE, TRANSPOSE }

    /** One tensor of the view: the stored tensor it reads, how, and the LayerScale γ folded into its rows (or null). */
    record Source(String stored, Transform transform, long[] shape, String gamma) {}

    private static final Pattern TIMM_BLOCK = Pattern.compile("blocks\\.(\\d+)\\.(.+)");
    private static final Map<String, String> TIMM_BLOCK_PARTS = Map.ofEntries(
            Map.entry("norm1.weight", "ln_1.weight"), Map.entry("norm1.bias", "ln_1.bias"),
            Map.entry("attn.qkv.weight", "attn.in_proj_weight"), Map.entry("attn.qkv.bias", "attn.in_proj_bias"),
            Map.entry("attn.proj.weight", "attn.out_proj.weight"), Map.entry("attn.proj.bias", "attn.out_proj.bias"),
            Map.entry("norm2.weight", "ln_2.weight"), Map.entry("norm2.bias", "ln_2.bias"),
            Map.entry("mlp.fc1.weight", "mlp.c_fc.weight"), Map.entry("mlp.fc1.bias", "mlp.c_fc.bias"),
            Map.entry("mlp.fc2.weight", "mlp.c_proj.weight"), Map.entry("mlp.fc2.bias", "mlp.c_proj.bias"),
            Map.entry("ls1.gamma", "ls_1.gamma"), Map.entry("ls2.gamma", "ls_2.gamma"));
    private static final Map<String, String> TIMM_TOP = Map.ofEntries(
            Map.entry("patch_embed.proj.weight", "visual.conv1.weight"), Map.entry("norm_pre.weight", "visual.ln_pre.weight"),
            Map.entry("norm_pre.bias", "visual.ln_pre.bias"), Map.entry("norm.weight", "visual.ln_post.weight"),
            Map.entry("norm.bias", "visual.ln_post.bias"));
    private static final Pattern LAYER_SCALE = Pattern.compile("(.*\\.)ls_([12])\\.gamma");

    private final TensorStore stored;
    private final CheckpointFile file;
    private final SortedMap<String, Source> view;
    private final String naming;
    private final boolean layerScale;

    private ClipTensors(TensorStore stored, CheckpointFile file, SortedMap<String, Source> view, String naming, boolean layerScale) {
        this.stored = stored;
        this.file = file;
        this.view = view;
        this.naming = naming;
        this.layerScale = layerScale;
    }

    /** Opens what a --checkpoint names (file, shard index, PyTorch archive or folder) as tensors in SPEC §2's names. */
    public static ClipTensors open(String checkpoint, Configuration conf) {
        CheckpointFile f = CheckpointFile.resolve(checkpoint, conf);
        TensorStore st = f.open(conf);
        try {
            return of(st, f);
        } catch (RuntimeException e) {
            try {
                st.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    static ClipTensors of(TensorStore st, CheckpointFile file) {
        Set<String> names = st.names();
        String prefix = !names.isEmpty() && names.stream().allMatch(n -> n.startsWith("module.")) ? "module." : "";
        SortedMap<String, Source> view = new TreeMap<>();
        boolean timm = names.contains(prefix + "cls_token") && names.contains(prefix + "blocks.0.attn.qkv.weight");
        if (timm) {
            timm(st, prefix, view);
        } else {
            for (String n : names) view.put(n.substring(prefix.length()), new Source(n, Transform.AS_STORED, st.shape(n), null));
        }
        boolean folded = foldLayerScale(st, view);
        String naming = timm ? "timm" : "as stored";
        return new ClipTensors(st, file, Collections.unmodifiableSortedMap(view), naming, folded);
    }

    private static void timm(TensorStore st, String prefix, SortedMap<String, Source> view) {
        String path = st.path();
        for (String unsupported : new String[] {"fc_norm.weight", "blocks.0.attn.q_norm.weight", "reg_token", "attn_pool.latent"}) {
            if (st.has(prefix + unsupported)) {
                throw new UserInputException("checkpoint " + path + ": a timm ViT with '" + prefix + unsupported + "', which CLIP's vision tower "
                        + "does not have; only timm's CLIP ViTs (class token, pre-norm, token pooling, linear head) are read");
            }
        }
        for (String needed : new String[] {"norm_pre.weight", "head.weight", "pos_embed"}) {
            if (!st.has(prefix + needed)) {
                throw new UserInputException("checkpoint " + path + ": a timm ViT without '" + prefix + needed + "': not a CLIP vision tower "
                        + "(timm's CLIP ViTs have a pre-norm, a position table and a linear head into the joint space)");
            }
        }
        requireZero(st, prefix + "patch_embed.proj.bias", "CLIP's patch embedding has no bias");
        requireZero(st, prefix + "head.bias", "CLIP's projection into the joint space has no bias");
        for (String n : st.names()) {
            String name = n.substring(prefix.length());
            Matcher m = TIMM_BLOCK.matcher(name);
            String target = null;
            if (m.matches() && TIMM_BLOCK_PARTS.containsKey(m.group(2))) {
                target = "visual.transformer.resblocks." + m.group(1) + "." + TIMM_BLOCK_PARTS.get(m.group(2));
            } else if (TIMM_TOP.containsKey(name)) {
                target = TIMM_TOP.get(name);
            }
            if (target != null) view.put(target, new Source(n, Transform.AS_STORED, st.shape(n), null));
        }
        long[] cls = st.shape(prefix + "cls_token");
        if (cls.length != 3 || cls[0] != 1 || cls[1] != 1) throw BlockTensors.badShape(st, prefix + "cls_token", cls, "(1,1,d)");
        view.put("visual.class_embedding", new Source(prefix + "cls_token", Transform.RESHAPE, new long[] {cls[2]}, null));
        long[] pos = st.shape(prefix + "pos_embed");
        if (pos.length != 3 || pos[0] != 1) throw BlockTensors.badShape(st, prefix + "pos_embed", pos, "(1,T,d)");
        view.put("visual.positional_embedding", new Source(prefix + "pos_embed", Transform.RESHAPE, new long[] {pos[1], pos[2]}, null));
        long[] head = st.shape(prefix + "head.weight");
        if (head.length != 2) throw BlockTensors.badShape(st, prefix + "head.weight", head, "(p,d)");
        view.put("visual.proj", new Source(prefix + "head.weight", Transform.TRANSPOSE, new long[] {head[1], head[0]}, null));
    }

    private static void requireZero(TensorStore st, String name, String why) {
        if (!st.has(name)) return;
        for (float v : st.readFloats(name)) {
            if (v != 0f) throw new UserInputException("checkpoint " + st.path() + ": tensor '" + name + "' is not zero; " + why);
        }
    }

    /** Replaces each branch's output map by its LayerScale-folded form and hides the γ tensors; true if any was found. */
    private static boolean foldLayerScale(TensorStore st, SortedMap<String, Source> view) {
        List<String> gammas = new ArrayList<>();
        for (String n : view.keySet()) if (LAYER_SCALE.matcher(n).matches()) gammas.add(n);
        for (String g : gammas) {
            Matcher m = LAYER_SCALE.matcher(g);
            m.matches();
            String block = m.group(1);
            String out = block + (m.group(2).equals("1") ? "attn.out_proj." : "mlp.c_proj.");
            Source gs = view.remove(g);
            for (String part : new String[] {"weight", "bias"}) {
                Source s = view.get(out + part);
                if (s == null) {
                    throw new UserInputException("checkpoint " + st.path() + ": LayerScale '" + gs.stored() + "' has no output map '" + out + part + "' to fold into");
                }
                if (gs.shape().length != 1 || s.shape().length == 0 || s.shape()[0] != gs.shape()[0]) {
                    throw BlockTensors.badShape(st, gs.stored(), gs.shape(), "(" + (s.shape().length == 0 ? "d" : s.shape()[0]) + ")");
                }
                view.put(out + part, new Source(s.stored(), s.transform(), s.shape(), gs.stored()));
            }
        }
        return !gammas.isEmpty();
    }

    /** Where these tensors came from. */
    public CheckpointFile file() {
        return file;
    }

    /** The tensors as the file stores them. */
    public TensorStore stored() {
        return stored;
    }

    /** The view's source for a tensor: its stored name, transform and the γ folded into it (or null). */
    Source source(String name) {
        Source s = view.get(name);
        if (s == null) throw new UserInputException("tensor '" + name + "' missing in " + path());
        return s;
    }

    /** The name the file gives a tensor of the view (for messages and edits). */
    @Override
    public String storedName(String name) {
        Source s = view.get(name);
        return s == null ? name : s.stored();
    }

    /** "safetensors", "PyTorch archive", ... with the naming and "LayerScale folded" when they apply, for run records. */
    public String description() {
        String format = switch (file.format()) {
            case SAFETENSORS -> "safetensors";
            case SHARDED_SAFETENSORS -> "sharded safetensors";
            case PYTORCH -> stored instanceof TorchArchive t ? t.format() : "PyTorch archive";
        };
        return format + (naming.equals("timm") ? ", timm names" : "") + (layerScale ? ", LayerScale folded" : "");
    }

    public boolean layerScaleFolded() {
        return layerScale;
    }

    public boolean timmNames() {
        return naming.equals("timm");
    }

    @Override
    public Set<String> names() {
        return view.keySet();
    }

    @Override
    public String path() {
        return file.given();
    }

    @Override
    public boolean has(String name) {
        return view.containsKey(name);
    }

    @Override
    public long[] shape(String name) {
        return source(name).shape().clone();
    }

    @Override
    public String dtype(String name) {
        return stored.dtype(source(name).stored());
    }

    @Override
    public float[] readFloats(String name) {
        Source s = source(name);
        float[] v = switch (s.transform()) {
            case AS_STORED, RESHAPE -> stored.readFloats(s.stored());
            case TRANSPOSE -> Vec.transpose(stored.readFloats(s.stored()), (int) s.shape()[1], (int) s.shape()[0]);
        };
        if (s.gamma() != null) scaleRows(v, 0, s.shape(), gamma(s));
        return v;
    }

    @Override
    public float[] readRows(String name, long firstRow, long rowCount) {
        Source s = source(name);
        float[] v;
        if (s.transform() == Transform.TRANSPOSE) {
            float[] all = readFloats(name);
            int rowSize = (int) (all.length / Math.max(1, s.shape()[0]));
            checkRows(name, s.shape(), firstRow, rowCount);
            return Arrays.copyOfRange(all, (int) firstRow * rowSize, (int) (firstRow + rowCount) * rowSize);
        }
        v = stored.readRows(s.stored(), firstRow, rowCount);
        if (s.gamma() != null) scaleRows(v, firstRow, s.shape(), gamma(s));
        return v;
    }

    private void checkRows(String name, long[] shape, long firstRow, long rowCount) {
        if (shape.length == 0 || firstRow < 0 || rowCount < 0 || firstRow > shape[0] - rowCount) {
            throw new UserInputException("checkpoint " + path() + ": tensor '" + storedName(name) + "' rows [" + firstRow + ","
                    + (firstRow + rowCount) + ") out of range");
        }
    }

    private float[] gamma(Source s) {
        return stored.readFloats(s.gamma());
    }

    /** Row r (of the view, first = firstRow) of a (out, in) weight or an (out) bias is multiplied by γ[r]. */
    private static void scaleRows(float[] v, long firstRow, long[] shape, float[] gamma) {
        long rowSize = 1;
        for (int i = 1; i < shape.length; i++) rowSize *= shape[i];
        for (int i = 0; i < v.length; i++) v[i] *= gamma[(int) (firstRow + i / rowSize)];
    }


    @Override
    public void close() throws IOException {
        stored.close();
    }
}
