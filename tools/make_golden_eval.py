#!/usr/bin/env python3
"""Writes the golden reference data of bigcolor's evaluation metrics (Colorful, PSNR, SSIM, LPIPS, FID with two
Inception-v3 protocols, classifier accuracy) to tests/golden/eval/.

How to run (from the repository root; needs `torch`, `torchvision`, `timm`, `numpy`, `scipy`, `pillow`,
`safetensors`, `scikit-image`, `pytorch-fid` and `lpips` from PyPI, CPU only, about 5 minutes on 2 cores (8 on a
loaded machine), most of it in the four scipy.linalg.sqrtm calls of pytorch-fid on 2048x2048 matrices):

    nice /work/venv-torch/bin/python tools/make_golden_eval.py            # writes tests/golden/eval/
    nice /work/venv-torch/bin/python tools/make_golden_eval.py --out DIR  # writes elsewhere

Nothing is downloaded and no pretrained weights are used (the lpips linear heads excepted, which ship inside the lpips
wheel): every network is filled with the seeded recipe of tools/make_golden_classifier.py (`seeded_state`, seed 2026,
imported from there, as are `calibrate_bn` and `write_manifest`), which the C++ tests regenerate from the manifests.
Torch runs single-threaded; a rerun with the same package versions writes the same values. Every metric is computed
from the PNG files as read back.

Images (ref/ and pred/, 64 pairs of 48x48 8-bit RGB PNGs, two ImageFolder classes):
  ref/n01440764/img_00..31.png (class index 0): img_{2k} from skimage.data.astronaut(), img_{2k+1} from
  skimage.data.coffee(); ref/n01443537/img_00..31.png (class index 1): img_{2k} from skimage.data.chelsea(),
  img_{2k+1} from skimage.data.rocket(), k = 0..15. Each photo is downscaled with PIL LANCZOS so that its short side
  is 128 pixels, then crop k is the 48x48 window at grid cell (k // 4, k % 4) of a 4x4 grid spanning the photo
  (top = round(row * (H - 48) / 3), left = round(col * (W - 48) / 3)), mirrored left-right when k is odd.
  pred/<same relpath>: skimage.color.rgb2lab of the reference (as uint8 -> float), a' = 0.6 a + 4, b' = 0.6 b - 3,
  skimage.color.lab2rgb, clipped to [0, 1], round(255 x) as uint8; for pred/n01443537/img_00..03 instead a' = b' = 0
  (gray predictions, so the metrics spread).

Metrics (the spec of issue 14; "relpath" is the path relative to the set root, e.g. n01440764/img_00.png):
  colorful          Hasler & Suesstrunk with |R - G|, |0.5 (R + G) - B|, float64, population variances;
                    colorful_signed without the absolute values
  psnr / ssim       skimage.metrics.peak_signal_noise_ratio(ref, pred, data_range=255) /
                    skimage.metrics.structural_similarity(ref, pred, channel_axis=2, data_range=255), uint8 inputs
  lpips             lpips.LPIPS(net='vgg', version='0.1', pnet_rand=True), its shipped linear heads
                    (lpips/weights/v0.1/vgg.pth), the VGG16 trunk seeded with the recipe under torchvision's
                    vgg16().features names (features.<i>.weight / .bias, i = 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26,
                    28; lpips holds the same modules as net.slice<k>.<i>), EXCEPT that every VGG bias is then set to 0:
                    VGG has no batch norm, and the seeded +-0.1 biases would dominate the activations, which shrink
                    at every random conv layer, so LPIPS would barely depend on the images. Input: (2 x / 255 - 1)
                    computed in float64 and rounded once to float32 (what lpips.im2tensor does), the whole set as one
                    batch, float32; lpips64 is the same model and input in float64 (for the error report only).
  FID               2048-d Inception-v3 pool features, pytorch_fid.fid_score.get_activations (batch 50, PIL
                    convert('RGB'), ToTensor), mu = np.mean, sigma = np.cov(rowvar=False) in float64 (what
                    pytorch_fid.fid_score.calculate_activation_statistics does), FID by
                    pytorch_fid.fid_score.calculate_frechet_distance (scipy.linalg.sqrtm) -> fid.<protocol>; and the
                    eigenvalue formula of the spec in numpy float64 -> fid_eig.<protocol>: Sigma1^(1/2) = V
                    diag(sqrt(max(w, 0))) V^T from numpy.linalg.eigh(Sigma1), A = Sigma1^(1/2) Sigma2 Sigma1^(1/2),
                    tr sqrtm = sum sqrt(max(lambda_i, 0)) over numpy.linalg.eigvalsh(A) (lower triangle, LAPACK
                    syevd). fid_self.<protocol> / fid_self_eig.<protocol>: ref against itself.
    protocol "pytorch-fid": the network of pytorch_fid.inception.fid_inception_v3 built by that very function with
                    its weight download and load_state_dict stubbed out (torchvision Inception3, num_classes=1008,
                    aux_logits=False, transform_input=False, FIDInceptionA/C/E_1/E_2 Mixed blocks), seeded, calibrated,
                    then wrapped by pytorch_fid.inception.InceptionV3(output_blocks=[3]) (its fid_inception_v3 stubbed
                    to return that network), which resizes to 299 (F.interpolate bilinear, align_corners=False,
                    antialias=False), maps x -> 2x - 1 and runs the blocks up to the AdaptiveAvgPool2d: the features
                    are exactly pool3 (2048), before the fc.
    protocol "torchvision": torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True,
                    init_weights=False), seeded (AuxLogits.* included, as the real inception_v3_google file holds
                    them), calibrated, eval mode (AuxLogits is not run); input x in [0,1] resized to 299 as above,
                    torchvision.transforms.functional.normalize with the ImageNet mean/std, then model(x), whose
                    forward applies transform_input; features = the output of model.avgpool (forward hook), flattened
                    to 2048 (the fc input).
  accuracy          the tiny classifier tests/golden/classifiers/tiny_resnetd.safetensors (timm ResNet, 10 classes,
                    built as make_golden_classifier.build_tiny_resnetd does) on the pred images: x = ToTensor (u8/255)
                    -> torchvision.transforms.functional.resize(x, [256], BILINEAR, antialias=False) ->
                    center_crop(224) -> normalize(ImageNet mean/std) -> model, float32; labels = ImageFolder class
                    indices of pred/.

Calibrated batch norms (both Inception protocols): `calibrate_bn` of make_golden_classifier (only the batch norms in
train mode, momentum 1, one float32 forward under no_grad; running_var = the unbiased batch variance) over the
calibration batch = the first 16 reference images in sorted relpath order (ref/n01440764/img_00..15) through that
protocol's pipeline (up to the Inception3 input), float32. calibrate_bn builds its batch from two gray photos and
asserts a batch of 2, so it is handed a wrapper module whose forward ignores that (dummy) batch and runs the protocol's
pipeline on the 16 images, then the whole Inception3 forward (the fc output is discarded).

Files:
  ref/, pred/                          the image pairs (above)
  metrics.safetensors                  every metric; `__metadata__` documents the names, package versions, the
                                       float32-vs-float64 errors and the sensitivities. F64 (1,) scalars unless said:
      colorful.<relpath>, colorful_signed.<relpath>, psnr.<relpath>, ssim.<relpath>   per pred image / pair
      colorful.ref/<relpath>, colorful_signed.ref/<relpath>                          per ref image
      lpips.<relpath> (F32 (1,), as lpips computes), lpips64.<relpath> (F64, float64 recomputation)
      <metric>.mean                      set means over the 64 pred images / pairs (colorful, colorful_signed, psnr,
                                         ssim, lpips (mean of the F32 values in float64), lpips64)
      colorful.ref.mean, colorful_signed.ref.mean   the ref set's means
      fid.<protocol>, fid_eig.<protocol>, fid_self.<protocol>, fid_self_eig.<protocol>   protocol = pytorch-fid |
                                         torchvision
      features.<protocol>.ref/<relpath>  F32 (1, 2048) for ref n01440764/img_00, img_01, n01443537/img_00, img_01
      accuracy.top1, accuracy.top5       of the pred set
      top5.<relpath>                     I64 (5,) the classifier's top-5 class indices, best first, per pred image
      logits.<relpath>                   F32 (1, 10) the classifier's logits per pred image (not in the spec's list;
                                         for diagnosing a top-5 mismatch)
  calibrated_stats.safetensors         F32 <protocol>.<state-dict key> for every .running_mean / .running_var of the
                                       Inception3 that runs in eval mode (the torchvision protocol's AuxLogits.* batch
                                       norms never run: theirs stay seeded and are not stored)
  inception_fid_manifest.txt, inception_torchvision_manifest.txt, lpips_vgg_manifest.txt
                                       the state dicts (format of the classifier manifests): the FID Inception3
                                       (num_batches_tracked included), the torchvision Inception3 with AuxLogits.*, and
                                       vgg16().features[:30] as lpips runs it (the seeded names)
  lpips_vgg_v0.1.pth                   byte copy of lpips 0.1.4's lpips/weights/v0.1/vgg.pth (BSD-2-Clause): a legacy
                                       (non-zip) torch.save of lin0..lin4.model.1.weight (1, C, 1, 1) F32, storages
                                       tagged 'cuda:0'
  README.md                            what these files are, the photos' and the lpips file's licences
"""

import argparse
import contextlib
import importlib.metadata
import copy
import io
import os
import shutil
import sys
import time
from collections import OrderedDict
from unittest import mock

import lpips
import numpy as np
import PIL
import pytorch_fid
import pytorch_fid.fid_score
import pytorch_fid.inception
import safetensors
import scipy
import scipy.linalg
import skimage
import skimage.color
import skimage.data
import skimage.metrics
import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden_classifier import BASE_SEED, build_tiny_resnetd, calibrate_bn, seeded_state, write_manifest  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "golden", "eval")
TINY_RESNETD_FILE = os.path.join(REPO_ROOT, "tests", "golden", "classifiers", "tiny_resnetd.safetensors")

SIZE = 48
SHORT_SIDE = 128
CLASSES = {"n01440764": (skimage.data.astronaut, skimage.data.coffee),
           "n01443537": (skimage.data.chelsea, skimage.data.rocket)}
PER_CLASS = 32
GRAY = [("n01443537", k) for k in range(4)]  # pred images that become gray
CALIBRATION = 16
FEATURE_IMAGES = ["n01440764/img_00.png", "n01440764/img_01.png", "n01443537/img_00.png", "n01443537/img_01.png"]
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
PROTOCOLS = ("pytorch-fid", "torchvision")


# ---- images ---------------------------------------------------------------------------------------------------

def crop(photo, k):
    h, w = photo.shape[:2]
    scale = SHORT_SIDE / min(h, w)
    small = np.asarray(Image.fromarray(photo).resize((round(w * scale), round(h * scale)), Image.LANCZOS))
    h, w = small.shape[:2]
    row, col = divmod(k, 4)
    top, left = round(row * (h - SIZE) / 3), round(col * (w - SIZE) / 3)
    c = small[top:top + SIZE, left:left + SIZE]
    return np.ascontiguousarray(c[:, ::-1] if k % 2 else c)


def colorization_like(ref, gray):
    lab = skimage.color.rgb2lab(ref)
    if gray:
        lab[..., 1:] = 0.0
    else:
        lab[..., 1] = 0.6 * lab[..., 1] + 4.0
        lab[..., 2] = 0.6 * lab[..., 2] - 3.0
    rgb = np.clip(skimage.color.lab2rgb(lab), 0.0, 1.0)
    return np.round(rgb * 255.0).astype(np.uint8)


def write_images(out):
    for cls, loaders in CLASSES.items():
        photos = [loader() for loader in loaders]
        for sub in ("ref", "pred"):
            os.makedirs(os.path.join(out, sub, cls), exist_ok=True)
        for i in range(PER_CLASS):
            ref = crop(photos[i % 2], i // 2)
            assert ref.shape == (SIZE, SIZE, 3) and ref.dtype == np.uint8
            pred = colorization_like(ref, (cls, i) in GRAY)
            Image.fromarray(ref).save(os.path.join(out, "ref", cls, f"img_{i:02d}.png"), optimize=True)
            Image.fromarray(pred).save(os.path.join(out, "pred", cls, f"img_{i:02d}.png"), optimize=True)


def read_image(path):
    image = Image.open(path)
    assert image.mode == "RGB" and image.size == (SIZE, SIZE), path
    return np.asarray(image, dtype=np.uint8)


# ---- per-image metrics ----------------------------------------------------------------------------------------

def colorfulness(img, signed=False):
    x = img.astype(np.float64)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    if not signed:
        rg, yb = np.abs(rg), np.abs(yb)
    sigma = np.sqrt(np.var(rg) + np.var(yb))
    mu = np.sqrt(np.mean(rg) ** 2 + np.mean(yb) ** 2)
    return sigma + 0.3 * mu


def to_lpips_input(imgs):
    """(N,H,W,3) uint8 -> (N,3,H,W) float32 in [-1, 1]: 2x/255 - 1 in float64, rounded once (lpips.im2tensor)."""
    x = np.stack(imgs).astype(np.float64) / 127.5 - 1.0
    return torch.from_numpy(x.transpose(0, 3, 1, 2).astype(np.float32))


def build_lpips():
    """lpips.LPIPS(net='vgg', pnet_rand=True) with the VGG trunk seeded (biases then 0); returns (model, trunk) where
    trunk is a module holding the same conv modules under torchvision's vgg16().features names."""
    with contextlib.redirect_stdout(io.StringIO()):
        model = lpips.LPIPS(net="vgg", version="0.1", pnet_rand=True, verbose=False)
    layers = OrderedDict()
    for k in range(1, 6):
        for name, module in getattr(model.net, f"slice{k}").named_children():
            layers[name] = module
    assert list(layers) == [str(i) for i in range(30)]
    trunk = nn.Module()
    trunk.features = nn.Sequential(layers)
    convs = [int(n) for n, m in layers.items() if isinstance(m, nn.Conv2d)]
    assert convs == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert all(layers[str(i)].kernel_size == (3, 3) and layers[str(i)].padding == (1, 1) for i in convs)
    assert [int(n) for n, m in layers.items() if isinstance(m, nn.MaxPool2d)] == [4, 9, 16, 23]
    seeded_state(trunk, BASE_SEED)
    with torch.no_grad():
        for i in convs:
            layers[str(i)].bias.zero_()
    shipped = torch.load(lpips_weights_path(), map_location="cpu")
    sd = model.state_dict()
    assert sorted(shipped) == [f"lin{k}.model.1.weight" for k in range(5)]
    assert all(torch.equal(sd[k], v) for k, v in shipped.items())
    assert torch.equal(sd["scaling_layer.shift"].flatten(), torch.tensor([-.030, -.088, -.188]))
    assert torch.equal(sd["scaling_layer.scale"].flatten(), torch.tensor([.458, .448, .450]))
    return model.eval(), trunk


def lpips_weights_path():
    return os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", "vgg.pth")


# ---- Inception protocols --------------------------------------------------------------------------------------

def build_fid_inception():
    """pytorch_fid.inception.fid_inception_v3() itself, its weight download and load_state_dict stubbed out."""
    with mock.patch.object(pytorch_fid.inception, "load_state_dict_from_url", lambda *a, **k: None), \
            mock.patch.object(torchvision.models.Inception3, "load_state_dict", lambda self, sd, *a, **k: None):
        net = pytorch_fid.inception.fid_inception_v3()
    assert net.fc.out_features == 1008 and net.AuxLogits is None and not net.transform_input
    kinds = {"Mixed_5b": "FIDInceptionA", "Mixed_5c": "FIDInceptionA", "Mixed_5d": "FIDInceptionA",
             "Mixed_6b": "FIDInceptionC", "Mixed_6c": "FIDInceptionC", "Mixed_6d": "FIDInceptionC",
             "Mixed_6e": "FIDInceptionC", "Mixed_7b": "FIDInceptionE_1", "Mixed_7c": "FIDInceptionE_2"}
    assert all(type(getattr(net, n)).__name__ == t for n, t in kinds.items())
    return net


def fid_feature_model(net):
    """pytorch_fid.inception.InceptionV3([3]) around `net` (its fid_inception_v3 stubbed to return it)."""
    with mock.patch.object(pytorch_fid.inception, "fid_inception_v3", lambda: net):
        model = pytorch_fid.inception.InceptionV3(output_blocks=[3])
    assert model.resize_input and model.normalize_input
    assert isinstance(model.blocks[3][-1], nn.AdaptiveAvgPool2d)
    return model.eval()


def build_torchvision_inception():
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
    assert net.AuxLogits is not None and net.transform_input and net.fc.out_features == 1000
    return net


class TorchvisionFeatures(nn.Module):
    """x in [0,1] (N,3,H,W) -> [pool features (N,2048,1,1)], the calling convention of pytorch-fid's InceptionV3."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, antialias=False)
        x = TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD)
        pooled = []
        hook = self.net.avgpool.register_forward_hook(lambda m, i, o: pooled.append(o))
        try:
            self.net(x)
        finally:
            hook.remove()
        assert len(pooled) == 1 and pooled[0].shape[1:] == (2048, 1, 1)
        return pooled


def fid_pipeline(x):
    return 2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, antialias=False) - 1


def torchvision_pipeline(x):
    return TF.normalize(F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, antialias=False),
                        IMAGENET_MEAN, IMAGENET_STD)


class CalibrationForward(nn.Module):
    """For calibrate_bn: ignores its (dummy) input and runs `net` on the protocol's pipeline of the real batch."""

    def __init__(self, net, pipeline, batch):
        super().__init__()
        self.net = net
        self.pipeline = pipeline
        self.batch = [batch]  # a list: not a buffer of the module

    def forward(self, _dummy):
        x = self.pipeline(self.batch[0])
        assert x.dtype == torch.float32 and x.shape == (CALIBRATION, 3, 299, 299)
        return self.net(x)


def calibrate(net, pipeline, batch):
    dummy = [torch.zeros(1, 1, 2, 2)] * 2  # calibrate_bn's two "gray photos"; CalibrationForward ignores them
    stats = calibrate_bn(CalibrationForward(net, pipeline, batch), dummy, 299)
    return {k[len("net."):]: t for k, t in stats.items()}


def get_activations(files, model):
    with contextlib.redirect_stderr(io.StringIO()):  # tqdm
        return pytorch_fid.fid_score.get_activations(files, model, batch_size=50, dims=2048, device="cpu",
                                                     num_workers=0)


def fid_scipy(mu1, s1, mu2, s2):
    """pytorch-fid's value, and what its sqrtm branch did (its scipy.linalg.sqrtm calls recorded, not replayed)."""
    calls, sqrtm = [], scipy.linalg.sqrtm

    def recording_sqrtm(*args, **kwargs):
        calls.append(sqrtm(*args, **kwargs))
        return calls[-1]

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), mock.patch("warnings.warn"), \
            mock.patch.object(pytorch_fid.fid_score.linalg, "sqrtm", recording_sqrtm):
        value = pytorch_fid.fid_score.calculate_frechet_distance(mu1, s1, mu2, s2)
    covmean, errest = calls[0]
    info = {"eps_branch": len(calls) > 1 or "singular product" in captured.getvalue(),
            "sqrtm_finite": bool(np.isfinite(covmean).all()), "sqrtm_complex": bool(np.iscomplexobj(covmean)),
            "sqrtm_errest": float(errest)}
    if len(calls) > 1:
        covmean = calls[-1]
    if np.iscomplexobj(covmean):
        info["imag_max"] = float(np.max(np.abs(covmean.imag)))
        info["imag_diag_max"] = float(np.max(np.abs(np.diagonal(covmean).imag)))
        info["imag_trace"] = float(np.trace(covmean).imag)
    return float(value), info


def fid_eig(mu1, s1, mu2, s2):
    """The spec's eigenvalue formula; also returns the numerical rank of s1 (eigenvalues above 1e-10 max)."""
    w, v = np.linalg.eigh(s1)
    half = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
    lam = np.linalg.eigvalsh(half @ s2 @ half)
    diff = mu1 - mu2
    value = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2.0 * np.sum(np.sqrt(np.maximum(lam, 0.0)))
    return float(value), int(np.sum(w > 1e-10 * w.max()))


# ---- accuracy -------------------------------------------------------------------------------------------------

def classifier_input(img_u8):
    x = TF.to_tensor(Image.fromarray(img_u8))[None]
    x = TF.resize(x, [256], interpolation=TF.InterpolationMode.BILINEAR, antialias=False)
    x = TF.center_crop(x, [224])
    return TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD)


def check_classifier_input(img_u8):
    """torchvision's resize/crop on a tensor == the spec's F.interpolate and int(round((h - 224) / 2.0)) crop."""
    x = torch.from_numpy(img_u8.astype(np.float32) / np.float32(255)).permute(2, 0, 1)[None]
    h, w = x.shape[2:]
    short, long = min(h, w), max(h, w)
    size = (256, int(256 * long / short)) if h <= w else (int(256 * long / short), 256)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=False)
    top, left = int(round((size[0] - 224) / 2.0)), int(round((size[1] - 224) / 2.0))
    x = x[:, :, top:top + 224, left:left + 224]
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    assert torch.equal((x - mean) / std, classifier_input(img_u8))


# ---- main -----------------------------------------------------------------------------------------------------

def rel_norm(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64))
                 / np.linalg.norm(np.asarray(a, np.float64)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    p = lambda *names: os.path.join(out, *names)
    torch.set_num_threads(1)
    start = time.perf_counter()
    elapsed = lambda: f"[{time.perf_counter() - start:.0f} s]"

    write_images(out)
    rels = sorted(f"{cls}/{name}" for cls in os.listdir(p("ref")) for name in os.listdir(p("ref", cls)))
    assert rels == sorted(f"{cls}/{name}" for cls in os.listdir(p("pred")) for name in os.listdir(p("pred", cls)))
    assert len(rels) == 2 * PER_CLASS
    refs = {r: read_image(p("ref", r)) for r in rels}
    preds = {r: read_image(p("pred", r)) for r in rels}
    print(f"{len(rels)} pairs of {SIZE}x{SIZE} PNGs written and read back")

    tensors = {}
    meta = {"seed": str(BASE_SEED), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "timm": timm.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-image": skimage.__version__, "pillow": PIL.__version__, "safetensors": safetensors.__version__,
            "pytorch-fid": pytorch_fid.__version__, "lpips": "0.1.4 (lpips.LPIPS(net='vgg', version='0.1', "
                                                              "pnet_rand=True), VGG biases 0)",
            "names": "relpath = path under the set root (n01440764/img_00.png); F64 (1,) unless noted: "
                     "colorful|colorful_signed|psnr|ssim.<relpath> (pred image / pair), colorful|colorful_signed"
                     ".ref/<relpath> (ref image), lpips.<relpath> F32 (1,), lpips64.<relpath>, <metric>.mean (pred "
                     "set), colorful|colorful_signed.ref.mean, fid|fid_eig|fid_self|fid_self_eig.<protocol> "
                     "(pytorch-fid|torchvision), features.<protocol>.ref/<relpath> F32 (1,2048), accuracy.top1|top5, "
                     "top5.<relpath> I64 (5,), logits.<relpath> F32 (1,10)"}
    f64 = lambda v: torch.tensor([v], dtype=torch.float64)

    # ---- Colorful, PSNR, SSIM ----
    per = {m: {} for m in ("colorful", "colorful_signed", "psnr", "ssim")}
    for r in rels:
        per["colorful"][r] = colorfulness(preds[r])
        per["colorful_signed"][r] = colorfulness(preds[r], signed=True)
        per["psnr"][r] = skimage.metrics.peak_signal_noise_ratio(refs[r], preds[r], data_range=255)
        per["ssim"][r] = skimage.metrics.structural_similarity(refs[r], preds[r], channel_axis=2, data_range=255)
        tensors[f"colorful.ref/{r}"] = f64(colorfulness(refs[r]))
        tensors[f"colorful_signed.ref/{r}"] = f64(colorfulness(refs[r], signed=True))
    for m in ("colorful", "colorful_signed"):
        tensors[f"{m}.ref.mean"] = f64(np.mean([tensors[f"{m}.ref/{r}"].item() for r in rels]))

    # ---- LPIPS ----
    lp, trunk = build_lpips()
    n, values, params = write_manifest(p("lpips_vgg_manifest.txt"), trunk,
                                       "vgg16().features[:30] (lpips 0.1.4 LPIPS(net='vgg').net: net.slice<k>.<i> = "
                                       "features.<i>), seeded with biases set to 0", library="torchvision")
    print(f"lpips VGG trunk: {n} entries, {values} values")
    x0, x1 = to_lpips_input([refs[r] for r in rels]), to_lpips_input([preds[r] for r in rels])
    with torch.no_grad():
        l32 = lp(x0, x1).flatten()
        l64 = copy.deepcopy(lp).double()(x0.double(), x1.double()).flatten()
        single = lp(x0[:1], x1[:1]).flatten()
    assert l32.dtype == torch.float32 and l64.dtype == torch.float64
    lerr = float(torch.max(torch.abs(l32.double() - l64) / l64))
    meta["lpips.err64"] = f"{lerr:.3e} (max relative |lpips - lpips64| / lpips64)"
    meta["lpips.batch1_vs_batch64"] = f"{abs(single[0].item() - l32[0].item()) / l32[0].item():.3e}"
    per["lpips"] = {r: float(l32[i]) for i, r in enumerate(rels)}
    for i, r in enumerate(rels):
        tensors[f"lpips.{r}"] = l32[i:i + 1].clone()
        tensors[f"lpips64.{r}"] = l64[i:i + 1].clone()
    tensors["lpips64.mean"] = f64(float(l64.mean()))
    shutil.copyfile(lpips_weights_path(), p("lpips_vgg_v0.1.pth"))
    gray = [f"{c}/img_{k:02d}.png" for c, k in GRAY]
    other = [r for r in rels if r not in gray]
    lv = np.array([per["lpips"][r] for r in other])
    gray_values = ", ".join(f"{per['lpips'][r]:.4g}" for r in gray)
    lpips_spread = (f"min {lv.min():.4g} max {lv.max():.4g} mean {lv.mean():.4g} std {lv.std():.3g} over the 60 "
                    f"colour pairs; gray pairs {gray_values}; "
                    f"float32 vs float64 max rel {lerr:.2e}")
    meta["lpips.spread"] = lpips_spread
    print(f"LPIPS: {lpips_spread}")

    for m, vals in per.items():
        for r, v in vals.items():
            if m != "lpips":
                tensors[f"{m}.{r}"] = f64(v)
        tensors[f"{m}.mean"] = f64(np.mean([vals[r] for r in rels]))

    # ---- FID, both protocols ----
    ref_files = [p("ref", r) for r in rels]
    pred_files = [p("pred", r) for r in rels]
    calib_batch = torch.stack([TF.to_tensor(Image.open(f).convert("RGB")) for f in ref_files[:CALIBRATION]])
    assert calib_batch.dtype == torch.float32
    calibrated, calib_meta = {}, {
        "recipe": "seeded_state(model, 2026) (make_golden_classifier), then calibrate_bn: for every batch norm that "
                  "runs in eval mode running_mean = batch mean, running_var = unbiased batch variance of one float32 "
                  "forward (no_grad, only the batch norms in train mode, momentum 1) over the first 16 ref images "
                  "(sorted relpaths: n01440764/img_00..15) through the protocol's pipeline; names "
                  "<protocol>.<state-dict key>; AuxLogits.* (torchvision protocol) never run and are not stored",
        "seed": str(BASE_SEED), "torch": torch.__version__, "torchvision": torchvision.__version__,
        "pytorch-fid": pytorch_fid.__version__}
    sensitivity = {}
    for protocol in PROTOCOLS:
        if protocol == "pytorch-fid":
            net, pipeline, manifest = build_fid_inception(), fid_pipeline, "inception_fid_manifest.txt"
            label = (f"Inception3 of pytorch_fid {pytorch_fid.__version__} fid_inception_v3 (num_classes=1008, "
                     f"aux_logits=False, FIDInceptionA/C/E_1/E_2)")
        else:
            net, pipeline, manifest = build_torchvision_inception(), torchvision_pipeline, \
                "inception_torchvision_manifest.txt"
            label = "inception_v3(weights=None, aux_logits=True, transform_input=True)"
        seeded_state(net, BASE_SEED)
        n, values, params = write_manifest(p(manifest), net, label, library="torchvision")
        stats = calibrate(net, pipeline, calib_batch)
        stored = {k: t for k, t in stats.items() if not k.startswith("AuxLogits.")}
        assert protocol == "torchvision" or len(stored) == len(stats)
        calibrated.update({f"{protocol}.{k}": t for k, t in stored.items()})
        calib_meta[f"{protocol}.tensors"] = str(len(stored))
        print(f"{protocol}: {n} state_dict entries, {values} values; {len(stored) // 2} batch norms calibrated "
              f"{elapsed()}")

        model = fid_feature_model(net) if protocol == "pytorch-fid" else TorchvisionFeatures(net).eval()
        act_ref, act_pred = get_activations(ref_files, model), get_activations(pred_files, model)
        assert act_ref.shape == (len(rels), 2048) and act_ref.dtype == np.float64
        # the features are float32 values: pytorch-fid's float64 array holds them exactly
        assert np.array_equal(act_ref.astype(np.float32).astype(np.float64), act_ref)
        # the features are the input of the fc: a hook on the Inception3's avgpool agrees
        with torch.no_grad():
            hooked = {}
            h = net.avgpool.register_forward_hook(lambda m, i, o: hooked.setdefault("x", o))
            net(pipeline(TF.to_tensor(Image.open(ref_files[0]).convert("RGB"))[None]))
            h.remove()
        hook_diff = float(np.max(np.abs(hooked["x"].flatten().double().numpy() - act_ref[0])))
        meta[f"features.{protocol}.batch1_vs_batch50"] = f"{hook_diff:.3e} (max abs, ref img 0; max |f| " \
                                                         f"{np.max(np.abs(act_ref[0])):.3g})"
        print(f"    avgpool hook (batch 1) vs get_activations (batch 50): max abs diff {hook_diff:.2e}")
        assert hook_diff <= 1e-4 * np.max(np.abs(act_ref[0]))
        # float64 rerun of the stored feature images, for the error report
        model64 = copy.deepcopy(model).double()
        errs = []
        for r in FEATURE_IMAGES:
            i = rels.index(r)
            tensors[f"features.{protocol}.ref/{r}"] = torch.from_numpy(act_ref[i:i + 1].astype(np.float32))
            with torch.no_grad():
                f64_feat = model64(TF.to_tensor(Image.open(ref_files[i]).convert("RGB"))[None].double())[0]
            errs.append(rel_norm(f64_feat.flatten().numpy(), act_ref[i]))
        del model64
        meta[f"features.{protocol}.err64"] = f"{max(errs):.3e} (max ||f32 - f64|| / ||f64|| over the stored images)"

        print(f"    features of both sets and the float64 rerun {elapsed()}")
        mu_r, s_r = np.mean(act_ref, axis=0), np.cov(act_ref, rowvar=False)
        mu_p, s_p = np.mean(act_pred, axis=0), np.cov(act_pred, rowvar=False)
        fid, info = fid_scipy(mu_r, s_r, mu_p, s_p)
        fid_self, info_self = fid_scipy(mu_r, s_r, mu_r, s_r)
        (eig, rank_r), (eig_self, _) = fid_eig(mu_r, s_r, mu_p, s_p), fid_eig(mu_r, s_r, mu_r, s_r)
        w_p = np.linalg.eigvalsh(s_p)
        rank_p = int(np.sum(w_p > 1e-10 * w_p.max()))
        tensors[f"fid.{protocol}"], tensors[f"fid_eig.{protocol}"] = f64(fid), f64(eig)
        tensors[f"fid_self.{protocol}"], tensors[f"fid_self_eig.{protocol}"] = f64(fid_self), f64(eig_self)
        rel = abs(fid - eig) / abs(eig)
        meta[f"fid.{protocol}.scipy_vs_eig"] = f"{rel:.3e} (relative)"
        meta[f"fid.{protocol}.sqrtm"] = str(info)
        meta[f"fid_self.{protocol}.sqrtm"] = str(info_self)
        rank = (rank_r, rank_p)
        print(f"{protocol}: FID scipy {fid:.10g}  eig {eig:.10g}  rel diff {rel:.2e}; self: scipy {fid_self:.4g} "
              f"eig {eig_self:.4g}; cov ranks {rank}; trace(S_ref) {np.trace(s_r):.6g}, |mu_r - mu_p|^2 "
              f"{np.sum((mu_r - mu_p) ** 2):.6g}")
        print(f"    FIDs {elapsed()}")
        print(f"    sqrtm(ref, pred): {info}\n    sqrtm(ref, ref): {info_self}")
        if rel > 1e-4:
            print(f"    WARNING: scipy and the eigenvalue formula differ by {rel:.2e} relative")
        sens = {"img00_vs_img01": rel_norm(act_ref[0], act_ref[1]),
                "centered_img00_vs_img01": rel_norm(act_ref[0] - mu_r, act_ref[1] - mu_r),
                "ref_vs_pred_img00": rel_norm(act_ref[0], act_pred[0]),
                "class0_vs_class1_img00": rel_norm(act_ref[0], act_ref[rels.index("n01443537/img_00.png")]),
                "fid_over_trace": fid / (np.trace(s_r) + np.trace(s_p)), "fid_self_over_fid": fid_self / fid,
                "f32_vs_f64": max(errs)}
        sensitivity[protocol] = sens
        meta[f"features.{protocol}.sensitivity"] = ", ".join(f"{k} {v:.3e}" for k, v in sens.items())
        print(f"    features: {meta[f'features.{protocol}.sensitivity']}")
        del model, net

    # ---- accuracy ----
    clf = build_tiny_resnetd()
    clf.load_state_dict(load_file(TINY_RESNETD_FILE))
    clf.eval()
    folder = torchvision.datasets.ImageFolder(p("pred"))
    assert folder.class_to_idx == {"n01440764": 0, "n01443537": 1}
    labels = {os.path.relpath(path, p("pred")): label for path, label in folder.samples}
    check_classifier_input(preds[rels[0]])
    top1 = top5 = 0
    with torch.no_grad():
        for r in rels:
            logits = clf(classifier_input(preds[r]))
            assert logits.shape == (1, 10) and logits.dtype == torch.float32
            idx = torch.topk(logits[0], 5).indices
            srt = torch.sort(logits[0], descending=True).values
            tensors[f"top5.{r}"] = idx.to(torch.int64).clone()
            tensors[f"logits.{r}"] = logits.clone()
            top1 += int(idx[0] == labels[r])
            top5 += int(labels[r] in idx.tolist())
            assert (srt[:5] - srt[1:6]).abs().min() > 1e-5, f"{r}: near-tie in the top 6 logits"
    tensors["accuracy.top1"], tensors["accuracy.top5"] = f64(top1 / len(rels)), f64(top5 / len(rels))
    counts = np.bincount([tensors[f"top5.{r}"][0].item() for r in rels], minlength=10)
    meta["accuracy.top1_histogram"] = str(counts.tolist())
    print(f"accuracy: top-1 {top1}/{len(rels)}, top-5 {top5}/{len(rels)}; top-1 class histogram {counts.tolist()}")

    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())
    save_file(tensors, p("metrics.safetensors"), metadata=meta)
    save_file(calibrated, p("calibrated_stats.safetensors"), metadata=calib_meta)
    write_readme(p("README.md"))
    for root, _, files in os.walk(out):
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)  # safetensors writes 0600

    print("set means:")
    for key in sorted(k for k in tensors if k.endswith(".mean")):
        print(f"  {key} = {tensors[key].item():.10g}")
    for key in sorted(k for k in tensors if k.startswith(("fid", "accuracy"))):
        print(f"  {key} = {tensors[key].item():.10g}")
    total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(out) for f in files)
    for name in sorted(os.listdir(out)):
        if os.path.isfile(p(name)):
            print(f"  {os.path.getsize(p(name)):9d}  {name}")
    print(f"metrics.safetensors: {len(tensors)} tensors; calibrated_stats.safetensors: {len(calibrated)} tensors")
    print(f"wrote {total} bytes to {out} {elapsed()}")


def lpips_licence():
    text = importlib.metadata.distribution("lpips").read_text("LICENSE")
    assert text.startswith("Copyright (c) 2018, Richard Zhang") and "Redistribution and use" in text
    return text


def write_readme(path):
    with open(path, "w") as f:
        f.write("""# Evaluation golden data

Written by `tools/make_golden_eval.py` (its docstring describes every file, every metric's reference
implementation and how to rerun it). No pretrained weights: the Inception-v3 networks of both FID protocols and the
VGG16 trunk of LPIPS are filled with the seeded recipe of `tools/make_golden_classifier.py` (seed 2026), which the C++
tests regenerate from the manifests; the Inceptions' batch-norm running statistics are calibrated on the first 16
reference images (`calibrated_stats.safetensors`); the VGG16 biases are set to 0. Only LPIPS's linear heads are real
weights (`lpips_vgg_v0.1.pth`, below).

- `ref/<class>/img_NN.png`, `pred/<class>/img_NN.png`: 64 pairs of 48x48 RGB PNGs in the ImageFolder classes
  `n01440764` (index 0) and `n01443537` (index 1); the predictions are a weakened, shifted Lab colour of the
  references (gray for `pred/n01443537/img_00..03`).
- `metrics.safetensors`: Colorful, PSNR, SSIM, LPIPS per pair and per set, FID for both protocols (pytorch-fid's
  scipy value and the eigenvalue formula), the features of four reference images, the tiny classifier's top-5 and
  accuracy; its `__metadata__` lists the names, package versions and error reports.
- `calibrated_stats.safetensors`, `inception_fid_manifest.txt`, `inception_torchvision_manifest.txt`,
  `lpips_vgg_manifest.txt`: what a C++ test needs to rebuild the seeded networks.

## Photos

The reference images are 48x48 crops (some mirrored) of scikit-image's bundled sample photos, downscaled with PIL's
LANCZOS filter; licences as stated in the `skimage.data` docstrings of scikit-image 0.26:

- class `n01440764`, even images: `skimage.data.astronaut()`, the astronaut Eileen Collins, from the NASA Great
  Images database: "No known copyright restrictions, released into the public domain".
- class `n01440764`, odd images: `skimage.data.coffee()`, courtesy of Pikolo Espresso Bar: "No copyright
  restrictions. CC0 by the photographer (Rachel Michetti)".
- class `n01443537`, even images: `skimage.data.chelsea()`, Chelsea the cat: "No copyright restrictions. CC0 by the
  photographer (Stefan van der Walt)".
- class `n01443537`, odd images: `skimage.data.rocket()`, launch photo of DSCOVR on Falcon 9, captured by SpaceX and
  released into the public domain.

## lpips_vgg_v0.1.pth

A byte-for-byte copy of `lpips/weights/v0.1/vgg.pth` from the `lpips` 0.1.4 package (PyPI), the linear layers of
LPIPS v0.1 for the VGG trunk (lin0..lin4 `.model.1.weight`, (1, C, 1, 1) float32; a legacy, non-zip torch.save whose
storages are tagged `cuda:0`). It is distributed under the BSD 2-Clause licence (the package's LICENSE file,
verbatim):

""" + "".join("    " + line if line.strip() else "\n" for line in lpips_licence().splitlines(True)))


if __name__ == "__main__":
    main()
