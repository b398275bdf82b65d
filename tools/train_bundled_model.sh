#!/usr/bin/env bash
# Trains the small model that ships in weights/ (issue 15), from nothing but Debian packages, exactly as it was
# trained: the photo set (tools/build_photo_set.sh: 273 training and 47 held-out photos, licences in
# data/PHOTO_LICENSES.md), 6 random 128x128 crops of each training photo with every second one mirrored
# (tools/make_crops.sh, seed 2026), then `bigcolor train` with the recipe below, then tools/ship_bundled_model.sh
# (held-out scores, contact sheet, manifest; the weights stored as bf16, 25 MB). The training takes about 0.9 s a
# step on 2 cores of an AMD EPYC with AVX512-BF16 (the shipped run: 1,428 steps in 22 minutes), 1.66 s on a
# Sapphire Rapids Xeon without AMX.
#   tools/train_bundled_model.sh [WORK_DIR=data] [STEPS]     (STEPS: the shipped model's, from its manifest)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$root/data}
STEPS=${2:-$(python3 -c "import json; print(json.load(open('$root/weights/bigcolor-small.json'))['training']['steps'])")}
BIN=${BIGCOLOR_BIN:-$root/build/bigcolor}
[ -x "$BIN" ] || { echo "train_bundled_model: $BIN is not built (bash tools/build_and_test.sh)" >&2; exit 1; }
bash "$root/tools/build_photo_set.sh" "$WORK/photos"
bash "$root/tools/make_crops.sh" "$WORK/photos/train" "$WORK/crops128" 128 160 6 2026
# The recipe: width 32 (G_ch = D_ch = encoder), one class, 128x128, batch 8, Adam 2e-4 (from scratch: no pretrained
# BigGAN), an L1 loss on the Lab a and b channels (--coef-ab: the colour colorize's Lab fusion keeps and the
# held-out score measures; MSE over-coloured where the model is unsure) plus an L1 loss on RGB weighted 10
# (--coef-l1 10: without it the network's own lightness is never trained, and its RGB output, which --rgb writes, is
# a nearly flat field; the term's weight makes it about a tenth of the a/b term), no discriminator (with the
# official 0.03 hinge adversarial term and D's reals colour-enhanced by 1.2, the first try over-saturated and did
# worse than gray: see weights/README.md), no perceptual loss (torchvision's VGG16 weights are in no package); EMA
# 0.999, the official 0.9 learning-rate decay per epoch; 7 epochs (width and length chosen with
# tools/validate_recipe.sh on a validation split of the training photos, never on the held-out ones);
# bf16 (bit for bit only where oneDNN picks the same instructions).
"$BIN" train --data "$WORK/crops128" --val "$WORK/photos/heldout" --fixed-class 0 --n-classes 1 \
  --out "$WORK/run-bundled" --no-discriminator --coef-mse 0 --coef-l1 10 --coef-ab 1 --coef-lpips 0 --width 32 \
  --image-size 128 --batch 8 --epochs 7 --max-steps "$STEPS" --lr 2e-4 --seed 2026 --log-every 10 \
  --sample-every 500 --checkpoint-every 100 --device cpu --precision bf16
bash "$root/tools/ship_bundled_model.sh" "$WORK/run-bundled" "$WORK"
