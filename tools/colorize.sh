#!/usr/bin/env bash
# The README's main-job command: sets everything up on a fresh machine and colorizes photos.
#   bash tools/colorize.sh INPUT... [bigcolor colorize options]        (as root, or with sudo, on a fresh machine)
#   e.g. bash tools/colorize.sh photo.jpg                 (the official release if present, else the bundled model)
#        bash tools/colorize.sh photo.jpg --class 207     (the official release: tools/get_weights.sh fetches it)
# Installs the build's Debian packages (as root, when missing; run it with sudo otherwise), builds build/bigcolor
# (CUDA when a toolkit is there) and runs `bigcolor colorize INPUT... -o results [options]`. Without --ckpt,
# bigcolor uses the official release in ckpts/bigcolor when it is there and the small model bundled in weights/
# otherwise (it says which); nothing is downloaded. Results go to results/ unless -o is given. --ckpt PATH,
# --ckpt=PATH, -o DIR, -oDIR, --output DIR and --output=DIR are recognized as bigcolor reads them.
# BIGCOLOR_BIN=path/to/bigcolor uses that binary and skips the set-up and build (the tests do).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$root/build}
args=("$@")
has_ckpt=0 has_output=0
for a in "${args[@]}"; do
  case "$a" in
    --ckpt | --ckpt=*) has_ckpt=1 ;;
    -o | -o?* | --output | --output=*) has_output=1 ;;
  esac
done
if [ -n "${BIGCOLOR_BIN:-}" ]; then
  bin=$BIGCOLOR_BIN
else
  BUILD_DIR=$BUILD_DIR SKIP_TESTS=1 bash "$root/tools/build_and_test.sh" >&2
  bin=$BUILD_DIR/bigcolor
fi
# The official release is looked for in the source tree's ckpts/ (where get_weights.sh puts it), from any folder.
if [ "$has_ckpt" = 0 ] && [ -d "$root/ckpts/bigcolor" ]; then args+=(--ckpt "$root/ckpts/bigcolor"); fi
[ "$has_output" = 1 ] || args+=(-o results)
exec "$bin" colorize "${args[@]}"
