#!/usr/bin/env bash
# The project's one test command: installs the Debian packages the build needs (when run as root and they are
# missing), configures (CUDA backend built when a CUDA toolkit is found), builds everything and runs every test.
#   sudo bash tools/build_and_test.sh            # build folder: build/
#   BUILD_DIR=/tmp/b bash tools/build_and_test.sh
# CTest runs two entries: "cpu" (all CPU suites: unit, golden, finite differences, the CLI) and "cuda" (CUDA vs
# CPU), which is reported as *Skipped* where no GPU is visible. Then the libFuzzer targets (checkpoint reader,
# image loader) run briefly under ASan/UBSan (tools/run_fuzz.sh; FUZZ_SECONDS, default 20 each).
# Then tools/check_install.sh installs the library into a scratch prefix and builds and runs the example against it
# (find_package and pkg-config).
# SKIP_TESTS=1 only installs and builds (tools/colorize.sh uses that).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PACKAGES="cmake g++ make libopenblas-openmp-dev libdnnl-dev doctest-dev libbenchmark-dev nlohmann-json3-dev libstb-dev libcli11-dev libjpeg62-turbo-dev libpng-dev clang libclang-rt-14-dev libomp-14-dev pkg-config libopenmpi-dev openmpi-bin"

missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages:$missing (run this script as root to install them)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

# A CUDA toolkit installed under /usr/local/cuda is used even when nvcc is not on PATH.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBIGCOLOR_CUDA="${BIGCOLOR_CUDA:-AUTO}"
cmake --build "$BUILD_DIR" -j "$(nproc)"
[ "${SKIP_TESTS:-0}" = 1 ] && exit 0
ctest --test-dir "$BUILD_DIR" --output-on-failure
bash tools/check_install.sh "$BUILD_DIR"
FUZZ_BUILD_DIR="$BUILD_DIR-fuzz" bash tools/run_fuzz.sh
