"""Section 3: the best conv throughput here, and our step's share of it."""

from __future__ import annotations

import time
from pathlib import Path

from common import median
from speed.pastiche import ours, prepared_pair


def measure(quick: bool, tmp: Path) -> dict:
    peak = {d: conv_peak(d) for d in ("fp32", "bf16")}
    return {"peak": peak, "efficiency": efficiency(256 if quick else 512, 3 if quick else 5, tmp)}


def conv_flops(h: int, w: int, deepest: str = "conv5_1") -> float:
    """Forward FLOPs of the truncated VGG19's convolutions at an H×W input."""
    from napari_nst.engine.front.vgg19_layers import conv_shapes

    return sum(
        2.0 * cin * cout * 9 * hl * wl for _, cin, cout, hl, wl in conv_shapes(h, w, deepest)
    )


def efficiency(size: int, rounds: int, tmp: Path) -> dict:
    """Conv peak and our step at ``size``, alternated round by round, per precision.

    The machine's speed drifts over a long benchmark, so the step time and the peak
    it is compared with are measured side by side rather than minutes apart.
    """
    c, s, noise, _ = prepared_pair(size, tmp)
    precisions = ("fp32", "bf16")
    runs = {p: ours(c, s, noise, 1.0, 1e3, 10_000, precision=p) for p in precisions}
    for it in runs.values():
        next(it)  # warm-up: network built, targets computed
    peaks = {p: [] for p in precisions}
    steps = {p: [] for p in precisions}
    for _ in range(rounds):
        for p in precisions:
            peaks[p].append(conv_peak(p, seconds=0.5)["best"])
            t = time.perf_counter()
            next(runs[p])
            steps[p].append(time.perf_counter() - t)
    for it in runs.values():
        it.close()
    flops = 2 * conv_flops(*c.shape[:2])
    out = {"hw": list(c.shape[:2]), "rounds": rounds, "flops": flops}
    for p in precisions:
        peak, step = median(peaks[p]), median(steps[p])
        out[p] = {"peak": peak, "step_s": step, "efficiency": flops / step / 1e9 / peak}
    return out


def conv_peak(dtype: str, seconds: float = 1.5) -> dict:
    """Best measured 3×3 conv throughput (forward and input-gradient), GFLOP/s."""
    import torch

    dt = torch.bfloat16 if dtype == "bf16" else torch.float32
    best = {}
    for cin, cout, hw in ((64, 64, 256), (128, 128, 128), (256, 256, 64), (512, 512, 32)):
        conv = (
            torch.nn.Conv2d(cin, cout, 3, padding=1).to(dt).to(memory_format=torch.channels_last)
        )
        conv.requires_grad_(False)
        x = torch.rand(1, cin, hw, hw, dtype=dt).contiguous(memory_format=torch.channels_last)
        x.requires_grad_(True)
        flops = 2.0 * cin * cout * 9 * hw * hw
        for _ in range(2):
            conv(x).sum().backward()
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < seconds:
            conv(x).sum().backward()
            n += 1
        best[f"{cin}->{cout}@{hw}"] = 2 * flops * n / (time.perf_counter() - t) / 1e9
    return {"per_shape": best, "best": max(best.values())}
