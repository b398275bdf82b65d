#!/usr/bin/env bash
# The library door, checked as a user meets it: installs the build into a scratch prefix, then builds the example
# (examples/colorize_photo.cpp) outside the source tree twice, with find_package(bigcolor) and with pkg-config,
# and runs both on a test photo with the tiny official-format model. Part of tools/build_and_test.sh.
#   bash tools/check_install.sh [BUILD_DIR]          (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
work=$(mktemp -d /tmp/bigcolor_install_check.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$BUILD_DIR" --prefix "$prefix" >"$work/install.log"
test -f "$prefix/include/bigcolor/bigcolor.h" && test -f "$prefix/lib/libbigcolor.a" &&
  test -f "$prefix/lib/cmake/bigcolor/bigcolorConfig.cmake" && test -f "$prefix/lib/pkgconfig/bigcolor.pc" ||
  { echo "check_install: the install into $prefix lacks a header, the library or a package file" >&2; exit 1; }
# Only the public API is installed: no internal header may be needed by it.
if grep -R '#include "' "$prefix/include/bigcolor" | grep -v '"bigcolor/'; then
  echo "check_install: an installed header includes an internal one" >&2; exit 1
fi

photo=tests/golden/images/gray.png
model=tests/golden/official_tiny
# 1. CMake: find_package(bigcolor) and the imported target bigcolor::bigcolor.
cmake -S examples -B "$work/cmake-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake.log" ||
  { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/cmake-build" -j "$(nproc)" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
"$work/cmake-build/colorize_photo" "$model" "$photo" "$work/cmake_" 1
test -s "$work/cmake__c001.jpg" || { echo "check_install: the find_package example wrote no picture" >&2; exit 1; }
# 2. pkg-config.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
c++ -O1 examples/colorize_photo.cpp $(pkg-config --cflags bigcolor) -o "$work/pc_example" $(pkg-config --libs bigcolor)
"$work/pc_example" "$model" "$photo" "$work/pc_" 1
cmp -s "$work/cmake__c001.jpg" "$work/pc__c001.jpg" ||
  { echo "check_install: the two example builds gave different pictures" >&2; exit 1; }
echo "check_install: installed into a scratch prefix; the example built with find_package and with pkg-config, and colorized $photo"
