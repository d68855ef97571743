#!/usr/bin/env python3
"""The baseline a researcher runs today: SITH's decompose pipeline written plainly in numpy.

What it does, as the paper's code does it (see SPEC §3-§6 for the definitions):
  * per block: fold LN1 into the in-projection, center W_in's rows and W_out's columns;
  * per head: the dense d x d VO matrix M_h = Wv_h^T . Wo_h^T, a dense np.linalg.svd of it
    (all d singular triplets; the paper's code does exactly this), the top --rank kept, the sign
    rule (the largest-magnitude entry of each u_j positive);
  * the explained vectors (right: v_j, the write directions) through the full post-LayerNorm and
    the projection into the joint space, normalised (minus an optional image mean, normalised);
  * the dictionary prepared as rownorm(rownorm(E) - mean(rownorm(E)));
  * COMP (lambda, K) over --batch vectors per product: each step one float32 GEMM of the batch's
    queries r + lambda * mean(selected atoms) against the whole dictionary, the argmax over
    unselected atoms, then scipy.optimize.nnls per vector on the selected atoms (exact active set,
    as SPEC §5 asks; the paper's torch code refits the batch by a fixed number of coordinate-descent
    sweeps, and scores the mean of the selected atoms in a second product per step);
  * fidelity (joint space), the paper's residual fidelity (back through pinv(P)) and coherence.

It is a measuring stick, not product code: no Spark, no Parquet, no duplicate-concept handling
(`decompose` drops duplicates). The output is the K selected atoms per vector, weight-descending
(ties: lower id), as SPEC §5 defines it.

Needs numpy and scipy only (Debian: python3-numpy python3-scipy). numpy's BLAS decides the speed of
the products and the SVDs: with Debian's reference libblas3 alone they run many times slower; the
script prints the BLAS library it found loaded.

Example (the paper's setting on the benchmark's random ViT-L/14):
  /usr/bin/python3 src/bench/python/numpy_pipeline.py --checkpoint W/vit-l-14-random.safetensors \
      --concepts W/concepts.npy --vocab W/concepts.txt --layers 20,21,22,23 --k 5 --lambda 0.3 \
      --batch 64 --out /tmp/numpy-explanations.npz
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

try:
    from scipy import __version__ as scipy_version
    from scipy.optimize import nnls
except ImportError:  # pragma: no cover - a clear message instead of a traceback
    sys.exit("numpy_pipeline.py needs scipy (Debian: apt-get install python3-scipy)")

LN_EPS = 1e-5
DEGENERATE_TOL = 1e-3


# --------------------------------------------------------------------------------------------
# safetensors, read with json and numpy only
# --------------------------------------------------------------------------------------------

class SafeTensors:
    """An 8-byte little-endian header length, a JSON header, then the raw little-endian data."""

    DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": "<u2"}

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) != 8:
                raise ValueError("%s: not a safetensors file (shorter than 8 bytes)" % path)
            (n,) = struct.unpack("<Q", head)
            size = os.path.getsize(path)
            if n > size - 8:
                raise ValueError("%s: header length %d exceeds the file" % (path, n))
            self.header = json.loads(f.read(n).decode("utf-8"))
        self.base = 8 + n
        self.header.pop("__metadata__", None)

    def __contains__(self, name):
        return name in self.header

    def get(self, name):
        """The tensor as float32 (F16/BF16 widened, F64 narrowed, as a float32 model holds them)."""
        if name not in self.header:
            raise KeyError("%s: no tensor %s" % (self.path, name))
        info = self.header[name]
        dtype = info["dtype"]
        if dtype not in self.DTYPES:
            raise ValueError("%s: tensor %s has dtype %s (F32, F16, BF16, F64 are read)" % (self.path, name, dtype))
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape)) if shape else 1
        dt = np.dtype(self.DTYPES[dtype])
        if end - begin != count * dt.itemsize:
            raise ValueError("%s: tensor %s spans %d bytes, its shape %s needs %d" % (self.path, name, end - begin, shape, count * dt.itemsize))
        a = np.fromfile(self.path, dtype=dt, count=count, offset=self.base + begin)
        if dtype == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        return a.astype(np.float32, copy=False).reshape(shape)


# --------------------------------------------------------------------------------------------
# the model's pieces the pipeline needs (OpenCLIP/OpenAI or Hugging Face names)
# --------------------------------------------------------------------------------------------

class Vision:
    def __init__(self, path, heads_override=None):
        self.st = SafeTensors(path)
        self.hf = "vision_model.post_layernorm.weight" in self.st
        if self.hf:
            self.ln_post = (self.st.get("vision_model.post_layernorm.weight"), self.st.get("vision_model.post_layernorm.bias"))
            self.proj = np.ascontiguousarray(self.st.get("visual_projection.weight").T)  # (d, p), x . P
            prefix = "vision_model.encoder.layers.%d.layer_norm1.weight"
        else:
            self.ln_post = (self.st.get("visual.ln_post.weight"), self.st.get("visual.ln_post.bias"))
            self.proj = self.st.get("visual.proj")  # (d, p)
            prefix = "visual.transformer.resblocks.%d.ln_1.weight"
        self.layers = 0
        while prefix % self.layers in self.st:
            self.layers += 1
        if self.layers == 0:
            raise ValueError("%s: no vision blocks found (OpenCLIP or Hugging Face names)" % path)
        self.width, self.p = self.proj.shape
        self.heads = heads_override or self._heads_from_config(path)
        if self.width % self.heads:
            raise ValueError("width %d is not a multiple of %d heads" % (self.width, self.heads))

    def _heads_from_config(self, path):
        folder = os.path.dirname(os.path.abspath(path))
        oc = os.path.join(folder, "open_clip_config.json")
        hf = os.path.join(folder, "config.json")
        if os.path.exists(oc):
            with open(oc) as f:
                cfg = json.load(f)
            vision = cfg.get("model_cfg", cfg).get("vision_cfg", {})
            return int(vision.get("width", self.width)) // int(vision.get("head_width", 64))
        if os.path.exists(hf):
            with open(hf) as f:
                cfg = json.load(f)
            if "vision_config" in cfg and "num_attention_heads" in cfg["vision_config"]:
                return int(cfg["vision_config"]["num_attention_heads"])
        return self.width // 64

    def block(self, l):
        """LN1 (gamma, beta), the value rows of the in-projection (d, d) and the out-projection (d, d), (out, in)."""
        d = self.width
        if self.hf:
            b = "vision_model.encoder.layers.%d." % l
            ln = (self.st.get(b + "layer_norm1.weight"), self.st.get(b + "layer_norm1.bias"))
            wv = self.st.get(b + "self_attn.v_proj.weight")
            wo = self.st.get(b + "self_attn.out_proj.weight")
        else:
            b = "visual.transformer.resblocks.%d." % l
            ln = (self.st.get(b + "ln_1.weight"), self.st.get(b + "ln_1.bias"))
            wv = self.st.get(b + "attn.in_proj_weight")[2 * d:3 * d]
            wo = self.st.get(b + "attn.out_proj.weight")
        return ln, wv, wo


def parse_layers(spec, n):
    if spec == "all":
        return list(range(n))
    if spec.startswith("last:"):
        k = int(spec[5:])
        return list(range(n - k, n))
    out = []
    for part in spec.split(","):
        l = int(part)
        l = l + n if l < 0 else l
        if not 0 <= l < n:
            raise ValueError("layer %s outside 0..%d" % (part, n - 1))
        out.append(l)
    return out


# --------------------------------------------------------------------------------------------
# SPEC §3: head bases, the dense way
# --------------------------------------------------------------------------------------------

def head_bases(ln, wv, wo, heads, rank, dtype, fold=True):
    """Per head: sigma (rank,), u (rank, d), v (rank, d), degenerate (rank,) from a dense SVD of M_h."""
    gamma, _ = ln
    wv = wv.astype(dtype)
    wo = wo.astype(dtype)
    if fold:
        wv = wv * gamma.astype(dtype)[None, :]       # W_in <- W_in diag(gamma); beta only moves the bias
        wv = wv - wv.mean(axis=1, keepdims=True)     # center every row over the d inputs
        wo = wo - wo.mean(axis=0, keepdims=True)     # center every column over the d outputs
    d = wv.shape[1]
    dh = d // heads
    out = []
    for h in range(heads):
        s = slice(h * dh, (h + 1) * dh)
        m = wv[s].T @ wo[:, s].T                      # (d, d), rank <= d_h: x . M reads along u, writes along v
        u, sigma, vt = np.linalg.svd(m, full_matrices=False)
        deg = degenerate(sigma[:dh])[:rank]
        u = u[:, :rank].T.copy()                      # (rank, d)
        v = vt[:rank].copy()                          # (rank, d)
        sigma = sigma[:rank]
        arg = np.abs(u).argmax(axis=1)                # sign rule: u's largest-magnitude entry positive
        flip = np.where(u[np.arange(rank), arg] < 0, -1.0, 1.0).astype(dtype)
        out.append((sigma.astype(np.float64), u * flip[:, None], v * flip[:, None], deg))
    return out


def degenerate(sigma):
    flags = np.zeros(len(sigma), dtype=bool)
    close = np.abs(sigma[:-1] - sigma[1:]) <= DEGENERATE_TOL * np.maximum(np.abs(sigma[:-1]), np.abs(sigma[1:]))
    flags[:-1] |= close
    flags[1:] |= close
    return flags


def to_joint(w, ln_post, proj, image_mean):
    """Residual-stream rows (n, d) to unit coding targets (n, p): LN_post (affine) . P, normalise, minus mu."""
    g, b = ln_post
    w = w.astype(np.float64)
    mu = w.mean(axis=1, keepdims=True)
    var = ((w - mu) ** 2).mean(axis=1, keepdims=True)
    ln = (w - mu) / np.sqrt(var + LN_EPS) * g + b
    x = ln @ proj.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if image_mean is not None:
        x -= image_mean
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


# --------------------------------------------------------------------------------------------
# SPEC §4: the dictionary
# --------------------------------------------------------------------------------------------

def prepare_dictionary(e):
    """rownorm(rownorm(E) - mean(rownorm(E))), in float64 (one working copy, updated in place), stored float32."""
    x = e.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if bad.size:
        raise ValueError("concept row %d is zero or not finite" % bad[0])
    x /= norms[:, None]
    mean = x.mean(axis=0)
    x -= mean
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    if (norms < 1e-6).any():
        raise ValueError("concept row %d is zero after centering" % np.flatnonzero(norms < 1e-6)[0])
    x /= norms[:, None]
    return x.astype(np.float32), mean


# --------------------------------------------------------------------------------------------
# SPEC §5: COMP, a batch of vectors per product, scipy NNLS per vector
# --------------------------------------------------------------------------------------------

def comp(x, dictionary, k, lam, scores=None):
    """x (b, p) unit float64 targets; dictionary (N, p) float32 unit rows. Returns ids, weights (b, k) in selection order."""
    b, p = x.shape
    rows = np.arange(b)
    ids = np.zeros((b, k), dtype=np.int64)
    weights = np.zeros((b, k))
    residual = x.copy()
    atom_sum = np.zeros((b, p))
    if scores is None or scores.shape[0] < b:
        scores = np.empty((b, dictionary.shape[0]), dtype=np.float32)
    s = scores[:b]
    for t in range(k):
        # <r, d> + lambda <mean(selected), d> = <r + lambda mean, d>: one product per step
        query = residual if t == 0 else residual + (lam / t) * atom_sum
        np.matmul(query.astype(np.float32), dictionary.T, out=s)
        if t:
            s[rows[:, None], ids[:, :t]] = -np.inf   # selected atoms are excluded
        j = s.argmax(axis=1)                          # ties: lowest index
        ids[:, t] = j
        atoms = dictionary[ids[:, :t + 1]].astype(np.float64)   # (b, t+1, p)
        atom_sum += atoms[:, t]
        for i in range(b):                            # the non-negative refit, one vector at a time
            weights[i, :t + 1], _ = nnls(atoms[i].T, x[i])
        residual = x - np.einsum("bt,btp->bp", weights[:, :t + 1], atoms)
    return ids, weights, x - residual


def order_by_weight(ids, weights):
    """Weight-descending, equal weights: lower id first."""
    order = np.lexsort((ids, -weights), axis=-1)
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(weights, order, axis=1)


def cosine_rows(a, b):
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    dot = (a * b).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((na == 0) | (nb == 0), 0.0, dot / (na * nb))


def coherence(ids, weights, dictionary):
    """Mean pairwise cosine among the atoms with non-zero weight; 1 when fewer than two."""
    atoms = dictionary[ids].astype(np.float64)
    norms = np.linalg.norm(atoms, axis=2)
    g = np.einsum("bip,bjp->bij", atoms, atoms) / (norms[:, :, None] * norms[:, None, :])
    live = weights != 0
    k = ids.shape[1]
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    pairs = live[:, :, None] & live[:, None, :] & upper
    count = pairs.sum(axis=(1, 2))
    total = np.where(pairs, g, 0.0).sum(axis=(1, 2))
    return np.where(count == 0, 1.0, total / np.maximum(count, 1))


def fidelity_residual(recon, originals, pinv, image_mean):
    s = recon / np.linalg.norm(recon, axis=1, keepdims=True)
    if image_mean is not None:
        s = s + image_mean
        s /= np.linalg.norm(s, axis=1, keepdims=True)
    return cosine_rows(s @ pinv, originals)


# --------------------------------------------------------------------------------------------

def blas_library():
    """The BLAS shared libraries loaded into this process (numpy's), e.g. libopenblasp-r0.3.21.so."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if line.rstrip().endswith(".so") or ".so." in line}
    except OSError:
        return "unknown"
    names = sorted({os.path.basename(os.path.realpath(x)) for x in paths
                    if any(k in os.path.basename(x).lower() for k in ("blas", "mkl", "blis"))
                    and "scipy" not in x and "_fblas" not in x})
    if not names:
        return "none found loaded"
    if not any(k in n.lower() for n in names for k in ("openblas", "mkl", "blis")):
        names.append("(reference BLAS? products and SVDs will be many times slower)")
    return ", ".join(names)


def main(argv=None):
    ap = argparse.ArgumentParser(description="SITH's decompose pipeline, written plainly in numpy (the benchmark's baseline).")
    ap.add_argument("--checkpoint", required=True, help="a .safetensors file (OpenCLIP/OpenAI or Hugging Face names)")
    ap.add_argument("--concepts", required=True, help="raw concept embeddings, .npy (N x p, or p x N)")
    ap.add_argument("--vocab", help="concept strings, one a line, in the .npy's order (only to name atoms in the CSV)")
    ap.add_argument("--layers", default="20,21,22,23", help="'all', 'last:N' or a comma list (default 20,21,22,23)")
    ap.add_argument("--heads", type=int, help="head count (default: open_clip_config.json / config.json beside the checkpoint, else width/64)")
    ap.add_argument("--rank", type=int, default=64, help="singular vectors kept per head (default 64)")
    ap.add_argument("--side", choices=["right", "left"], default="right", help="explain write (right, default) or read (left) directions")
    ap.add_argument("--k", type=int, default=5, help="concepts per explanation (default 5)")
    ap.add_argument("--lambda", dest="lam", type=float, default=0.3, help="COMP coherence weight (default 0.3)")
    ap.add_argument("--batch", type=int, default=64, help="vectors per product (default 64, the paper's)")
    ap.add_argument("--image-mean", help="a p-vector .npy subtracted from the targets (optional)")
    ap.add_argument("--svd-dtype", choices=["float32", "float64"], default="float32",
                    help="precision of folding and the dense SVD (default float32, a float32 model's own, as the paper's code runs)")
    ap.add_argument("--no-fold", action="store_true", help="skip LN1 folding and centering")
    ap.add_argument("--out", default="numpy-explanations.npz", help="the explanations (.npz); a .csv beside it too")
    a = ap.parse_args(argv)

    load_at_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    c0 = time.process_time()
    phases = {}
    cpu = {}

    # load: the weights the selected layers need, the concepts
    model = Vision(a.checkpoint, a.heads)
    layers = parse_layers(a.layers, model.layers)
    blocks = {l: model.block(l) for l in layers}
    raw = np.load(a.concepts)
    if raw.ndim != 2:
        raise ValueError("%s: expected a 2-D array, got shape %s" % (a.concepts, raw.shape))
    if raw.shape[1] != model.p and raw.shape[0] == model.p:
        raw = raw.T
    if raw.shape[1] != model.p:
        raise ValueError("%s: rows of %d, the projection's p is %d" % (a.concepts, raw.shape[1], model.p))
    image_mean = np.load(a.image_mean).astype(np.float64).reshape(-1) if a.image_mean else None
    vocab = None
    if a.vocab:
        with open(a.vocab, encoding="utf-8") as f:
            vocab = [line.rstrip("\n") for line in f]
        if len(vocab) != raw.shape[0]:
            raise ValueError("%s has %d lines, %s %d rows" % (a.vocab, len(vocab), a.concepts, raw.shape[0]))
    t1, c1 = time.perf_counter(), time.process_time()
    phases["load"], cpu["load"] = t1 - t0, c1 - c0

    dictionary, _ = prepare_dictionary(raw)
    del raw
    t2, c2 = time.perf_counter(), time.process_time()
    phases["dictionary"], cpu["dictionary"] = t2 - t1, c2 - c1

    # svd: folding, dense VO, dense SVD, joint projection
    dtype = np.float32 if a.svd_dtype == "float32" else np.float64
    keys, sigmas, degen, originals, targets = [], [], [], [], []
    for l in layers:
        bases = head_bases(*blocks[l], model.heads, a.rank, dtype, fold=not a.no_fold)
        for h, (sigma, u, v, deg) in enumerate(bases):
            w = v if a.side == "right" else u
            w = w.astype(np.float64)
            w /= np.linalg.norm(w, axis=1, keepdims=True)
            for j in range(len(sigma)):
                keys.append((l, h, j))
            sigmas.append(sigma)
            degen.append(deg)
            originals.append(w)
            targets.append(to_joint(w, model.ln_post, model.proj, image_mean))
    keys = np.array(keys, dtype=np.int32)
    sigmas = np.concatenate(sigmas)
    degen = np.concatenate(degen)
    originals = np.concatenate(originals)
    targets = np.concatenate(targets)
    t3, c3 = time.perf_counter(), time.process_time()
    phases["svd"], cpu["svd"] = t3 - t2, c3 - c2

    # coding: COMP, --batch vectors per product
    n = len(targets)
    ids = np.zeros((n, a.k), dtype=np.int64)
    weights = np.zeros((n, a.k))
    recon = np.zeros_like(targets)
    scores = np.empty((a.batch, dictionary.shape[0]), dtype=np.float32)
    for start in range(0, n, a.batch):
        end = min(n, start + a.batch)
        i, w, r = comp(targets[start:end], dictionary, a.k, a.lam, scores)
        ids[start:end], weights[start:end] = order_by_weight(i, w)
        recon[start:end] = r
    fidelity = cosine_rows(targets, recon)
    coh = coherence(ids, weights, dictionary)
    fid_res = fidelity_residual(recon, originals, np.linalg.pinv(model.proj.astype(np.float64)), image_mean)
    t4, c4 = time.perf_counter(), time.process_time()
    phases["coding"], cpu["coding"] = t4 - t3, c4 - c3

    np.savez(a.out, layer=keys[:, 0], head=keys[:, 1], sv=keys[:, 2], sigma=sigmas, ids=ids, weights=weights,
             fidelity=fidelity, fidelity_residual=fid_res, coherence=coh, degenerate=degen,
             method="comp", k=a.k, lam=a.lam, side=a.side)
    csv = os.path.splitext(a.out)[0] + ".csv"
    with open(csv, "w", encoding="utf-8") as f:
        f.write("layer,head,sv,sigma,ids,weights,concepts,fidelity,fidelity_residual,coherence,degenerate\n")
        for r in range(n):
            names = "|".join(vocab[c] for c in ids[r]) if vocab else ""
            f.write("%d,%d,%d,%.9g,%s,%s,\"%s\",%.6f,%.6f,%.6f,%s\n" % (
                keys[r, 0], keys[r, 1], keys[r, 2], sigmas[r], " ".join(map(str, ids[r])),
                " ".join("%.6g" % x for x in weights[r]), names.replace('"', '""'),
                fidelity[r], fid_res[r], coh[r], "true" if degen[r] else "false"))
    t5, c5 = time.perf_counter(), time.process_time()
    phases["write"], cpu["write"] = t5 - t4, c5 - c4
    total = t5 - t0

    print("numpy pipeline      numpy %s, scipy %s nnls, BLAS %s, OMP_NUM_THREADS=%s, %d cores, load average %.1f at start, %.1f at end"
          % (np.__version__, scipy_version, blas_library(), os.environ.get("OMP_NUM_THREADS", "unset"), os.cpu_count(),
             load_at_start, os.getloadavg()[0]))
    print("setting             %s layers %s: %d heads x rank %d = %d vectors (%s), %d concepts, p=%d, COMP K=%d lambda=%g, %d vectors/product, SVD %s"
          % (os.path.basename(a.checkpoint), ",".join(map(str, layers)), len(layers) * model.heads, a.rank, n, a.side,
             dictionary.shape[0], model.p, a.k, a.lam, a.batch, a.svd_dtype))
    for name in ("load", "dictionary", "svd", "coding", "write"):
        extra = ""
        if name == "svd":
            extra = "  (%.0f ms per head, dense %dx%d)" % (1000 * phases[name] / (len(layers) * model.heads), model.width, model.width)
        if name == "coding":
            extra = "  (%.1f vectors/s)" % (n / phases[name])
        print("  %-11s %8.2f s  cpu %7.2f s%s" % (name, phases[name], cpu[name], extra))
    print("  %-11s %8.2f s  cpu %7.2f s  (%.1f vectors/s end to end)" % ("total", total, c5 - c0, n / total))
    print("wrote               %s, %s" % (a.out, csv))


if __name__ == "__main__":
    main()
