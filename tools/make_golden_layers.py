#!/usr/bin/env python3
"""Writes the layer-level golden reference data of bigcolor: tests/golden/layers_<case>.safetensors.

How to run (from the repository root; needs `torch` and `safetensors` from PyPI, CPU only, a few seconds; it imports
the file helpers of tools/make_golden_ops.py):

    /path/to/python tools/make_golden_layers.py            # writes tests/golden/layers_*.safetensors
    /path/to/python tools/make_golden_layers.py --out DIR  # writes elsewhere (e.g. to diff against the checked-in)

(/path/to/python: any Python with both packages, e.g. /work/venv-torch/bin/python on the development machine.)

What it holds. Every layer of the official BigColor model (BigGAN's SNConv2d / SNLinear / SNEmbedding with the
power-iteration spectral norm, `ccbn`, the encoder's ClassConditionNorm, `bn`, SA-GAN `Attention`, `GBlock`,
`DBlock` in all its variants, the encoder's `ResConvBlock`) is re-implemented below as a small PyTorch module written
from the facts of the model spec (bigcolor-model.md, sections 2-4), with the official parameter and buffer
names and registration order, so `parameters()` and `state_dict()` list exactly what the official modules list. The
widths are reduced (a few channels, 4x4 to 8x8 images, batch 3); weights, biases, `u0`, `sv0`, `stored_mean`,
`stored_var` and the attention `gamma` (0.7, so the attention path matters) are random, drawn from a torch.Generator
seeded from the case name. Each case is run once in training mode and once in eval mode, each with its own values.

The program is deterministic (seeded generators, one thread, deterministic algorithms, float32 on the CPU; the
safetensors metadata is rewritten in sorted key order), so a rerun with the same PyTorch version writes identical
files. Every case is also recomputed in float64 from the same values and rejected if any stored float32 result is
more than CONDITIONING_BAR (2e-6, normalized error) from it: the references are accurate far below the 1e-5 bar the
C++ layers are held to.

Layout of one file (read by tests/test_golden_layers.cpp), for each mode M in {train, eval}:
  M.before.<name>   every entry of the module's state_dict before the step (official names: `conv1.weight`,
                    `bn1.gain.u0`, `bn1.stored_mean`, `in1.weight`, ...)
  M.<input>         the inputs: `x` (F32), `y` / `c` (F32 conditioning vectors), `indices` (I32)
  M.mask            ResConvBlock with dropout, training only: the dropout mask the step used (0 or 1/(1-p)), in
                    place of nn.Dropout's random draw, i.e. out = (main + residual) * mask
  M.out             the forward output
  M.d_out           a random upstream gradient; every gradient below is that of sum(out * d_out)
  M.d_<input>       the gradient of every F32 input (`d_x`, `d_y`, `d_c`)
  M.grad.<name>     the gradient of every trainable parameter, by its official name (frozen parameters, GBlock's
                    `in1`/`in2`, have none: their gradient must stay zero). Exception: a gradient that is exactly
                    zero in exact arithmetic (in training, the bias of a conv feeding a batch norm: GBlock's
                    `conv1.bias`, ResConvBlock's `conv_1.bias`) is float32 rounding noise, so it is not stored;
                    metadata `M.zero_grads` (JSON {name: name of a gradient giving the scale}) lists them
  M.after.<name>    every buffer after the step (`u0`, `sv0`, `stored_mean`, `stored_var`): updated in training,
                    bitwise unchanged in eval
  __metadata__ (strings): `layer` (the kind of module), its sizes and flags (`in_channels`, `downsample`, ...),
  `parameters` (JSON list: names in PyTorch's parameters() order, frozen ones included), `trainable` (JSON list: the
  names with requires_grad), `state` (JSON list: state_dict names in order), `inputs` (JSON list), `modes`,
  `generator`, `torch`.
"""

import argparse
import copy
import json
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no tools/__pycache__ from the import below
from make_golden_ops import canonicalize_header, check_saved  # noqa: E402  (the ops tool's file helpers)

SEED = 20240921
# The ops tool's bar is 1e-6; a block chains ten or so ops (softmax and spectral-norm backward included), and the
# attention case's theta gradient lands at 1.2e-6. 2e-6 still leaves the references five times below the 1e-5 bar.
CONDITIONING_BAR = 2e-6
SN_EPS = 1e-6   # BigColor's config (SN_eps)
BN_EPS = 1e-5   # BigColor's config (BN_eps), also the encoder's and `bn`'s default
MODES = ("train", "eval")
WORST = [(0.0, "")]
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- the mirror of the official layers ---------------------------------------------------------------------------
# Written from the spec's facts. Names and registration order are the official ones, because they decide the
# state_dict keys and the parameters() order the C++ side must reproduce.

class _SpectralNormed(nn.Module):
    """Base of the SN layers: owns `weight` (and `bias`), then the buffers `u0` (1, rows) and `sv0` (1)."""

    def _register_sn(self, rows):
        self.register_buffer("u0", torch.zeros(1, rows))
        self.register_buffer("sv0", torch.ones(1))

    def sn_weight(self):
        rows = self.weight.shape[0]
        w_mat = self.weight.reshape(rows, -1)
        with torch.no_grad():  # u and v are constants for autograd
            v = F.normalize(torch.matmul(self.u0, w_mat), dim=1, eps=SN_EPS)
            u = F.normalize(torch.matmul(v, w_mat.t()), dim=1, eps=SN_EPS)
        sigma = torch.matmul(torch.matmul(v, w_mat.t()), u.t()).reshape(())
        if self.training:  # the iteration's state advances in training only; eval still uses this step's sigma
            with torch.no_grad():
                self.u0.copy_(u)
                self.sv0.copy_(sigma.reshape(1))
        return self.weight / sigma


class SNLinear(_SpectralNormed):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self._register_sn(out_features)

    def forward(self, x):
        return F.linear(x, self.sn_weight(), self.bias)


class SNConv2d(_SpectralNormed):
    def __init__(self, in_channels, out_channels, kernel_size, padding, bias=True):
        super().__init__()
        self.padding = padding
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self._register_sn(out_channels)

    def forward(self, x):
        return F.conv2d(x, self.sn_weight(), self.bias, padding=self.padding)


class SNEmbedding(_SpectralNormed):
    """BigGAN's SNEmbedding: W_mat is the (num_embeddings, dim) table itself, u0 is (1, num_embeddings)."""

    def __init__(self, num_embeddings, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_embeddings, dim))
        self._register_sn(num_embeddings)

    def forward(self, indices):
        return F.embedding(indices, self.sn_weight())


class _ConditionalBN(nn.Module):
    """out = batch_norm(x; stored statistics, momentum 0.1) * (1 + gain(cond)) + bias(cond), per sample/channel."""

    def __init__(self, channels, gain, bias, eps):
        super().__init__()
        self.gain = gain
        self.bias = bias
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x, cond):
        b = cond.shape[0]
        scale = (1 + self.gain(cond)).reshape(b, -1, 1, 1)
        shift = self.bias(cond).reshape(b, -1, 1, 1)
        normed = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, self.training, 0.1, self.eps)
        return normed * scale + shift


def ccbn(channels, y_dim):
    """The generator's class-conditional BN: SNLinear(y_dim, C) gain and bias without bias terms."""
    return _ConditionalBN(channels, SNLinear(y_dim, channels, bias=False), SNLinear(y_dim, channels, bias=False),
                          BN_EPS)


def class_condition_norm(channels, c_dim):
    """The encoder's ('adabatch'): plain bias-free Linear gain and bias of the class embedding."""
    return _ConditionalBN(channels, nn.Linear(c_dim, channels, bias=False), nn.Linear(c_dim, channels, bias=False),
                          1e-5)


class BN(nn.Module):
    """BigGAN's `bn` (the output layer's): learned `gain`/`bias`, buffers stored_mean/stored_var, default eps."""

    def __init__(self, channels):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x):
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, self.training, 0.1, 1e-5)


class Attention(nn.Module):
    """SA-GAN self-attention: 1x1 SN convs without bias, phi and g max-pooled 2x2, softmax over the N/4 keys
    without scaling, out = gamma * o(...) + x. Children first, gamma last (its place in parameters() is first
    anyway: a module's own parameters precede its children's)."""

    def __init__(self, ch):
        super().__init__()
        self.ch = ch
        self.theta = SNConv2d(ch, ch // 8, 1, 0, bias=False)
        self.phi = SNConv2d(ch, ch // 8, 1, 0, bias=False)
        self.g = SNConv2d(ch, ch // 2, 1, 0, bias=False)
        self.o = SNConv2d(ch // 2, ch, 1, 0, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        b, _, h, w = x.shape
        n = h * w
        queries = self.theta(x).reshape(b, self.ch // 8, n)
        keys = F.max_pool2d(self.phi(x), 2).reshape(b, self.ch // 8, n // 4)
        values = F.max_pool2d(self.g(x), 2).reshape(b, self.ch // 2, n // 4)
        weights = torch.softmax(torch.bmm(queries.transpose(1, 2), keys), dim=-1)  # (b, n, n/4)
        mixed = torch.bmm(values, weights.transpose(1, 2)).reshape(b, self.ch // 2, h, w)
        return self.gamma * self.o(mixed) + x


class GBlock(nn.Module):
    """Generator block (always upsampling here): relu(bn1) -> up -> conv1 -> relu(bn2) -> conv2, plus conv_sc(up(x)).
    in1/in2 are DGP's frozen, unused InstanceNorm2d(affine) layers (parameters only)."""

    def __init__(self, in_ch, out_ch, y_dim):
        super().__init__()
        self.conv1 = SNConv2d(in_ch, out_ch, 3, 1)
        self.conv2 = SNConv2d(out_ch, out_ch, 3, 1)
        self.conv_sc = SNConv2d(in_ch, out_ch, 1, 0)
        self.bn1 = ccbn(in_ch, y_dim)
        self.bn2 = ccbn(out_ch, y_dim)
        self.in1 = nn.InstanceNorm2d(in_ch, affine=True)
        self.in2 = nn.InstanceNorm2d(out_ch, affine=True)
        for p in list(self.in1.parameters()) + list(self.in2.parameters()):
            p.requires_grad_(False)

    def forward(self, x, y):
        up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
        h = self.conv1(up(F.relu(self.bn1(x, y))))
        h = self.conv2(F.relu(self.bn2(h, y)))
        return h + self.conv_sc(up(x))


class DBlock(nn.Module):
    """Wide discriminator block (hidden = out channels); conv_sc exists when in != out or downsampling."""

    def __init__(self, in_ch, out_ch, preactivation, downsample):
        super().__init__()
        self.preactivation = preactivation
        self.downsample = downsample
        self.conv1 = SNConv2d(in_ch, out_ch, 3, 1)
        self.conv2 = SNConv2d(out_ch, out_ch, 3, 1)
        self.learnable_sc = in_ch != out_ch or downsample
        if self.learnable_sc:
            self.conv_sc = SNConv2d(in_ch, out_ch, 1, 0)

    def forward(self, x):
        pool = lambda t: F.avg_pool2d(t, 2) if self.downsample else t  # noqa: E731
        h = F.relu(x) if self.preactivation else x
        h = pool(self.conv2(F.relu(self.conv1(h))))
        sc = x
        if self.preactivation:
            sc = pool(self.conv_sc(sc) if self.learnable_sc else sc)
        else:
            sc = pool(sc)
            sc = self.conv_sc(sc) if self.learnable_sc else sc
        return h + sc


class ResConvBlock(nn.Module):
    """Encoder block, norm 'adabatch', relu, avg pool, use_res. Registration order: conv, conv_1, conv_2,
    normalize_1, normalize_2 (then the parameter-free dropout). Dropout is an explicit mask here."""

    def __init__(self, in_ch, out_ch, c_dim, downsample, dropout):
        super().__init__()
        self.downsample = downsample
        self.dropout = dropout  # a probability or None
        self.conv = nn.Conv2d(in_ch, out_ch, 1, padding=0)
        self.conv_1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv_2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.normalize_1 = class_condition_norm(in_ch, c_dim)
        self.normalize_2 = class_condition_norm(out_ch, c_dim)

    def forward(self, x, c, mask=None):
        pool = lambda t: F.avg_pool2d(t, 2) if self.downsample else t  # noqa: E731
        h = pool(F.relu(self.normalize_1(x, c)))
        h = self.conv_2(F.relu(self.normalize_2(self.conv_1(h), c)))
        out = self.conv(pool(x)) + h
        if self.training and self.dropout is not None:
            out = out * mask
        return out


# ---- the cases -----------------------------------------------------------------------------------------------------
# Each case: a builder returning (module, config metadata, input specs, forward). Input specs: name -> shape
# (float, with gradient) or ("indices", high, count) for int indices.

B = 3


def case_snlinear():
    m = SNLinear(7, 5, bias=True)
    return m, dict(layer="snlinear", in_features=7, out_features=5, bias=1), {"x": (B, 7)}, lambda m, t: m(t["x"])


def case_snconv2d():
    m = SNConv2d(4, 6, 3, 1, bias=True)
    cfg = dict(layer="snconv2d", in_channels=4, out_channels=6, kernel_size=3, padding=1, bias=1, upsampled=0)
    return m, cfg, {"x": (B, 4, 7, 5)}, lambda m, t: m(t["x"])


def case_snconv2d_1x1():
    m = SNConv2d(6, 5, 1, 0, bias=False)
    cfg = dict(layer="snconv2d", in_channels=6, out_channels=5, kernel_size=1, padding=0, bias=0, upsampled=0)
    return m, cfg, {"x": (B, 6, 5, 4)}, lambda m, t: m(t["x"])


def case_snconv2d_up():
    """Not an official module but the official use (GBlock's conv1 after nearest upsampling): the C++ layer's
    forward_upsampled must equal SNConv2d(F.interpolate(x, 2))."""
    m = SNConv2d(5, 6, 3, 1, bias=True)
    cfg = dict(layer="snconv2d", in_channels=5, out_channels=6, kernel_size=3, padding=1, bias=1, upsampled=1)
    return m, cfg, {"x": (B, 5, 4, 3)}, lambda m, t: m(F.interpolate(t["x"], scale_factor=2, mode="nearest"))


def case_snembedding():
    m = SNEmbedding(6, 4)
    cfg = dict(layer="snembedding", num_embeddings=6, dim=4)
    return m, cfg, {"indices": ("indices", 6, 7)}, lambda m, t: m(t["indices"].long())


def case_ccbn():
    m = ccbn(6, 20)
    cfg = dict(layer="ccbn", channels=6, in_features=20)
    return m, cfg, {"x": (B, 6, 5, 4), "y": (B, 20)}, lambda m, t: m(t["x"], t["y"])


def case_class_condition_norm():
    m = class_condition_norm(6, 12)
    cfg = dict(layer="class_condition_norm", channels=6, in_features=12)
    return m, cfg, {"x": (B, 6, 5, 4), "c": (B, 12)}, lambda m, t: m(t["x"], t["c"])


def case_bn():
    m = BN(6)
    return m, dict(layer="bn", channels=6), {"x": (B, 6, 5, 4)}, lambda m, t: m(t["x"])


def case_attention():
    m = Attention(16)
    return m, dict(layer="attention", channels=16), {"x": (B, 16, 8, 8)}, lambda m, t: m(t["x"])


def case_gblock():
    m = GBlock(16, 8, 20)
    cfg = dict(layer="gblock", in_channels=16, out_channels=8, y_dim=20, zero_in_training={"conv1.bias": "conv1.weight"})
    return m, cfg, {"x": (B, 16, 4, 4), "y": (B, 20)}, lambda m, t: m(t["x"], t["y"])


def dblock_case(in_ch, out_ch, preactivation, downsample):
    def build():
        m = DBlock(in_ch, out_ch, preactivation, downsample)
        cfg = dict(layer="dblock", in_channels=in_ch, out_channels=out_ch, preactivation=int(preactivation),
                   downsample=int(downsample))
        return m, cfg, {"x": (B, in_ch, 8, 8)}, lambda m, t: m(t["x"])
    return build


def resconv_case(in_ch, out_ch, downsample, dropout):
    def build():
        m = ResConvBlock(in_ch, out_ch, 12, downsample, dropout)
        cfg = dict(layer="resconvblock", in_channels=in_ch, out_channels=out_ch, c_dim=12,
                   downsample=int(downsample), dropout=repr(float(dropout or 0.0)),
                   zero_in_training={"conv_1.bias": "conv_1.weight"})
        return m, cfg, {"x": (B, in_ch, 8, 6), "c": (B, 12)}, lambda m, t: m(t["x"], t["c"], t.get("mask"))
    return build


CASES = [
    ("snlinear", case_snlinear),
    ("snconv2d", case_snconv2d),
    ("snconv2d_1x1", case_snconv2d_1x1),
    ("snconv2d_up", case_snconv2d_up),
    ("snembedding", case_snembedding),
    ("ccbn", case_ccbn),
    ("class_condition_norm", case_class_condition_norm),
    ("bn", case_bn),
    ("attention", case_attention),
    ("gblock", case_gblock),
    ("dblock_preact_down", dblock_case(8, 16, True, True)),
    ("dblock_preact_nodown", dblock_case(8, 16, True, False)),
    ("dblock_nopreact_down", dblock_case(8, 16, False, True)),
    ("dblock_nopreact_nodown", dblock_case(8, 16, False, False)),
    ("dblock_same_nodown", dblock_case(16, 16, True, False)),  # in == out, no downsampling: no conv_sc
    ("resconv_down_dropout", resconv_case(5, 8, True, 0.2)),
    ("resconv_nodown_dropout", resconv_case(5, 8, False, 0.2)),
    ("resconv_down_nodropout", resconv_case(5, 8, True, None)),
]


# ---- running a case ------------------------------------------------------------------------------------------------

def randomize(module, gen):
    """Random, non-trivial values for every parameter and buffer, by the role its name tells."""
    def randn(*shape):
        return torch.randn(shape, generator=gen)

    def rand(*shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=gen)

    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            owner = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
            if leaf == "gamma":
                p.fill_(0.7)
            elif isinstance(owner, nn.InstanceNorm2d):
                p.copy_(randn(*p.shape))
            elif isinstance(owner, BN):
                p.copy_(rand(*p.shape, low=0.5, high=1.5) if leaf == "gain" else 0.3 * randn(*p.shape))
            elif leaf == "weight":
                fan_in = p[0].numel()
                p.copy_(randn(*p.shape) / fan_in ** 0.5)
            elif leaf == "bias":
                p.copy_(0.2 * randn(*p.shape))
            else:
                raise AssertionError(f"no rule for parameter {name}")
            if isinstance(owner, nn.Linear) and leaf == "weight":
                p.mul_(0.5)  # ClassConditionNorm: gains 1 + O(0.5), away from 0
        for name, buf in module.named_buffers():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "u0":
                buf.copy_(randn(*buf.shape))
            elif leaf == "sv0":
                buf.copy_(rand(*buf.shape, low=0.5, high=2.0))
            elif leaf == "stored_mean":
                buf.copy_(0.3 * randn(*buf.shape))
            elif leaf == "stored_var":
                buf.copy_(rand(*buf.shape, low=0.5, high=2.0))
            else:
                raise AssertionError(f"no rule for buffer {name}")


def run_step(module, forward, inputs, d_out=None, gen=None):
    """One forward and backward of sum(out * d_out). Returns (out, d_out, input grads, param grads, buffers)."""
    leaves = {}
    for key, value in inputs.items():
        value = value.detach().clone()
        if value.is_floating_point() and key != "mask":
            value.requires_grad_(True)
        leaves[key] = value
    out = forward(module, leaves)
    if d_out is None:
        d_out = torch.randn(out.shape, generator=gen)
    (out * d_out.to(out.dtype)).sum().backward()
    d_inputs = {key: v.grad for key, v in leaves.items() if v.requires_grad}
    grads = {name: p.grad for name, p in module.named_parameters() if p.requires_grad}
    buffers = {name: b.detach().clone() for name, b in module.named_buffers()}
    return out.detach(), d_out, d_inputs, grads, buffers


def conditioning(what, value32, value64):
    value64 = value64.detach()
    error = ((value32.double() - value64).norm() / value64.norm()).item() if value64.norm() > 0 else 0.0
    WORST[0] = max(WORST[0], (error, what))
    assert error <= CONDITIONING_BAR, f"{what}: float32 reference is {error:.3g} from float64 (ill-conditioned)"


def make_case(name, build, out_dir):
    tensors = {}
    metadata = {"generator": "tools/make_golden_layers.py", "torch": torch.__version__, "modes": ",".join(MODES)}

    def put(key, tensor):
        assert key not in tensors, key
        tensor = tensor.detach().clone().contiguous()
        assert tensor.dtype in (torch.float32, torch.int32), (key, tensor.dtype)
        if tensor.dtype == torch.float32:
            assert torch.isfinite(tensor).all(), key
        tensors[key] = tensor

    for mode in MODES:
        gen = torch.Generator().manual_seed((SEED + zlib.crc32(f"{name}/{mode}".encode())) % (2**63))
        module, cfg, input_specs, forward = build()
        randomize(module, gen)
        module.train(mode == "train")

        # Parameters whose gradient is exactly zero in training: a conv bias feeding a training-mode batch norm
        # (the normalization removes any per-channel constant). Their float32 gradient is pure rounding noise, so
        # none is stored; `<mode>.zero_grads` maps each to a parameter of the same conv whose gradient gives the
        # scale (the C++ test requires |grad| <= 1e-5 |that gradient|).
        zero_grads = cfg.pop("zero_in_training", {}) if mode == "train" else {}
        cfg.pop("zero_in_training", None)
        metadata[f"{mode}.zero_grads"] = json.dumps(zero_grads, sort_keys=True)
        meta = {k: str(v) for k, v in cfg.items()}
        meta["parameters"] = json.dumps([n for n, _ in module.named_parameters()])
        meta["trainable"] = json.dumps([n for n, p in module.named_parameters() if p.requires_grad])
        meta["state"] = json.dumps(list(module.state_dict().keys()))
        meta["inputs"] = json.dumps(list(input_specs.keys()))
        for k, v in meta.items():  # identical for both modes
            assert metadata.setdefault(k, v) == v, (name, k)

        inputs = {}
        for key, spec in input_specs.items():
            if spec[0] == "indices":
                _, high, count = spec
                idx = torch.randint(0, high, (count,), generator=gen)
                idx[1] = idx[0]  # a repeated index: its gradient rows must accumulate
                inputs[key] = idx.to(torch.int32)
            else:
                inputs[key] = torch.randn(spec, generator=gen)
        dropout = getattr(module, "dropout", None)
        if mode == "train" and isinstance(dropout, float):
            out_shape = forward(copy.deepcopy(module).eval(), inputs).shape
            keep = torch.rand(out_shape, generator=gen) >= dropout
            inputs["mask"] = keep.to(torch.float32) * (1.0 / (1.0 - dropout))
            assert 0 < keep.sum() < keep.numel()

        before = {k: v.detach().clone() for k, v in module.state_dict().items()}
        module64 = copy.deepcopy(module).double()
        out, d_out, d_inputs, grads, buffers = run_step(module, forward, inputs, gen=gen)

        inputs64 = {k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}
        out64, _, d_inputs64, grads64, buffers64 = run_step(module64, forward, inputs64, d_out=d_out.double())
        tag = f"{name}/{mode}"
        conditioning(f"{tag}/out", out, out64)
        for k in d_inputs:
            conditioning(f"{tag}/d_{k}", d_inputs[k], d_inputs64[k])
        for k, ref in zero_grads.items():
            assert grads64[k].norm() <= 1e-12 * grads64[ref].norm(), (tag, k, "gradient is not zero in float64")
        for k in grads:
            if k not in zero_grads:
                conditioning(f"{tag}/grad.{k}", grads[k], grads64[k])
        for k in buffers:
            conditioning(f"{tag}/after.{k}", buffers[k], buffers64[k])

        for k, v in before.items():
            put(f"{mode}.before.{k}", v)
        for k, v in inputs.items():
            put(f"{mode}.{k}", v)
        put(f"{mode}.out", out)
        put(f"{mode}.d_out", d_out)
        for k, v in d_inputs.items():
            assert v.abs().sum() > 0, (tag, k)
            put(f"{mode}.d_{k}", v)
        for k, v in grads.items():
            if k in zero_grads:
                continue
            assert v is not None and v.abs().sum() > 0, (tag, k)
            put(f"{mode}.grad.{k}", v)
        for k, v in buffers.items():
            changed = not torch.equal(v, before[k])
            assert changed == (mode == "train"), (tag, k, "buffer must change in training only")
            put(f"{mode}.after.{k}", v)

    path = os.path.join(out_dir, f"layers_{name}.safetensors")
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=metadata)
    canonicalize_header(tmp)
    check_saved(tmp, tensors, metadata)
    os.replace(tmp, path)
    return path, len(tensors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "golden"),
                        help="output folder (default: tests/golden of this repository)")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)

    os.makedirs(args.out, exist_ok=True)
    total = 0
    for name, build in CASES:
        path, count = make_case(name, build, args.out)
        size = os.path.getsize(path)
        total += size
        print(f"{os.path.relpath(path)}: {count} tensors, {size} bytes")
    assert total < 3 * 1024 * 1024, f"layer golden files total {total} bytes (budget 3 MB)"
    print(f"total {total} bytes; worst float32-vs-float64 error {WORST[0][0]:.3g} ({WORST[0][1]})")


if __name__ == "__main__":
    main()
