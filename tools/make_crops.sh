#!/usr/bin/env bash
# Stretches a folder of photos into many training samples for `bigcolor train` (issue 15's bundled model): each
# photo is scaled so that its short side is SHORT pixels, then CROPS random SIZE x SIZE crops are cut from it, every
# second one mirrored left-right. Deterministic: the crop offsets come from a seeded generator (awk's srand), so the
# same photos and SEED give the same files. Needs ImageMagick's `convert` (Debian: imagemagick).
#   tools/make_crops.sh PHOTOS_DIR OUT_DIR [SIZE=128] [SHORT=160] [CROPS=6] [SEED=2026]
set -euo pipefail
IN=${1:?usage: make_crops.sh PHOTOS_DIR OUT_DIR [SIZE] [SHORT] [CROPS] [SEED]}
OUT=${2:?usage: make_crops.sh PHOTOS_DIR OUT_DIR [SIZE] [SHORT] [CROPS] [SEED]}
SIZE=${3:-128}
SHORT=${4:-160}
CROPS=${5:-6}
SEED=${6:-2026}
command -v convert >/dev/null || { echo "make_crops: ImageMagick's convert is missing (apt-get install imagemagick)" >&2; exit 1; }
[ -d "$IN" ] || { echo "make_crops: $IN: not a folder" >&2; exit 1; }
[ "$SHORT" -ge "$SIZE" ] || { echo "make_crops: SHORT ($SHORT) must be at least SIZE ($SIZE)" >&2; exit 1; }
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
while IFS= read -r photo; do
  stem=$(basename "${photo%.*}")
  convert "$photo" -auto-orient -colorspace sRGB -resize "${SHORT}x${SHORT}^" "$tmp/scaled.png"
  read -r w h < <(identify -format '%w %h\n' "$tmp/scaled.png")
  # The offsets of this photo's crops: seeded by SEED and the photo's name (not its position in the folder).
  key=$(printf '%s' "$SEED:$stem" | cksum | cut -d' ' -f1)
  offsets=$(awk -v s="$key" -v w="$w" -v h="$h" -v c="$SIZE" -v k="$CROPS" \
    'BEGIN { srand(s); for (i = 0; i < k; i++) printf "%d %d\n", int(rand() * (w - c + 1)), int(rand() * (h - c + 1)) }')
  i=0
  while read -r x y; do
    flip=()
    [ $((i % 2)) -eq 1 ] && flip=(-flop)
    convert "$tmp/scaled.png" -crop "${SIZE}x${SIZE}+${x}+${y}" +repage "${flip[@]}" \
      "$OUT/${stem}_crop${i}.png.tmp.png"
    mv "$OUT/${stem}_crop${i}.png.tmp.png" "$OUT/${stem}_crop${i}.png"
    i=$((i + 1))
    n=$((n + 1))
  done <<< "$offsets"
done < <(find "$IN" -maxdepth 1 -type f \( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' \) | LC_ALL=C sort)
echo "make_crops: $n crops of ${SIZE}x${SIZE} in $OUT"
