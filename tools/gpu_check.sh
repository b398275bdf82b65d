#!/usr/bin/env bash
# The project's GPU check, for a bare GPU machine that reaches no package registry.
#   here:  bash tools/gpu_deps.sh                      (copies headers/libraries into .deps/, git-ignored)
#   there: bash tools/gpu_check.sh OUT_DIR             (with .deps carried along with the tree)
# Builds the project with the CUDA backend (sm_90), runs every test (CPU suites and CUDA-vs-CPU), runs the
# benchmarks (SKIP_BENCH=1 skips them), and writes to OUT_DIR: build.log, tests.log, cuda_tests.log, bench.log, bench.json, summary.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: tools/gpu_check.sh OUT_DIR}
mkdir -p "$OUT"
ROOT=$PWD
DEPS=$ROOT/.deps
[ -d "$DEPS" ] || { echo "no .deps folder: run tools/gpu_deps.sh on the build machine and carry .deps" >&2; exit 2; }
export PATH=/usr/local/cuda/bin:$PATH
export LD_LIBRARY_PATH=$DEPS/lib:${LD_LIBRARY_PATH:-}

# cuDNN: the toolkit's, else the one PyTorch's wheels ship (site-packages/nvidia/cudnn), given a libcudnn.so link.
if ! ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h >/dev/null 2>&1; then
  site=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null ||
         python3 -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null)
  if [ -n "$site" ] && [ -f "$site/include/cudnn.h" ]; then
    mkdir -p /tmp/cudnn/lib && ln -sfn "$site/include" /tmp/cudnn/include
    for f in "$site"/lib/libcudnn*.so.*; do ln -sf "$f" /tmp/cudnn/lib/; done
    ln -sf "$(ls "$site"/lib/libcudnn.so.* | head -1)" /tmp/cudnn/lib/libcudnn.so
    export CUDNN_ROOT=/tmp/cudnn LD_LIBRARY_PATH=/tmp/cudnn/lib:$LD_LIBRARY_PATH
  fi
fi

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  nvcc --version | tail -2
  echo "CUDNN_ROOT=${CUDNN_ROOT:-system}"
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

BUILD=/tmp/bigcolor-build
status_build=0
{ cmake -S . -B $BUILD -DCMAKE_BUILD_TYPE=Release -DBIGCOLOR_CUDA=ON -DBIGCOLOR_DEPS_DIR="$DEPS" &&
  cmake --build $BUILD -j "$(nproc)"; } > "$OUT/build.log" 2>&1 || status_build=$?
tail -5 "$OUT/build.log"
if [ $status_build -ne 0 ]; then echo "BUILD FAILED" | tee "$OUT/summary.md"; exit 1; fi

ctest --test-dir $BUILD --output-on-failure > "$OUT/tests.log" 2>&1; status_tests=$?
tail -8 "$OUT/tests.log"
# The CUDA suite once more with every comparison's error printed (-s), for the record.
$BUILD/bigcolor_tests --test-suite=cuda --require-gpu -s > "$OUT/cuda_tests.log" 2>&1; status_cuda=$?
tail -4 "$OUT/cuda_tests.log"

status_bench=skipped
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  $BUILD/bigcolor_bench --benchmark_filter="${BENCH_FILTER:-cuda}" --benchmark_min_time="${BENCH_MIN_TIME:-0.3}" \
    --benchmark_out="$OUT/bench.json" --benchmark_out_format=json > "$OUT/bench.log" 2>&1; status_bench=$?
  cat "$OUT/bench.log"
fi

{
  echo "# bigcolor GPU check, $(date -u +%Y-%m-%d)"
  echo
  echo '```'; cat "$OUT/machine.txt"; echo '```'
  echo
  echo "| step | exit status |"
  echo "| --- | --- |"
  echo "| build | $status_build |"
  echo "| ctest (cpu + cuda) | $status_tests |"
  echo "| cuda suite | $status_cuda |"
  echo "| benchmarks | $status_bench |"
  echo
  echo '```'; grep -E "test cases|assertions" "$OUT/cuda_tests.log"; grep -E "tests passed|Skipped|Failed|\*\*\*" "$OUT/tests.log"; echo '```'
  echo
  echo "| benchmark | time (ms) | GFLOP/s | sgemm ratio |"
  echo "| --- | --- | --- | --- |"
  [ -f "$OUT/bench.json" ] && python3 - "$OUT/bench.json" <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(f"| {b['name'].replace('/manual_time', '')} | {b['real_time']:.3f} | {b.get('GFLOP/s', 0):.1f} | {b.get('sgemm_ratio', 0):.2f} |")
PY
} > "$OUT/summary.md"
cat "$OUT/summary.md"
[ "$status_bench" = skipped ] && status_bench=0
exit $(( status_tests || status_cuda || status_bench ))
