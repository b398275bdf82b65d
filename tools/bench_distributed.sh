#!/usr/bin/env bash
# Data-parallel training on this machine: the same reduced-width training run in one process and under
# `mpirun -np 2` (one rank per core), side by side, from the runs' own log.jsonl (step_s: a step's wall time on rank
# 0; communication_s: its time in the collectives: the buffer broadcast, the D and EG gradient all-reduces, the loss
# average; overlapped_s: how long the gradient all-reduces started during the backward had been under way when the
# backward ended). Writes a Markdown table to stdout.
#   tools/bench_distributed.sh [build-dir] [steps] [width] [image-size] [global-batch]
set -euo pipefail
BUILD=${1:-build}
STEPS=${2:-12}
WIDTH=${3:-16}
SIZE=${4:-64}
BATCH=${5:-4}
BIN="$BUILD/bigcolor"
[ -x "$BIN" ] || { echo "bench_distributed: $BIN is not built" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench_distributed: mpirun not found (openmpi-bin)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# 16 random-texture photos in 4 class folders (PNG written with Python's standard library only).
python3 - "$WORK/data" <<'PY'
import os, random, struct, sys, zlib
root = sys.argv[1]
def png(path, w, h, rnd):
    rows = b"".join(b"\0" + bytes(rnd.randrange(256) for _ in range(3 * w)) for _ in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
rnd = random.Random(7)
for c in range(4):
    os.makedirs(f"{root}/class{c}", exist_ok=True)
    for i in range(4):
        png(f"{root}/class{c}/img{i}.png", 96, 80, rnd)
PY

VGG=tests/golden/training_tiny/vgg16_tiny.pth
common=(train --data "$WORK/data" --vgg "$VGG" --width "$WIDTH" --n-classes 10 --image-size "$SIZE"
        --batch "$BATCH" --max-steps "$STEPS" --log-every 1 --sample-every 0 --checkpoint-every 100000
        --device cpu --workers 1 -q)
"$BIN" "${common[@]}" --out "$WORK/one" --threads "$(nproc)" 2>/dev/null
mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN" "${common[@]}" --out "$WORK/two" --threads 1 2>/dev/null

# Means over the steps after the first (warm-up).
summary() {
  python3 - "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
step = [r["seconds"] for r in rows]
dt = [b - a for a, b in zip(step, step[1:])]
mean = lambda v: sum(v) / len(v) if v else float("nan")
comm = mean([r.get("communication_s", 0.0) for r in rows])
overlapped = mean([r.get("overlapped_s", 0.0) for r in rows])
total = mean([r.get("step_s", d) for r, d in zip(rows[1:], dt)])
print(f"{mean(dt):.3f} {comm:.4f} {total:.3f} {overlapped:.4f} {rows[-1]['loss_d']:.5f} {rows[-1]['mse']:.5f}")
PY
}
read -r one_dt _ _ _ one_ld one_mse < <(summary "$WORK/one/log.jsonl")
read -r two_dt two_comm two_step two_over two_ld two_mse < <(summary "$WORK/two/log.jsonl")
echo "| run | wall time per step | images/s | step time on rank 0 | in collectives | all-reduces in flight behind the backward | loss_d, mse at the end |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
awk -v dt="$one_dt" -v b="$BATCH" -v ld="$one_ld" -v m="$one_mse" 'BEGIN {
  printf "| 1 process, %d threads, batch %d | %.3f s | %.2f | — | — | — | %s, %s |\n", '"$(nproc)"', b, dt, b / dt, ld, m }'
awk -v dt="$two_dt" -v b="$BATCH" -v st="$two_step" -v c="$two_comm" -v o="$two_over" -v ld="$two_ld" -v m="$two_mse" 'BEGIN {
  printf "| mpirun -np 2, 1 thread each, batch %d (%d per rank) | %.3f s | %.2f | %.3f s | %.4f s (%.1f%%) | %.4f s | %s, %s |\n",
         b, b / 2, dt, b / dt, st, c, 100 * c / st, o, ld, m }'
