package org.sith.checkpoint;

/**
 * The two ways CLIP checkpoints name their tensors: OpenCLIP / OpenAI ({@code visual.*}, fused
 * q;k;v in {@code in_proj_weight}) and Hugging Face {@code CLIPModel} ({@code vision_model.*},
 * separate q/k/v projections). PyTorch Linear weights are (out, in) in both.
 */
public enum Layout {
    OPENCLIP,
    HF;

    private boolean hf() {
        return this == HF;
    }

    /** Prefix of vision block l, ending in a dot. */
    public String block(int l) {
        return hf() ? "vision_model.encoder.layers." + l + "." : "visual.transformer.resblocks." + l + ".";
    }

    /** Prefix of text block l, ending in a dot. */
    public String textBlock(int l) {
        return hf() ? "text_model.encoder.layers." + l + "." : "transformer.resblocks." + l + ".";
    }

    /** A tensor every vision block has; its presence is how blocks are counted and layouts detected. */
    public String blockMarker(int l) {
        return valueWeightAt(block(l));
    }

    /** A tensor every text block has. */
    public String textBlockMarker(int l) {
        return valueWeightAt(textBlock(l));
    }

    public String patchEmbed() {
        return hf() ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight";
    }

    public String classToken() {
        return hf() ? "vision_model.embeddings.class_embedding" : "visual.class_embedding";
    }

    public String positions() {
        return hf() ? "vision_model.embeddings.position_embedding.weight" : "visual.positional_embedding";
    }

    public String lnPre(String weightOrBias) {
        return (hf() ? "vision_model.pre_layrnorm." : "visual.ln_pre.") + weightOrBias;
    }

    public String ln1(int l, String weightOrBias) {
        return ln1At(block(l), weightOrBias);
    }

    /** OpenCLIP's fused (3d, d) q;k;v weight, or HF's (d, d) v_proj weight. */
    public String valueWeight(int l) {
        return valueWeightAt(block(l));
    }

    /** OpenCLIP's fused (3d) q;k;v bias, or HF's (d) v_proj bias. */
    public String valueBias(int l) {
        return hf() ? block(l) + "self_attn.v_proj.bias" : block(l) + "attn.in_proj_bias";
    }

    public String outProj(int l, String weightOrBias) {
        return outProjAt(block(l), weightOrBias);
    }

    // Parts of a residual block (vision or text), given the block's prefix.

    public String ln1At(String block, String weightOrBias) {
        return block + (hf() ? "layer_norm1." : "ln_1.") + weightOrBias;
    }

    public String ln2At(String block, String weightOrBias) {
        return block + (hf() ? "layer_norm2." : "ln_2.") + weightOrBias;
    }

    private String valueWeightAt(String block) {
        return hf() ? block + "self_attn.v_proj.weight" : block + "attn.in_proj_weight";
    }

    /** OpenCLIP only: the fused q;k;v projection, (3d, d) weight and (3d) bias. */
    public String fusedQkvAt(String block, String weightOrBias) {
        return block + "attn.in_proj_" + weightOrBias;
    }

    /** HF only: one of the separate projections, part "q", "k" or "v". */
    public String projAt(String block, String part, String weightOrBias) {
        return block + "self_attn." + part + "_proj." + weightOrBias;
    }

    public String outProjAt(String block, String weightOrBias) {
        return block + (hf() ? "self_attn.out_proj." : "attn.out_proj.") + weightOrBias;
    }

    public String mlpInAt(String block, String weightOrBias) {
        return block + (hf() ? "mlp.fc1." : "mlp.c_fc.") + weightOrBias;
    }

    public String mlpOutAt(String block, String weightOrBias) {
        return block + (hf() ? "mlp.fc2." : "mlp.c_proj.") + weightOrBias;
    }

    public String lnPost(String weightOrBias) {
        return (hf() ? "vision_model.post_layernorm." : "visual.ln_post.") + weightOrBias;
    }

    /** OpenCLIP: (d, p), used as x·proj. HF: (p, d), used as x·Wᵀ. */
    public String projection() {
        return hf() ? "visual_projection.weight" : "visual.proj";
    }

    /** Present only when the checkpoint has a text tower. */
    public String tokenEmbedding() {
        return hf() ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight";
    }

    /** OpenCLIP: (d_t, p). HF: (p, d_t). */
    public String textProjection() {
        return hf() ? "text_projection.weight" : "text_projection";
    }

    /** (ctx, d_t) learned positions of the text tower. */
    public String textPositions() {
        return hf() ? "text_model.embeddings.position_embedding.weight" : "positional_embedding";
    }

    public String lnFinal(String weightOrBias) {
        return (hf() ? "text_model.final_layer_norm." : "ln_final.") + weightOrBias;
    }

    public String logitScale() {
        return "logit_scale";
    }
}
