#!/usr/bin/env bash
# Copies the build's third-party headers and libraries into .deps/ (git-ignored), so that a GPU machine that
# reaches no package registry can build the project from the tree: run it here, then carry .deps with the tree
# and run tools/gpu_check.sh there. Nothing copied here is ever committed.
#   bash tools/gpu_deps.sh        (needs the packages tools/build_and_test.sh installs)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .deps && mkdir -p .deps/include .deps/lib
arch=/usr/lib/x86_64-linux-gnu
cp -r /usr/include/doctest /usr/include/nlohmann /usr/include/benchmark /usr/include/stb /usr/include/CLI .deps/include/
cp /usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h /usr/include/x86_64-linux-gnu/openblas-openmp/openblas_config.h \
  .deps/include/
cp -L "$arch/libbenchmark.so.1debian" .deps/lib/ && ln -s libbenchmark.so.1debian .deps/lib/libbenchmark.so
cp -L "$arch/openblas-openmp/libopenblas.so.0" .deps/lib/libopenblas.so.0
ln -s libopenblas.so.0 .deps/lib/libopenblas.so
cp -L "$arch/libgfortran.so.5" "$arch/libquadmath.so.0" .deps/lib/
# libjpeg-turbo and libpng for src/imaging/codec_jpeg.cpp and codec_png.cpp, and zlib, without which CMake's
# FindPNG finds no libpng.
cp /usr/include/jpeglib.h /usr/include/jmorecfg.h /usr/include/jerror.h /usr/include/x86_64-linux-gnu/jconfig.h \
  /usr/include/zlib.h /usr/include/zconf.h .deps/include/
cp -L /usr/include/png.h /usr/include/pngconf.h /usr/include/pnglibconf.h .deps/include/
cp -L "$arch/libjpeg.so.62" "$arch/libpng16.so.16" "$arch/libz.so.1" .deps/lib/
ln -s libjpeg.so.62 .deps/lib/libjpeg.so && ln -s libpng16.so.16 .deps/lib/libpng.so && ln -s libz.so.1 .deps/lib/libz.so
# oneDNN (libdnnl.so.2, 40 MB) stays behind: with it the carried tree would pass the device tool's 64 MiB. The GPU
# machine's build then has no native CPU bf16 (BIGCOLOR_DNNL=AUTO), and its CPU bf16 tests run the emulated engine,
# which they accept; the native CPU engine is tested here, in CI.
du -sh .deps
