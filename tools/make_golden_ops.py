#!/usr/bin/env python3
"""Writes the golden reference data of bigcolor's primitive ops: tests/golden/<family>.safetensors.

How to run (from the repository root; needs `torch` and `safetensors` from PyPI, CPU only):

    /path/to/python tools/make_golden_ops.py            # writes tests/golden/*.safetensors
    /path/to/python tools/make_golden_ops.py --out DIR  # writes elsewhere (e.g. to diff against the checked-in files)

The program is deterministic: every case draws its data from its own torch.Generator seeded from the file and
case names, PyTorch runs single-threaded with deterministic algorithms, and everything is computed in float32 on
the CPU exactly as PyTorch computes it, so a rerun with the same PyTorch version rewrites identical files (the
safetensors header's metadata is rewritten in sorted order, since the package writes it in hash order). Every case is
also recomputed in float64 and rejected if a stored float32 result is more than CONDITIONING_BAR (1e-6, normalized)
away from it, so the references are accurate far below the 1e-5 bar the C++ ops are held to.

Layout of a file (read by tests/test_golden_ops.cpp through the op table: tests/op_table_golden.cpp):
  - tensors `<case>.<name>`: every input and parameter of the op (`in`, `weight`, `bias`, `a`, `b`, `table`,
    `indices` (I32), `running_mean`, ...), its output(s) (`out`, ...), a random upstream gradient `d_out`, and the
    gradient of every input and parameter computed by autograd from (out * d_out).sum(): `d_in`, `d_weight`, ...
    Batch norm adds `running_mean`/`running_var` (before the step), `running_mean_after`/`running_var_after`, and
    `saved_mean`/`saved_invstd` (training: batch mean over (N, H, W) and 1/sqrt(biased var + eps), computed in float64
    and rounded; eval: running_mean and 1/sqrt(running_var + eps)).
    Scalar outputs (mse, reductions to everything) are stored with shape (1) (one case per reduction stores the
    shape () form), and their d_out holds dL/dout.
  - `__metadata__` (strings): per-case settings `<case>.<setting>` (padding, trans_a, training, momentum, eps,
    factor, op, has_bias, affine, ...) plus a few file-wide entries without a case prefix (`generator`, `torch`).
Case names contain no '.', so the case of a key is everything before its last '.'.
"""

import argparse
import json
import os
import struct
import zlib

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

SEED = 20240917
# Largest normalized error allowed between a stored float32 result and the same computation in float64.
CONDITIONING_BAR = 1e-6
WORST = [(0.0, "")]  # the worst such error seen, printed at the end
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GoldenFile:
    """The cases of one op family, saved as one safetensors file."""

    def __init__(self, name):
        self.name = name
        self.tensors = {}
        self.metadata = {"generator": "tools/make_golden_ops.py", "torch": torch.__version__}
        self.cases = []

    def case(self, case_name):
        assert "." not in case_name and case_name not in self.cases, case_name
        self.cases.append(case_name)
        return Case(self, case_name)

    def save(self, out_dir):
        path = os.path.join(out_dir, self.name + ".safetensors")
        tmp = path + ".tmp"
        save_file(self.tensors, tmp, metadata=self.metadata)
        canonicalize_header(tmp)
        check_saved(tmp, self.tensors, self.metadata)
        os.replace(tmp, path)
        return path


def canonicalize_header(path):
    """safetensors writes `__metadata__` in hash-map order, which changes from run to run. Rewrites the header
    with the metadata sorted by key (tensor entries and data untouched, header padded with spaces to a multiple
    of 8 bytes as the format asks), so reruns give byte-identical files."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = blob[8 + header_len:]
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def check_saved(path, tensors, metadata):
    """Reads the file back with safetensors and checks it holds exactly what was meant."""
    with safe_open(path, framework="pt") as f:
        assert f.metadata() == metadata, path
        assert sorted(f.keys()) == sorted(tensors), path
        for key in f.keys():
            got = f.get_tensor(key)
            assert got.dtype == tensors[key].dtype and torch.equal(got, tensors[key]), (path, key)


class Case:
    """One case: its own seeded generator, and helpers that store tensors and settings under `<case>.`."""

    def __init__(self, golden, name):
        self.golden = golden
        self.name = name
        seed = (SEED + zlib.crc32(f"{golden.name}/{name}".encode())) % (2**63)
        self.gen = torch.Generator().manual_seed(seed)

    def randn(self, *shape):
        return torch.randn(shape, generator=self.gen, dtype=torch.float32)

    def rand(self, *shape, low=0.0, high=1.0):
        return low + (high - low) * torch.rand(shape, generator=self.gen, dtype=torch.float32)

    def randint(self, high, *shape):
        return torch.randint(0, high, shape, generator=self.gen, dtype=torch.int64)

    def put(self, key, tensor):
        full = f"{self.name}.{key}"
        assert full not in self.golden.tensors, full
        tensor = tensor.detach().clone().contiguous()
        assert tensor.dtype in (torch.float32, torch.int32), (full, tensor.dtype)
        if tensor.dtype == torch.float32:
            assert torch.isfinite(tensor).all(), full
        self.golden.tensors[full] = tensor

    def meta(self, key, value):
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, float):
            value = repr(value)
        self.golden.metadata[f"{self.name}.{key}"] = str(value)

    def autograd(self, fn, inputs, grad_names):
        """Stores the inputs, runs out = fn(**inputs) with autograd, draws d_out, stores out, d_out and the
        gradient `d_<name>` of every name in grad_names (from (out * d_out).sum()).

        The same computation is repeated in float64 on the same values, and every stored float32 result must lie
        within CONDITIONING_BAR (normalized error) of it: the reference's own rounding must be far below the 1e-5
        bar the C++ ops are held to, or a correct op could fail against it (an ill-conditioned case is rejected
        here rather than shipped). Returns (out, grads, leaves), leaves being the float32 arguments fn received
        (after it ran: in-place updates such as running statistics are visible there)."""
        for key, value in inputs.items():
            if value is not None:
                self.put(key, value)

        def make_leaves(dtype):
            leaves = {}
            for key, value in inputs.items():
                if value is None:
                    leaves[key] = None
                    continue
                value = value.detach().clone()
                if dtype is not None and value.dtype == torch.float32:
                    value = value.to(dtype)
                leaves[key] = value.requires_grad_(True) if key in grad_names else value
            return leaves

        leaves = make_leaves(None)
        out = fn(**leaves)
        d_out = self.randn(*out.shape)
        (out * d_out).sum().backward()

        leaves64 = make_leaves(torch.float64)
        out64 = fn(**leaves64)
        (out64 * d_out.double()).sum().backward()
        self.check_conditioning("out", out, out64)
        for key, value in leaves.items():  # in-place updated arguments (running statistics)
            if value is not None and key not in grad_names and value.dtype == torch.float32:
                self.check_conditioning(key + " (after)", value, leaves64[key])

        self.put("out", out)
        self.put("d_out", d_out)
        grads = {}
        for key in grad_names:
            grad = leaves[key].grad
            assert grad is not None, (self.name, key)
            assert grad.abs().sum() > 0, f"{self.golden.name}/{self.name}: all-zero gradient d_{key}"
            self.check_conditioning("d_" + key, grad, leaves64[key].grad)
            self.put("d_" + key, grad)
            grads[key] = grad
        return out, grads, leaves

    def check_conditioning(self, what, value32, value64):
        error = ((value32.double() - value64).norm() / value64.norm()).item() if value64.norm() > 0 else 0.0
        WORST[0] = max(WORST[0], (error, f"{self.golden.name}/{self.name}/{what}"))
        assert error <= CONDITIONING_BAR, (
            f"{self.golden.name}/{self.name}/{what}: float32 reference is {error:.3g} from float64 (ill-conditioned)")


# ---- the op families ------------------------------------------------------------------------------------------

def make_conv2d():
    g = GoldenFile("conv2d")
    # (name, B, Cin, Cout, H, W, KH, KW, padding, bias)
    specs = [
        ("k1p0_bias", 3, 3, 5, 7, 5, 1, 1, 0, True),
        ("k1p0_nobias", 3, 5, 7, 7, 5, 1, 1, 0, False),
        ("k1p1_bias", 2, 3, 5, 7, 5, 1, 1, 1, True),
        ("k3p1_bias", 3, 5, 7, 7, 5, 3, 3, 1, True),
        ("k3p1_nobias", 3, 13, 3, 7, 5, 3, 3, 1, False),
        ("k3p0_bias", 3, 7, 13, 7, 5, 3, 3, 0, True),
        ("k3p2_nobias", 2, 3, 5, 7, 5, 3, 3, 2, False),
        ("k5p2_bias", 3, 3, 13, 7, 5, 5, 5, 2, True),
        ("k5p0_nobias", 3, 7, 5, 7, 5, 5, 5, 0, False),
        ("k5p1_bias", 1, 5, 3, 7, 5, 5, 5, 1, True),
        ("k3x5p1_bias", 2, 3, 7, 7, 5, 3, 5, 1, True),
        ("b1_k3p1_c1", 1, 1, 1, 7, 5, 3, 3, 1, True),
    ]
    for name, b, cin, cout, h, w, kh, kw, p, has_bias in specs:
        c = g.case(name)
        c.meta("padding", p)
        c.meta("has_bias", has_bias)
        x = c.randn(b, cin, h, w)
        weight = c.randn(cout, cin, kh, kw) / (cin * kh * kw) ** 0.5
        bias = c.randn(cout) if has_bias else None
        grads = ["in", "weight"] + (["bias"] if has_bias else [])
        c.autograd(lambda **t: F.conv2d(t["in"], t["weight"], t["bias"], padding=p),
                   {"in": x, "weight": weight, "bias": bias}, grads)
    return g


def make_linear():
    g = GoldenFile("linear")
    for name, b, i, o, has_bias in [
        ("b3_i5_o7_bias", 3, 5, 7, True),
        ("b7_i13_o3_nobias", 7, 13, 3, False),
        ("b1_i1_o1_bias", 1, 1, 1, True),
        ("b5_i64_o33_bias", 5, 64, 33, True),
        ("b13_i7_o5_nobias", 13, 7, 5, False),
    ]:
        c = g.case(name)
        c.meta("has_bias", has_bias)
        x = c.randn(b, i)
        weight = c.randn(o, i) / i ** 0.5
        bias = c.randn(o) if has_bias else None
        grads = ["in", "weight"] + (["bias"] if has_bias else [])
        c.autograd(lambda **t: F.linear(t["in"], t["weight"], t["bias"]),
                   {"in": x, "weight": weight, "bias": bias}, grads)
    return g


def make_embedding():
    g = GoldenFile("embedding")
    for name, v, d, indices in [
        ("v7_d5_repeats", 7, 5, [1, 3, 1, 0, 6, 3, 3]),
        ("v13_d3_b9", 13, 3, [12, 0, 5, 5, 7, 12, 2, 9, 5]),
        ("v1_d4_all_same", 1, 4, [0, 0, 0]),
        ("v5_d16_b1", 5, 16, [4]),
    ]:
        c = g.case(name)
        table = c.randn(v, d)
        idx = torch.tensor(indices, dtype=torch.int32)
        c.put("indices", idx)
        c.autograd(lambda **t: F.embedding(idx.long(), t["table"]), {"table": table}, ["table"])
    return g


def make_bmm():
    g = GoldenFile("bmm")
    for shape_name, b, m, k, n in [("b3_m5_k7_n3", 3, 5, 7, 3), ("b2_m13_k4_n9", 2, 13, 4, 9),
                                   ("b1_m1_k6_n1", 1, 1, 6, 1)]:
        for ta in (False, True):
            for tb in (False, True):
                c = g.case(f"{shape_name}_t{int(ta)}{int(tb)}")
                c.meta("trans_a", ta)
                c.meta("trans_b", tb)
                a = c.randn(b, k, m) if ta else c.randn(b, m, k)
                bb = c.randn(b, n, k) if tb else c.randn(b, k, n)

                def fn(a, b, ta=ta, tb=tb):
                    return torch.bmm(a.transpose(1, 2) if ta else a, b.transpose(1, 2) if tb else b)
                c.autograd(fn, {"a": a, "b": bb}, ["a", "b"])
    return g


def make_softmax():
    g = GoldenFile("softmax")
    for name, shape, offset, spread in [
        ("r3_c7", (3, 7), 0.0, 1.0),
        ("r3x5_c7", (3, 5, 7), 0.0, 1.0),
        ("r2x3x5_c13", (2, 3, 5, 13), 0.0, 2.0),
        ("r5_c2", (5, 2), 0.0, 1.0),
        ("r4_c33", (4, 33), 0.0, 3.0),
        ("large_offset", (3, 5), 100.0, 4.0),  # naive exp overflows: needs max subtraction
    ]:
        c = g.case(name)
        x = offset + spread * c.randn(*shape)
        c.autograd(lambda **t: torch.softmax(t["in"], dim=-1), {"in": x}, ["in"])
    return g


def make_activations():
    g = GoldenFile("activations")
    for op, fn in (("relu", torch.relu), ("tanh", torch.tanh)):
        for shape_name, shape in [("4d", (3, 5, 7, 5)), ("2d", (7, 13)), ("1d", (1,))]:
            c = g.case(f"{op}_{shape_name}")
            c.meta("op", op)
            x = c.randn(*shape)
            if op == "relu" and shape_name == "1d":
                x = x.abs() + 0.5  # a one-element relu case must have a nonzero gradient
            c.autograd(lambda fn=fn, **t: fn(t["in"]), {"in": x}, ["in"])
    return g


def make_elementwise():
    g = GoldenFile("elementwise")
    for op in ("add", "mul"):
        for shape_name, shape in [("4d", (3, 5, 7, 5)), ("2d", (7, 13)), ("1d", (1,))]:
            c = g.case(f"{op}_{shape_name}")
            c.meta("op", op)
            fn = (lambda a, b: a + b) if op == "add" else (lambda a, b: a * b)
            c.autograd(lambda fn=fn, **t: fn(t["a"], t["b"]), {"a": c.randn(*shape), "b": c.randn(*shape)},
                       ["a", "b"])
    for name, shape, factor in [("scale_4d_half", (3, 5, 7, 5), 0.5), ("scale_2d_neg", (7, 13), -1.75),
                                ("scale_1d_three", (13,), 3.0), ("scale_3d_third", (3, 7, 5), 1.0 / 3.0)]:
        c = g.case(name)
        c.meta("op", "scale")
        c.meta("factor", factor)
        f32 = float(torch.tensor(factor, dtype=torch.float32))  # the float the C++ side parses
        c.autograd(lambda **t: t["in"] * f32, {"in": c.randn(*shape)}, ["in"])
    return g


def make_upsample():
    g = GoldenFile("upsample")
    for name, shape in [("b3_c5_7x5", (3, 5, 7, 5)), ("b1_c3_1x1", (1, 3, 1, 1)), ("b2_c13_4x3", (2, 13, 4, 3))]:
        c = g.case(name)
        c.autograd(lambda **t: F.interpolate(t["in"], scale_factor=2, mode="nearest"), {"in": c.randn(*shape)},
                   ["in"])
    return g


def make_pooling():
    g = GoldenFile("pooling")
    shapes = [("b3_c5_7x5", (3, 5, 7, 5)), ("b2_c3_4x6", (2, 3, 4, 6)), ("b1_c7_3x2", (1, 7, 3, 2)),
              ("b2_c13_5x9", (2, 13, 5, 9))]
    for op, fn in (("avg", F.avg_pool2d), ("max", F.max_pool2d)):
        for shape_name, shape in shapes:
            c = g.case(f"{op}_{shape_name}")
            c.meta("op", op)
            c.autograd(lambda fn=fn, **t: fn(t["in"], 2, 2), {"in": c.randn(*shape)}, ["in"])
    # Ties: small integers, so many windows hold their maximum twice or more; the gradient goes to the first
    # maximum of the window in row-major order (PyTorch's CPU rule and our contract).
    c = g.case("max_ties_7x5")
    c.meta("op", "max")
    x = c.randint(3, 3, 5, 7, 5).to(torch.float32)
    c.autograd(lambda **t: F.max_pool2d(t["in"], 2, 2), {"in": x}, ["in"])
    return g


def make_batchnorm():
    g = GoldenFile("batchnorm")
    # (name, shape, affine, training, momentum, eps)
    specs = [
        ("bc_train_affine", (7, 5), True, True, 0.1, 1e-5),
        ("bc_train_noaffine", (5, 13), False, True, 0.1, 1e-5),
        ("bc_eval_affine", (7, 5), True, False, 0.1, 1e-5),
        ("bc_eval_noaffine", (3, 13), False, False, 0.1, 1e-5),
        ("bchw_train_affine", (3, 5, 7, 5), True, True, 0.1, 1e-5),
        ("bchw_train_noaffine", (3, 7, 7, 5), False, True, 0.1, 1e-5),
        ("bchw_eval_affine", (3, 5, 7, 5), True, False, 0.1, 1e-5),
        ("bchw_eval_noaffine", (2, 3, 7, 5), False, False, 0.1, 1e-5),
        ("bchw_train_mom03_eps1e3", (3, 13, 7, 5), True, True, 0.3, 1e-3),
        ("bc_eval_mom03_eps1e3", (5, 3), True, False, 0.3, 1e-3),
        ("b1chw_train_affine", (1, 3, 7, 5), True, True, 0.1, 1e-5),
    ]
    for name, shape, affine, training, momentum, eps in specs:
        c = g.case(name)
        c.meta("affine", affine)
        c.meta("training", training)
        c.meta("momentum", momentum)
        c.meta("eps", eps)
        ch = shape[1]
        # Inputs with a per-channel offset and scale, so the statistics are not trivially (0, 1).
        view = (1, ch) + (1,) * (len(shape) - 2)
        x = c.randn(*shape) * c.rand(ch, low=0.5, high=2.0).view(view) + c.randn(ch).view(view)
        weight = c.rand(ch, low=0.5, high=1.5) if affine else None
        bias = c.randn(ch) if affine else None
        running_mean = 0.5 * c.randn(ch)
        running_var = c.rand(ch, low=0.5, high=2.0)
        grads = ["in"] + (["weight", "bias"] if affine else [])
        _, _, args = c.autograd(
            lambda **t: F.batch_norm(t["in"], t["running_mean"], t["running_var"], t["weight"], t["bias"], training,
                                     momentum, eps),
            {"in": x, "weight": weight, "bias": bias, "running_mean": running_mean, "running_var": running_var},
            grads)
        rm, rv = args["running_mean"], args["running_var"]  # updated in place by the training step
        if training:
            assert not torch.equal(rm, running_mean) and not torch.equal(rv, running_var)
        else:
            assert torch.equal(rm, running_mean) and torch.equal(rv, running_var)
        c.put("running_mean_after", rm)
        c.put("running_var_after", rv)
        # saved_mean / saved_invstd: the statistics the forward normalized with.
        dims = [0] + list(range(2, len(shape)))
        if training:
            x64 = x.double()
            mean = x64.mean(dim=dims)
            var = x64.var(dim=dims, unbiased=False)
            saved_mean = mean.float()
            saved_invstd = (1.0 / torch.sqrt(var + eps)).float()
            # Cross-check against PyTorch's own saved statistics.
            _, pt_mean, pt_invstd = torch.ops.aten.native_batch_norm(
                x, weight, bias, running_mean.clone(), running_var.clone(), True, momentum, eps)
            assert torch.allclose(pt_mean, saved_mean, rtol=1e-5, atol=1e-6), name
            assert torch.allclose(pt_invstd, saved_invstd, rtol=1e-5, atol=1e-6), name
        else:
            saved_mean = running_mean.clone()
            saved_invstd = 1.0 / torch.sqrt(running_var + eps)
        c.put("saved_mean", saved_mean)
        c.put("saved_invstd", saved_invstd)
    return g


def make_reduce():
    g = GoldenFile("reduce")
    # (suffix, input shape, number of leading axes kept; None = everything to shape (1); "scalar" = to shape ())
    specs = [
        ("bchw_to_bc", (3, 5, 7, 5), 2),
        ("bchw_to_b", (3, 5, 7, 5), 1),
        ("bchw_to_all", (3, 5, 7, 5), None),
        ("bcl_to_bc", (3, 13, 7), 2),
        ("bc_to_b", (7, 13), 1),
        ("bc_to_all", (7, 13), None),
        ("bchw_to_scalar", (2, 3, 7, 5), "scalar"),
    ]
    for op in ("sum", "mean"):
        for suffix, shape, keep in specs:
            c = g.case(f"{op}_{suffix}")
            c.meta("op", op)

            def fn(op=op, shape=shape, keep=keep, **t):
                x = t["in"]
                if keep == "scalar":
                    return x.sum() if op == "sum" else x.mean()
                if keep is None:
                    return (x.sum() if op == "sum" else x.mean()).reshape(1)
                dims = tuple(range(keep, len(shape)))
                return x.sum(dim=dims) if op == "sum" else x.mean(dim=dims)
            # A reduction over everything of zero-mean values cancels (cond ~ sqrt(n)); an offset keeps the total
            # well away from 0 so the float32 reference stays accurate (see CONDITIONING_BAR).
            offset = 1.0 if keep in (None, "scalar") else 0.0
            c.autograd(fn, {"in": c.randn(*shape) + offset}, ["in"])
    return g


def make_pair_loss(family, loss):
    """A loss of two equal-shaped inputs to one scalar (mse, l1), at a few shapes."""
    g = GoldenFile(family)
    for name, shape in [("bchw", (3, 5, 7, 5)), ("bc", (7, 13)), ("one", (1,)), ("bcl", (3, 13, 7))]:
        c = g.case(name)
        c.autograd(lambda **t: loss(t["a"], t["b"]).reshape(1), {"a": c.randn(*shape), "b": c.randn(*shape)},
                   ["a", "b"])
    return g


def make_mse():
    return make_pair_loss("mse", F.mse_loss)


def make_l1():
    return make_pair_loss("l1", F.l1_loss)


def rgb_to_ab(rgb):
    """CIE Lab a, b of (B, 3, H, W) sRGB as the official utils/color_models.py defines them (its constants; both
    branches of each knee as torch.where over a base kept positive, so autograd gives the branch's slope)."""
    lin = torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                      [0.019334, 0.119193, 0.950227]], dtype=rgb.dtype)
    white = torch.tensor([0.95047, 1.0, 1.08883], dtype=rgb.dtype)[None, :, None, None]
    t = torch.einsum("ij,bjhw->bihw", m, lin) / white
    f = torch.where(t > 0.008856, t.clamp(min=0.008856) ** (1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    return torch.stack([500.0 * (f[:, 0] - f[:, 1]), 200.0 * (f[:, 1] - f[:, 2])], dim=1)


def make_lab():
    g = GoldenFile("lab")
    # Photos' range, a dark one (f's linear branch below t = 0.008856, sRGB's below 0.04045) and odd sizes.
    for name, shape, high in [("b2_7x5", (2, 3, 7, 5), 1.0), ("b1_dark_6x4", (1, 3, 6, 4), 0.08),
                              ("b3_1x9", (3, 3, 1, 9), 1.0)]:
        c = g.case(name)
        c.autograd(lambda **t: rgb_to_ab(t["in"]), {"in": c.rand(*shape, high=high)}, ["in"])
    return g


FAMILIES = [make_conv2d, make_linear, make_embedding, make_bmm, make_softmax, make_activations, make_elementwise,
            make_upsample, make_pooling, make_batchnorm, make_reduce, make_mse, make_l1,
            make_lab]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "golden"),
                        help="output folder (default: tests/golden of this repository)")
    parser.add_argument("--only", nargs="*", default=None, metavar="FAMILY",
                        help="write only these families (file names without .safetensors, e.g. l1)")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)

    os.makedirs(args.out, exist_ok=True)
    total = 0
    for make in FAMILIES:
        if args.only is not None and make.__name__[len("make_"):] not in args.only:
            continue
        golden = make()
        path = golden.save(args.out)
        size = os.path.getsize(path)
        total += size
        print(f"{os.path.relpath(path)}: {len(golden.cases)} cases, {len(golden.tensors)} tensors, {size} bytes")
    print(f"total {total} bytes; worst float32-vs-float64 error {WORST[0][0]:.3g} ({WORST[0][1]})")


if __name__ == "__main__":
    main()
