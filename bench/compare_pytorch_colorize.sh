#!/usr/bin/env bash
# Our colorize forward against PyTorch's, fp32 and bf16, back to back on the same machine (a shared machine is
# noisy: read the ratios, from one run of this script, not absolute times from different days).
#   bash bench/compare_pytorch_colorize.sh BUILD_DIR PYTHON [OUT.json]
# BUILD_DIR holds bigcolor_bench; PYTHON is an interpreter with torch and safetensors (a virtual environment outside
# the repository). Ours: bench_colorize.cpp's colorize/cpu cases (fp32 and --precision bf16); PyTorch's:
# bench/bench_pytorch_colorize.py (the same network from the golden tools' mirror, eager, torch.autocast for bf16).
set -euo pipefail
BUILD=${1:?usage: compare_pytorch_colorize.sh BUILD_DIR PYTHON [OUT.json]}
PY=${2:?usage: compare_pytorch_colorize.sh BUILD_DIR PYTHON [OUT.json]}
OUT=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OMP_WAIT_POLICY=passive "$BUILD/bigcolor_bench" --benchmark_filter='colorize/cpu' --benchmark_out="$tmp/ours.json" \
  --benchmark_out_format=json > /dev/null
"$PY" "$root/bench/bench_pytorch_colorize.py" --threads "$(nproc)" > "$tmp/pytorch.json"
python3 - "$tmp/ours.json" "$tmp/pytorch.json" "$OUT" <<'PY'
import json, sys
ours = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    parts = b["name"].split("/")  # colorize/cpu/256x256[/bf16]/iterations:3/manual_time
    ours[(parts[2], "bf16" if "bf16" in parts else "fp32")] = b["real_time"] / 1000.0  # ms -> s
theirs = json.load(open(sys.argv[2]))
rows = []
print(f"PyTorch {theirs['torch']}, {theirs['threads']} threads")
print("| model input | precision | bigcolor | PyTorch | PyTorch / bigcolor |")
print("| --- | --- | --- | --- | --- |")
for c in theirs["cases"]:
    mine = ours[(c["size"], c["precision"])]
    rows.append({**c, "bigcolor_seconds": mine, "ratio": c["seconds"] / mine})
    print(f"| {c['size']} | {c['precision']} | {mine:.3f} s | {c['seconds']:.3f} s | {c['seconds'] / mine:.2f}x |")
if sys.argv[3]:
    with open(sys.argv[3], "w") as f:
        json.dump({"torch": theirs["torch"], "threads": theirs["threads"], "rows": rows}, f, indent=2)
PY
