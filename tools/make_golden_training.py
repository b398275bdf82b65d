#!/usr/bin/env python3
"""Writes the golden data of bigcolor's training step: five steps of the OFFICIAL BigColor training loop (the body of
train.py's `for i, (x, c)` loop, run by the official code) at reduced width, for the C++ training test to match.

How to run (from the repository root; CPU, one thread, about 20 s; needs torch, torchvision, safetensors and
torch-ema==0.3 from PyPI; scikit-image, which the official utils import for functions not used here, is replaced by
an empty module when missing):

    mkdir -p /tmp/bigcolor_official && git -C <mirror of KIMGEONUNG/BigColor> archive HEAD models utils train.py \
        | tar -x -C /tmp/bigcolor_official
    /work/venv-torch/bin/python tools/make_golden_training.py --official /tmp/bigcolor_official [--out DIR]

The official code is imported at run time from --official; never copy it into this repository.

The run: EG = the official Colorizer at the tiny width of tools/make_golden_colorizer.py (G_ch = D_ch = encoder
ch_unit = 2, 10 classes), loaded strictly from tests/golden/official_tiny/EG_000.ckpt; D = the official
Discriminator(**config), random; VGG = a VGG16 with torchvision's layer indices at widths 4..16, pickled whole for
the official VGG16Perceptual(path, [1, 2, 13, 20]). Five steps of train.py's loop body (B = 2, 64x64 RGB) in float32
without autocast/GradScaler, with its optimizers (Adam, betas (0, 0.999), eps 1e-8) at lr 1e-4 (EG) and 1e-3 (D; see
LR below) and torch_ema's ExponentialMovingAverage(EG.parameters(), 0.999); the encoder's nn.Dropout(0.2) modules
multiply by recorded masks instead. The same run in float64 measures the conditioning: the tool refuses to write when
a stored value (bar the noise-determined ones) is more than 1e-5 (normalized) from it.

What it writes (under --out, default tests/golden/):
  training_tiny/config.pickle      official_tiny/config.pickle with D_attn '32' instead of '64' (see notes); EG and D
                                   are both built from it, as train.py builds both from one config
  training_tiny/D_000.pth          torch.save(D.state_dict()) of the initial D (zip format, like DGP's D_256.pth)
  training_tiny/vgg16_tiny.pth     torch.save(vgg.state_dict()): the key set of torchvision's vgg16-397923af.pth
                                   (features.N.weight/bias, classifier.{0,3,6}.weight/bias)
  training_parity.safetensors      (F32 unless said)
    step{k}.x (2,3,64,64) in [0,1], step{k}.classes (2) I32, step{k}.z (2,119)                  k = 0..4
    step{k}.mask.res{r} (n/32) I32 the dropout mask of E.res{r} (r = 1..4) at step k, BIT-PACKED (as F32 the masks
                                   would take 614 KB): bit j (LSB first) of word i (read as uint32) is element 32i+j
                                   of the C-order flattened mask of shape mask_shape.res{r} (metadata); 1 = kept,
                                   multiplied by 1/0.8 = 1.25; 0 = dropped
    step{k}.loss_d; step{k}.loss_g (= 0.03 * -mean(D(fake, c))); step{k}.mse (= 1.0 * mse); step{k}.lpips (= 0.2 *
                                   perceptual): shape (1), the official loss_d and loss_dic values
    step0.fake_avgpool8 (2,3,8,8)  EG's step-0 output (tanh, [-1, 1]) averaged over 8x8 blocks (the full output would
                                   break the 1.5 MB budget; the step-0 losses pin it down as well)
    step0.grad.EG.<name>           a few EG gradients after step 0's EG backward (before its Adam step)
    step0.grad.D.<name>            a few D gradients after step 0's D backward (before its Adam step)
    final.EG.<name>                EG.state_dict() after step 4 (parameters and buffers), except the entries listed in
                                   metadata `unchanged` (bit-identical to EG_000.ckpt; left out for the size budget)
    final.D.<name>                 every entry of D.state_dict() after step 4 (parameters, u0, sv0)
    final.EMA.<name>               torch_ema's shadow of each EG parameter (named_parameters() order), except those in
                                   `unchanged` (equal to EG_000.ckpt's value, bit for bit)
    metadata: lr, lr_d, betas, eps, coef_*, ema_decay, steps, batch, image_size, vgg_target_layers, dropout_p,
    mask_shape.res{r}, versions, `keys` (this layout), `unchanged`, `noise_determined` (final tensors that rounding
    noise decides, see notes; float64_error leaves them out), float64_error, float64_error_of_change (the same distance
    over ||final - initial|| instead of ||final||), and `notes`: facts of the official step to match (also printed).

Determinism: one generator seeded with SEED draws every value, one thread, deterministic algorithms; the safetensors
header is canonicalized, so reruns are byte-identical (the .pth archives too with torch 2.15; older torch versions
write a random `.data/serialization_id` record).
"""

import argparse
import contextlib
import importlib.metadata
import io
import os
import pickle
import re
import sys
import tempfile
import types

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
import make_golden_colorizer as colorizer  # noqa: E402  (import_official, build_official, biggan_config, ...)
from make_golden_ops import canonicalize_header, check_saved  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240925
STEPS, BATCH, SIZE = 5, 2, 64  # 64: the smallest input the 7-block 256-config discriminator takes
# LR: EG at 1e-4 (train.py's rate). At 1e-3 this float32 run is chaotic: it parts from float64 by 1e-3 in lpips at
# step 4 and 1e-2 in encoder weights (Adam's nearly sign-like steps amplify the rounding of gradients that batch
# norms make nearly cancel), which no float32 re-implementation could match. D is well conditioned: 1e-3 (33x
# train.py's 3e-5) makes every D tensor move measurably.
LR, LR_D, BETAS, EPS = 1e-4, 1e-3, (0.0, 0.999), 1e-8
EMA_DECAY = 0.999
COEF_ADV, COEF_MSE, COEF_LPIPS, COEF_ENHANCE = 0.03, 1.0, 0.2, 1.2
VGG_TARGETS = [1, 2, 13, 20]
VGG_CFG = [4, 4, "M", 8, 8, "M", 8, 8, 8, "M", 16, 16, 16, "M", 16, 16, 16, "M"]
DROPOUT_P = 0.2
FLOAT64_BAR = 1e-5
SIZE_BUDGET = 1.5 * 1024 * 1024
GRAD_EG = ["E.res1.conv.weight", "E.res2.normalize_2.gain.weight", "G.shared.weight", "G.blocks.3.1.gamma",
           "G.blocks.5.0.conv2.weight", "G.output_layer.2.weight"]
GRAD_D = ["blocks.0.0.conv1.weight", "blocks.2.1.gamma", "blocks.2.1.theta.weight", "linear.weight", "embed.weight"]
# Biases whose exact gradient is 0 (they reach the losses only through training-mode batch norms), and the batch
# norm statistics they shift, by the kind of conv they belong to.
ZERO_GRADIENT = re.compile(r"E\.res[1-5]\.conv_1\.bias|G\.blocks\.[2-5]\.0\.conv1\.bias"
                           r"|G\.blocks\.[45]\.0\.(conv2|conv_sc)\.bias")
SHIFTED_NORMS = {
    "conv_1": lambda n: [n.replace("conv_1.bias", "normalize_2.stored_mean")],
    "conv1": lambda n: [n.replace("conv1.bias", "bn2.stored_mean")],
    # block 5's output feeds only output_layer.0; block 4's feeds block 5's bn1 and, through conv_sc, output_layer.0
    "conv2": lambda n: ["G.output_layer.0.stored_mean"] + (["G.blocks.5.0.bn1.stored_mean"] if ".4." in n else []),
}
SHIFTED_NORMS["conv_sc"] = SHIFTED_NORMS["conv2"]


# ---- the official code and the models --------------------------------------------------------------------------------

def import_official(path):
    try:
        import skimage  # noqa: F401
    except ImportError:  # utils/common_utils.py imports skimage.color for Lab helpers this tool does not call
        stub = types.ModuleType("skimage")
        stub.color = types.ModuleType("skimage.color")
        sys.modules["skimage"], sys.modules["skimage.color"] = stub, stub.color
    models = colorizer.import_official(path)
    import utils.common_utils as common  # noqa: E402
    import utils.losses as losses  # noqa: E402
    for module in (common, losses):
        assert os.path.abspath(module.__file__).startswith(os.path.abspath(path)), module.__file__
    return models, losses, common


def quiet(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):  # the official constructors print counts and notices
        return fn(*args, **kwargs)


def tiny_vgg(gen):
    """A genuine torchvision VGG (the class the official vgg16.pickle holds) with vgg16's layer indices, reduced
    widths, weights N(0, 2/fan_in), biases N(0, 0.05^2). Built without VGG.__init__ (its classifier: 120M values)."""
    vgg = torchvision.models.vgg.VGG.__new__(torchvision.models.vgg.VGG)
    nn.Module.__init__(vgg)
    vgg.features = torchvision.models.vgg.make_layers(VGG_CFG)
    vgg.avgpool = nn.AdaptiveAvgPool2d((7, 7))
    vgg.classifier = nn.Sequential(nn.Linear(16 * 7 * 7, 8), nn.ReLU(True), nn.Dropout(), nn.Linear(8, 8),
                                   nn.ReLU(True), nn.Dropout(), nn.Linear(8, 10))
    with torch.no_grad():
        for name, p in vgg.named_parameters():
            scale = (2.0 / p[0].numel()) ** 0.5 if name.endswith("weight") else 0.05
            p.copy_(scale * torch.randn(p.shape, generator=gen))
    assert [i for i, m in enumerate(vgg.features) if isinstance(m, nn.MaxPool2d)] == [4, 9, 16, 23, 30]
    assert all(m.inplace for m in vgg.features if isinstance(m, nn.ReLU))
    return vgg.eval()


def random_discriminator(models, config, gen):
    """D(**config) as train.py builds it; weights N(0, 1/fan_in), biases N(0, 0.1^2), attention gamma 0.7, u0 N(0, 1),
    sv0 U(0.5, 2), all drawn from gen."""
    D = quiet(models.Discriminator, **config)
    with torch.no_grad():
        for name, t in list(D.named_parameters()) + list(D.named_buffers()):
            leaf = name.rsplit(".", 1)[-1]
            rule = {"gamma": lambda: torch.full(t.shape, 0.7),
                    "weight": lambda: torch.randn(t.shape, generator=gen) / (t.numel() / t.shape[0]) ** 0.5,
                    "bias": lambda: 0.1 * torch.randn(t.shape, generator=gen),
                    "u0": lambda: torch.randn(t.shape, generator=gen),
                    "sv0": lambda: 0.5 + 1.5 * torch.rand(t.shape, generator=gen)}[leaf]
            t.copy_(rule())
    return D


class RecordedDropout(nn.Module):
    """Stands in for one encoder block's nn.Dropout(0.2): multiplies its input by the mask set before the step, after
    checking that the input is exactly the block's main + residual (conv(pool(x)) + conv_2(...)), the tensor the
    official dropout receives."""

    def __init__(self, block):
        super().__init__()
        self.mask, self.seen = None, {}
        block.conv.register_forward_hook(lambda m, i, o: self.seen.__setitem__("main", o))
        block.conv_2.register_forward_hook(lambda m, i, o: self.seen.__setitem__("residual", o))

    def forward(self, x):
        assert self.training and self.mask is not None and self.mask.shape == x.shape
        assert torch.equal(x, self.seen.pop("main") + self.seen.pop("residual")), "dropout input is not main + residual"
        mask, self.mask = self.mask, None
        return x * mask


def install_dropouts(EG):
    dropouts = []
    for r in range(1, 5):
        block = getattr(EG.E, f"res{r}")
        assert isinstance(block.dropout, nn.Dropout) and block.dropout.p == DROPOUT_P, block.dropout
        kept = set(block.dropout.train()(torch.ones(4096)).unique().tolist())
        assert kept == {0.0, 1.25}, kept  # the official scaling: kept entries times 1/(1-p)
        block.dropout = RecordedDropout(block)
        dropouts.append(block.dropout)
    assert EG.E.res5.dropout is None
    return dropouts


def build(models, config, eg_path, d_state, vgg_path, dtype):
    EG = quiet(colorizer.build_official, models, config, 2, skip_init=True)
    EG.load_state_dict(torch.load(eg_path, map_location="cpu"), strict=True)
    dropouts = install_dropouts(EG)
    D = quiet(models.Discriminator, **config)
    D.load_state_dict(d_state, strict=True)
    vgg_per = models.VGG16Perceptual(vgg_path, VGG_TARGETS)
    for p in vgg_per.parameters():  # never optimized (train.py lets them collect unused gradients)
        p.requires_grad_(False)
    return EG.to(dtype), D.to(dtype), vgg_per.to(dtype).eval(), dropouts


# ---- inputs and the run ----------------------------------------------------------------------------------------------

def make_inputs(gen, mask_shapes):
    """Photo-like images: bicubic-upsampled 4x4 random colours plus mild noise, clipped to [0, 1]."""
    steps = []
    for _ in range(STEPS):
        low = torch.rand((BATCH, 3, 4, 4), generator=gen)
        x = F.interpolate(low, size=(SIZE, SIZE), mode="bicubic", align_corners=False)
        step = {"x": (x + 0.03 * torch.randn(x.shape, generator=gen)).clamp(0, 1),
                "classes": torch.randint(0, 10, (BATCH,), generator=gen, dtype=torch.int32),
                "z": 0.8 * torch.randn((BATCH, 119), generator=gen)}
        for r, shape in mask_shapes.items():
            step[f"mask.res{r}"] = torch.bernoulli(torch.full(shape, 1 - DROPOUT_P), generator=gen) / (1 - DROPOUT_P)
        steps.append(step)
    return steps


def pack_bits(mask):
    keep = (mask.flatten() != 0).to(torch.int64).view(-1, 32)
    words = (keep << torch.arange(32)).sum(1)
    packed = torch.where(words >= 2 ** 31, words - 2 ** 32, words).to(torch.int32)
    unpacked = ((packed.to(torch.int64) & 0xFFFFFFFF).unsqueeze(1) >> torch.arange(32)) & 1
    assert torch.equal(unpacked.flatten().float() * 1.25, mask.flatten())
    return packed


def train(official, built, steps, dtype):
    """train.py's loop body, STEPS times. Returns the recorded values and every EG gradient of step 0."""
    from torch_ema import ExponentialMovingAverage
    _, losses, common = official
    EG, D, vgg_per, dropouts = built
    args = colorizer.training_args(10, lr=LR, lr_d=LR_D, coef_adv=COEF_ADV, coef_mse=COEF_MSE,
                                   coef_lpips=COEF_LPIPS, coef_enhance=COEF_ENHANCE)
    EG.train()
    D.train()
    optimizer_g = torch.optim.Adam([p for p in EG.parameters() if p.requires_grad], lr=args.lr,
                                   betas=(args.b1, args.b2), eps=EPS)
    optimizer_d = torch.optim.Adam(D.parameters(), lr=args.lr_d, betas=(args.b1_d, args.b2_d), eps=EPS)
    ema = ExponentialMovingAverage(EG.parameters(), decay=EMA_DECAY)
    names = [n for n, _ in EG.named_parameters()]
    d_forwards = []  # (training mode, critic output) of every D forward
    D.register_forward_hook(lambda m, i, o: d_forwards.append((m.training, o[0].detach())))
    rec, grads0 = {}, {}
    probe = dict(EG.named_parameters())[GRAD_EG[0]]  # Adam and EMA checked on it against the formulas of the notes
    probe_v = torch.zeros_like(probe)
    for k, step in enumerate(steps):
        EG.train()
        x, c, z = step["x"].to(dtype), step["classes"].long(), step["z"].to(dtype)
        for r, dropout in enumerate(dropouts, 1):
            dropout.mask = step[f"mask.res{r}"].to(dtype)
        fake = EG(torchvision.transforms.Grayscale()(x), c, z)
        assert all(d.mask is None for d in dropouts), "a recorded mask was not used"
        before = len(d_forwards)
        optimizer_d.zero_grad()
        loss_d = losses.loss_fn_d(D=D, c=c, real=common.color_enhacne_blend(x, args.coef_enhance), fake=fake.detach())
        loss_d.backward()
        if k == 0:
            rec.update({f"step0.grad.D.{n}": dict(D.named_parameters())[n].grad.clone() for n in GRAD_D})
        optimizer_d.step()
        optimizer_g.zero_grad()
        loss, dic = losses.loss_fn_g(D=D, vgg_per=vgg_per, x=x, c=c, args=args, fake=fake)
        loss.backward()
        if k == 0:
            grads0 = {n: p.grad.clone() for n, p in EG.named_parameters() if p.grad is not None}
            rec.update({f"step0.grad.EG.{n}": grads0[n] for n in GRAD_EG})
            rec["step0.fake_avgpool8"] = F.avg_pool2d(fake.detach(), 8)
        probe_v.mul_(BETAS[1]).addcmul_(probe.grad, probe.grad, value=1 - BETAS[1])
        denom = (probe_v.sqrt() / (1 - BETAS[1] ** (k + 1)) ** 0.5).add_(EPS)
        expected = probe.detach().addcdiv(probe.grad, denom, value=-LR)
        optimizer_g.step()
        assert torch.equal(probe, expected), "Adam differs from the formula of the notes"
        shadow = ema.shadow_params[names.index(GRAD_EG[0])].clone()
        ema.update()
        om = torch.tensor(1 - min(EMA_DECAY, (2 + k) / (11 + k)), dtype=dtype)
        assert torch.equal(ema.shadow_params[names.index(GRAD_EG[0])], shadow - (shadow - probe.detach()) * om)
        assert [t for t, _ in d_forwards[before:]] == [True] * 3, "expected three training-mode D forwards per step"
        margin = min((1 - o.abs()).min().item() for _, o in d_forwards[before:])
        assert margin > 0.05, f"a critic output is {margin:.3g} from a hinge kink: ill-conditioned"
        rec[f"step{k}.loss_d"] = loss_d.detach().reshape(1)
        rec.update({f"step{k}.{key}": dic[key].detach().reshape(1) for key in ("loss_g", "mse", "lpips")})
    rec.update({f"final.EG.{n}": t.clone() for n, t in EG.state_dict().items()})
    rec.update({f"final.D.{n}": t.clone() for n, t in D.state_dict().items()})
    assert len(ema.shadow_params) == len(names), "torch_ema 0.3 shadows every parameter it is given"
    rec.update({f"final.EMA.{n}": s.clone() for n, s in zip(names, ema.shadow_params)})
    return rec, grads0


def preprocessing_facts(vgg_per, images):
    """Resize(256) of 64x64 tensors with antialias on vs off (forward and backward), the centre-crop offsets, and what
    the features kept at VGG indices 1 and 2 are (the ReLUs are in place)."""
    resize, crop = vgg_per.preprocess.transforms[0], vgg_per.preprocess.transforms[1]
    forward, backward = [], []
    for img in images:
        ups = [F.interpolate(img, size=(256, 256), mode="bilinear", align_corners=False, antialias=aa)
               for aa in (True, False)]
        assert torch.equal(resize(img), ups[0])
        forward.append((ups[0] - ups[1]).abs().max().item())
        g = torch.randn(ups[0].shape, generator=torch.Generator().manual_seed(1))
        grads = [torch.autograd.functional.vjp(
            lambda t, aa=aa: F.interpolate(t, size=(256, 256), mode="bilinear", align_corners=False, antialias=aa),
            img, g)[1] for aa in (True, False)]
        backward.append(((grads[0] - grads[1]).abs().max() / grads[1].abs().max()).item())
    big = resize(images[0])
    assert torch.equal(crop(big), big[..., 16:240, 16:240]), "crop offsets are not 16"
    with torch.no_grad():
        feats = vgg_per.get_mid_feats(images[0])
        w = vgg_per.model.features
        relu11 = F.relu(F.conv2d(vgg_per.preprocess(images[0]), w[0].weight, w[0].bias, padding=1))
        conv12 = F.conv2d(relu11, w[2].weight, w[2].bias, padding=1)
    assert torch.equal(feats[0], relu11) and torch.equal(feats[1], F.relu(conv12)) and not torch.equal(feats[1], conv12)
    return dict(aa=resize.antialias, forward=max(forward), backward=max(backward))


def normalized(a, ref):
    a, ref = a.double(), ref.double()
    scale = ref.norm().item() if ref.numel() else 1.0
    return (a - ref).norm().item() / (scale if scale > 0 else 1.0)


NOTES = [
    "one step (train.py): EG.train(); x_gray = Grayscale()(x) = (0.2989 R + 0.587 G) + 0.114 B (torchvision: 0.2989, "
    "not the spec's 0.299); fake = EG(x_gray, c, z), ONE EG forward; real = color_enhacne_blend(x, 1.2) = "
    "clip(gray3 * (1 - 1.2) + x * 1.2, 0, 1); D step; EG step; ema.update()",
    "D forwards per step: THREE, all in training mode, each running one power iteration in every SN layer of D and "
    "overwriting its u0 and sv0: (1) D((real - 0.5) * 2, c) then (2) D(fake.detach(), c) inside loss_fn_d, before "
    "the D backward, whose gradient sums both passes, each with its own sigma (pass 2 starts from the u0 pass 1 "
    "wrote); optimizer_d.step(); (3) D(fake, c) inside loss_fn_g with the UPDATED D weights (its D-parameter "
    "gradients are discarded: zero_grad before the next D backward). So every D u0 gets 3 updates per step, 15 in "
    "all. Within a forward: blocks.0 conv1, conv2, conv_sc, ..., attention blocks.2.1 (theta, phi, g, o), ..., "
    "linear, embed (each u0 is independent, so only the per-layer count and the pass order matter)",
    "losses: loss_d = (mean(relu(1 - D_real)) + mean(relu(1 + D_fake))) / 2; loss_g = 0.03 * -mean(D(fake)) (fake "
    "in [-1, 1] as is); mse = 1.0 * mean((x - fake01)^2), fake01 = fake.add(1).div(2); lpips = 0.2 * "
    "VGG16Perceptual(x, fake01); EG loss = loss_g + mse + lpips, summed in that order",
    "EG per step: one training-mode forward: every SN layer of G it runs (blocks 2..5, attention, output conv, the "
    "ccbn gain/bias SNLinears) updates u0/sv0 once; every ccbn, encoder ClassConditionNorm and output BN normalizes "
    "with the biased batch variance and updates stored_mean/stored_var once (momentum 0.1, unbiased variance)",
    "dropout: E.res1..res4 multiply out = conv(pool(x)) + conv_2(...) (main + residual, checked bit for bit) by the "
    "step's mask (0 or 1.25); res5 has none",
    "perceptual: Resize(256), CenterCrop(224) (top = left = int(round((256 - 224) / 2)) = 16, checked), Normalize "
    "(0.485 0.456 0.406 / 0.229 0.224 0.225), VGG features[0..20], kept at 1, 2, 13, 20; loss = sum mean((f_x - "
    "f_fake)^2) / B / 4. features[3] is ReLU(inplace=True), so the tensor kept at index 2 IS relu1_2 (checked: "
    "equal to relu(conv1_2), not conv1_2): targets relu1_1, relu1_2, relu3_2, relu4_2. x's branch has no gradient",
    "Resize(256) of a 64x64 tensor: torchvision {tv} defaults to antialias={aa}; when upsampling the antialiased "
    "kernel is plain bilinear (align_corners False, source (i + 0.5) / 4 - 0.5 clamped at 0 and 63): antialias on vs "
    "off differ by at most {fwd:.2g} (forward, rounding) and {bwd:.2g} relative (backward), so torchvision 0.11's "
    "non-antialiased resize (the official environment) is the same map",
    "Adam (torch {torch}, CPU single-tensor path): per parameter t += 1; m = grad exactly (beta1 0); v = 0.999 v + "
    "0.001 grad^2; param -= lr * m / (sqrt(v) / sqrt(1 - 0.999^t) + 1e-8), in this order, each Python scalar rounded "
    "to float32 (checked bit for bit on E.res1.conv.weight). Parameters whose grad is None are skipped (no state)",
    "no gradient: G.linear.*, G.blocks.0.*, G.blocks.1.* (G starts at block 2) keep grad None, so Adam skips them and "
    "their u0/sv0/statistics are never touched: bit-identical to EG_000.ckpt at the end (checked; listed in "
    "`unchanged`). Zero gradients would give the same (beta1 0: a zero gradient moves nothing). GBlock in1/in2 are "
    "requires_grad False: not in optimizer_g",
    "EMA (torch_ema 0.3): shadows of ALL {nparams} EG parameters, frozen in1/in2 and untrained ones included (they "
    "stay equal to their values; spec section 2's 'only requires_grad' is wrong for 0.3); update n = 1, 2, ...: d = "
    "min(0.999, (1 + n) / (10 + n)), i.e. 2/11, 3/12, 4/13, 5/14, 6/15 here (0.999 only from n = 8991); shadow -= "
    "(1 - d) * (shadow - param), (1 - d) rounded to float32 (checked bit for bit on E.res1.conv.weight)",
    "D_attn is '32' (training_tiny/config.pickle), not '64': at D_ch 2 the attention after blocks.1 would have 4 "
    "channels, theta/phi 4 // 8 = 0, and the official SN layer fails on a zero-element weight (view(0, -1)). With "
    "'32' it is blocks.2.1 (8 channels: theta/phi 1, g 4), on an 8x8 map for 64x64 inputs",
    "exact zero gradients: {nnoise} biases reach the losses only through training-mode batch norms ({noise}); float32 "
    "gives them rounding noise, which Adam (dividing by sqrt(v) + 1e-8) turns into steps of up to lr sqrt(t) (so "
    "|final - initial| <= 8.4 lr over 5 steps). Their values, their EMA shadows and the stored_mean of the norms "
    "they shift ({shifted}) are noise: metadata noise_determined, left out of float64_error (float32 - float64 up "
    "to {noise_abs:.2g} absolute); a re-implementation can only bound them. The official training does the same",
    "conditioning: with lr 1e-3 for EG (not used), float32 and float64 runs part by 1e-3 (lpips, step 4) and 1e-2 "
    "(encoder weights): some gradients (e.g. G.blocks.3.0.conv2.bias, E.res5.conv_2.bias) are only 3e-4 accurate in "
    "float32 because batch norms make them nearly cancel, and Adam's nearly sign-like steps amplify that. At the "
    "rates used the worst final tensor is {change:.2g} of its own change from float64 ({change_key}); the median "
    "tensor moves {movement:.2g} of its norm",
    "not modelled: autocast/GradScaler (the official run is mixed precision), DDP (one process: no effect), the "
    "schedule (train.py calls scheduler.step(epoch) after epoch `epoch`, so epoch e >= 1 runs at base * 0.9^(e-1): "
    "epochs 0 and 1 both at the base rate, unlike spec section 7's 'multiplied by 0.9 each epoch'), the logging "
    "forwards (eval mode, no_grad: they change no state)",
]


# ---- main ------------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--official", required=True, help="folder holding the official models/, utils/, train.py")
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "golden"))
    cli = parser.parse_args()
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    official = import_official(cli.official)

    tiny = os.path.join(REPO_ROOT, "tests", "golden", "official_tiny")
    with open(os.path.join(tiny, "config.pickle"), "rb") as f:
        config = pickle.load(f)
    expected = colorizer.biggan_config(2, 2, 10)
    assert all(config[k] == v for k, v in expected.items() if isinstance(v, (int, float, str))), "config.pickle"
    config["D_attn"] = "32"  # '64' gives D's attention 0-channel theta/phi at D_ch 2, which the official SN rejects
    d_state = {k: v.clone() for k, v in random_discriminator(official[0], config, gen).state_dict().items()}
    vgg = tiny_vgg(gen)
    mask_shapes = {r: (BATCH, 2 << (r - 1), SIZE >> (r - 1), SIZE >> (r - 1)) for r in range(1, 5)}
    steps = make_inputs(gen, mask_shapes)

    with tempfile.TemporaryDirectory() as tmp:
        vgg_path = os.path.join(tmp, "vgg16.pickle")
        with open(vgg_path, "wb") as f:
            pickle.dump(vgg, f)
        eg_path = os.path.join(tiny, "EG_000.ckpt")
        built32 = build(official[0], config, eg_path, d_state, vgg_path, torch.float32)
        built64 = build(official[0], config, eg_path, d_state, vgg_path, torch.float64)
    initial = {k: v.clone() for k, v in built32[0].state_dict().items()}
    facts = preprocessing_facts(built32[2], [steps[0]["x"], steps[1]["x"]])
    rec32, _ = train(official, built32, steps, torch.float32)
    rec64, grads64 = train(official, built64, steps, torch.float64)

    # Left out of final.EG/final.EMA: entries whose state and (parameters) shadow are bit-identical to EG_000.ckpt.
    unchanged = [n for n, v in initial.items()
                 if torch.equal(rec32["final.EG." + n], v) and torch.equal(rec32.get("final.EMA." + n, v), v)]
    untrained = ("G.linear.", "G.blocks.0.", "G.blocks.1.")
    assert all(n.startswith(untrained) or ".in1." in n or ".in2." in n for n in unchanged), unchanged
    assert all(n in unchanged for n in initial if n.startswith(untrained)), "an untrained EG entry changed"
    # The zero-gradient biases, found from the float64 gradients of step 0 and checked against the rule.
    noise = sorted(n for n, g in grads64.items() if n.endswith(".bias") and n[:-4] + "weight" in grads64
                   and g.norm() < 1e-9 * grads64[n[:-4] + "weight"].norm())
    assert set(noise) == {n for n in grads64 if ZERO_GRADIENT.fullmatch(n)}, noise
    noise_keys = [f"final.{w}.{n}" for n in noise for w in ("EG", "EMA")]
    noise_keys += sorted({f"final.EG.{t}" for n in noise for t in SHIFTED_NORMS[n.rsplit(".", 2)[-2]](n)})

    errors = {k: normalized(v, rec64[k]) for k, v in rec32.items() if k not in noise_keys}
    worst_key = max(errors, key=errors.get)
    for key in sorted(errors, key=errors.get, reverse=True)[:5]:
        print(f"float32 vs float64: {key}: {errors[key]:.3g}")
    float64_error = errors[worst_key]
    assert float64_error <= FLOAT64_BAR, f"{worst_key} is {float64_error:.3g} from float64 (bar {FLOAT64_BAR})"
    start = {**{f"final.EG.{n}": v for n, v in initial.items()}, **{f"final.EMA.{n}": v for n, v in initial.items()},
             **{f"final.D.{n}": v for n, v in d_state.items()}}
    moved = {k: (rec64[k] - start[k].double()).norm().item() for k in errors if k.startswith("final.")}
    change = max(((rec32[k].double() - rec64[k]).norm().item() / m, k) for k, m in moved.items() if m > 0)
    movement = sorted(m / max(start[k].double().norm().item(), 1e-30) for k, m in moved.items() if m > 0)
    noise_abs = max((rec32[k].double() - rec64[k]).abs().max().item() for k in noise_keys)
    print(f"float64_error {float64_error:.3g} ({worst_key}); over the change {change[0]:.3g} ({change[1]}); "
          f"{len(noise_keys)} noise-determined tensors, |float32 - float64| <= {noise_abs:.3g}")
    print("losses:", " ".join(f"{k}={v.item():.6g}" for k, v in rec32.items() if k.startswith("step") and
                              k.endswith(("loss_d", "loss_g", "mse", "lpips"))))

    notes = [n.format(torch=torch.__version__, tv=torchvision.__version__, aa=facts["aa"], fwd=facts["forward"],
                      bwd=facts["backward"], nparams=sum(1 for k in rec32 if k.startswith("final.EMA.")),
                      nnoise=len(noise), noise=", ".join(noise),
                      shifted=", ".join(k[9:] for k in noise_keys if "stored_mean" in k), noise_abs=noise_abs,
                      change=change[0], change_key=change[1], movement=movement[len(movement) // 2]) for n in NOTES]
    tensors = {}
    for k, step in enumerate(steps):
        tensors.update({f"step{k}.{key}": step[key] for key in ("x", "classes", "z")})
        tensors.update({f"step{k}.mask.res{r}": pack_bits(step[f"mask.res{r}"]) for r in range(1, 5)})
    tensors.update({k: v for k, v in rec32.items()
                    if not (k.startswith(("final.EG.", "final.EMA.")) and k.split(".", 2)[2] in unchanged)})
    tensors = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    assert all(v.dtype in (torch.float32, torch.int32) for v in tensors.values())
    metadata = {
        "generator": "tools/make_golden_training.py", "torch": torch.__version__,
        "torchvision": torchvision.__version__, "torch_ema": importlib.metadata.version("torch-ema"),
        "lr": repr(LR), "lr_d": repr(LR_D), "betas": repr(list(BETAS)), "eps": repr(EPS),
        "coef_adv": repr(COEF_ADV), "coef_mse": repr(COEF_MSE), "coef_lpips": repr(COEF_LPIPS),
        "coef_enhance": repr(COEF_ENHANCE), "ema_decay": repr(EMA_DECAY), "steps": str(STEPS), "batch": str(BATCH),
        "image_size": str(SIZE), "vgg_target_layers": repr(VGG_TARGETS), "dropout_p": repr(DROPOUT_P),
        "float64_error": f"{float64_error:.3g}", "float64_error_of_change": f"{change[0]:.3g}",
        "noise_determined": ",".join(noise_keys), "noise_determined_max_abs_diff": f"{noise_abs:.3g}",
        "unchanged": ",".join(unchanged), "notes": "\n".join(notes),
        "keys": __doc__[__doc__.index("    step{k}.x"):__doc__.index("    metadata:")].strip(),
    }
    metadata.update({f"mask_shape.res{r}": repr(list(s)) for r, s in mask_shapes.items()})

    out_dir = os.path.join(cli.out, "training_tiny")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.pickle"), "wb") as f:
        pickle.dump(config, f, protocol=4)
    torch.save(d_state, os.path.join(out_dir, "D_000.pth"))
    torch.save(vgg.state_dict(), os.path.join(out_dir, "vgg16_tiny.pth"))
    path = os.path.join(cli.out, "training_parity.safetensors")
    save_file(tensors, path + ".tmp", metadata=metadata)
    canonicalize_header(path + ".tmp")
    check_saved(path + ".tmp", tensors, metadata)
    os.chmod(path + ".tmp", 0o644)
    sizes = {os.path.join(out_dir, f): os.path.getsize(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))}
    sizes[path] = os.path.getsize(path + ".tmp")
    for p, s in sizes.items():
        print(f"{os.path.relpath(p, cli.out)}: {s} bytes")
    total = sum(sizes.values())
    print(f"total {total} bytes (budget {int(SIZE_BUDGET)}); {len(unchanged)} unchanged EG entries left out")
    assert total < SIZE_BUDGET, "golden data over budget"
    os.replace(path + ".tmp", path)
    print("notes:\n- " + "\n- ".join(notes))


if __name__ == "__main__":
    main()
