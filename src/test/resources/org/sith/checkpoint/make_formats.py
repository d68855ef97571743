"""Makes the checkpoint-format fixtures of FormatsTest with real PyTorch (Debian's python3-torch, 1.13).

Run from this folder:  /usr/bin/python3 make_formats.py
It writes formats/: one small random CLIP vision tower (width 24, 2 layers, 2 heads of 12, patch 4,
image 8, projection 12) in every form SPEC §2 reads, each in its own folder with the config a user
would have beside it, plus hostile archives. Tests compare each form with ref/ (plain safetensors,
OpenCLIP names), so the numbers only have to be the same weights, not meaningful ones.
Nothing here is product code; the tests read only the files it wrote.
"""
import io
import json
import os
import pickle
import shutil
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import torch

D, L, H, P, MLP, PATCH, T = 24, 2, 2, 12, 48, 4, 5
OUT = "formats"
rng = np.random.default_rng(20261207)


def rnd(*shape):
    return rng.standard_normal(shape).astype(np.float32) * 0.5


def openclip_weights():
    w = OrderedDict()
    w["visual.class_embedding"] = rnd(D)
    w["visual.positional_embedding"] = rnd(T, D)
    w["visual.proj"] = rnd(D, P)
    w["visual.conv1.weight"] = rnd(D, 3, PATCH, PATCH)
    w["visual.ln_pre.weight"] = 1 + rnd(D)
    w["visual.ln_pre.bias"] = rnd(D)
    for l in range(L):
        b = f"visual.transformer.resblocks.{l}."
        w[b + "ln_1.weight"] = 1 + rnd(D)
        w[b + "ln_1.bias"] = rnd(D)
        w[b + "attn.in_proj_weight"] = rnd(3 * D, D)
        w[b + "attn.in_proj_bias"] = rnd(3 * D)
        w[b + "attn.out_proj.weight"] = rnd(D, D)
        w[b + "attn.out_proj.bias"] = rnd(D)
        w[b + "ln_2.weight"] = 1 + rnd(D)
        w[b + "ln_2.bias"] = rnd(D)
        w[b + "mlp.c_fc.weight"] = rnd(MLP, D)
        w[b + "mlp.c_fc.bias"] = rnd(MLP)
        w[b + "mlp.c_proj.weight"] = rnd(D, MLP)
        w[b + "mlp.c_proj.bias"] = rnd(D)
    w["visual.ln_post.weight"] = 1 + rnd(D)
    w["visual.ln_post.bias"] = rnd(D)
    w["logit_scale"] = np.array(4.6052, dtype=np.float32)
    return w


def hf_names(w):
    out = OrderedDict()
    out["vision_model.embeddings.class_embedding"] = w["visual.class_embedding"]
    out["vision_model.embeddings.patch_embedding.weight"] = w["visual.conv1.weight"]
    out["vision_model.embeddings.position_embedding.weight"] = w["visual.positional_embedding"]
    out["vision_model.embeddings.position_ids"] = np.arange(T, dtype=np.int64)[None, :]
    out["vision_model.pre_layrnorm.weight"] = w["visual.ln_pre.weight"]
    out["vision_model.pre_layrnorm.bias"] = w["visual.ln_pre.bias"]
    for l in range(L):
        s = f"visual.transformer.resblocks.{l}."
        b = f"vision_model.encoder.layers.{l}."
        for i, part in enumerate("qkv"):
            out[b + f"self_attn.{part}_proj.weight"] = w[s + "attn.in_proj_weight"][i * D:(i + 1) * D]
            out[b + f"self_attn.{part}_proj.bias"] = w[s + "attn.in_proj_bias"][i * D:(i + 1) * D]
        out[b + "self_attn.out_proj.weight"] = w[s + "attn.out_proj.weight"]
        out[b + "self_attn.out_proj.bias"] = w[s + "attn.out_proj.bias"]
        out[b + "layer_norm1.weight"] = w[s + "ln_1.weight"]
        out[b + "layer_norm1.bias"] = w[s + "ln_1.bias"]
        out[b + "layer_norm2.weight"] = w[s + "ln_2.weight"]
        out[b + "layer_norm2.bias"] = w[s + "ln_2.bias"]
        out[b + "mlp.fc1.weight"] = w[s + "mlp.c_fc.weight"]
        out[b + "mlp.fc1.bias"] = w[s + "mlp.c_fc.bias"]
        out[b + "mlp.fc2.weight"] = w[s + "mlp.c_proj.weight"]
        out[b + "mlp.fc2.bias"] = w[s + "mlp.c_proj.bias"]
    out["vision_model.post_layernorm.weight"] = w["visual.ln_post.weight"]
    out["vision_model.post_layernorm.bias"] = w["visual.ln_post.bias"]
    out["visual_projection.weight"] = np.ascontiguousarray(w["visual.proj"].T)
    out["logit_scale"] = w["logit_scale"]
    return out


def timm_names(w):
    """timm's VisionTransformer names for a CLIP ViT (timm's _convert_openai_clip mapping, run by hand)."""
    out = OrderedDict()
    out["cls_token"] = w["visual.class_embedding"][None, None, :]
    out["pos_embed"] = w["visual.positional_embedding"][None]
    out["patch_embed.proj.weight"] = w["visual.conv1.weight"]
    out["norm_pre.weight"] = w["visual.ln_pre.weight"]
    out["norm_pre.bias"] = w["visual.ln_pre.bias"]
    parts = {"ln_1": "norm1", "ln_2": "norm2", "attn.in_proj_weight": "attn.qkv.weight", "attn.in_proj_bias": "attn.qkv.bias",
             "attn.out_proj": "attn.proj", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
    for name, v in w.items():
        if not name.startswith("visual.transformer.resblocks."):
            continue
        rest = name[len("visual.transformer.resblocks."):]
        l, part = rest.split(".", 1)
        for a, b in parts.items():
            if part.startswith(a):
                part = b + part[len(a):]
                break
        out[f"blocks.{l}.{part}"] = v
    out["norm.weight"] = w["visual.ln_post.weight"]
    out["norm.bias"] = w["visual.ln_post.bias"]
    out["head.weight"] = np.ascontiguousarray(w["visual.proj"].T)
    out["head.bias"] = np.zeros(P, dtype=np.float32)
    return out


DT = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}


def write_safetensors(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    off = 0
    blobs = []
    for k, v in tensors.items():
        a = np.asarray(v).copy(order="C")  # not ascontiguousarray: it turns a 0-d scalar into shape (1,)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[k] = {"dtype": DT[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def torch_dict(w):
    return OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in w.items())


def folder(name):
    p = os.path.join(OUT, name)
    os.makedirs(p, exist_ok=True)
    return p


OPEN_CLIP_CONFIG = {"model_cfg": {"embed_dim": P, "quick_gelu": True,
                                  "vision_cfg": {"image_size": 8, "layers": L, "width": D, "head_width": D // H, "patch_size": PATCH}},
                    "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}
HF_CONFIG = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": P,
             "vision_config": {"hidden_size": D, "intermediate_size": MLP, "num_attention_heads": H, "num_hidden_layers": L,
                               "patch_size": PATCH, "image_size": 8, "hidden_act": "quick_gelu", "projection_dim": P}}
TIMM_CONFIG = {"architecture": "vit_base_patch4_clip_quickgelu_8", "num_classes": P, "num_features": D, "global_pool": "token",
               "model_args": {"num_heads": H, "embed_dim": D, "depth": L}, "pretrained_cfg": {"input_size": [3, 8, 8]}}


def config(dirname, name, obj):
    with open(os.path.join(dirname, name), "w") as f:
        json.dump(obj, f, indent=1)


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    w = openclip_weights()

    ref = folder("ref")
    write_safetensors(os.path.join(ref, "open_clip_model.safetensors"), w)
    config(ref, "open_clip_config.json", OPEN_CLIP_CONFIG)

    # OpenCLIP's open_clip_pytorch_model.bin: torch.save of the state dict; two tensors saved as views
    # (a transposed projection: strided; an in_proj weight that is a slice of a larger storage: offset)
    ob = folder("openclip_bin")
    sd = torch_dict(w)
    sd["visual.proj"] = torch.from_numpy(np.ascontiguousarray(w["visual.proj"].T)).t()
    assert not sd["visual.proj"].is_contiguous()
    big = torch.zeros(4 * D, D)
    big[D:] = torch.from_numpy(w["visual.transformer.resblocks.1.attn.in_proj_weight"])
    sd["visual.transformer.resblocks.1.attn.in_proj_weight"] = big[D:]
    assert sd["visual.transformer.resblocks.1.attn.in_proj_weight"].storage_offset() == D * D
    torch.save(sd, os.path.join(ob, "open_clip_pytorch_model.bin"))
    config(ob, "open_clip_config.json", OPEN_CLIP_CONFIG)

    # a training checkpoint: state dict under 'state_dict', DataParallel's 'module.' prefix, other entries beside it
    nested = folder("nested")
    ckpt = {"epoch": 7, "name": "run-1", "state_dict": OrderedDict(("module." + k, v) for k, v in torch_dict(w).items()),
            "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(3)}},
                          "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.98), "params": [0, 1]}]},
            "scaler": None}
    torch.save(ckpt, os.path.join(nested, "epoch_7.pt"))
    config(nested, "open_clip_config.json", OPEN_CLIP_CONFIG)

    # Hugging Face: pytorch_model.bin, and the same as two safetensors shards with an index
    hfw = hf_names(w)
    hb = folder("hf_bin")
    torch.save(torch_dict(hfw), os.path.join(hb, "pytorch_model.bin"))
    config(hb, "config.json", HF_CONFIG)
    hs = folder("hf_sharded")
    names = list(hfw)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    for shard, ns in shards.items():
        write_safetensors(os.path.join(hs, shard), OrderedDict((n, hfw[n]) for n in ns), {"format": "pt"})
        weight_map.update({n: shard for n in ns})
    config(hs, "model.safetensors.index.json", {"metadata": {"total_size": 0}, "weight_map": weight_map})
    config(hs, "config.json", HF_CONFIG)

    # timm's own names, as timm's hub files store them
    tm = folder("timm")
    write_safetensors(os.path.join(tm, "model.safetensors"), timm_names(w))
    config(tm, "config.json", TIMM_CONFIG)

    # LayerScale (OpenCLIP ls_1/ls_2), and the same weights folded by hand: W_out <- diag(g) W_out, b_out <- g * b_out
    ls = folder("layerscale")
    lw = OrderedDict(w)
    folded = OrderedDict(w)
    for l in range(L):
        b = f"visual.transformer.resblocks.{l}."
        for i, out in ((1, "attn.out_proj."), (2, "mlp.c_proj.")):
            g = (0.1 + rng.random(D)).astype(np.float32)
            lw[b + f"ls_{i}.gamma"] = g
            folded[b + out + "weight"] = (g[:, None] * w[b + out + "weight"]).astype(np.float32)
            folded[b + out + "bias"] = (g * w[b + out + "bias"]).astype(np.float32)
    write_safetensors(os.path.join(ls, "open_clip_model.safetensors"), lw)
    config(ls, "open_clip_config.json", OPEN_CLIP_CONFIG)
    lf = folder("layerscale_folded")
    write_safetensors(os.path.join(lf, "open_clip_model.safetensors"), folded)
    config(lf, "open_clip_config.json", OPEN_CLIP_CONFIG)

    # OpenAI's original ViT-*.pt form: a traced TorchScript module whose attribute paths are the state dict's names
    ts = folder("torchscript")
    torch.jit.save(traced(w), os.path.join(ts, "ViT-T-4.pt"))

    # the format before PyTorch 1.6
    lg = folder("legacy")
    torch.save(torch_dict(w), os.path.join(lg, "legacy.pt"), _use_new_zipfile_serialization=False)

    # storages of every dtype, views with offsets and strides; expected values beside them
    dt = folder("dtypes")
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8 - 1
    tensors = OrderedDict([("f32", base), ("f16", base.half()), ("bf16", base.bfloat16()), ("f64", base.double()),
                           ("i64", torch.arange(6).reshape(2, 3)), ("transposed", base.t()), ("sliced", base[1:3, 2:5]),
                           ("offset_row", base[2]), ("scalar", torch.tensor(2.5))])
    torch.save(tensors, os.path.join(dt, "dtypes.bin"))
    config(dt, "expected.json", {k: {"shape": list(v.shape), "values": v.float().flatten().tolist()} for k, v in tensors.items()})

    hostile()


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(D)
        self.attn = torch.nn.MultiheadAttention(D, H)
        self.ln_2 = torch.nn.LayerNorm(D)
        self.mlp = torch.nn.Sequential(OrderedDict([("c_fc", torch.nn.Linear(D, MLP)), ("gelu", torch.nn.GELU()),
                                                    ("c_proj", torch.nn.Linear(MLP, D))]))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x), self.ln_1(x), self.ln_1(x), need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Visual(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, D, PATCH, PATCH, bias=False)
        self.class_embedding = torch.nn.Parameter(torch.zeros(D))
        self.positional_embedding = torch.nn.Parameter(torch.zeros(T, D))
        self.ln_pre = torch.nn.LayerNorm(D)
        self.transformer = torch.nn.Module()
        self.transformer.resblocks = torch.nn.Sequential(*[Block() for _ in range(L)])
        self.ln_post = torch.nn.LayerNorm(D)
        self.proj = torch.nn.Parameter(torch.zeros(D, P))

    def forward(self, x):
        x = self.conv1(x).flatten(2).permute(2, 0, 1)
        x = torch.cat([self.class_embedding.expand(1, x.shape[1], D), x]) + self.positional_embedding[:, None, :]
        x = self.transformer.resblocks(self.ln_pre(x))
        return self.ln_post(x[0]) @ self.proj


class Clip(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = Visual()
        self.logit_scale = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.visual(x) * self.logit_scale.exp()


def traced(w):
    m = Clip()
    m.load_state_dict(torch_dict(w), strict=True)
    m.eval()
    return torch.jit.trace(m, torch.zeros(1, 3, 8, 8))


# ---- hostile archives: each is a torch.save-shaped zip whose data.pkl would run code (or lie) if unpickled
MARKER = "sith-pickle-ran.txt"


class Evil:
    """pickle's __reduce__ trick: unpickling calls os.system."""

    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


def zip_with(path, pkl, extra=None, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")
        for name, data in (extra or {}).items():
            z.writestr(name, data)


def hostile():
    h = folder("hostile")
    zip_with(os.path.join(h, "reduce_os_system.bin"), pickle.dumps(OrderedDict([("visual.proj", Evil())]), protocol=2))
    zip_with(os.path.join(h, "nested_state_dict_trick.bin"), pickle.dumps({"state_dict": {"a": 1}, "hook": Evil()}, protocol=2))
    # hand-written opcodes: GLOBAL builtins.exec, REDUCE with code text
    exec_pkl = b"\x80\x02cbuiltins\nexec\nX\x1b\x00\x00\x00open('" + MARKER.encode() + b"','w').close()" + b"\x85R."
    exec_pkl = exec_pkl.replace(b"X\x1b\x00\x00\x00", b"X" + struct.pack("<I", len(b"open('" + MARKER.encode() + b"','w').close()")))
    zip_with(os.path.join(h, "builtins_exec.bin"), exec_pkl)
    # STACK_GLOBAL subprocess.Popen (protocol 4 form)
    sg = b"\x80\x04\x8c\nsubprocess\x94\x8c\x05Popen\x94\x93\x94]\x94(\x8c\x05touch\x94\x8c" + bytes([len(MARKER)]) + MARKER.encode() + b"\x94e\x85\x94R\x94."
    zip_with(os.path.join(h, "subprocess_popen.bin"), sg)
    # INST opcode (protocol 0 object construction): calls os.system by name
    cmd = ("touch " + MARKER).encode()
    zip_with(os.path.join(h, "inst_opcode.bin"), b"\x80\x02(X" + struct.pack("<I", len(cmd)) + cmd + b"ios\nsystem\n.")
    # an allowed function given what is not a storage
    bad_rebuild = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nX\x04\x00\x00\x00evil" + b"K\x00)))\x89t" + b"R."
    bad_rebuild = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x04\x00\x00\x00evilK\x00)))\x89tR."
    zip_with(os.path.join(h, "rebuild_on_string.bin"), bad_rebuild)
    # a storage that claims 10^12 elements but holds 16 bytes; a view past its storage's end
    def one_tensor(numel, offset, size, stride):
        pid = b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu" + b"\x8a\x08" + struct.pack("<q", numel) + b"tQ"
        tup = lambda xs: b"(" + b"".join(b"\x8a\x08" + struct.pack("<q", x) for x in xs) + b"t"
        return (b"\x80\x02ccollections\nOrderedDict\n)R(X\x05\x00\x00\x00w.bin" + b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid
                + b"\x8a\x08" + struct.pack("<q", offset) + tup(size) + tup(stride) + b"\x89ccollections\nOrderedDict\n)RtRu.")
    zip_with(os.path.join(h, "absurd_storage.bin"), one_tensor(10 ** 12, 0, [10 ** 6, 10 ** 6], [10 ** 6, 1]), {"archive/data/0": b"\0" * 16})
    zip_with(os.path.join(h, "offset_past_end.bin"), one_tensor(4, 3, [2], [1]), {"archive/data/0": b"\0" * 16})
    zip_with(os.path.join(h, "sane_one_tensor.bin"), one_tensor(4, 1, [3], [1]), {"archive/data/0": struct.pack("<4f", 1, 2, 3, 4)})


if __name__ == "__main__":
    main()
