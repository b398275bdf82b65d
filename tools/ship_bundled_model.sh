#!/usr/bin/env bash
# Ships a `bigcolor train` run as the bundled model: measures it on the held-out photos, writes
# weights/bigcolor-small.safetensors (the run's EMA weights, stored as STORAGE: bf16 by default, half the bytes; the
# loader widens them to F32 exactly and everything below scores that file), weights/bigcolor-small.json (SHA-256,
# size, the training command and time, data sources and licences, held-out scores) and weights/contact_sheet.jpg
# (gray input | bundled model | ground truth for a few held-out photos).
#   tools/ship_bundled_model.sh RUN_DIR [WORK_DIR=data]
# Held-out scores (bigcolor eval --metrics colorful,ab,psnr,ssim): the model's colourfulness against the ground
# truth's, and the Lab a/b error of the model, of the gray input (a = b = 0) and of the best constant guess a simple
# baseline can make without looking at the photo (the training crops' mean a, b).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUN=${1:?usage: ship_bundled_model.sh RUN_DIR [WORK_DIR]}
WORK=${2:-$root/data}
BIN=${BIGCOLOR_BIN:-$root/build/bigcolor}
STORAGE=${STORAGE:-bf16}
HELD="$WORK/photos/heldout"
out="$WORK/ship"
rm -rf "$out"
mkdir -p "$out/gray"
[ -f "$RUN/ema.safetensors" ] || { echo "ship_bundled_model: $RUN/ema.safetensors: missing" >&2; exit 1; }
model="$out/bigcolor-small.safetensors"
"$BIN" convert --ckpt "$RUN/ema.safetensors" -o "$model" --storage "$STORAGE" -q

# The training crops' mean a, b: the constant baseline.
read -r mean_a mean_b < <("$BIN" eval --pred "$WORK/crops128" --ref "$WORK/crops128" --metrics ab --json "$out/train_ab.json" -q \
  >/dev/null && python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print(m['ab_mean_a_ref']['value'], m['ab_mean_b_ref']['value'])" "$out/train_ab.json")
# The model on every held-out photo at its training size (the output keeps the photo's size: Lab fusion), scored.
BIGCOLOR_BIN="$BIN" bash "$root/tools/score_colorizer.sh" "$model" "$HELD" "$out" colorful,ab,psnr,ssim 128 \
  --ab-constant "$mean_a" "$mean_b"
mv "$out/scores.json" "$out/heldout.json"

# Contact sheet: held-out photos showing people, water, sky, vegetation, an animal and a building (the first of each
# in data/photo_sources.tsv's content column).
sheet=()
picked=" "
for tag in people water sky vegetation animal building; do
  name=$(awk -F'\t' -v t="$tag" -v picked="$picked" 'NR > 1 && $2 == "heldout" && index("," $9 ",", "," t ",") &&
    !index(picked, " " $1 " ") { print $1; exit }' "$root/data/photo_sources.tsv")
  [ -n "$name" ] || continue
  picked="$picked$name "
  stem=${name%.*}
  [ -f "$out/pred/$stem.png" ] || continue
  src="$HELD/$name"
  convert "$src" -resize 320x240^ -gravity center -extent 320x240 -colorspace Gray -colorspace sRGB "$out/gray/$stem.png"
  convert "$out/pred/$stem.png" -resize 320x240^ -gravity center -extent 320x240 "$out/gray/${stem}_pred.png"
  convert "$src" -resize 320x240^ -gravity center -extent 320x240 "$out/gray/${stem}_truth.png"
  sheet+=("$out/gray/$stem.png" "$out/gray/${stem}_pred.png" "$out/gray/${stem}_truth.png")
done
mkdir -p "$root/weights"
montage "${sheet[@]}" -tile 3x -geometry +4+4 -background white "$root/weights/contact_sheet.jpg.tmp.jpg"
mv "$root/weights/contact_sheet.jpg.tmp.jpg" "$root/weights/contact_sheet.jpg"

cp "$model" "$root/weights/bigcolor-small.safetensors.tmp"
mv "$root/weights/bigcolor-small.safetensors.tmp" "$root/weights/bigcolor-small.safetensors"
python3 - "$root/weights" "$RUN" "$out/heldout.json" "$mean_a" "$mean_b" "$root/data/photo_sources.tsv" "$STORAGE" <<'PY'
import csv, hashlib, json, os, sys
weights, run, heldout, mean_a, mean_b, sources, storage = sys.argv[1:8]
path = os.path.join(weights, "bigcolor-small.safetensors")
data = open(path, "rb").read()
log = [json.loads(l) for l in open(os.path.join(run, "log.jsonl"))]
options = json.load(open(os.path.join(run, "run.json")))
report = json.load(open(heldout))
scores = {name: round(m["value"], 4) for name, m in report["metrics"].items()}
# The a/b error of the model and of gray, per content tag of the held-out photos (where it helps, where it fails).
tags = {os.path.splitext(r["name"])[0]: r["content"].split(",") for r in csv.DictReader(open(sources), delimiter="\t")}
by_tag = {}
for key, row in report["images"].items():
    for tag in tags.get(key, []):
        t = by_tag.setdefault(tag, {"photos": 0, "ab_error": 0.0, "ab_error_gray": 0.0, "better_than_gray": 0})
        t["photos"] += 1
        t["ab_error"] += row["ab_error"]
        t["ab_error_gray"] += row["ab_error_gray"]
        t["better_than_gray"] += row["ab_error"] < row["ab_error_gray"]
for t in by_tag.values():
    t["ab_error"] = round(t["ab_error"] / t["photos"], 3)
    t["ab_error_gray"] = round(t["ab_error_gray"] / t["photos"], 3)
better = sum(r["ab_error"] < r["ab_error_gray"] for r in report["images"].values())
# The loss terms the run trained with (the log writes every term, zero where inactive).
active = [k for k in ("mse", "l1", "ab", "lpips") if options.get("coef_" + k, 0) > 0]
if not options.get("no_discriminator", False):
    active = ["loss_d", "loss_g"] + active
# Where it was trained: this machine's CPU model and core count, and the run's precision.
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
machine = f"{os.cpu_count()}-core {cpu} (this project's development machine), CPU, {options.get('precision', 'fp32')}"
manifest = {
    "file": "bigcolor-small.safetensors",
    "bytes": len(data),
    "sha256": hashlib.sha256(data).hexdigest(),
    "image_size": options["image_size"],
    "description": f"BigColor at width {options['width']} (G_ch = D_ch = encoder {options['width']}), one class, "
                   f"trained from scratch at {options['image_size']}x{options['image_size']} on 273 freely licensed "
                   f"photos from Debian packages; the EMA weights, stored as {storage}",
    "storage": storage,
    "training": {
        "command": "tools/train_bundled_model.sh (bigcolor train, the options below)",
        "options": options,
        "steps": log[-1]["step"],
        "seconds": round(log[-1]["seconds"]),
        "machine": machine,
        "final_losses": {k: log[-1][k] for k in active if k in log[-1]},
    },
    "data": {
        "photos": "data/photo_sources.tsv (source package, path, SHA-256, licence, author, split of each photo)",
        "licences": "data/PHOTO_LICENSES.md",
        "train": 273, "heldout": 47,
        "samples": "6 random 128x128 crops per training photo, every second mirrored (tools/make_crops.sh, seed 2026)",
    },
    "heldout": {
        "photos": 47,
        "scores": scores,
        "constant_baseline_ab": [round(float(mean_a), 4), round(float(mean_b), 4)],
        "photos_better_than_gray": better,
        "by_content": dict(sorted(by_tag.items())),
    },
}
with open(os.path.join(weights, "bigcolor-small.json.tmp"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
os.replace(os.path.join(weights, "bigcolor-small.json.tmp"), os.path.join(weights, "bigcolor-small.json"))
print(json.dumps(manifest["heldout"], indent=2))
PY
