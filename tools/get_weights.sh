#!/usr/bin/env bash
# Downloads the official BigColor release (the ECCV 2022 authors' Google Drive files, fetched with gdown from PyPI)
# into ckpts/bigcolor/ (EG_011.ckpt, EG_EMA_011.ckpt, args.pkl) and pretrained/config.pickle — the layout
# `bigcolor colorize --ckpt ckpts/bigcolor` expects. Files already present are kept.
#   bash tools/get_weights.sh [DEST_DIR]        (default: the repository root)
#   bash tools/get_weights.sh --classifier NAME [DEST_DIR]
#        one ImageNet classifier for colorize --classifier / bigcolor classify, as timm downloads it: the model
#        hub's model.safetensors of timm/<repo>, saved as DEST_DIR/pretrained/NAME.safetensors. NAME is
#        resnet50d (timm/resnet50d.ra2_in1k, the weights timm gave resnet50d when the official code was written),
#        tf_efficientnet_l2_ns_475 (timm/tf_efficientnet_l2.ns_jft_in1k_475, colorize_real.py's default, 1.9 GB)
#        or tf_efficientnet_b0 .. b7 (timm/tf_efficientnet_bN.ns_jft_in1k).
# The file ids are those of the official download scripts (download-bigcolor.sh, download-pretrained.sh).
# Offline, or when Google Drive refuses (its rate limits are common), it fails with one line saying what to fetch
# and where to put it; it leaves no partial file and no folder it made.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --classifier ]; then DEST=${3:-.}; else DEST=${1:-.}; fi
VENV=${BIGCOLOR_TOOLS_VENV:-$HOME/.cache/bigcolor-tools-venv}
WHAT="EG_011.ckpt, EG_EMA_011.ckpt and args.pkl into $DEST/ckpts/bigcolor/, config.pickle into $DEST/pretrained/"
FETCH_HINT="get the official BigColor release by hand ($WHAT; https://github.com/KIMGEONUNG/BigColor), or give --ckpt FILE_OR_DIR"
LOG=$(mktemp)
made=()
cleanup() {
  rm -f "$LOG"
  for ((i = ${#made[@]} - 1; i >= 0; i--)); do rmdir "${made[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
fail() {  # one line, then exit 1 (the trap removes the folders this run made that are still empty)
  echo "get_weights: $1; $FETCH_HINT" >&2
  exit 1
}
mkdir_tracked() {
  local d=$1 parts=() p
  while [ ! -d "$d" ]; do parts=("$d" "${parts[@]}"); d=$(dirname "$d"); done
  for p in "${parts[@]}"; do mkdir "$p" && made+=("$p"); done
}
if [ "${1:-}" = --classifier ]; then
  NAME=${2:?usage: tools/get_weights.sh --classifier NAME [DEST_DIR]}
  case "$NAME" in
    resnet50d) REPO=timm/resnet50d.ra2_in1k ;;
    tf_efficientnet_l2_ns_475) REPO=timm/tf_efficientnet_l2.ns_jft_in1k_475 ;;
    tf_efficientnet_b[0-7]) REPO=timm/$NAME.ns_jft_in1k ;;
    *) echo "get_weights: unknown classifier '$NAME' (resnet50d, tf_efficientnet_l2_ns_475, tf_efficientnet_b0..b7)" >&2
       exit 2 ;;
  esac
  OUT=$DEST/pretrained/$NAME.safetensors
  if [ -s "$OUT" ]; then echo "have $OUT"; exit 0; fi
  URL=https://huggingface.co/$REPO/resolve/main/model.safetensors
  mkdir_tracked "$DEST/pretrained"
  command -v curl >/dev/null || { echo "get_weights: needs curl (apt-get install curl) to download $URL" >&2; exit 1; }
  if ! curl -fsSL --retry 2 -o "$OUT.part" "$URL" 2>/dev/null || [ ! -s "$OUT.part" ]; then
    rm -f "$OUT.part"
    echo "get_weights: could not download $URL (offline?); fetch model.safetensors of $REPO from the Hugging Face hub by hand and save it as $OUT" >&2
    exit 1
  fi
  mv "$OUT.part" "$OUT"
  made=()  # keep the folder
  echo "got $OUT (check it: bigcolor classify PHOTO --classifier $OUT)"
  exit 0
fi
if [ ! -x "$VENV/bin/gdown" ]; then
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q gdown; } >"$LOG" 2>&1 ||
    fail "could not install gdown from PyPI into $VENV (offline?)"
fi
fetch() {  # id, path
  if [ -s "$2" ]; then echo "have $2"; return; fi
  mkdir_tracked "$(dirname "$2")"
  if ! "$VENV/bin/gdown" --quiet "$1" -O "$2.part" >"$LOG" 2>&1 || [ ! -s "$2.part" ]; then
    rm -f "$2.part"
    fail "could not download $(basename "$2") (Google Drive id $1: offline, or refused by Drive's rate limit)"
  fi
  mv "$2.part" "$2"
  echo "got $2"
}
fetch 1SCrcIxhm2F1SMTUUcNTEtB4fQu6y7RDK "$DEST/ckpts/bigcolor/EG_011.ckpt"
fetch 1A6JwWeedJa56_6lDOkkR3hqvJ_aNUghE "$DEST/ckpts/bigcolor/EG_EMA_011.ckpt"
fetch 1iQ2OAnQRAqd-6PDtQCrqh5-L_F_GXpq4 "$DEST/ckpts/bigcolor/args.pkl"
fetch 1qvxR2ZK5-gaLgtxem9fdLmfSKKvXF6eW "$DEST/pretrained/config.pickle"
made=()  # everything is in place: keep the folders
