#!/usr/bin/env python3
"""Writes the golden reference data of bigcolor's image handling: tests/golden/imaging.safetensors and the small
image files of tests/golden/images/ (read by tests/test_imaging.cpp).

How to run (from the repository root; needs `torch`, `torchvision`, `pillow`, `numpy` and `safetensors` from PyPI,
CPU only), with a checkout of the official BigColor repository for its colour conversion module:

    git clone https://github.com/KIMGEONUNG/BigColor /tmp/BigColor      # or any copy holding utils/color_models.py
    /path/to/python tools/make_golden_imaging.py --bigcolor /tmp/BigColor
    /path/to/python tools/make_golden_imaging.py --bigcolor /tmp/BigColor --out DIR   # writes elsewhere

The official `utils/color_models.py` is imported from that folder at run time (never copied here), so the Lab
references are what the official code computes. Everything else is torchvision / PIL behaviour:
  - decoding: PIL `Image.open` + torchvision `ToTensor` (uint8 / 255 in float32). Modes the official pipeline cannot
    use (RGBA, LA, P, 16-bit) are referenced as PIL's `convert` would give them (alpha ignored, palette expanded)
    and 16-bit samples as value / 65535 (full precision; see src/imaging/image.h).
  - gray: torchvision `Grayscale` on the tensor (0.2989 R + 0.587 G + 0.114 B in float32).
  - resize: `torch.nn.functional.interpolate(mode='bilinear', align_corners=False, antialias=False)`, checked equal
    to torchvision `Resize(size, antialias=False)` on the same tensor (torchvision >= 0.17 antialiases tensors by
    default; 0.11, which the official code used, did not: antialias=False reproduces 0.11).
  - sizes: the official `--type_resize` arithmetic restated here in Python floats (powerof, absolute, square),
    and torchvision's own `Resize(int)` output sizes as a cross-check for `absolute`.
  - float -> uint8 when saving: `ToPILImage` of a float tensor = `mul(255)` then truncation to uint8.
The program is deterministic (seeded numpy generator, single-threaded torch); a rerun with the same package versions
rewrites identical files (PNG/JPEG bytes depend on PIL's zlib/libjpeg versions, the decoded values stored beside them
do not, except for the JPEGs, which the test compares with a tolerance).

Layout of imaging.safetensors (all F32 unless said; `__metadata__` holds per-case settings and package versions):
  decode.<file>                  H x W x C expected pixels of tests/golden/images/<file> (C = 1 or 3)
  gray.<file>                    1 x 1 x H x W: ToTensor (+ convert) then Grayscale if 3 channels
  resize.<case>.in / .out        B x C x H x W input and interpolate output; metadata resize.<case>.size = "h,w"
  sizes.<table>                  I32 N x 4 rows (h, w, out_h, out_w); metadata sizes.<table>.mode/target/power
  lab.rgb / lab.lab / lab.rgb_back         rgb2lab and lab2rgb(rgb2lab(x)) of random and edge-case colours
  lab.lab_in / lab.rgb_clip / lab.rgb_noclip  lab2rgb of random (mostly out-of-gamut) Lab values, clip on / off
  fusion.gray / fusion.rgb / fusion.out    colorize_real.py's fusion: L = gray*100, ab of rgb, back to RGB
  quant.in / quant.out (I32)     float -> uint8 as ToPILImage does (mul(255), truncation)
"""

import argparse
import importlib.util
import io
import json
import os
import struct
import sys
import zlib
from math import ceil

import numpy as np
import PIL
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

SEED = 20240918
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(SEED)


def load_official_color_models(folder):
    path = os.path.join(folder, "utils", "color_models.py")
    if not os.path.exists(path):
        path = os.path.join(folder, "color_models.py")
    if not os.path.exists(path):
        sys.exit(f"--bigcolor {folder}: no utils/color_models.py there")
    spec = importlib.util.spec_from_file_location("official_color_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- PNG bytes written by hand, for layouts PIL does not write (16-bit RGB, header-only files) -----------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width, height, bit_depth, color_type, rows=None):
    """A PNG with filter 0 on every row; rows (bytes per row, already packed big-endian) or None for a file that
    has only IHDR and IEND (valid header, no pixel data)."""
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type,
                                                                  0, 0, 0))
    if rows is not None:
        raw = b"".join(b"\x00" + r for r in rows)
        out += png_chunk(b"IDAT", zlib.compress(raw, 9))
    return out + png_chunk(b"IEND", b"")


# ---- the golden file -------------------------------------------------------------------------------------------

class Golden:
    def __init__(self):
        self.tensors = {}
        self.metadata = {"generator": "tools/make_golden_imaging.py", "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "pillow": PIL.__version__}

    def put(self, key, tensor):
        assert key not in self.tensors, key
        tensor = tensor.detach().clone().contiguous()
        assert tensor.dtype in (torch.float32, torch.int32), (key, tensor.dtype)
        if tensor.dtype == torch.float32:
            assert torch.isfinite(tensor).all(), key
        self.tensors[key] = tensor

    def meta(self, key, value):
        self.metadata[key] = str(value)

    def save(self, path):
        tmp = path + ".tmp"
        save_file(self.tensors, tmp, metadata=self.metadata)
        with open(tmp, "rb") as f:  # metadata in sorted order, so reruns give identical bytes
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + n])
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
        text += b" " * (-len(text) % 8)
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + blob[8 + n:])
        with safe_open(tmp, framework="pt") as f:
            assert f.metadata() == self.metadata and sorted(f.keys()) == sorted(self.tensors)
            for key in f.keys():
                assert torch.equal(f.get_tensor(key), self.tensors[key]), key
        os.replace(tmp, path)


def to_tensor_hwc(pil_image):
    """ToTensor (C x H x W, uint8 / 255) returned as H x W x C."""
    t = T.ToTensor()(pil_image)
    assert t.dtype == torch.float32, pil_image.mode
    return t.permute(1, 2, 0).contiguous()


def smooth_image(h, w, channels, noise):
    """A smooth colour field with some noise (JPEG-friendly), uint8 H x W x C."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(channels):
        fy, fx, ph = RNG.uniform(0.05, 0.3), RNG.uniform(0.05, 0.3), RNG.uniform(0, 6.3)
        planes.append(127.5 + 100 * np.sin(fy * y + ph) * np.cos(fx * x - ph))
    img = np.stack(planes, axis=-1) + RNG.normal(0, noise, (h, w, channels))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_images(golden, image_dir):
    os.makedirs(image_dir, exist_ok=True)

    def write(name, data):
        with open(os.path.join(image_dir, name), "wb") as f:
            f.write(data)

    def save_pil(name, pil_image, **params):
        buf = io.BytesIO()
        pil_image.save(buf, **params)
        write(name, buf.getvalue())
        return buf.getvalue()

    def expect(name, hwc, tolerance=None):
        golden.put(f"decode.{name}", hwc)
        if tolerance is not None:
            golden.meta(f"decode.{name}.tolerance", tolerance)

    def expect_gray(name, pil_rgb_or_l):
        t = T.ToTensor()(pil_rgb_or_l)
        if t.shape[0] != 1:
            t = T.Grayscale()(t)
        golden.put(f"gray.{name}", t.unsqueeze(0))

    # Gray 8-bit, every value 0..255 present once at least.
    gray = RNG.permutation(np.arange(23 * 17) % 256).reshape(17, 23).astype(np.uint8)
    save_pil("gray.png", Image.fromarray(gray, "L"), format="PNG")
    expect("gray.png", to_tensor_hwc(Image.open(os.path.join(image_dir, "gray.png"))))
    expect_gray("gray.png", Image.open(os.path.join(image_dir, "gray.png")))

    rgb = RNG.integers(0, 256, (13, 19, 3), dtype=np.uint8)
    rgb[0, 0] = 0
    rgb[0, 1] = 255
    save_pil("rgb.png", Image.fromarray(rgb, "RGB"), format="PNG")
    expect("rgb.png", to_tensor_hwc(Image.open(os.path.join(image_dir, "rgb.png"))))
    expect_gray("rgb.png", Image.open(os.path.join(image_dir, "rgb.png")))

    rgba = RNG.integers(0, 256, (7, 11, 4), dtype=np.uint8)
    save_pil("rgba.png", Image.fromarray(rgba, "RGBA"), format="PNG")
    with Image.open(os.path.join(image_dir, "rgba.png")) as im:
        assert im.mode == "RGBA"
        expect("rgba.png", to_tensor_hwc(im.convert("RGB")))  # alpha ignored, not composited

    la = RNG.integers(0, 256, (6, 9, 2), dtype=np.uint8)
    save_pil("gray_alpha.png", Image.fromarray(la, "LA"), format="PNG")
    with Image.open(os.path.join(image_dir, "gray_alpha.png")) as im:
        assert im.mode == "LA"
        expect("gray_alpha.png", to_tensor_hwc(im.convert("L")))

    # 16-bit gray: PIL reads it as mode I;16, which ToTensor turns into int16 (values above 32767 wrap): the
    # official pipeline cannot use it. Reference: value / 65535 in float32.
    g16 = RNG.integers(0, 65536, (7, 10), dtype=np.uint16)
    g16[0, :4] = [0, 1, 65534, 65535]
    save_pil("gray16.png", Image.fromarray(g16), format="PNG")
    with Image.open(os.path.join(image_dir, "gray16.png")) as im:
        assert im.mode == "I;16", im.mode
        back = np.array(im).astype(np.uint16)
    assert np.array_equal(back, g16)
    expect("gray16.png", (torch.from_numpy(g16.astype(np.float32)) / 65535).unsqueeze(-1))

    # 16-bit RGB, written by hand (PIL would read it back as 8-bit RGB, keeping the high bytes).
    c16 = RNG.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    c16[0, 0] = [0, 65535, 257]
    write("rgb16.png", png_bytes(6, 5, 16, 2, [row.astype(">u2").tobytes() for row in c16]))
    expect("rgb16.png", torch.from_numpy(c16.astype(np.float32)) / 65535)

    # Palette: 16 colours, 4 bits an index.
    palette = RNG.integers(0, 256, (16, 3), dtype=np.uint8)
    idx = RNG.integers(0, 16, (9, 12), dtype=np.uint8)
    pim = Image.fromarray(idx, "P")
    pim.putpalette(palette.flatten().tolist())
    save_pil("palette.png", pim, format="PNG", bits=4)
    with Image.open(os.path.join(image_dir, "palette.png")) as im:
        assert im.mode == "P"
        expect("palette.png", to_tensor_hwc(im.convert("RGB")))
        expect_gray("palette.png", im.convert("RGB"))

    # 1-bit: ToTensor of mode "1" gives 0 and 1.
    bits = (RNG.integers(0, 2, (5, 13)) * 255).astype(np.uint8)
    save_pil("bilevel.png", Image.fromarray(bits, "L").convert("1"), format="PNG")
    with Image.open(os.path.join(image_dir, "bilevel.png")) as im:
        assert im.mode == "1"
        expect("bilevel.png", to_tensor_hwc(im))

    # BMP, 24-bit, a width whose rows need padding.
    bmp = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    bmp_bytes = save_pil("rgb.bmp", Image.fromarray(bmp, "RGB"), format="BMP")
    expect("rgb.bmp", to_tensor_hwc(Image.open(os.path.join(image_dir, "rgb.bmp"))))

    # JPEGs: PIL (libjpeg-turbo) and stb_image decode with different IDCT / colour / upsampling rounding, so the
    # C++ side is held to a small tolerance (max abs, in [0,1] units) rather than exactness.
    jpg = smooth_image(21, 33, 3, 6.0)
    jpg_bytes = save_pil("rgb.jpg", Image.fromarray(jpg, "RGB"), format="JPEG", quality=90)
    with Image.open(os.path.join(image_dir, "rgb.jpg")) as im:
        assert im.mode == "RGB"
        expect("rgb.jpg", to_tensor_hwc(im), tolerance=4 / 255)
        expect_gray("rgb.jpg", im)
    gjpg = smooth_image(19, 26, 1, 6.0)[..., 0]
    save_pil("gray.jpg", Image.fromarray(gjpg, "L"), format="JPEG", quality=85)
    with Image.open(os.path.join(image_dir, "gray.jpg")) as im:
        assert im.mode == "L"
        expect("gray.jpg", to_tensor_hwc(im), tolerance=2 / 255)
    pjpg = smooth_image(24, 17, 3, 4.0)
    save_pil("progressive.jpg", Image.fromarray(pjpg, "RGB"), format="JPEG", quality=80, progressive=True)
    with Image.open(os.path.join(image_dir, "progressive.jpg")) as im:
        expect("progressive.jpg", to_tensor_hwc(im), tolerance=4 / 255)

    # Bad files.
    write("empty.png", b"")
    png = open(os.path.join(image_dir, "rgb.png"), "rb").read()
    write("truncated.png", png[:len(png) // 2])
    broken = bytearray(png)
    broken[len(png) // 2] ^= 0x55  # inside IDAT: the chunk's CRC no longer matches
    write("bad_crc.png", bytes(broken))
    write("not_an_image.png", b"this is a text file, not a PNG image\n")
    write("truncated.jpg", jpg_bytes[:int(len(jpg_bytes) * 0.6)])
    write("truncated.bmp", bmp_bytes[:len(bmp_bytes) - 20])
    write("too_wide.png", png_bytes(20000, 4, 8, 0))            # a side over 16384 (header only)
    write("too_many_pixels.png", png_bytes(12000, 12000, 8, 0))  # 144 megapixels (header only)
    gif = io.BytesIO()
    Image.fromarray(gray[:4, :4], "L").save(gif, format="GIF")
    write("unsupported.gif", gif.getvalue())


def make_resize(golden):
    # (name, B, C, H, W, out_h, out_w)
    specs = [
        ("up2_5x7", 1, 1, 5, 7, 10, 14),
        ("up_odd_13x9_to_32x48", 1, 3, 13, 9, 32, 48),
        ("down_17x23_to_5x7", 2, 3, 17, 23, 5, 7),
        ("down_37x53_to_16x23", 1, 1, 37, 53, 16, 23),
        ("down_far_100x7_to_9x3", 1, 2, 100, 7, 9, 3),
        ("mixed_31x20_to_16x48", 1, 3, 31, 20, 16, 48),
        ("same_size_9x11", 2, 1, 9, 11, 9, 11),
        ("from_1x1_to_3x4", 1, 3, 1, 1, 3, 4),
        ("to_1x1_from_6x5", 1, 3, 6, 5, 1, 1),
        ("one_row_1x9_to_4x5", 1, 1, 1, 9, 4, 5),
        ("powerof_40x30_to_64x48", 1, 1, 40, 30, 64, 48),  # a gray input to the model's size
        ("back_64x48_to_41x29", 1, 3, 64, 48, 41, 29),      # the output back to an original size
    ]
    for name, b, c, h, w, oh, ow in specs:
        x = torch.from_numpy(RNG.uniform(0.0, 1.0, (b, c, h, w)).astype(np.float32))
        out = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False, antialias=False)
        tv = T.Resize((oh, ow), interpolation=T.InterpolationMode.BILINEAR, antialias=False)(x)
        assert torch.equal(out, tv), name
        golden.put(f"resize.{name}.in", x)
        golden.put(f"resize.{name}.out", out)
        golden.meta(f"resize.{name}.size", f"{oh},{ow}")


def official_powerof(h, w, target, power):
    """colorize_real.py's `powerof` resizer, restated: short side -> target, long side -> ceil(long * (target /
    short) / 2**power) * 2**power (Python floats, so an exact multiple can round up one unit), landscape (w > h)
    -> (target, long), otherwise (long, target)."""
    long_side, short_side = max(h, w), min(h, w)
    unit = ceil((long_side * (target / short_side)) / (2 ** power))
    long_new = unit * (2 ** power)
    return (target, long_new) if w > h else (long_new, target)


def official_absolute(h, w, target):
    """torchvision 0.11 Resize(int) on a tensor: short side -> target, long -> int(target * long / short), and the
    image is returned unchanged when its short side already equals target."""
    short_side, long_side = (w, h) if w <= h else (h, w)
    if short_side == target:
        return h, w
    new_short, new_long = target, int(target * long_side / short_side)
    return (new_long, new_short) if w <= h else (new_short, new_long)


def make_sizes(golden):
    shapes = [(1, 1), (5, 300), (300, 5), (256, 256), (255, 257), (480, 640), (640, 480), (1080, 1920), (1920, 1080),
              (3000, 4000), (4000, 3000), (333, 500), (500, 333), (256, 1000), (1000, 256), (97, 97), (182, 273),
              (273, 182), (91, 273), (273, 91), (210, 525), (211, 633), (1234, 567), (17, 4999), (720, 1280)]
    quirks = 0
    for h, w in shapes:  # the float rounding quirk must be present in the table
        long_side, short_side = max(h, w), min(h, w)
        exact = -((-long_side * 256) // (short_side * 16)) * 16
        quirks += official_powerof(h, w, 256, 4)[0 if w <= h else 1] != exact
    assert quirks >= 4, quirks
    for target, power in [(256, 4), (512, 5), (224, 3)]:
        rows = [(h, w) + official_powerof(h, w, target, power) for h, w in shapes]
        key = f"sizes.powerof_{target}_{power}"
        golden.put(key, torch.tensor(rows, dtype=torch.int32))
        golden.meta(key + ".mode", "powerof")
        golden.meta(key + ".target", target)
        golden.meta(key + ".power", power)
    for target in (256, 224):
        rows = []
        for h, w in shapes:
            oh, ow = official_absolute(h, w, target)
            # torchvision's own Resize(int) agrees (it runs on a small tensor: the size is all that matters).
            if h * w <= 4_000_000:
                got = T.Resize(target, antialias=False)(torch.zeros(1, h, w)).shape[-2:]
                assert tuple(got) == (oh, ow), (h, w, target, got, (oh, ow))
            rows.append((h, w, oh, ow))
        key = f"sizes.absolute_{target}"
        golden.put(key, torch.tensor(rows, dtype=torch.int32))
        golden.meta(key + ".mode", "absolute")
        golden.meta(key + ".target", target)


def make_lab(golden, cm):
    # RGB: random colours, then edge cases (black, white, primaries, the sRGB and Lab thresholds' neighbourhoods).
    n_random = 16 * 16
    rgb = RNG.uniform(0.0, 1.0, (3, n_random)).astype(np.float32)
    edges = [0.0, 1.0, 0.04045, np.nextafter(np.float32(0.04045), np.float32(1)),
             np.nextafter(np.float32(0.04045), np.float32(0)), 0.5, 1e-4, 0.01, 0.02, 0.03, 0.06, 0.999]
    extra = []
    for v in edges:
        extra += [[v, v, v], [v, 0, 0], [0, v, 0], [0, 0, v], [1, v, 0], [0, 1, v]]
    extra = np.array(extra, dtype=np.float32).T
    dark = RNG.uniform(0.0, 0.08, (3, 16 * 4)).astype(np.float32)  # around the 0.008856 f(t) threshold
    cols = np.concatenate([rgb, extra, dark], axis=1)
    cols = cols[:, :(cols.shape[1] // 16) * 16]
    rgb_t = torch.from_numpy(cols).reshape(3, 16, -1).contiguous()
    lab = cm.rgb2lab(rgb_t)
    back = cm.lab2rgb(lab)
    golden.put("lab.rgb", rgb_t)
    golden.put("lab.lab", lab)
    golden.put("lab.rgb_back", back)
    assert (back - rgb_t).abs().max() < 1e-4

    # Lab values all over the box, most of them out of the sRGB gamut, including fz < 0 (b large, L small).
    lab_in = np.stack([RNG.uniform(0, 100, 400), RNG.uniform(-128, 128, 400), RNG.uniform(-128, 128, 400)])
    lab_in[:, :4] = np.array([[0, 0, 0], [100, 0, 0], [5, 0, 120], [50, 127, -127]]).T  # columns are (L, a, b)
    lab_t = torch.from_numpy(lab_in.astype(np.float32)).reshape(3, 20, 20).contiguous()
    golden.put("lab.lab_in", lab_t)
    golden.put("lab.rgb_clip", cm.lab2rgb(lab_t, clip=True))
    golden.put("lab.rgb_noclip", cm.lab2rgb(lab_t, clip=False))
    fz = (lab_t[0] + 16) / 116 - lab_t[2] / 200
    assert (fz < 0).any()

    # colorize_real.py's fusion: the network's RGB output (in [0,1]) gives a and b, the gray input gives L.
    gray = torch.from_numpy(RNG.uniform(0, 1, (1, 13, 17)).astype(np.float32))
    gray[0, 0, :3] = torch.tensor([0.0, 1.0, 0.5])
    out_rgb = torch.from_numpy(RNG.uniform(0, 1, (3, 13, 17)).astype(np.float32))
    lab_f = torch.cat([gray * 100, cm.rgb2lab(out_rgb)[..., 1:, :, :]], dim=0)
    golden.put("fusion.gray", gray)
    golden.put("fusion.rgb", out_rgb)
    golden.put("fusion.out", cm.lab2rgb(lab_f))


def make_quant(golden):
    k = np.arange(256, dtype=np.float32)
    values = np.concatenate([
        k / np.float32(255),
        np.nextafter(k / np.float32(255), np.float32(-1)),
        np.nextafter(k / np.float32(255), np.float32(2)),
        (k + np.float32(0.5)) / np.float32(255),
        RNG.uniform(0, 1, 256).astype(np.float32),
    ]).astype(np.float32)
    values = np.clip(values, 0, 1).astype(np.float32)
    t = torch.from_numpy(values)
    old = t.mul(255).byte()  # torchvision 0.11 ToPILImage
    new = np.array(T.ToPILImage()(t.reshape(1, 1, -1)))[0]  # current torchvision
    assert np.array_equal(old.numpy(), new)
    golden.put("quant.in", t)
    golden.put("quant.out", old.to(torch.int32))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bigcolor", required=True,
                        help="folder holding the official BigColor code (utils/color_models.py)")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "golden"),
                        help="output folder (default: tests/golden of this repository)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cm = load_official_color_models(args.bigcolor)

    golden = Golden()
    image_dir = os.path.join(args.out, "images")
    make_images(golden, image_dir)
    make_resize(golden)
    make_sizes(golden)
    make_lab(golden, cm)
    make_quant(golden)
    path = os.path.join(args.out, "imaging.safetensors")
    golden.save(path)
    total = os.path.getsize(path) + sum(os.path.getsize(os.path.join(image_dir, f)) for f in os.listdir(image_dir))
    print(f"{os.path.relpath(path)}: {len(golden.tensors)} tensors; with images/ {total} bytes")
    assert total < 1_000_000


if __name__ == "__main__":
    main()
