#!/usr/bin/env bash
# Scores a colorizer checkpoint on a folder of colour photos (issue 15): colorizes each photo at SIZE (class 0,
# z ~ N(0, 0.8^2), Lab fusion at the photo's own size) into OUT_DIR/pred/<stem>.png, then `bigcolor eval` against
# the photos with METRICS (and any further eval options) into OUT_DIR/scores.json. The a/b metric also scores the
# gray prediction (a = b = 0) on the same pixels.
#   tools/score_colorizer.sh CKPT PHOTOS_DIR OUT_DIR [METRICS=ab] [SIZE=128] [EVAL_OPTIONS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: score_colorizer.sh CKPT PHOTOS_DIR OUT_DIR [METRICS] [SIZE] [EVAL_OPTIONS...]"
CKPT=${1:?$usage}
PHOTOS=${2:?$usage}
OUT=${3:?$usage}
METRICS=${4:-ab}
SIZE=${5:-128}
shift $(($# < 5 ? $# : 5))
BIN=${BIGCOLOR_BIN:-$root/build/bigcolor}
[ -f "$CKPT" ] || { echo "score_colorizer: $CKPT: missing" >&2; exit 1; }
[ -d "$PHOTOS" ] || { echo "score_colorizer: $PHOTOS: not a folder" >&2; exit 1; }
rm -rf "$OUT/raw" "$OUT/pred"
mkdir -p "$OUT/pred"
"$BIN" colorize "$PHOTOS" --ckpt "$CKPT" --class 0 --size "$SIZE" --png -o "$OUT/raw" -q
for f in "$OUT"/raw/*_c000.png; do b=$(basename "$f"); mv "$f" "$OUT/pred/${b%_c000.png}.png"; done
rmdir "$OUT/raw"
"$BIN" eval --pred "$OUT/pred" --ref "$PHOTOS" --metrics "$METRICS" "$@" --json "$OUT/scores.json" -q >/dev/null
