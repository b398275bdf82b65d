#!/usr/bin/env bash
# Copies the build's third-party headers and libraries into .deps/ (git-ignored), so that a GPU machine that
# reaches no package registry can build the project from the tree: run it here, then carry .deps with the tree
# and run tools/gpu_check.sh there. Nothing copied here is ever committed.
#   bash tools/gpu_deps.sh        (needs the packages tools/build_and_test.sh installs)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .deps && mkdir -p .deps/include .deps/lib
arch=/usr/lib/x86_64-linux-gnu
cp -r /usr/include/doctest /usr/include/nlohmann /usr/include/benchmark /usr/include/stb .deps/include/
cp /usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h /usr/include/x86_64-linux-gnu/openblas-openmp/openblas_config.h \
  .deps/include/
cp -L "$arch/libbenchmark.so.1debian" .deps/lib/ && ln -s libbenchmark.so.1debian .deps/lib/libbenchmark.so
cp -L "$arch/openblas-openmp/libopenblas.so.0" .deps/lib/libopenblas.so.0
ln -s libopenblas.so.0 .deps/lib/libopenblas.so
cp -L "$arch/libgfortran.so.5" "$arch/libquadmath.so.0" .deps/lib/
du -sh .deps
