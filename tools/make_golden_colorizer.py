#!/usr/bin/env python3
"""Writes the whole-model golden data of bigcolor: a tiny BigColor checkpoint in the OFFICIAL file formats, the
outputs it must produce, and the parameter/state manifest of the full-width model.

How to run (from the repository root; needs `torch` and `safetensors` from PyPI, CPU only, about a minute, most of
it for the full-width manifest; it imports the layer mirror of tools/make_golden_layers.py):

    /work/venv-torch/bin/python tools/make_golden_colorizer.py                 # writes into tests/golden/
    /work/venv-torch/bin/python tools/make_golden_colorizer.py --out DIR       # writes elsewhere
    /work/venv-torch/bin/python tools/make_golden_colorizer.py --official DIR  # also checks the mirror against the
        # official code: DIR holds a copy of the official repository's `models/` package (KIMGEONUNG/BigColor), e.g.
        #   mkdir -p /tmp/bigcolor_official && git -C <mirror of KIMGEONUNG/BigColor> archive HEAD models \
        #     | tar -x -C /tmp/bigcolor_official
        # Never copy that code into this repository. torchvision (imported by the official models/common.py for its
        # VGG loss only) is replaced by an empty stand-in module when it is not installed.

What it writes:
  official_tiny/EG_000.ckpt       torch.save(EG.state_dict()) (zip format) of a reduced-width colorizer, every
                                  parameter and buffer random (weights ~ N(0, 1/fan_in), biases, stored statistics,
                                  u0/sv0, the attention gamma 0.7, the class embedding ~ N(0, 1)).
  official_tiny/EG_EMA_000.ckpt   a torch_ema-style state dict {'decay', 'num_updates', 'shadow_params',
                                  'collected_params': None}; shadow_params is a list in EG.parameters() order holding
                                  ONLY the parameters with requires_grad (GBlock in1/in2 are frozen, as in DGP's
                                  GBlock), each = the raw value plus noise (10% of its RMS), so EMA outputs differ.
                                  (torch_ema 0.3, which the official environment pins, keeps shadows of ALL parameters;
                                  the C++ loader accepts both lengths and its test builds the all-parameter list.)
  official_tiny/args.pkl          pickle.dump (protocol 4) of an argparse.Namespace with every field of the official
                                  train.py parser (norm_type 'adabatch', activation 'relu', num_layer 2, dim_f 16,
                                  dim_z 119, use_attention False, no_res False, ...).
  official_tiny/config.pickle     pickle.dump of a dict shaped like DGP's BigGAN config (the keys BigGAN-PyTorch's
                                  parser and DGP give it) at the reduced width, with an nn.ReLU(inplace=True) object
                                  under 'G_activation' and 'D_activation' as the real file has.
  official_tiny_variants/         small files for the loader's refusals: args_norm_batch.pkl (norm_type 'batch'),
                                  args_use_attention.pkl (use_attention True), args_dim_z_120.pkl (dim_z 120),
                                  config_norm_in.pickle (norm_style 'in'), config_attn_32.pickle (G_attn '32', which
                                  disagrees with the checkpoint's attention block).
  colorizer_parity.safetensors    eval-mode outputs of the tiny colorizer (see PARITY LAYOUT below).
  bigcolor_full_manifest.json     the FULL-width official colorizer (DGP's BigGAN-256 config, 1000 classes, G_ch 96,
                                  encoder ch 96): "parameters": [[name, shape, requires_grad], ...] in
                                  EG.parameters() order, "state": [[name, shape], ...] in state_dict order, counts.

The tiny configuration keeps every structural fact of BigColor and only reduces widths: G_ch = D_ch = encoder
ch_unit = 2 (so the attention after generator block 3 has 8 channels: theta/phi 1, g 4), n_classes 10, dim_z 120 (7
chunks of 17, 119 used), shared_dim 128 (the official encoder's ResConvBlock hard-wires a 128-d class embedding, so it
cannot be reduced), resolution 256 (six generator blocks, attention at 64), hier, shared embedding, BN_eps 1e-5,
SN_eps 1e-6. Width 2 rather than 4 keeps official_tiny + the parity file under 2 MB (at width 4 the two checkpoints
alone hold 2 x 1.4 MB).

PARITY LAYOUT (tests/golden/colorizer_parity.safetensors, read by tests/test_official_checkpoint.cpp):
  x (2, 1, 32, 48) gray input in [0, 1] (non-square; H, W multiples of 16), classes (2) I32, z (2, 119) ~ N(0, 0.8^2)
  mix.classes_a, mix.classes_b (2) I32     the two classes mixed by forward_with_c
  <w>.out            EG(x, classes, z), w in {raw, ema} (raw: EG_000.ckpt; ema: parameters from shadow_params)
  <w>.c_embed        c_scale * (mix_a * G.shared(classes_a) + mix_b * G.shared(classes_b)) + c_bias  (2, 128)
  <w>.out_with_c     EG.forward_with_c(x, <w>.c_embed, z)
  <w>.features       the encoder's output E(x, G.shared(classes)) (2, 16, 2, 3), for diagnosing a mismatch
  metadata: mix_a, mix_b, c_scale, c_bias (decimal strings of the float32 values used), config (JSON), generator,
  torch, float64_error (the worst normalized distance of a stored float32 result from the same computation in
  float64; the tool refuses to write above 1e-5, so the C++ bar of 1e-4 measures the C++ code, not the reference).

Determinism: seeded generators, one thread, float32 on the CPU; the safetensors header is canonicalized. torch.save
archives differ from run to run only in their `.data/serialization_id` record.
"""

import argparse
import collections
import copy
import json
import os
import pickle
import sys
import types

import torch
import torch.nn as nn
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no tools/__pycache__ from the imports below
import make_golden_layers as mirror  # noqa: E402  (the mirror of every official layer)
from make_golden_ops import canonicalize_header, check_saved  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20240922
FLOAT64_BAR = 1e-5
SIZE_BUDGET = 2 * 1024 * 1024  # official_tiny + the parity file

# ---- configurations -------------------------------------------------------------------------------------------------


def biggan_config(G_ch, D_ch, n_classes):
    """A dict shaped like DGP's BigGAN-256 config.pickle: the BigGAN-PyTorch parser's keys plus what its utils add
    (resolution, n_classes, G_activation/D_activation). Values as DGP's BigGAN-256 except the widths asked for."""
    relu = nn.ReLU(inplace=True)
    return collections.OrderedDict([
        ("dataset", "I256"), ("augment", False), ("num_workers", 8), ("pin_memory", True), ("shuffle", True),
        ("load_in_mem", False), ("use_multiepoch_sampler", False),
        ("model", "BigGAN"), ("G_param", "SN"), ("D_param", "SN"), ("G_ch", G_ch), ("D_ch", D_ch),
        ("G_depth", 1), ("D_depth", 1), ("D_wide", True), ("G_shared", True), ("shared_dim", 128),
        ("dim_z", 120), ("z_var", 1.0), ("hier", True), ("cross_replica", False), ("mybn", False),
        ("G_nl", "inplace_relu"), ("D_nl", "inplace_relu"), ("G_attn", "64"), ("D_attn", "64"),
        ("norm_style", "bn"), ("seed", 0), ("G_init", "ortho"), ("D_init", "ortho"), ("skip_init", False),
        ("G_lr", 5e-05), ("D_lr", 0.0002), ("G_B1", 0.0), ("D_B1", 0.0), ("G_B2", 0.999), ("D_B2", 0.999),
        ("batch_size", 256), ("G_batch_size", 0), ("num_G_accumulations", 8), ("num_D_steps", 2),
        ("num_D_accumulations", 8), ("split_D", False), ("num_epochs", 100), ("parallel", True),
        ("G_fp16", False), ("D_fp16", False), ("D_mixed_precision", False), ("G_mixed_precision", False),
        ("accumulate_stats", False), ("num_standing_accumulations", 16), ("G_eval_mode", True),
        ("save_every", 1000), ("num_save_copies", 2), ("num_best_copies", 5), ("which_best", "IS"),
        ("no_fid", False), ("test_every", 2000), ("num_inception_images", 50000), ("hashname", False),
        ("base_root", ""), ("data_root", "data"), ("weights_root", "weights"), ("logs_root", "logs"),
        ("samples_root", "samples"), ("pbar", "mine"), ("name_suffix", ""), ("experiment_name", ""),
        ("config_from_name", False), ("ema", True), ("ema_decay", 0.9999), ("use_ema", True), ("ema_start", 20000),
        ("adam_eps", 1e-06), ("BN_eps", 1e-05), ("SN_eps", 1e-06), ("num_G_SVs", 1), ("num_D_SVs", 1),
        ("num_G_SV_itrs", 1), ("num_D_SV_itrs", 1), ("G_ortho", 0.0), ("D_ortho", 0.0), ("toggle_grads", True),
        ("which_train_fn", "GAN"), ("load_weights", ""), ("resume", False), ("logstyle", "%3.3e"),
        ("log_G_spectra", False), ("log_D_spectra", False), ("sv_log_interval", 10),
        ("resolution", 256), ("n_classes", n_classes), ("G_activation", relu), ("D_activation", relu),
    ])


def training_args(n_classes, **overrides):
    """Every field of the official train.py parser, with the values of the paper's run (scripts/train_v1.0.1.sh)."""
    fields = collections.OrderedDict([
        ("task_name", "bigcolor_v1"), ("detail", "Train for bigcolor"), ("norm_type", "adabatch"),
        ("activation", "relu"), ("weight_init", "ortho"), ("path_log", "runs"), ("path_ckpts", "ckpts"),
        ("path_config", "./pretrained/config.pickle"), ("path_vgg", "./pretrained/vgg16.pickle"),
        ("path_ckpt_g", "./pretrained/G_ema_256.pth"), ("path_ckpt_d", "./pretrained/D_256.pth"),
        ("path_imgnet_train", "./imgnet/train"), ("path_imgnet_val", "./imgnet/val"),
        ("index_target", list(range(n_classes))), ("num_worker", 8), ("iter_sample", 3), ("retrain", False),
        ("retrain_epoch", None), ("num_layer", 2), ("num_epoch", 12), ("dim_f", 16), ("no_res", False),
        ("no_cond_e", False), ("interval_save_loss", 20), ("interval_save_train", 150),
        ("interval_save_test", 2000), ("interval_save_ckpt", 4000), ("finetune_g", True), ("finetune_d", True),
        ("lr", 0.0001), ("b1", 0.0), ("b2", 0.999), ("lr_d", 3e-05), ("b1_d", 0.0), ("b2_d", 0.999),
        ("use_schedule", True), ("schedule_decay", 0.9), ("schedule_type", "mult"), ("print_config", False),
        ("no_pretrained_g", False), ("no_pretrained_d", False), ("loss_mse", True), ("loss_lpips", True),
        ("loss_adv", True), ("coef_mse", 1.0), ("coef_lpips", 0.2), ("coef_adv", 0.03),
        ("vgg_target_layers", [1, 2, 13, 20]), ("decay_ema_g", 0.999), ("dim_z", 119), ("seed", 42),
        ("size_batch", 8), ("port", "12355"), ("use_enhance", True), ("coef_enhance", 1.2),
        ("use_attention", False), ("multi_gpu", True),
    ])
    for key, value in overrides.items():
        assert key in fields, key
        fields[key] = value
    return argparse.Namespace(**fields)


TINY = dict(G_ch=2, D_ch=2, n_classes=10, encoder_ch=2)
FULL = dict(G_ch=96, D_ch=96, n_classes=1000, encoder_ch=96)


# ---- the mirror of the official colorizer ---------------------------------------------------------------------------
# Written from the model spec (sections 4-5) with the official module names and registration order; the layers come
# from tools/make_golden_layers.py, whose spectral norm uses SN_eps 1e-6 and whose batch norms use eps 1e-5.

class Generator(nn.Module):
    """DGP's BigGAN generator as BigColor uses it: `shared`, `linear`, `blocks` (a list of [GBlock] or
    [GBlock, Attention] lists), `output_layer` = (bn, ReLU, SNConv2d 3x3 -> 3)."""

    IN = [16, 16, 8, 8, 4, 2]
    OUT = [16, 8, 8, 4, 2, 1]
    RESOLUTION = [8, 16, 32, 64, 128, 256]  # each block's output size

    def __init__(self, G_ch, dim_z, shared_dim, n_classes, G_attn):
        super().__init__()
        self.num_slots = len(self.IN) + 1
        self.chunk = dim_z // self.num_slots
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = mirror.SNLinear(self.chunk, self.IN[0] * G_ch * 4 * 4)
        attention_at = {int(r) for r in G_attn.split("_")}
        blocks = []
        for i in range(len(self.IN)):
            block = [mirror.GBlock(self.IN[i] * G_ch, self.OUT[i] * G_ch, shared_dim + self.chunk)]
            if self.RESOLUTION[i] in attention_at:
                block.append(mirror.Attention(self.OUT[i] * G_ch))
            blocks.append(nn.ModuleList(block))
        self.blocks = nn.ModuleList(blocks)
        self.output_layer = nn.Sequential(mirror.BN(G_ch), nn.ReLU(), mirror.SNConv2d(G_ch, 3, 3, 1))

    def forward_from(self, z, y, start_block, h):
        zs = torch.split(z, self.chunk, 1)
        ys = [torch.cat([y, part], 1) for part in zs[1:]]  # block i is conditioned on cat(y, chunk i+1)
        for i, block in enumerate(self.blocks):
            if i < start_block:
                continue
            h = block[0](h, ys[i])
            if len(block) > 1:
                h = block[1](h)
        return torch.tanh(self.output_layer(h))


class Encoder(nn.Module):
    """EncoderF_Res ('adabatch', relu, avg pool, residual): res1..res5, dropout 0.2 after res1..res4 (training)."""

    def __init__(self, ch, c_dim=128):
        super().__init__()
        widths = [1, ch, 2 * ch, 4 * ch, 8 * ch, 8 * ch]
        for i in range(5):
            setattr(self, f"res{i + 1}", mirror.ResConvBlock(widths[i], widths[i + 1], c_dim, downsample=i > 0,
                                                              dropout=0.2 if i < 4 else None))

    def forward(self, x, c):
        assert not self.training, "the mirror runs in eval mode only (dropout is not modelled)"
        for i in range(5):
            x = getattr(self, f"res{i + 1}")(x, c)
        return x


class Colorizer(nn.Module):
    """EG: E registered before G; the generator is entered at block 2 (dim_f 16) with the encoder's features."""

    ID_MID_LAYER = 2

    def __init__(self, config, encoder_ch):
        super().__init__()
        self.E = Encoder(encoder_ch, config["shared_dim"])
        self.G = Generator(config["G_ch"], config["dim_z"], config["shared_dim"], config["n_classes"],
                           config["G_attn"])

    def forward(self, x_gray, c, z):
        return self.forward_with_c(x_gray, self.G.shared(c), z)

    def forward_with_c(self, x_gray, c_embed, z):
        f = self.E(x_gray, c_embed)
        return self.G.forward_from(z, c_embed, self.ID_MID_LAYER, f)


def build(spec, device=None):
    config = biggan_config(spec["G_ch"], spec["D_ch"], spec["n_classes"])
    assert config["SN_eps"] == mirror.SN_EPS and config["BN_eps"] == mirror.BN_EPS
    if device is None:
        return Colorizer(config, spec["encoder_ch"]), config
    with torch.device(device):
        return Colorizer(config, spec["encoder_ch"]), config


def randomize(eg, gen, n_classes):
    """The layer tool's value rules for every parameter and buffer, and a class embedding ~ N(0, 1) (so the class
    conditions every block noticeably). Then the stored statistics of every batch norm are drawn around the
    statistics its input actually has (on a separate calibration batch, in eval mode, in forward order): mean +
    N(0, (0.2 std)^2), var * exp(N(0, 0.3^2)). With statistics unrelated to the activations, eval-mode normalization
    does not normalize, activations grow block after block and the tanh output saturates (a weak test)."""
    mirror.randomize(eg, gen)
    with torch.no_grad():
        eg.G.shared.weight.copy_(torch.randn(eg.G.shared.weight.shape, generator=gen))

    def calibrate(module, args):
        x = args[0]
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        c = mean.numel()
        module.stored_mean.copy_(mean + 0.2 * var.sqrt() * torch.randn(c, generator=gen))
        module.stored_var.copy_(var * torch.exp(0.3 * torch.randn(c, generator=gen)))

    hooks = [m.register_forward_pre_hook(calibrate) for m in eg.modules()
             if isinstance(m, (mirror._ConditionalBN, mirror.BN))]
    eg.eval()
    with torch.no_grad():
        b = 2
        x = torch.rand((b, 1, 32, 48), generator=gen)
        classes = torch.randint(0, n_classes, (b,), generator=gen)
        z = 0.8 * torch.randn((b, 119), generator=gen)
        eg(x, classes, z)
    for hook in hooks:
        hook.remove()
    for name, m in eg.named_modules():  # every norm the colorizer runs was calibrated; blocks 0-1 keep their draw
        if isinstance(m, (mirror._ConditionalBN, mirror.BN)) and not name.startswith(("G.blocks.0.", "G.blocks.1.")):
            assert m.stored_var.min() > 0, name


def ema_shadows(eg, gen):
    """Shadow values of the parameters with requires_grad, in parameters() order: value + 10% of its RMS in noise."""
    shadows = []
    for _, p in eg.named_parameters():
        if not p.requires_grad:
            continue
        rms = p.detach().pow(2).mean().sqrt().clamp_min(1e-3)
        shadows.append((p.detach() + 0.1 * rms * torch.randn(p.shape, generator=gen)).clone())
    return shadows


def apply_shadows(eg, shadows):
    trainable = [p for p in eg.parameters() if p.requires_grad]
    assert len(trainable) == len(shadows)
    with torch.no_grad():
        for p, s in zip(trainable, shadows):
            p.copy_(s)


# ---- outputs --------------------------------------------------------------------------------------------------------

def normalized_error(a, ref):
    ref = ref.detach().double()
    return ((a.detach().double() - ref).norm() / ref.norm()).item()


def run_outputs(eg, inputs, mix):
    """Eval-mode outputs: forward, the mixed class embedding, forward_with_c, the encoder's features."""
    x, classes, z = inputs["x"], inputs["classes"].long(), inputs["z"]
    with torch.no_grad():
        out = eg(x, classes, z)
        shared = eg.G.shared
        c_embed = mix["c_scale"] * (mix["mix_a"] * shared(inputs["mix.classes_a"].long())
                                    + mix["mix_b"] * shared(inputs["mix.classes_b"].long())) + mix["c_bias"]
        out_with_c = eg.forward_with_c(x, c_embed, z)
        features = eg.E(x, shared(classes))
    return {"out": out, "c_embed": c_embed, "out_with_c": out_with_c, "features": features}


def outputs_checked(eg, inputs, mix, worst):
    """The float32 outputs, each checked against the same computation in float64 (same values, widened)."""
    eg.eval()
    results = run_outputs(eg, inputs, mix)
    eg64 = copy.deepcopy(eg).double().eval()
    inputs64 = {k: (v.double() if v.is_floating_point() else v) for k, v in inputs.items()}
    mix64 = {k: float(torch.tensor(v, dtype=torch.float32).item()) for k, v in mix.items()}
    results64 = run_outputs(eg64, inputs64, mix64)
    for key, value in results.items():
        error = normalized_error(value, results64[key])
        worst[0] = max(worst[0], error)
        assert error <= FLOAT64_BAR, f"{key}: float32 reference is {error:.3g} from float64"
    out = results["out"]
    saturated = (out.abs() > 0.999).float().mean().item()
    assert saturated < 0.05, f"{saturated:.1%} of the outputs are saturated: a weak test"
    assert out.std() > 0.1, "outputs nearly constant: a weak test"
    return results


# ---- writing --------------------------------------------------------------------------------------------------------

def write_official(eg, config, shadows, out_dir, args_ns):
    os.makedirs(out_dir, exist_ok=True)
    torch.save(eg.state_dict(), os.path.join(out_dir, "EG_000.ckpt"))
    torch.save({"decay": 0.999, "num_updates": 1234, "shadow_params": shadows, "collected_params": None},
               os.path.join(out_dir, "EG_EMA_000.ckpt"))
    with open(os.path.join(out_dir, "args.pkl"), "wb") as f:
        pickle.dump(args_ns, f, protocol=4)
    with open(os.path.join(out_dir, "config.pickle"), "wb") as f:
        pickle.dump(dict(config), f, protocol=4)


def write_variants(out_dir, spec):
    os.makedirs(out_dir, exist_ok=True)
    n = spec["n_classes"]
    for name, overrides in (("args_norm_batch.pkl", dict(norm_type="batch")),
                            ("args_use_attention.pkl", dict(use_attention=True)),
                            ("args_dim_z_120.pkl", dict(dim_z=120))):
        with open(os.path.join(out_dir, name), "wb") as f:
            pickle.dump(training_args(n, **overrides), f, protocol=4)
    for name, key, value in (("config_norm_in.pickle", "norm_style", "in"),
                             ("config_attn_32.pickle", "G_attn", "32")):
        config = dict(biggan_config(spec["G_ch"], spec["D_ch"], n))
        config[key] = value
        with open(os.path.join(out_dir, name), "wb") as f:
            pickle.dump(config, f, protocol=4)


def write_parity(path, inputs, mix, results, config, worst):
    tensors = {}
    for key, value in inputs.items():
        tensors[key] = value.detach().clone().contiguous()
    for weights, outs in results.items():
        for key, value in outs.items():
            tensors[f"{weights}.{key}"] = value.detach().clone().contiguous()
    for key, value in tensors.items():
        assert value.dtype in (torch.float32, torch.int32), key
    plain = {k: v for k, v in config.items() if isinstance(v, (int, float, str, bool))}
    metadata = {k: repr(float(torch.tensor(v, dtype=torch.float32).item())) for k, v in mix.items()}
    metadata.update({"generator": "tools/make_golden_colorizer.py", "torch": torch.__version__,
                     "config": json.dumps(plain, sort_keys=True), "encoder_ch": str(TINY["encoder_ch"]),
                     "float64_error": f"{worst[0]:.3g}"})
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=metadata)
    canonicalize_header(tmp)
    check_saved(tmp, tensors, metadata)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def manifest_of(eg):
    return {
        "parameters": [[n, list(p.shape), bool(p.requires_grad)] for n, p in eg.named_parameters()],
        "state": [[n, list(t.shape)] for n, t in eg.state_dict().items()],
    }


def write_manifest(path):
    eg, config = build(FULL, device="meta")
    manifest = manifest_of(eg)
    manifest["config"] = {k: v for k, v in config.items() if isinstance(v, (int, float, str, bool))}
    manifest["encoder_ch"] = FULL["encoder_ch"]
    manifest["num_parameters"] = len(manifest["parameters"])
    manifest["num_trainable"] = sum(1 for p in manifest["parameters"] if p[2])
    manifest["num_elements"] = sum(int(torch.Size(s).numel()) for _, s, _ in manifest["parameters"])
    manifest["generator"] = "tools/make_golden_colorizer.py"
    with open(path, "w") as f:
        f.write("{\n")
        keys = list(manifest)
        for i, key in enumerate(keys):
            value = manifest[key]
            sep = "," if i + 1 < len(keys) else ""
            if isinstance(value, list):  # one entry a line: diffable
                f.write(f"  {json.dumps(key)}: [\n")
                f.write(",\n".join("    " + json.dumps(item) for item in value))
                f.write(f"\n  ]{sep}\n")
            else:
                f.write(f"  {json.dumps(key)}: {json.dumps(value, sort_keys=True)}{sep}\n")
        f.write("}\n")
    with open(path) as f:
        assert json.load(f)["parameters"] == manifest["parameters"]
    return manifest


# ---- the check against the official code ----------------------------------------------------------------------------

def import_official(path):
    if "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401
        except ImportError:  # the official models/common.py imports it for its VGG loss only
            stub = types.ModuleType("torchvision")
            stub.transforms = types.ModuleType("torchvision.transforms")
            sys.modules["torchvision"] = stub
            sys.modules["torchvision.transforms"] = stub.transforms
    sys.path.insert(0, os.path.abspath(path))
    import models as official  # noqa: E402
    assert os.path.abspath(official.__file__).startswith(os.path.abspath(path)), official.__file__
    return official


def build_official(official, config, encoder_ch, skip_init):
    """The official Colorizer (norm 'adabatch', relu, dim_f 16, no pretrained G). The official encoder's width is
    fixed at ch_unit 96; at reduced width the encoder is replaced by the official EncoderF_Res of that width (same
    slot in the module order)."""
    config = dict(config)
    config["skip_init"] = skip_init
    eg = official.Colorizer(config, None, "adabatch", activation="relu", id_mid_layer=2, load_g=False,
                            init_e="ortho", use_attention=False, use_res=True, dim_f=16)
    if encoder_ch != 96:
        eg.E = official.EncoderF_Res(ch_unit=encoder_ch, norm="adabatch", activation="relu", init="ortho",
                                     use_att=False, use_res=True)
    return eg


def check_against_official(path, eg_raw, shadows, config, inputs, mix, results, manifest):
    official = import_official(path)
    # 1. The tiny model: names, order, flags, shapes; then bit-identical outputs from the same state dict.
    ref = build_official(official, config, TINY["encoder_ch"], skip_init=False)
    assert manifest_of(ref) == manifest_of(eg_raw), "tiny: parameters()/state_dict differ from the official"
    ref.load_state_dict(eg_raw.state_dict(), strict=True)
    ref.eval()
    ema_ref = build_official(official, config, TINY["encoder_ch"], skip_init=False)
    ema_ref.load_state_dict(eg_raw.state_dict(), strict=True)
    apply_shadows(ema_ref, shadows)
    ema_ref.eval()
    for weights, model in (("raw", ref), ("ema", ema_ref)):
        got = run_outputs(model, inputs, mix)
        for key, value in got.items():
            same = torch.equal(value, results[weights][key])
            diff = (value - results[weights][key]).abs().max().item()
            print(f"official vs mirror, {weights}.{key}: {'bit-identical' if same else f'max |diff| {diff:.3g}'}")
            assert same, f"{weights}.{key}: the mirror differs from the official code"
    # Our shadow list holds the parameters with requires_grad, in the official parameters() order.
    assert len(shadows) == sum(1 for p in ref.parameters() if p.requires_grad)
    # 2. The full-width model: names, order, requires_grad and shapes against the manifest.
    full_config = biggan_config(FULL["G_ch"], FULL["D_ch"], FULL["n_classes"])
    full = build_official(official, full_config, FULL["encoder_ch"], skip_init=True)
    got = manifest_of(full)
    assert got["parameters"] == manifest["parameters"], "full-width parameters() differ from the official"
    assert got["state"] == manifest["state"], "full-width state_dict differs from the official"
    print(f"official vs manifest: {len(got['parameters'])} parameters and {len(got['state'])} state entries "
          "identical (names, order, shapes, requires_grad)")


# ---- main -----------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "tests", "golden"),
                        help="output folder (default: tests/golden of this repository)")
    parser.add_argument("--official", default=None,
                        help="a folder holding the official `models/` package: check the mirror against it")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    gen = torch.Generator().manual_seed(SEED)

    eg, config = build(TINY)
    randomize(eg, gen, TINY["n_classes"])
    eg.eval()
    shadows = ema_shadows(eg, gen)

    b, h, w = 2, 32, 48
    inputs = {
        "x": torch.rand((b, 1, h, w), generator=gen),
        "classes": torch.tensor([3, 8], dtype=torch.int32),
        "z": 0.8 * torch.randn((b, 119), generator=gen),
        "mix.classes_a": torch.tensor([1, 8], dtype=torch.int32),
        "mix.classes_b": torch.tensor([6, 2], dtype=torch.int32),
    }
    mix = {"mix_a": 0.3, "mix_b": 0.7, "c_scale": 1.25, "c_bias": 0.05}

    worst = [0.0]
    results = {"raw": outputs_checked(eg, inputs, mix, worst)}
    raw_state = {k: v.clone() for k, v in eg.state_dict().items()}
    eg_ema = copy.deepcopy(eg)
    apply_shadows(eg_ema, shadows)
    results["ema"] = outputs_checked(eg_ema, inputs, mix, worst)
    assert all(torch.equal(raw_state[k], v) for k, v in eg.state_dict().items()), "eval changed a buffer"
    rel = normalized_error(results["ema"]["out"], results["raw"]["out"])
    assert rel > 0.05, f"EMA and raw outputs differ by only {rel:.3g}"

    tiny_dir = os.path.join(args.out, "official_tiny")
    write_official(eg, config, shadows, tiny_dir, training_args(TINY["n_classes"]))
    write_variants(os.path.join(args.out, "official_tiny_variants"), TINY)
    parity = os.path.join(args.out, "colorizer_parity.safetensors")
    write_parity(parity, inputs, mix, results, config, worst)
    manifest = write_manifest(os.path.join(args.out, "bigcolor_full_manifest.json"))

    size = sum(os.path.getsize(os.path.join(tiny_dir, f)) for f in os.listdir(tiny_dir)) + os.path.getsize(parity)
    assert size < SIZE_BUDGET, f"official_tiny + parity file hold {size} bytes (budget {SIZE_BUDGET})"
    print(f"official_tiny + parity: {size} bytes; {len(shadows)} EMA shadows of "
          f"{len(list(eg.parameters()))} parameters; EMA vs raw output distance {rel:.3g}; worst float32-vs-float64 "
          f"error {worst[0]:.3g}; output std {results['raw']['out'].std():.3f}")
    print(f"full manifest: {manifest['num_parameters']} parameters ({manifest['num_trainable']} trainable, "
          f"{manifest['num_elements']} values), {len(manifest['state'])} state entries")

    if args.official:
        check_against_official(args.official, eg, shadows, config, inputs, mix, results, manifest)


if __name__ == "__main__":
    main()
