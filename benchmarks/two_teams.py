"""Why the engine computes on one thread: torch's small kernels with a second OpenMP team alive.

    python benchmarks/two_teams.py

300 convolutions (64 → 64 channels, 3×3, 32×32 px) timed on a thread: first with no
other thread that has run torch, then while another thread that has run them is
alive (as a pooled napari worker is), then again once it has ended.
Results: docs/results/two_teams.json.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "two_teams.json"


def main() -> None:
    import torch

    from common import machine

    x, w = torch.randn(1, 64, 32, 32), torch.randn(64, 64, 3, 3)

    def convolutions() -> float:
        start = time.perf_counter()
        for _ in range(300):
            torch.nn.functional.conv2d(x, w, padding=1)
        return round(time.perf_counter() - start, 3)

    def on_new_thread() -> float:
        out = []
        thread = threading.Thread(target=lambda: out.append(convolutions()))
        thread.start()
        thread.join()
        return out[0]

    alone = [on_new_thread() for _ in range(3)]
    release, ready = threading.Event(), threading.Event()

    def other():
        convolutions()
        ready.set()
        release.wait()  # alive, idle, its team kept

    holder = threading.Thread(target=other)
    holder.start()
    ready.wait()
    beside = [on_new_thread() for _ in range(3)]
    release.set()
    holder.join()
    after = [on_new_thread() for _ in range(3)]
    results = {
        "machine": machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "alone_s": alone,
        "beside_a_live_team_s": beside,
        "after_it_ended_s": after,
        "slowdown": round(min(beside) / min(alone), 2),
    }
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
