#!/usr/bin/env bash
# The README's main-job command: sets everything up on a fresh machine and colorizes photos.
#   sudo bash tools/colorize.sh INPUT... [bigcolor colorize options]
#   e.g. sudo bash tools/colorize.sh photo.jpg --class 207
# Installs the build's Debian packages (as root, when missing), builds build/bigcolor (CUDA when a toolkit is
# there), downloads the official checkpoint into ckpts/bigcolor unless --ckpt is given, and runs
# `bigcolor colorize INPUT... -o results --ckpt ckpts/bigcolor [options]`. Results go to results/ unless -o is given.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$root/build} SKIP_TESTS=1 bash "$root/tools/build_and_test.sh" >&2
args=("$@")
has() { for a in "${args[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }
if ! has --ckpt; then
  bash "$root/tools/get_weights.sh" "$root" >&2
  args+=(--ckpt "$root/ckpts/bigcolor")
fi
has -o || has --out || args+=(-o results)
exec "${BUILD_DIR:-$root/build}/bigcolor" colorize "${args[@]}"
