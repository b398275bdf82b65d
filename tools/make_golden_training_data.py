#!/usr/bin/env python3
"""Writes the golden reference data of bigcolor's training data pipeline: tests/golden/training_data.safetensors and
the small PNG images of tests/golden/training_data/ (read by tests/test_training_data.cpp).

How to run (from the repository root; needs `torch`, `torchvision`, `pillow`, `numpy` and `safetensors` from PyPI,
CPU only, a second):

    /work/venv-torch/bin/python tools/make_golden_training_data.py             # writes the files above
    /work/venv-torch/bin/python tools/make_golden_training_data.py --out DIR   # writes elsewhere

What the references are (the official training's data path, spec sections 7 and 8):
  - samples: the PNGs read as torchvision's ImageFolder reads them (PIL open + convert('RGB')), then
    Compose([ToTensor(), Resize(S), CenterCrop(S)]) with S = 64 (32 for the gray image, to keep the file small).
    The official code ran torchvision 0.11, whose tensor Resize did not antialias (antialias defaulted to None ->
    False in functional_tensor.resize); torchvision >= 0.17 antialiases tensors by default, so Resize is built with
    antialias=False here. 0.11 also returned the tensor untouched when the short side already had the requested
    size (`if short == requested_new_short: return img`); the installed torchvision does the same (it returns the
    input when the computed output size equals the input size, which for Resize(int) is exactly that case), and the
    program asserts it on the 64-pixel-short-side images. CenterCrop's offsets, int(round((h - S) / 2.0)) with
    Python's half-to-even round, are asserted too: the images are sized so that one offset is x.5 (93 wide -> 85
    after Resize(64): (85 - 64) / 2 = 10.5 -> 10; 69 wide, not resized: 2.5 -> 2).
  - gray: torchvision Grayscale() of a random batch (0.2989 R + 0.587 G + 0.114 B, float32).
  - enhance: the official color_enhacne_blend(x, k) restated from its facts: Grayscale(3)(x) * (1.0 - k) + x * k,
    then values < 0 set to 0 and > 1 set to 1, for k = 1.2 (the recipe's) and 1.5 (train.py's default), on a random
    batch that reaches past both clip bounds.
  - colourfulness: spec section 8's absolute-value Hasler-Suesstrunk variant in numpy float64 on 0..255 RGB with
    numpy's default (population) std, of each decoded image (uint8 values) and of each sample (x * 255).
The program is deterministic (seeded numpy generator, single-threaded torch); PNG bytes depend on PIL's zlib, the
decoded values do not.

Layout of training_data.safetensors (F32; `__metadata__` holds settings and package versions):
  sample.<name>                 3 x S x S  torchvision's output for tests/golden/training_data/<name>.png
  gray.in / gray.out            B x 3 x H x W and B x 1 x H x W
  enhance.in / enhance.k<k>     B x 3 x H x W input and color_enhacne_blend output (k = 1.2 -> "k1.2")
metadata: sample.<name>.size (S), sample.<name>.top / .left (crop offsets, informative),
          colorfulness.image.<name> and colorfulness.sample.<name> (Python repr of the float64 value),
          unchanged.<name>.left / .top: images whose short side is already S (no resize): the sample is the crop of
          ToTensor(image) at that offset; not stored as tensors (the C++ test compares with its own decode).
"""

import argparse
import os
import sys

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no tools/__pycache__ from the import below
from make_golden_ops import canonicalize_header, check_saved  # noqa: E402  (the ops tool's file helpers)

SEED = 20240921
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(SEED)

# name -> (height, width, channels, S, stored): stored = False for images whose short side already is S.
IMAGES = {
    "wide": (70, 93, 3, 64, True),    # -> 64 x 85, left (85 - 64) / 2 = 10.5 -> 10
    "tall": (90, 70, 3, 64, True),    # -> 82 x 64, top 9
    "gray": (67, 75, 1, 32, True),    # gray PNG -> RGB; -> 32 x 35, left 1.5 -> 2
    "square": (64, 64, 3, 64, False),  # unchanged by Resize and CenterCrop
    "crop": (64, 69, 3, 64, False),   # not resized; left 2.5 -> 2
}


def smooth_image(h, w, channels):
    """A smooth colour field with a little noise (small PNGs), uint8 H x W x C."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for _ in range(channels):
        fy, fx, ph = RNG.uniform(0.05, 0.25), RNG.uniform(0.05, 0.25), RNG.uniform(0, 6.3)
        planes.append(127.5 + 110 * np.sin(fy * y + ph) * np.cos(fx * x - ph))
    img = np.stack(planes, axis=-1) + RNG.normal(0, 1.5, (h, w, channels))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def colorfulness(rgb):
    """rgb: H x W x 3 float64 on 0..255."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = np.abs(r - g)
    yb = np.abs(0.5 * (r + g) - b)
    return float(np.sqrt(np.std(rg) ** 2 + np.std(yb) ** 2) + 0.3 * np.sqrt(np.mean(rg) ** 2 + np.mean(yb) ** 2))


def grayscale(x, channels=1):
    return T.Grayscale(num_output_channels=channels)(x)


def color_enhance_blend(x, k):
    """The official blend, from its facts: gray3 * (1.0 - k) + x * k, clipped to [0, 1] by masked assignment."""
    out = grayscale(x, 3) * (1.0 - k) + x * k
    out[out < 0] = 0
    out[out > 1] = 1
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "golden"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    image_dir = os.path.join(args.out, "training_data")
    os.makedirs(image_dir, exist_ok=True)

    tensors = {}
    metadata = {"generator": "tools/make_golden_training_data.py", "torch": torch.__version__,
                "torchvision": torchvision.__version__, "pillow": PIL.__version__, "numpy": np.__version__}

    for name, (h, w, channels, size, stored) in IMAGES.items():
        pixels = smooth_image(h, w, channels)
        path = os.path.join(image_dir, name + ".png")
        Image.fromarray(pixels[..., 0] if channels == 1 else pixels, "L" if channels == 1 else "RGB").save(path)
        with Image.open(path) as opened:
            pil = opened.convert("RGB")  # torchvision's pil_loader
        decoded = np.asarray(pil)
        assert decoded.shape == (h, w, 3) and np.array_equal(decoded, np.repeat(pixels, 3 // channels, axis=2))
        transform = T.Compose([T.ToTensor(), T.Resize(size, antialias=False), T.CenterCrop(size)])
        sample = transform(pil)
        assert sample.shape == (3, size, size) and sample.dtype == torch.float32, name

        # The resize and crop arithmetic the C++ side restates (torchvision 0.11, see the docstring).
        short, long = min(h, w), max(h, w)
        new_long = long if short == size else int(size * long / short)
        new_h, new_w = (size, new_long) if h <= w else (new_long, size)
        top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
        tensor = T.ToTensor()(pil)
        if short == size:
            assert torch.equal(T.Resize(size, antialias=False)(tensor), tensor), name
            assert torch.equal(sample, tensor[:, top:top + size, left:left + size]), name
        else:
            resized = torch.nn.functional.interpolate(tensor[None], size=[new_h, new_w], mode="bilinear",
                                                      align_corners=False, antialias=False)[0]
            assert torch.equal(sample, resized[:, top:top + size, left:left + size]), name
        if stored:
            tensors[f"sample.{name}"] = sample.contiguous()
            metadata[f"sample.{name}.size"] = str(size)
            metadata[f"sample.{name}.top"] = str(top)
            metadata[f"sample.{name}.left"] = str(left)
        else:
            metadata[f"unchanged.{name}.top"] = str(top)
            metadata[f"unchanged.{name}.left"] = str(left)
        metadata[f"colorfulness.image.{name}"] = repr(colorfulness(decoded.astype(np.float64)))
        sample_255 = sample.permute(1, 2, 0).numpy().astype(np.float64) * 255.0
        metadata[f"colorfulness.sample.{name}"] = repr(colorfulness(sample_255))
    assert metadata["sample.wide.left"] == "10" and metadata["unchanged.crop.left"] == "2"
    assert metadata["sample.gray.left"] == "2"

    gen = torch.Generator().manual_seed(SEED)
    gray_in = torch.rand(2, 3, 12, 16, generator=gen)
    tensors["gray.in"] = gray_in
    tensors["gray.out"] = grayscale(gray_in).contiguous()
    assert tensors["gray.out"].shape == (2, 1, 12, 16)

    enhance_in = torch.rand(2, 3, 12, 16, generator=gen)
    enhance_in[0, 0, :2] = 1.0  # saturated red edges, so both clip bounds are reached
    enhance_in[0, 1:, :2] = 0.0
    tensors["enhance.in"] = enhance_in
    for k in (1.2, 1.5):
        out = color_enhance_blend(enhance_in.clone(), k).contiguous()
        assert (out == 0).any() and (out == 1).any(), k
        tensors[f"enhance.k{k}"] = out

    path = os.path.join(args.out, "training_data.safetensors")
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=metadata)
    canonicalize_header(tmp)
    check_saved(tmp, tensors, metadata)
    os.replace(tmp, path)
    total = os.path.getsize(path) + sum(os.path.getsize(os.path.join(image_dir, f)) for f in os.listdir(image_dir))
    print(f"wrote {path} and {len(IMAGES)} images in {image_dir} ({total} bytes in all)")


if __name__ == "__main__":
    main()
