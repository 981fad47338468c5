"""Where an eager 512 px step's time goes on a CUDA GPU: torch.profiler over 20 steps.

Eager (cuda_graph=False): a replayed CUDA graph shows as one opaque launch.

python benchmarks/gpu_profile.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import image_pair


def main() -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from napari_nst import stylize

    content, style, _ = image_pair()
    for precision, seed in (("bf16", 0), ("bf16", None), ("fp32", 0)):
        torch.backends.cudnn.benchmark = seed is None
        kw = {"size": 512, "device": "cuda", "precision": precision, "seed": seed}
        kw["cuda_graph"] = False
        steps = stylize(content, style, steps=60, every=20, **kw)
        next(steps)  # 20 warm-up steps (and cuDNN autotuning when unseeded)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            t = time.perf_counter()
            next(steps)  # 20 steps, one report
            torch.cuda.synchronize()
            wall = (time.perf_counter() - t) / 20
        steps.close()
        print(f"== {precision}, seed {seed}: {1000 * wall:.2f} ms per step (20 steps, one report)")
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=14)
        print(table)


if __name__ == "__main__":
    main()
