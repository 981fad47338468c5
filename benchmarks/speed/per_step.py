"""Section 1: seconds per L-BFGS step against pastiche, one step of each in turn."""

from __future__ import annotations

import time
from pathlib import Path

from common import median
from speed.pastiche import PasticheProcess, ours, prepared_pair


def measure(quick: bool, tmp: Path) -> dict:
    sizes = (64, 96) if quick else (256, 512)
    return {"per_step": [per_step(s, 3 if quick else 7, tmp) for s in sizes]}


def per_step(size: int, rounds: int, tmp: Path) -> dict:
    c, s, noise, _ = prepared_pair(size, tmp)
    n, m = 512, (c.shape[0] // 8) * (c.shape[1] // 8)
    artist = PasticheProcess(tmp, 1.0, 1e3, n, m)
    runs = {
        "fp32": ours(c, s, noise, 1.0, 1e3, 10_000),
        "bf16": ours(c, s, noise, 1.0, 1e3, 10_000, precision="bf16"),
    }
    artist.draw()
    for it in runs.values():
        next(it)  # warm-up: network built, targets computed
    times = {"pastiche": [], "fp32": [], "bf16": []}
    for _ in range(rounds):  # alternating A/B/C, one step each
        times["pastiche"].append(artist.draw())  # timed in its process, as ours here
        for key, it in runs.items():
            t = time.perf_counter()
            next(it)
            times[key].append(time.perf_counter() - t)
    for it in runs.values():
        it.close()
    artist.close()
    med = {k: median(v) for k, v in times.items()}
    return {
        "size": size,
        "hw": list(c.shape[:2]),
        "rounds": rounds,
        "pastiche_s": med["pastiche"],
        "ours_fp32_s": med["fp32"],
        "ours_bf16_s": med["bf16"],
        "ratio_fp32": med["pastiche"] / med["fp32"],
        "ratio_bf16": med["pastiche"] / med["bf16"],
    }
