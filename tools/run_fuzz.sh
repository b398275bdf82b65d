#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan, the library instrumented too) and runs each
# for FUZZ_SECONDS (default 20) from the committed test files as seed corpus (fuzz_torch_file: the readers;
# fuzz_inspect: `bigcolor inspect`'s whole report; fuzz_image: the image decoders). Exit status non-zero on any crash,
# leak, timeout or sanitizer report; the reproducer is left in FUZZ_DIR (default build-fuzz/findings).
#   bash tools/run_fuzz.sh               # part of tools/build_and_test.sh
#   FUZZ_SECONDS=600 bash tools/run_fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
FINDINGS=${FUZZ_DIR:-$BUILD/findings}
mkdir -p "$BUILD"
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBIGCOLOR_CUDA=OFF \
  -DBIGCOLOR_BUILD_TESTS=OFF -DBIGCOLOR_BUILD_BENCH=OFF -DBIGCOLOR_BUILD_FUZZ=ON > "$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" --target fuzz_torch_file fuzz_image fuzz_inspect
mkdir -p "$FINDINGS"
run() {  # name, [-dict=FILE], seed folder(s)...
  local name=$1; shift
  local corpus="$BUILD/corpus_$name"
  mkdir -p "$corpus"
  echo "fuzzing $name for ${SECONDS_EACH}s"
  "$BUILD/$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
    -artifact_prefix="$FINDINGS/$name-" -print_final_stats=1 "$corpus" "$@" 2>&1 | tail -n 12
}
# The pickle readers get a dictionary of the opcodes that build shared structure (memo references) and the hostile
# seeds of tests/golden/hostile (tools/make_golden_hostile.py): the amplification class.
run fuzz_torch_file -dict=fuzz/pickle.dict tests/golden/checkpoints tests/golden/official_tiny_variants tests/golden/hostile
run fuzz_inspect -dict=fuzz/pickle.dict tests/golden/hostile tests/golden/checkpoints tests/golden/official_tiny_variants
run fuzz_image tests/golden/images
echo "fuzzing finished: no crash"
