"""An independent CLIP vision tower in numpy, for the edit tests (not product code).

Reads .safetensors files with nothing but json and numpy (8-byte little-endian header length, JSON
header, raw little-endian data), in OpenCLIP or Hugging Face naming, and runs the forward pass in
float64. Also builds the "in-memory edited model" of SPEC §8 from the *base* file alone: the VO map
of each edited head is replaced by M' = M − Σ (1 − α) σ u vᵀ, with M, σ, u, v from numpy's own SVD of
the dense folded, centered VO matrix, while the value bias keeps flowing through the unedited output
map.

stdin (JSON): {"base": path, "edited": path, "hf": bool, "heads": H, "quick_gelu": bool,
               "edits": [[layer, head, sv, alpha], ...], "pixels": [[3·S·S floats], ...]}
stdout (JSON): {"base": [[p floats], ...], "edited_file": [...], "in_memory": [...]}
"""
import json
import math
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = raw[base + begin:base + end]
        if info["dtype"] == "BF16":
            a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(buf, dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = a.astype(np.float64).reshape(info["shape"])
    return out


def canonical(t, hf):
    """The tower's weights under one set of names, Linear weights as (out, in), projection as (width, p)."""
    if hf:
        c = {"conv": t["vision_model.embeddings.patch_embedding.weight"],
             "cls": t["vision_model.embeddings.class_embedding"],
             "pos": t["vision_model.embeddings.position_embedding.weight"],
             "ln_pre": (t["vision_model.pre_layrnorm.weight"], t["vision_model.pre_layrnorm.bias"]),
             "ln_post": (t["vision_model.post_layernorm.weight"], t["vision_model.post_layernorm.bias"]),
             "proj": t["visual_projection.weight"].T}
        blocks = []
        l = 0
        while "vision_model.encoder.layers.%d.layer_norm1.weight" % l in t:
            b = "vision_model.encoder.layers.%d." % l
            blocks.append({
                "ln1": (t[b + "layer_norm1.weight"], t[b + "layer_norm1.bias"]),
                "ln2": (t[b + "layer_norm2.weight"], t[b + "layer_norm2.bias"]),
                "wq": t[b + "self_attn.q_proj.weight"], "bq": t[b + "self_attn.q_proj.bias"],
                "wk": t[b + "self_attn.k_proj.weight"], "bk": t[b + "self_attn.k_proj.bias"],
                "wv": t[b + "self_attn.v_proj.weight"], "bv": t[b + "self_attn.v_proj.bias"],
                "wo": t[b + "self_attn.out_proj.weight"], "bo": t[b + "self_attn.out_proj.bias"],
                "fc1": (t[b + "mlp.fc1.weight"], t[b + "mlp.fc1.bias"]),
                "fc2": (t[b + "mlp.fc2.weight"], t[b + "mlp.fc2.bias"])})
            l += 1
    else:
        c = {"conv": t["visual.conv1.weight"], "cls": t["visual.class_embedding"],
             "pos": t["visual.positional_embedding"],
             "ln_pre": (t["visual.ln_pre.weight"], t["visual.ln_pre.bias"]),
             "ln_post": (t["visual.ln_post.weight"], t["visual.ln_post.bias"]),
             "proj": t["visual.proj"]}
        blocks = []
        l = 0
        while "visual.transformer.resblocks.%d.ln_1.weight" % l in t:
            b = "visual.transformer.resblocks.%d." % l
            w = t[b + "attn.in_proj_weight"]
            bias = t[b + "attn.in_proj_bias"]
            d = w.shape[1]
            blocks.append({
                "ln1": (t[b + "ln_1.weight"], t[b + "ln_1.bias"]),
                "ln2": (t[b + "ln_2.weight"], t[b + "ln_2.bias"]),
                "wq": w[:d], "bq": bias[:d], "wk": w[d:2 * d], "bk": bias[d:2 * d],
                "wv": w[2 * d:], "bv": bias[2 * d:],
                "wo": t[b + "attn.out_proj.weight"], "bo": t[b + "attn.out_proj.bias"],
                "fc1": (t[b + "mlp.c_fc.weight"], t[b + "mlp.c_fc.bias"]),
                "fc2": (t[b + "mlp.c_proj.weight"], t[b + "mlp.c_proj.bias"])})
            l += 1
    c["blocks"] = blocks
    return c


def standardize(x):
    m = x.mean(axis=-1, keepdims=True)
    v = ((x - m) ** 2).mean(axis=-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5)


def act(z, quick):
    if quick:
        return z / (1 + np.exp(-1.702 * z))
    erf = np.vectorize(math.erf)
    return 0.5 * z * (1 + erf(z / math.sqrt(2)))


def vo_edit(blk, heads, edits):
    """Per edited head h: the correction to add to x̃ (standardized rows) → −Σ(1−α)σ (x̃·u) vᵀ, as (d×d)."""
    d = blk["wv"].shape[1]
    dh = d // heads
    gamma = blk["ln1"][0]
    out = {}
    for h, svs in edits.items():
        wv = blk["wv"][h * dh:(h + 1) * dh] * gamma[None, :]          # folded (dh, d)
        wv = wv - wv.mean(axis=1, keepdims=True)                       # centered rows
        wo = blk["wo"][:, h * dh:(h + 1) * dh]                         # (d, dh)
        wo = wo - wo.mean(axis=0, keepdims=True)                       # centered columns
        m = wv.T @ wo.T                                                # M_h = Wv_hᵀ Wo_hᵀ
        u, s, vt = np.linalg.svd(m)
        delta = np.zeros((d, d))
        for sv, alpha in svs:
            delta -= (1 - alpha) * s[sv] * np.outer(u[:, sv], vt[sv])
        out[h] = delta
    return out


def embed(c, pixels, heads, quick, edits=None):
    conv = c["conv"]
    width, _, patch, _ = conv.shape
    size = int(round(math.sqrt(len(pixels) / 3)))
    grid = size // patch
    img = np.asarray(pixels, dtype=np.float64).reshape(3, size, size)
    patches = img.reshape(3, grid, patch, grid, patch).transpose(1, 3, 0, 2, 4).reshape(grid * grid, -1)
    x = np.vstack([c["cls"][None, :], patches @ conv.reshape(width, -1).T]) + c["pos"]
    x = standardize(x) * c["ln_pre"][0] + c["ln_pre"][1]
    dh = width // heads
    for l, blk in enumerate(c["blocks"]):
        xt = standardize(x)
        hn = xt * blk["ln1"][0] + blk["ln1"][1]
        q = hn @ blk["wq"].T + blk["bq"]
        k = hn @ blk["wk"].T + blk["bk"]
        v = hn @ blk["wv"].T + blk["bv"]
        corr = vo_edit(blk, heads, edits.get(l, {})) if edits else {}
        attn_out = np.zeros_like(x)
        for h in range(heads):
            sl = slice(h * dh, (h + 1) * dh)
            sc = q[:, sl] @ k[:, sl].T / math.sqrt(dh)
            sc = np.exp(sc - sc.max(axis=1, keepdims=True))
            a = sc / sc.sum(axis=1, keepdims=True)
            contrib = v[:, sl] @ blk["wo"][:, sl].T
            if h in corr:
                contrib = contrib + xt @ corr[h]
            attn_out += a @ contrib
        x = x + attn_out + blk["bo"]
        hn = standardize(x) * blk["ln2"][0] + blk["ln2"][1]
        x = x + act(hn @ blk["fc1"][0].T + blk["fc1"][1], quick) @ blk["fc2"][0].T + blk["fc2"][1]
    y = standardize(x[0]) * c["ln_post"][0] + c["ln_post"][1]
    return (y @ c["proj"]).tolist()


def main():
    req = json.load(sys.stdin)
    base = canonical(read_safetensors(req["base"]), req["hf"])
    edited = canonical(read_safetensors(req["edited"]), req["hf"])
    edits = {}
    for layer, head, sv, alpha in req["edits"]:
        edits.setdefault(int(layer), {}).setdefault(int(head), []).append((int(sv), float(alpha)))
    heads, quick = req["heads"], req["quick_gelu"]
    out = {"base": [], "edited_file": [], "in_memory": []}
    for px in req["pixels"]:
        out["base"].append(embed(base, px, heads, quick))
        out["edited_file"].append(embed(edited, px, heads, quick))
        out["in_memory"].append(embed(base, px, heads, quick, edits))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
