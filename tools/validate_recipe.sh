#!/usr/bin/env bash
# Scores a training recipe for the bundled model without the held-out photos (issue 15): the validation protocol of
# weights/README.md. The training photos are split by name: a photo is a validation photo when
# sha256("val:<file name without extension>") mod 10 = 0 (31 of the 273), the others are cut into crops as
# tools/train_bundled_model.sh does (6 per photo at 128x128, seed 2026) and `bigcolor train` runs on them with the
# given options; then every epoch's EMA weights are scored on the validation photos (Lab a/b error, and gray's).
# Results: OUT/validation.json and one line per epoch on stdout. Choose a recipe here, then train it on all
# training photos with tools/train_bundled_model.sh and score it once on the held-out photos.
#   tools/validate_recipe.sh WORK_DIR OUT_DIR -- BIGCOLOR_TRAIN_OPTIONS...
# WORK_DIR holds photos/train (tools/build_photo_set.sh); the options name the recipe (--coef-*, --epochs, --width,
# --precision, ...); --data and --out are set here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: validate_recipe.sh WORK_DIR OUT_DIR -- BIGCOLOR_TRAIN_OPTIONS..."
WORK=${1:?$usage}
OUT=${2:?$usage}
[ "${3:-}" = "--" ] || { echo "$usage" >&2; exit 1; }
shift 3
BIN=${BIGCOLOR_BIN:-$root/build/bigcolor}
[ -d "$WORK/photos/train" ] || { echo "validate_recipe: $WORK/photos/train: missing (tools/build_photo_set.sh)" >&2; exit 1; }
[ -e "$OUT" ] && { echo "validate_recipe: $OUT: exists; name a new folder" >&2; exit 1; }

# The split, the same for every recipe: copies, so nothing under WORK changes.
split="$WORK/validation-split"
if [ ! -d "$split/crops128" ]; then
  rm -rf "$split.tmp"
  mkdir -p "$split.tmp/fit" "$split.tmp/val"
  python3 - "$WORK/photos/train" "$split.tmp" <<'PY'
import hashlib, os, shutil, sys
src, dst = sys.argv[1:3]
for name in sorted(os.listdir(src)):
    stem = os.path.splitext(name)[0]
    part = "val" if int(hashlib.sha256(("val:" + stem).encode()).hexdigest(), 16) % 10 == 0 else "fit"
    shutil.copy2(os.path.join(src, name), os.path.join(dst, part, name))
PY
  bash "$root/tools/make_crops.sh" "$split.tmp/fit" "$split.tmp/crops128" 128 160 6 2026 >/dev/null
  mv "$split.tmp" "$split"
fi
echo "validate_recipe: $(ls "$split/fit" | wc -l) photos to train on, $(ls "$split/val" | wc -l) to validate on" >&2

"$BIN" train --data "$split/crops128" --out "$OUT" "$@"

# Every epoch's EMA weights (the last epoch's are ema.safetensors), scored on the validation photos.
shopt -s nullglob
for ckpt in "$OUT"/checkpoints/ema_epoch_*.safetensors "$OUT/ema.safetensors"; do
  name=$(basename "$ckpt" .safetensors)
  BIGCOLOR_BIN="$BIN" bash "$root/tools/score_colorizer.sh" "$ckpt" "$split/val" "$OUT/validation/$name" ab 128
done
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
log = [json.loads(l) for l in open(os.path.join(out, "log.jsonl"))]
# ema_epoch_NNN: the EMA weights at the end of epoch NNN + 1; ema: at the run's last step.
names = sorted(n for n in os.listdir(os.path.join(out, "validation")) if n.startswith("ema_epoch_"))
rows = []
for name in names + ["ema"]:
    m = json.load(open(os.path.join(out, "validation", name, "scores.json")))["metrics"]
    when = f"epoch {int(name[10:]) + 1}" if name != "ema" else f"end (step {log[-1]['step']})"
    rows.append({"weights": name, "at": when, "ab_error": round(m["ab_error"]["value"], 4),
                 "ab_error_gray": round(m["ab_error_gray"]["value"], 4)})
    print(f"{when}: a/b error {rows[-1]['ab_error']:.3f} (gray {rows[-1]['ab_error_gray']:.3f})")
with open(os.path.join(out, "validation.json.tmp"), "w") as f:
    json.dump({"split": "sha256('val:' + stem) mod 10 == 0 of the training photos", "scores": rows}, f, indent=2)
os.replace(os.path.join(out, "validation.json.tmp"), os.path.join(out, "validation.json"))
PY
