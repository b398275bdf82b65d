#!/usr/bin/env python3
"""PyTorch's side of the colorize comparison (bench/compare_pytorch_colorize.sh runs it right after ours).

The same network as bench_colorize.cpp: the full-width BigColor colorizer (DGP's BigGAN-256 config, G_ch 96,
encoder 96, 1000 classes) in eval mode with random weights, from the PyTorch mirror of the official layers that the
golden tools already use (tools/make_golden_colorizer.py, tools/make_golden_layers.py), batch 1, class 207, z ~
N(0, 0.8^2). Times the forward at model inputs 256x256 and 768x1024 in float32 and under
torch.autocast('cpu', torch.bfloat16) (PyTorch's own mixed precision), on --threads threads, best of --reps after one
warm-up. Prints one JSON object.

    /path/to/venv/bin/python bench/bench_pytorch_colorize.py [--threads 2] [--reps 3]

Needs torch (PyPI) and safetensors (the golden tools import it). Only a benchmark: the runtime never needs Python.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
sys.dont_write_bytecode = True
import make_golden_colorizer as colorizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    eg, config = colorizer.build(colorizer.FULL)
    with torch.no_grad():  # random weights: the cost does not depend on their values
        for name, t in eg.state_dict().items():
            if name.endswith("stored_var") or name.endswith("running_var"):
                t.fill_(1.0)
            elif t.is_floating_point() and not (name.endswith("stored_mean") or name.endswith("running_mean")):
                t.normal_(0.0, 0.02)
    eg.eval()
    results = {"torch": torch.__version__, "threads": args.threads, "cases": []}
    for h, w in [(256, 256), (768, 1024)]:
        x = torch.rand(1, 1, h, w)
        z = torch.randn(1, config["dim_z"]) * 0.8
        c = torch.tensor([207])
        reps = args.reps if h * w <= 256 * 256 else 1
        for precision in ["fp32", "bf16"]:
            best = float("inf")
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
                for r in range(reps + 1):
                    t0 = time.perf_counter()
                    eg(x, c, z)
                    seconds = time.perf_counter() - t0
                    if r > 0:
                        best = min(best, seconds)
            results["cases"].append({"size": f"{h}x{w}", "precision": precision, "seconds": best})
            print(f"pytorch {h}x{w} {precision}: {best * 1000:.0f} ms", file=sys.stderr)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
