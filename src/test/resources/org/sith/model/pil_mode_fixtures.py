#!/usr/bin/env python3
"""Makes the fixtures of PreprocessOrderTest with real Pillow (run by hand, not by the tests).

Writes into modes/ beside this script:
  <name>.png                     small PNGs in the modes where the two preprocessing orders differ
                                 (palette with and without transparency, RGBA, LA, 1-bit) and two
                                 controls where they must not (RGB, L);
  <order>_r<R>_c<C>.npy          float32 (N, 3, C, C): the images, in manifest order, preprocessed
                                 with resize side R and crop side C in that order;
  manifest.json                  the Pillow and numpy versions, the image names, the configurations.

The two orders, each on a PIL image in the mode Image.open gives:
  openclip: Resize(R, bicubic) -> CenterCrop(C) -> convert('RGB') -> ToTensor -> Normalize
            (OpenCLIP's and OpenAI clip's eval transform)
  hf:       convert('RGB') -> Resize(R, bicubic) -> CenterCrop(C) -> ToTensor -> Normalize
            (Hugging Face CLIPImageProcessor's order)
Resize and CenterCrop are torchvision's rules written here with Pillow calls (torchvision is not
installed): the shorter side becomes R, the longer int(R * long / short), no resize when the shorter
side is already R; the crop pads with fill 0 in the image's own mode (palette index 0 for 'P',
via ImageOps.expand as torchvision's pad does) split (C - side) // 2 before, then crops at
round((side - C) / 2) (Python's round). Both orders use this same crop, as the project does.
ToTensor + Normalize in float32: (byte / 255 - mean) / std with CLIP's mean and std.

Usage: /usr/bin/python3 pil_mode_fixtures.py   (Debian's python3-pil 9.4 and python3-numpy)
"""
import json
import os

import numpy as np
import PIL
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modes")
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
# (resize side, crop side): downscaling, upscaling, and a crop larger than the resize (padding)
CONFIGS = [(12, 12), (28, 28), (14, 18)]

rng = np.random.default_rng(7)


def blocky(h, w, levels, block=(3, 2)):
    """Random values constant over small blocks, plus single-pixel noise: nearest vs bicubic shows."""
    bh, bw = block
    coarse = rng.integers(0, levels, size=(h // bh + 1, w // bw + 1))
    img = np.repeat(np.repeat(coarse, bh, axis=0), bw, axis=1)[:h, :w]
    noise = rng.random((h, w)) < 0.15
    img[noise] = rng.integers(0, levels, size=int(noise.sum()))
    return img


def alpha_plane(h, w):
    """Alpha with exact 0 and 255 regions, 1 and 254, and random values in between."""
    a = rng.integers(1, 255, size=(h, w))
    pick = rng.random((h, w))
    a[pick < 0.25] = 0
    a[(pick >= 0.25) & (pick < 0.5)] = 255
    a[(pick >= 0.5) & (pick < 0.55)] = 1
    a[(pick >= 0.55) & (pick < 0.6)] = 254
    return a.astype(np.uint8)


def make_images():
    images = {}
    # palette, 12 colours (saved as a 4-bit PNG), no transparency; 31 x 22
    pal = rng.integers(0, 256, size=(12, 3)).astype(np.uint8)
    p = Image.fromarray(blocky(22, 31, 12).astype(np.uint8), "P")
    p.putpalette(pal.flatten().tolist())
    images["p4_opaque"] = (p, {})
    # palette, 40 colours (8-bit PNG), tRNS with alpha 0, partial and opaque entries; 26 x 37
    pal = rng.integers(0, 256, size=(40, 3)).astype(np.uint8)
    p = Image.fromarray(blocky(37, 26, 40, (2, 3)).astype(np.uint8), "P")
    p.putpalette(pal.flatten().tolist())
    trns = bytes([0, 0, 128, 255, 64, 0, 200, 1] + [255] * 12 + [0, 30] * 10)
    images["p8_trns"] = (p, {"transparency": trns})
    # RGBA, colours random also where alpha is 0 (the colour convert('RGB') keeps); 33 x 21
    rgb = rng.integers(0, 256, size=(21, 33, 3)).astype(np.uint8)
    rgba = np.dstack([rgb, alpha_plane(21, 33)])
    images["rgba"] = (Image.fromarray(rgba, "RGBA"), {})
    # LA; 23 x 30
    la = np.dstack([rng.integers(0, 256, size=(30, 23)).astype(np.uint8), alpha_plane(30, 23)])
    images["la"] = (Image.fromarray(la, "LA"), {})
    # 1-bit (saved as a 1-bit grayscale PNG); 29 x 19
    bits = (blocky(19, 29, 2, (2, 2)) * 255).astype(np.uint8)
    images["bit1"] = (Image.fromarray(bits, "L").convert("1"), {})
    # controls: RGB and L, where both orders are the same computation; 27 x 20 and 20 x 25
    images["rgb"] = (Image.fromarray(rng.integers(0, 256, size=(20, 27, 3)).astype(np.uint8), "RGB"), {})
    images["l"] = (Image.fromarray(rng.integers(0, 256, size=(25, 20)).astype(np.uint8), "L"), {})
    return images


def resize(img, side):
    w, h = img.size
    if (w <= h and w == side) or (h <= w and h == side):
        return img
    if w < h:
        return img.resize((side, int(side * h / w)), Image.BICUBIC)
    return img.resize((int(side * w / h), side), Image.BICUBIC)


def center_crop(img, side):
    w, h = img.size
    if side > w or side > h:
        left = (side - w) // 2 if side > w else 0
        top = (side - h) // 2 if side > h else 0
        right = (side - w + 1) // 2 if side > w else 0
        bottom = (side - h + 1) // 2 if side > h else 0
        fill = 0 if len(img.getbands()) == 1 else (0,) * len(img.getbands())
        if img.mode == "P":
            palette = img.getpalette()
            img = ImageOps.expand(img, border=(left, top, right, bottom), fill=fill)
            img.putpalette(palette)
        else:
            img = ImageOps.expand(img, border=(left, top, right, bottom), fill=fill)
        w, h = img.size
        if w == side and h == side:
            return img
    top = int(round((h - side) / 2.0))
    left = int(round((w - side) / 2.0))
    return img.crop((left, top, left + side, top + side))


def to_tensor(img):
    assert img.mode == "RGB"
    a = np.asarray(img, dtype=np.uint8).astype(np.float32) / np.float32(255)
    a = (a - MEAN) / STD
    return np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32)


def openclip(img, r, c):
    return to_tensor(center_crop(resize(img, r), c).convert("RGB"))


def hf(img, r, c):
    return to_tensor(center_crop(resize(img.convert("RGB"), r), c))


def main():
    os.makedirs(OUT, exist_ok=True)
    names = []
    for name, (img, params) in make_images().items():
        path = os.path.join(OUT, name + ".png")
        img.save(path, optimize=False, **params)
        names.append(name)
    loaded = {n: Image.open(os.path.join(OUT, n + ".png")) for n in names}
    for n, im in loaded.items():
        im.load()
    modes = {n: loaded[n].mode for n in names}
    assert modes == {"p4_opaque": "P", "p8_trns": "P", "rgba": "RGBA", "la": "LA", "bit1": "1", "rgb": "RGB", "l": "L"}, modes
    files = {}
    for r, c in CONFIGS:
        for order, f in (("openclip", openclip), ("hf", hf)):
            arr = np.stack([f(loaded[n], r, c) for n in names]).astype(np.float32)
            fname = "%s_r%d_c%d.npy" % (order, r, c)
            np.save(os.path.join(OUT, fname), arr)
            files["%s %d %d" % (order, r, c)] = fname
    manifest = {
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "images": names,
        "modes": modes,
        "sizes": {n: list(loaded[n].size) for n in names},
        "configs": [{"resize": r, "crop": c} for r, c in CONFIGS],
        "files": files,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
