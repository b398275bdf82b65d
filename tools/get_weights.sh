#!/usr/bin/env bash
# Downloads the official BigColor release (the ECCV 2022 authors' Google Drive files, fetched with gdown from PyPI)
# into ckpts/bigcolor/ (EG_011.ckpt, EG_EMA_011.ckpt, args.pkl) and pretrained/config.pickle — the layout
# `bigcolor colorize --ckpt ckpts/bigcolor` expects. Files already present are kept.
#   bash tools/get_weights.sh [DEST_DIR]        (default: the repository root)
# The file ids are those of the official download scripts (download-bigcolor.sh, download-pretrained.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.}
mkdir -p "$DEST/ckpts/bigcolor" "$DEST/pretrained"
VENV=${BIGCOLOR_TOOLS_VENV:-$HOME/.cache/bigcolor-tools-venv}
if [ ! -x "$VENV/bin/gdown" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q gdown
fi
fetch() {  # id, path
  if [ -s "$2" ]; then echo "have $2"; return; fi
  "$VENV/bin/gdown" --quiet "$1" -O "$2.part" && mv "$2.part" "$2" ||
    { rm -f "$2.part"; echo "could not download $2 (Google Drive id $1); get it from the official release" >&2; exit 1; }
  echo "got $2"
}
fetch 1SCrcIxhm2F1SMTUUcNTEtB4fQu6y7RDK "$DEST/ckpts/bigcolor/EG_011.ckpt"
fetch 1A6JwWeedJa56_6lDOkkR3hqvJ_aNUghE "$DEST/ckpts/bigcolor/EG_EMA_011.ckpt"
fetch 1iQ2OAnQRAqd-6PDtQCrqh5-L_F_GXpq4 "$DEST/ckpts/bigcolor/args.pkl"
fetch 1qvxR2ZK5-gaLgtxem9fdLmfSKKvXF6eW "$DEST/pretrained/config.pickle"
