#!/usr/bin/env python3
"""Writes the golden reference data of bigcolor's ImageNet classifiers (timm's resnet50d, the plain torchvision-layout
ResNet and the TF-ported EfficientNets, forward in eval mode) to tests/golden/classifiers/.

How to run (from the repository root; needs `torch`, `timm`, `numpy`, `pillow`, `safetensors` and `scikit-image`
(for its bundled sample photos) from PyPI, CPU only, about 15 seconds on 2 cores):

    nice /work/venv-torch/bin/python tools/make_golden_classifier.py            # writes tests/golden/classifiers/
    nice /work/venv-torch/bin/python tools/make_golden_classifier.py --out DIR  # writes elsewhere

No pretrained weights are used: every model is filled with the seeded recipe of `seeded_state` (below), which the C++
test reimplements, so the full-size models' weights are regenerated there instead of being stored. Then the running
statistics of every batch norm are replaced by calibrated ones (`calibrate_bn`, below): the batch statistics of one
float32 forward over both photos. Only these are stored for the full-size models (calibrated_stats.safetensors); the
C++ test takes the seeded state, overwrites exactly those tensors and must reproduce the stored logits. Torch runs
single-threaded; a rerun with the same package versions writes the same values (torch.save archives differ in their
`.data/serialization_id` record, safetensors writes its `__metadata__` in a varying order, PNG bytes depend on PIL's
zlib).

Why calibrated statistics: with the seeded running_mean/running_var (random, not matched to the activations) the
image-dependent signal shrinks about tenfold per stage, so the seeded EfficientNets' logits differed between the two
photos by ~3e-6 relative (the tests would have tested the head only). Calibrated, every batch norm normalises the
activations it actually sees, and the logits depend on the photo: <model>.image_sensitivity =
||l(gray_1) - l(gray_2)|| / ||l(gray_1)|| (printed, stored in the metadata) is 0.36 (resnet50d), 0.73
(tf_efficientnet_b0), 0.72 (tiny_resnetd, s = 64), 0.88 (tiny_efficientnet, s = 64), 0.59 (tiny_resnet, s = 64); the
script warns below 1e-2.

Input pipeline, as BigColor's colorize_real.py feeds its classifier: the 8-bit gray photo as value / 255 in float32
(ToTensor of the 'L' image), shape (1,1,H,W), repeated to (1,3,H,W), resized to (s,s) with
`F.interpolate(mode='bilinear', align_corners=False, antialias=False)` (torchvision 0.11 `Resize` on tensors), NO
ImageNet mean/std normalisation, then model(x) in float32. The same input cast to float64 through model.double()
gives the float64 logits, used only to report (and store in the metadata) how much rounding noise the float32
reference carries: ||l32 - l64|| / ||l64||.

Photos (scikit-image's bundled samples; licences as stated in the skimage.data docstrings of scikit-image 0.26):
  gray_1.png  160 x 120 (W x H) from skimage.data.astronaut(): Eileen Collins, NASA Great Images database, "No known
              copyright restrictions, released into the public domain".
  gray_2.png  96 x 144 (W x H) from skimage.data.coffee(): courtesy of Pikolo Espresso Bar, "No copyright
              restrictions. CC0 by the photographer (Rachel Michetti)".
  Each is cropped to its aspect ratio, converted with PIL `convert('L')` (ITU-R 601-2 luma, integer) and downscaled
  with PIL LANCZOS; every logit is computed from the stored PNG as read back.

Files:
  gray_1.png, gray_2.png          the 8-bit gray input photos
  logits.safetensors              F32 tensors, `__metadata__` holding the seed, package versions, the build calls of
                                  the tiny models and the float32-vs-float64 error of every run (<name>.err64):
      <model>.<image>.logits            (1,1000) for resnet50d and tf_efficientnet_b0, at s = 224
      resnet50d.gray_1.input_gray       (1,1,224,224) the resized input of resnet50d/gray_1 (a test of the resize
                                        alone); its three channels are identical copies, so one is stored: the C++
                                        test checks all three channels of its classifier_input against it
      <tiny>.<image>.s64.logits         (1,10) for tiny_resnetd, tiny_efficientnet and tiny_resnet, both images,
                                        s = 64
      <tiny>.gray_1.s65.logits          (1,10) s = 65 (odd: TF 'same' padding and ceil-mode pooling hit odd sizes),
                                        with the statistics calibrated at s = 64
  calibrated_stats.safetensors    F32, the calibrated running statistics, named <model>.<state-dict key> for every
                                  `.running_mean` and `.running_var` of resnet50d and tf_efficientnet_b0 (s = 224) and
                                  of tiny_resnetd, tiny_efficientnet and tiny_resnet (s = 64; the same values as in
                                  their files, so a C++ test can rebuild those files' expected content exactly);
                                  `__metadata__` says how they were made
  tiny_resnetd.pth / .safetensors, tiny_efficientnet.pth / .safetensors, tiny_resnet.pth / .safetensors
                                  the tiny models' state_dict, torch.save (zip) and safetensors.torch.save_file,
                                  num_batches_tracked included (I64, 0-d, value 0) as timm's own save_for_hf writes
                                  them: every tensor bit for bit the seeded recipe, except the running statistics,
                                  which are the calibrated ones (calibrated at s = 64)
  tiny_efficientnet_missing.safetensors   the same without blocks.2.0.conv_dw.weight
  tiny_resnetd_wrong_shape.safetensors    the same with fc.weight one row short ((9,128) instead of (10,128))
  resnet50d_manifest.txt, tf_efficientnet_b0_manifest.txt, tf_efficientnet_l2_ns_475_manifest.txt,
  torchvision_resnet50_manifest.txt
                                  one line per state_dict entry, in order: name<TAB>shape (comma-separated ints, empty
                                  for a 0-d tensor); first line `# timm <version> <model> state_dict: N entries, P
                                  values (parameters and running statistics, num_batches_tracked excluded), Q
                                  parameters (without running statistics)`, P = the element count of all entries but
                                  num_batches_tracked, Q = that of model.parameters(). The L2 is built on the meta
                                  device. torchvision_resnet50_manifest.txt is torchvision.models.resnet50(weights=
                                  None) (the plain ResNet: 7x7 stem, stride in conv2, strided 1x1 shortcut at
                                  downsample.0/.1), its first line `# torchvision <version> resnet50 state_dict: ...`.
  README.md                       what these files are and the photos' licences

Tiny models (built with timm's own classes, then checked module by module against the full-size model: same module
types, kernel sizes, strides, paddings, pooling modes, BN eps, at the same names):
  tiny_resnetd        timm.models.resnet.ResNet(block=Bottleneck, layers=(1,1,1,1), stem_width=4, stem_type='deep',
                      avg_down=True, channels=(4,8,16,32), num_classes=10)   (the resnet50d structure, 1 block/stage)
  tiny_efficientnet   timm.models.efficientnet._gen_efficientnet('tf_efficientnet_b0', channel_multiplier=0.1,
                      depth_multiplier=0.3, bn_eps=1e-3, pad_type='same', num_classes=10)  (7 stages, 1 block each
                      but 2 in stage 5, so one inverted-residual block has its skip)
  tiny_resnet         timm.models.resnet.ResNet(block=Bottleneck, layers=(1,1,1,1), channels=(4,8,16,32),
                      num_classes=10)   (the plain resnet50 structure, 1 block/stage: conv1 7x7/2 pad 3 with 64
                      channels (timm fixes the single-conv stem at 64; stem_width only sets the deep stems), bn1,
                      maxpool 3/2/1, Bottleneck in 64/16/32/64 mid 4/8/16/32 out 16/32/64/128, the stride in conv2,
                      every shortcut downsample.0 = 1x1 conv with the stage's stride + downsample.1 = BN, fc (10,128))
                      It stands for torchvision's ResNet, whose class fixes the widths (64 .. 512 planes, 2048 out):
                      torchvision's own ResNet(Bottleneck, [1,1,1,1], num_classes=10, width_per_group=4) would be
                      11.9 MB. So the script checks that timm's plain ResNet IS torchvision's layout: timm's resnet50
                      and torchvision's resnet50 have the same state-dict keys in order and the same settings on all
                      108 convs / batch norms / max pool / fc, and, seeded by the recipe (which depends on the names
                      only) and calibrated at s = 64, the same statistics and logits bit for bit; tiny_resnet has
                      exactly the keys (order, dims, kernel sizes, settings) of torchvision's ResNet(Bottleneck,
                      [1,1,1,1]), a subsequence of torchvision's resnet50's.
"""

import argparse
import copy
import os

import numpy as np
import PIL
import safetensors
import skimage
import skimage.data
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image
from safetensors.torch import load_file, save_file
from timm.layers import Conv2dSame
from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual
from timm.models._efficientnet_builder import BN_EPS_TF_DEFAULT
from timm.models.efficientnet import _gen_efficientnet
from timm.models.resnet import Bottleneck, ResNet
from torchvision.models import resnet50 as torchvision_resnet50
from torchvision.models.resnet import Bottleneck as TorchvisionBottleneck, ResNet as TorchvisionResNet

BASE_SEED = 2026
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "golden", "classifiers")

# (file, skimage loader, crop box (left, top, right, bottom) in the original, final size (W, H))
PHOTOS = [
    ("gray_1", skimage.data.astronaut, (0, 16, 512, 400), (160, 120)),
    ("gray_2", skimage.data.coffee, (167, 0, 433, 400), (96, 144)),
]
TINY_RESNETD = dict(block=Bottleneck, layers=(1, 1, 1, 1), stem_width=4, stem_type="deep", avg_down=True,
                    channels=(4, 8, 16, 32), num_classes=10)
TINY_RESNET = dict(block=Bottleneck, layers=(1, 1, 1, 1), channels=(4, 8, 16, 32), num_classes=10)
TINY_EFFICIENTNET = dict(channel_multiplier=0.1, depth_multiplier=0.3, bn_eps=BN_EPS_TF_DEFAULT, pad_type="same",
                         num_classes=10)
MISSING_KEY = "blocks.2.0.conv_dw.weight"

# ---- the seeded weights recipe ----------------------------------------------------------------------------------

M64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def mix(z):
    """The 64-bit finaliser of the recipe, on a numpy uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & M64
    return h


def uniform(name, count, base_seed):
    """u_0 .. u_{count-1} of the tensor `name`: exact float32 values in [0, 1)."""
    stream = mix(np.array([fnv1a64(name) ^ base_seed], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        z = stream + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GOLDEN_GAMMA)
    return (mix(z) >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -24)


def seeded_state(model, base_seed):
    """Overwrites every floating-point tensor of model.state_dict() in place; returns the model in eval mode.

    Recipe (the C++ twin implements the very same; all integers are 64-bit unsigned with wrapping arithmetic):
      - mix(z): z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31).
      - fnv1a64(name): FNV-1a 64 over the UTF-8 bytes of the state-dict key (offset basis 0xcbf29ce484222325,
        prime 0x100000001b3).
      - stream = mix(fnv1a64(name) ^ base_seed)   (base_seed = 2026 for every model here).
      - element i (0-based, flat C order): u_i = float32(mix(stream + (i + 1) * 0x9E3779B97F4A7C15) >> 40) * 2**-24,
        an exact float32 in [0, 1).
      - value by role, all arithmetic in float32 (one rounding per operation, in this order), the first rule that
        matches wins:
          name ends with `.num_batches_tracked`: left as it is (not a float)
          name ends with `.running_var`:   0.5f + u
          name ends with `.running_mean`:  (u - 0.5f) * 0.2f
          other 1-D tensor whose name ends with `.weight` (batch-norm gamma):  0.5f + u
          any 1-D tensor whose name ends with `.bias`:  (u - 0.5f) * 0.2f
          tensors with >= 2 dims (conv / linear weights):  (u - 0.5f) * s, s = float32(2 * sqrt(3 / fan_in))
              computed in float64 and rounded once, fan_in = numel / shape[0]
          anything else: an error (the recipe never silently misses a role).
    The running statistics it writes are then replaced by `calibrate_bn` for every model of this script.
    """
    half, fifth = np.float32(0.5), np.float32(0.2)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if tensor.dtype != torch.float32:
                raise ValueError(f"{name}: {tensor.dtype}, the recipe fills float32 tensors only")
            u = uniform(name, tensor.numel(), base_seed)
            if name.endswith(".running_var"):
                value = half + u
            elif name.endswith(".running_mean"):
                value = (u - half) * fifth
            elif tensor.dim() == 1 and name.endswith(".weight"):
                value = half + u
            elif tensor.dim() == 1 and name.endswith(".bias"):
                value = (u - half) * fifth
            elif tensor.dim() >= 2:
                fan_in = tensor.numel() // tensor.shape[0]
                value = (u - half) * np.float32(2.0 * np.sqrt(3.0 / fan_in))
            else:
                raise ValueError(f"{name}: shape {tuple(tensor.shape)} has no role in the seeded recipe")
            assert value.dtype == np.float32
            tensor.copy_(torch.from_numpy(value.reshape(tuple(tensor.shape))))
    return model.eval()


def calibrate_bn(model, grays, size):
    """Replaces the running statistics of every batch norm by the statistics of one calibration batch; returns the
    calibrated tensors {state-dict key: tensor} and leaves the model in eval mode.

    The batch: both photos, through the classifier pipeline at `size` (classifier_input: value / 255, three equal
    channels, bilinear resize, antialias=False), stacked in the order gray_1, gray_2 -> (2,3,size,size), float32.
    Only the batch norms (nn.BatchNorm2d and timm's BatchNormAct2d) run in train mode, with momentum 1.0, so each
    one's running_mean becomes the batch mean over (N,H,W) and its running_var the UNBIASED batch variance (PyTorch's
    rule, factor n/(n-1), n = N*H*W), both exactly as torch computes them in float32, while each batch norm's output
    is normalised with these batch statistics; everything else (dropout, drop-path) stays in eval mode. One forward
    under torch.no_grad; then num_batches_tracked, which the forward counts up, is reset to 0 (the seeded value) and
    the model goes back to eval mode. The weights and biases (gamma, beta) keep their seeded values.
    """
    x = torch.cat([classifier_input(g, size) for g in grays])
    assert x.dtype == torch.float32 and x.shape == (2, 3, size, size)
    model.eval()
    bns = {n: m for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    momenta = {n: m.momentum for n, m in bns.items()}
    for m in bns.values():
        assert m.track_running_stats and m.num_batches_tracked.item() == 0
        m.momentum = 1.0
        m.train()
    with torch.no_grad():
        model(x)
    stats = {}
    for n, m in bns.items():
        m.num_batches_tracked.zero_()
        m.momentum = momenta[n]
        stats[f"{n}.running_mean"] = m.running_mean.detach().clone()
        stats[f"{n}.running_var"] = m.running_var.detach().clone()
    model.eval()
    sd = model.state_dict()
    assert all(torch.equal(sd[k], t) for k, t in stats.items())
    assert sorted(stats) == sorted(k for k in sd if k.endswith((".running_mean", ".running_var")))
    return stats


def check_uniform_scalar():
    """Restates u_i with Python integers for a few elements: the vectorised form must agree bit for bit."""
    def mix_int(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)
    name = "layer1.0.conv2.weight"
    stream = mix_int(fnv1a64(name) ^ BASE_SEED)
    expect = [np.float32(mix_int((stream + (i + 1) * GOLDEN_GAMMA) & M64) >> 40) * np.float32(2.0 ** -24)
              for i in range(5)]
    assert np.array_equal(uniform(name, 5, BASE_SEED), np.array(expect, dtype=np.float32))


# ---- models -------------------------------------------------------------------------------------------------------

def build_tiny_resnetd():
    return ResNet(**TINY_RESNETD)


def build_tiny_resnet():
    return ResNet(**TINY_RESNET)


def build_tiny_efficientnet():
    return _gen_efficientnet("tf_efficientnet_b0", **TINY_EFFICIENTNET)


def hyper(module):
    """The structure-defining settings of a module (everything but channel counts)."""
    h = {"type": type(module).__name__}
    for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad", "eps",
                 "output_size", "pool_type"):
        if hasattr(module, attr):
            h[attr] = getattr(module, attr)
    if isinstance(module, nn.Conv2d):
        h["depthwise"] = module.groups == module.in_channels and module.groups > 1
        h["grouped"] = module.groups not in (1, module.in_channels)
        h["bias"] = module.bias is not None
    return h


def check_same_structure(tiny, full):
    """Every module of `tiny` exists in `full` under the same name with the same type and settings (skips follow
    from the channel counts and are not compared)."""
    full_modules = dict(full.named_modules())
    for name, module in tiny.named_modules():
        assert name in full_modules, f"{name}: not in the full-size model"
        a, b = hyper(module), hyper(full_modules[name])
        assert a == b, f"{name}: {a} != {b}"


def check_resnetd_layout(model):
    """The resnet50d features the C++ side implements, asserted on the module tree."""
    stem = model.conv1
    assert [type(m).__name__ for m in stem] == ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["Conv2d"]
    assert stem[0].stride == (2, 2) and all(stem[i].kernel_size == (3, 3) for i in (0, 3, 6))
    assert isinstance(model.bn1, nn.BatchNorm2d)
    pool = model.maxpool
    assert isinstance(pool, nn.MaxPool2d) and (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
    for k in range(1, 5):
        block = getattr(model, f"layer{k}")[0]
        stride = 1 if k == 1 else 2
        assert block.conv1.stride == (1, 1) and block.conv2.stride == (stride, stride) and block.conv3.stride == (1, 1)
        down = block.downsample
        assert isinstance(down[1], nn.Conv2d) and down[1].kernel_size == (1, 1) and isinstance(down[2], nn.BatchNorm2d)
        if stride == 1:
            assert isinstance(down[0], nn.Identity)
        else:
            assert isinstance(down[0], nn.AvgPool2d) and down[0].ceil_mode and not down[0].count_include_pad


def check_plain_resnet_layout(model):
    """The plain (torchvision resnet50, 'v1.5') ResNet features the C++ side implements, asserted on the module tree:
    a single 7x7 stride-2 conv1 (padding 3, no bias) + bn1, maxpool 3/2/1, the stride in each stage's first conv2,
    and every projection shortcut a Sequential(1x1 conv with the stride, no bias; BN) at downsample.0 / .1."""
    conv1 = model.conv1
    assert type(conv1) is nn.Conv2d and conv1.bias is None
    assert (conv1.kernel_size, conv1.stride, conv1.padding) == ((7, 7), (2, 2), (3, 3))
    assert isinstance(model.bn1, nn.BatchNorm2d)
    pool = model.maxpool
    assert isinstance(pool, nn.MaxPool2d) and (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)
    assert not pool.ceil_mode
    for k in range(1, 5):
        for j, block in enumerate(getattr(model, f"layer{k}")):
            stride = 2 if k > 1 and j == 0 else 1
            assert block.conv1.stride == (1, 1) and block.conv2.stride == (stride, stride)
            assert block.conv3.stride == (1, 1) and block.conv2.kernel_size == (3, 3)
            down = block.downsample
            if j > 0:
                assert down is None
                continue
            assert isinstance(down, nn.Sequential) and len(down) == 2, f"layer{k}.0.downsample: {down}"
            assert type(down[0]) is nn.Conv2d and down[0].kernel_size == (1, 1) and down[0].bias is None
            assert down[0].stride == (stride, stride) and isinstance(down[1], nn.BatchNorm2d)


def check_torchvision_layout(model, tv):
    """`model` (timm) has the state-dict layout of torchvision's ResNet `tv`: the same keys in the same order, each
    with the same number of dims and the same kernel size, and the same settings (stride, padding, bias, eps, pooling)
    on every conv / batch norm / max pool / linear at the same name; only the channel counts differ."""
    a, b = model.state_dict(), tv.state_dict()
    assert list(a) == list(b), f"state-dict keys differ: {sorted(set(a) ^ set(b))}"
    for k in a:
        assert a[k].dim() == b[k].dim() and a[k].shape[2:] == b[k].shape[2:], f"{k}: {a[k].shape} vs {b[k].shape}"
    mine = dict(model.named_modules())
    kinds = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.Linear)
    compared = 0
    for name, m in tv.named_modules():
        if isinstance(m, kinds):
            assert name in mine and hyper(mine[name]) == hyper(m), f"{name}: {hyper(mine.get(name))} != {hyper(m)}"
            compared += 1
    return compared


def block_table(model):
    """One line per block: kind, in/mid/out channels, kernel, stride, SE (reduced channels), skip."""
    rows = []
    if isinstance(model, ResNet):
        for k in range(1, 5):
            for j, b in enumerate(getattr(model, f"layer{k}")):
                if b.downsample is None:
                    down = "identity"
                elif isinstance(b.downsample[0], nn.Conv2d):  # plain: the 1x1 conv carries the stride
                    down = f"conv1x1 s{b.downsample[0].stride[0]}+bn"
                else:  # resnet-d: AvgPool2d (strided stages) or Identity (stride 1), then a stride-1 1x1 conv
                    down = "avgpool+conv1x1+bn" if not isinstance(b.downsample[0], nn.Identity) else "conv1x1+bn"
                rows.append(f"layer{k}.{j}  Bottleneck  in {b.conv1.in_channels} mid {b.conv1.out_channels} out "
                            f"{b.conv3.out_channels}  k3 s{b.conv2.stride[0]}  se none  skip {down}")
        return rows
    for i, stage in enumerate(model.blocks):
        for j, b in enumerate(stage):
            se = f"se {b.se.conv_reduce.out_channels}" if hasattr(b.se, "conv_reduce") else "se none"
            dw = b.conv_dw
            if isinstance(b, DepthwiseSeparableConv):
                kind, mid, out = "DS", dw.in_channels, b.conv_pw.out_channels
            else:
                assert isinstance(b, InvertedResidual)
                kind, mid, out = "IR", b.conv_pw.out_channels, b.conv_pwl.out_channels
            pad = "same-dynamic" if isinstance(dw, Conv2dSame) else f"static {dw.padding[0]}"
            rows.append(f"blocks.{i}.{j}  {kind}  in {dw.in_channels if kind == 'DS' else b.conv_pw.in_channels} "
                        f"mid {mid} out {out}  k{dw.kernel_size[0]} s{dw.stride[0]} ({pad})  {se}  "
                        f"skip {'yes' if b.has_skip else 'no'}")
    return rows


def write_manifest(path, model, label, library="timm"):
    sd = model.state_dict()
    values = sum(t.numel() for k, t in sd.items() if not k.endswith("num_batches_tracked"))
    params = sum(t.numel() for t in model.parameters())
    assert params == sum(t.numel() for k, t in sd.items()
                         if not k.endswith((".num_batches_tracked", ".running_mean", ".running_var")))
    with open(path, "w") as f:
        version = {"timm": timm.__version__, "torchvision": torchvision.__version__}[library]
        f.write(f"# {library} {version} {label} state_dict: {len(sd)} entries, {values} values (parameters and "
                f"running statistics, num_batches_tracked excluded), {params} parameters (without running "
                f"statistics)\n")
        for k, t in sd.items():
            f.write(f"{k}\t{','.join(str(d) for d in t.shape)}\n")
    return len(sd), values, params


# ---- photos and runs ---------------------------------------------------------------------------------------------

def write_photos(out):
    for name, loader, box, size in PHOTOS:
        gray = Image.fromarray(loader()).convert("L").crop(box).resize(size, Image.LANCZOS)
        gray.save(os.path.join(out, f"{name}.png"), optimize=True)


def read_photo(out, name):
    image = Image.open(os.path.join(out, f"{name}.png"))
    assert image.mode == "L"
    x = torch.from_numpy(np.asarray(image, dtype=np.uint8).astype(np.float32) / np.float32(255))
    return x[None, None]


def classifier_input(gray, size):
    x = gray.repeat(1, 3, 1, 1)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)


def run(model, model64, x):
    with torch.no_grad():
        l32 = model(x)
        l64 = model64(x.double())
    err = (torch.linalg.vector_norm(l32.double() - l64) / torch.linalg.vector_norm(l64)).item()
    return l32, err


def describe(label, logits, err):
    l = logits[0]
    top = torch.topk(l, 5)
    assert torch.isfinite(l).all(), f"{label}: non-finite logits"
    print(f"  {label}: mean {l.mean().item():+.4f} std {l.std().item():.4f} min {l.min().item():+.4f} "
          f"max {l.max().item():+.4f}  f32-vs-f64 {err:.2e}")
    print(f"    top-5 {top.indices.tolist()}  {[round(v, 4) for v in top.values.tolist()]}")
    if not l.std().item() > 1e-3 * max(1.0, l.abs().max().item()) or l.abs().max().item() > 1e6:
        print(f"    WARNING: {label} logits look degenerate")


def save_state(model, path_stem):
    sd = model.state_dict()
    torch.save(sd, path_stem + ".pth")
    save_file(sd, path_stem + ".safetensors")
    return sd


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    torch.set_num_threads(1)
    check_uniform_scalar()

    write_photos(out)
    grays = {name: read_photo(out, name) for name, *_ in PHOTOS}
    for name, g in grays.items():
        print(f"{name}.png: {g.shape[3]} x {g.shape[2]} (W x H), mean {g.mean().item():.4f}")

    tensors, meta = {}, {"seed": str(BASE_SEED), "timm": timm.__version__, "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
                         "scikit-image": skimage.__version__, "safetensors": safetensors.__version__,
                         "tiny_resnetd": "timm.models.resnet.ResNet(block=Bottleneck, layers=(1,1,1,1), stem_width=4,"
                                         " stem_type='deep', avg_down=True, channels=(4,8,16,32), num_classes=10)",
                         "tiny_efficientnet": "timm.models.efficientnet._gen_efficientnet('tf_efficientnet_b0', "
                                              "channel_multiplier=0.1, depth_multiplier=0.3, bn_eps=1e-3, "
                                              "pad_type='same', num_classes=10)",
                         "tiny_resnet": "timm.models.resnet.ResNet(block=Bottleneck, layers=(1,1,1,1), "
                                        "channels=(4,8,16,32), num_classes=10)"}

    def record(key, logits, err):
        tensors[key] = logits.contiguous()
        meta[key.replace(".logits", ".err64")] = f"{err:.3e}"
        describe(key, logits, err)

    def image_sensitivity(prefix, suffix=""):
        """||l(gray_1) - l(gray_2)|| / ||l(gray_1)||: near the float32 noise, the logits barely depend on the input."""
        a, b = tensors[f"{prefix}.gray_1{suffix}.logits"], tensors[f"{prefix}.gray_2{suffix}.logits"]
        rel = (torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(a)).item()
        meta[f"{prefix}.image_sensitivity"] = f"{rel:.3e}"
        print(f"  {prefix}: logits gray_1 vs gray_2 differ by {rel:.2e} (relative)"
              + ("  WARNING: the logits hardly depend on the input" if rel < 1e-2 else ""))

    calibrated, calib_meta = {}, {
        "recipe": "seeded_state(model, 2026), then for every batch norm running_mean = batch mean and running_var = "
                  "unbiased batch variance (n/(n-1)) of one float32 forward, torch.no_grad, with only the batch norms "
                  "in train mode (momentum 1.0; dropout/drop-path in eval), over the batch (gray_1, gray_2) of the "
                  "stored PNGs through the classifier pipeline (value/255, repeated to 3 channels, "
                  "F.interpolate bilinear, align_corners=False, antialias=False, to s x s); weights and biases "
                  "(gamma, beta) stay seeded, num_batches_tracked stays 0",
        "names": "<model>.<state-dict key>", "seed": str(BASE_SEED), "timm": timm.__version__,
        "torch": torch.__version__}

    def calibrate(name, model, size):
        stats = calibrate_bn(model, list(grays.values()), size)
        calibrated.update({f"{name}.{k}": t for k, t in stats.items()})
        calib_meta[f"{name}.size"] = str(size)
        calib_meta[f"{name}.tensors"] = str(len(stats))
        print(f"{name}: {len(stats) // 2} batch norms calibrated at s = {size}")

    # ---- full-size models: logits only, weights regenerated by the C++ test ----
    fulls = {}
    for name in ("resnet50d", "tf_efficientnet_b0"):
        model = seeded_state(timm.create_model(name, pretrained=False), BASE_SEED)
        calibrate(name, model, 224)
        fulls[name] = model
        n, values, params = write_manifest(p(f"{name}_manifest.txt"), model, name)
        print(f"{name}: {n} state_dict entries, {values} values, {params} parameters")
        model64 = copy.deepcopy(model).double()
        for image, g in grays.items():
            x = classifier_input(g, 224)
            if name == "resnet50d" and image == "gray_1":
                assert torch.equal(x[:, 1], x[:, 0]) and torch.equal(x[:, 2], x[:, 0])
                tensors["resnet50d.gray_1.input_gray"] = x[:, :1].contiguous()
            record(f"{name}.{image}.logits", *run(model, model64, x))
        image_sensitivity(name)
        del model64
        # what the C++ test does: a fresh seeded model with exactly the calibrated tensors overwritten
        rebuilt = seeded_state(timm.create_model(name, pretrained=False), BASE_SEED)
        rebuilt.load_state_dict({**rebuilt.state_dict(), **{k[len(name) + 1:]: t for k, t in calibrated.items()
                                                            if k.startswith(name + ".")}})
        with torch.no_grad():
            assert torch.equal(rebuilt(classifier_input(grays["gray_1"], 224)), tensors[f"{name}.gray_1.logits"])
        del rebuilt
    check_resnetd_layout(fulls["resnet50d"])

    with torch.device("meta"):
        l2 = timm.create_model("tf_efficientnet_l2.ns_jft_in1k_475", pretrained=False)
    n, values, params = write_manifest(p("tf_efficientnet_l2_ns_475_manifest.txt"), l2,
                                       "tf_efficientnet_l2.ns_jft_in1k_475")
    print(f"tf_efficientnet_l2.ns_jft_in1k_475: {n} state_dict entries, {values} values, {params} parameters")
    del l2

    # ---- torchvision's resnet50 (the plain ResNet): manifest; timm's resnet50 has its layout, computes the same ----
    tv = torchvision_resnet50(weights=None)
    n, values, params = write_manifest(p("torchvision_resnet50_manifest.txt"), tv, "resnet50", library="torchvision")
    print(f"torchvision resnet50: {n} state_dict entries, {values} values, {params} parameters")
    fulls["resnet50"] = timm.create_model("resnet50", pretrained=False)
    for model in (tv, fulls["resnet50"]):
        check_plain_resnet_layout(model)
    print(f"timm resnet50 vs torchvision resnet50: same state-dict keys, "
          f"{check_torchvision_layout(fulls['resnet50'], tv)} modules with the same settings")
    # the same seeded state (the recipe depends on the names only), calibrated at s = 64: the same logits
    seeded_state(tv, BASE_SEED)
    seeded_state(fulls["resnet50"], BASE_SEED)
    stats_tv = calibrate_bn(tv, list(grays.values()), 64)
    stats_timm = calibrate_bn(fulls["resnet50"], list(grays.values()), 64)
    stat_diff = max((stats_tv[k] - stats_timm[k]).abs().max().item() for k in stats_tv)
    with torch.no_grad():
        x = classifier_input(grays["gray_1"], 64)
        l_tv, l_timm = tv(x), fulls["resnet50"](x)
    rel = (torch.linalg.vector_norm(l_tv - l_timm) / torch.linalg.vector_norm(l_tv)).item()
    print(f"seeded + calibrated at s = 64, gray_1: torchvision vs timm resnet50 statistics differ by at most "
          f"{stat_diff:.2e}, logits by {rel:.2e} (relative)")
    assert rel < 1e-5, "timm's resnet50 does not compute torchvision's"
    del tv, l_tv, l_timm, stats_tv, stats_timm

    # ---- tiny models: stored (both formats) and run ----
    tinies = {"tiny_resnetd": (build_tiny_resnetd(), "resnet50d"),
              "tiny_efficientnet": (build_tiny_efficientnet(), "tf_efficientnet_b0"),
              "tiny_resnet": (build_tiny_resnet(), "resnet50")}
    for name, (model, full_name) in tinies.items():
        check_same_structure(model, fulls[full_name])
        if name == "tiny_resnetd":
            check_resnetd_layout(model)
        elif name == "tiny_resnet":
            check_plain_resnet_layout(model)
            # torchvision's own ResNet at one block per stage (its widths: 64 .. 512, out 2048, 11.9 MB) ...
            tv1 = TorchvisionResNet(TorchvisionBottleneck, [1, 1, 1, 1], num_classes=10)
            compared = check_torchvision_layout(model, tv1)
            # ... whose keys, and so the tiny model's, are those of torchvision's resnet50, in its order
            tv50 = list(torchvision_resnet50(weights=None).state_dict())
            positions = [tv50.index(k) for k in model.state_dict()]
            assert positions == sorted(positions)
            print(f"tiny_resnet: the state-dict keys of torchvision's ResNet(Bottleneck, [1,1,1,1]) ({compared} "
                  f"modules with its settings), a subsequence of torchvision's resnet50's")
            del tv1, tv50
        seeded_state(model, BASE_SEED)
        seeded = copy.deepcopy(model.state_dict())
        calibrate(name, model, 64)
        sd = save_state(model, p(name))
        # what a C++ test rebuilds: the seeded state with exactly the calibrated tensors overwritten
        assert all(torch.equal(sd[k], calibrated[f"{name}.{k}"] if f"{name}.{k}" in calibrated else seeded[k])
                   for k in sd)
        values = sum(t.numel() for k, t in sd.items() if not k.endswith("num_batches_tracked"))
        print(f"{name}: {len(sd)} state_dict entries, {values} values; blocks:")
        for row in block_table(model):
            print("    " + row)
        model64 = copy.deepcopy(model).double()
        for image, g in grays.items():
            record(f"{name}.{image}.s64.logits", *run(model, model64, classifier_input(g, 64)))
        record(f"{name}.gray_1.s65.logits", *run(model, model64, classifier_input(grays["gray_1"], 65)))
        image_sensitivity(name, ".s64")
        for fmt, loaded in (("pth", torch.load(p(name + ".pth"))), ("safetensors", load_file(p(name + ".safetensors")))):
            assert sorted(loaded) == sorted(sd) and all(torch.equal(loaded[k], sd[k]) for k in sd), f"{name}.{fmt}"
    del fulls

    # ---- bad files for the one-line-error tests ----
    sd = dict(tinies["tiny_efficientnet"][0].state_dict())
    assert MISSING_KEY in sd
    del sd[MISSING_KEY]
    save_file(sd, p("tiny_efficientnet_missing.safetensors"))
    sd = dict(tinies["tiny_resnetd"][0].state_dict())
    sd["fc.weight"] = sd["fc.weight"][:-1].contiguous()
    save_file(sd, p("tiny_resnetd_wrong_shape.safetensors"))
    for bad, (model, _) in (("tiny_efficientnet_missing", tinies["tiny_efficientnet"]),
                            ("tiny_resnetd_wrong_shape", tinies["tiny_resnetd"])):
        try:
            copy.deepcopy(model).load_state_dict(load_file(p(bad + ".safetensors")))
            raise AssertionError(f"{bad}: torch loads it")
        except RuntimeError as e:
            print(f"{bad}.safetensors: torch says {str(e).splitlines()[-1].strip()}")

    save_file(tensors, p("logits.safetensors"), metadata=meta)
    save_file(calibrated, p("calibrated_stats.safetensors"), metadata=calib_meta)
    assert all(t.dtype == torch.float32 for t in calibrated.values())
    write_readme(p("README.md"))
    for name in os.listdir(out):
        os.chmod(p(name), 0o644)  # safetensors writes 0600
    print("logits.safetensors tensors:")
    for key, t in tensors.items():
        print(f"  {key}  {tuple(t.shape)}")
    print(f"calibrated_stats.safetensors: {len(calibrated)} tensors, "
          + ", ".join(f"{m}: {calib_meta[m + '.tensors']}" for m in ("resnet50d", "tf_efficientnet_b0", "tiny_resnetd",
                                                                     "tiny_efficientnet", "tiny_resnet")))
    sizes = {name: os.path.getsize(p(name)) for name in sorted(os.listdir(out))}
    for name, size in sizes.items():
        print(f"  {size:9d}  {name}")
    print(f"wrote {len(sizes)} files ({sum(sizes.values())} bytes) to {out}")


def write_readme(path):
    with open(path, "w") as f:
        f.write("""# Classifier golden data

Written by `tools/make_golden_classifier.py` (its docstring describes every file and how to rerun it). No pretrained
weights: every model is filled with the seeded recipe of `seeded_state` in that script (seed 2026), which the C++
test regenerates; only the tiny models' weights are stored.

`tiny_resnet` is the plain ResNet (torchvision's resnet50 layout: 7x7 stem, stride in conv2, strided 1x1 shortcut at
`downsample.0`/`.1`, `fc`), built with timm's plain ResNet at one block per stage and channels (4, 8, 16, 32), since
torchvision's class fixes its widths (its smallest Bottleneck ResNet would be 11.9 MB); the script checks that its
state-dict keys are exactly those of torchvision's `ResNet(Bottleneck, [1, 1, 1, 1])` and that timm's and
torchvision's resnet50 compute the same logits bit for bit from the same seeded state.
`torchvision_resnet50_manifest.txt` lists torchvision's full `resnet50` (names and shapes).

The running statistics (`running_mean`, `running_var`) are calibrated, not seeded: the batch-norm statistics of one
float32 forward over the batch (gray_1, gray_2), only the batch norms in train mode with momentum 1.0 (running_var
is the unbiased batch variance, as PyTorch stores it), at s = 224 for resnet50d and tf_efficientnet_b0 and s = 64 for
the tiny models; weights and biases stay seeded, num_batches_tracked stays 0. `calibrated_stats.safetensors` holds
them all (F32), named `<model>.<state-dict key>`: `resnet50d.`, `tf_efficientnet_b0.`, and also `tiny_resnetd.`,
`tiny_efficientnet.` and `tiny_resnet.`, the same values as inside the tiny models' files, so a C++ test can rebuild
those files' expected content exactly (seeded state, then these tensors overwritten). Every other tensor of the tiny
models' files is bit for bit the seeded recipe.

## Photos

- `gray_1.png` (160 x 120): from `skimage.data.astronaut()`, the astronaut Eileen Collins, from the NASA Great
  Images database; scikit-image states "No known copyright restrictions, released into the public domain".
- `gray_2.png` (96 x 144): from `skimage.data.coffee()`, courtesy of Pikolo Espresso Bar; scikit-image states
  "No copyright restrictions. CC0 by the photographer (Rachel Michetti)".

Both are cropped, converted to 8-bit gray with PIL's `convert('L')` and downscaled with PIL's LANCZOS filter; the
reference logits are computed from these stored PNGs.

## Why calibrated statistics

With seeded running statistics (random, unmatched to the activations) the image-dependent signal shrank about tenfold
per stage: the EfficientNets' logits differed between the two photos by ~3e-6 relative, so the tests would have
tested the head only. Calibrated, the logits depend on the photo: `<model>.image_sensitivity` in the metadata of
`logits.safetensors` (||l(gray_1) - l(gray_2)|| / ||l(gray_1)||) is 0.36 (resnet50d), 0.73 (tf_efficientnet_b0), 0.72
(tiny_resnetd), 0.88 (tiny_efficientnet) and 0.59 (tiny_resnet).
""")


if __name__ == "__main__":
    main()
