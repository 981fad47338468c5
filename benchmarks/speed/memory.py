"""Section 4: peak RSS of two steps, a fresh process per size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def measure(quick: bool, tmp: Path) -> dict:
    sizes = (128, 256, 512) if quick else (512, 1024, 2048)
    return {"memory": [peak_memory(s, False) for s in sizes] + [peak_memory(sizes[-1], True)]}


MEMORY_SCRIPT = """
import resource, sys, time, skimage.data
from napari_nst import stylize
from napari_nst.engine.run import last_step
size, ckpt = int(sys.argv[1]), sys.argv[2] == "1"
t = time.perf_counter()
last_step(stylize(skimage.data.astronaut(), skimage.data.hubble_deep_field(), size=size,
                  steps=2, checkpoint=ckpt))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t)
"""


def peak_memory(size: int, checkpoint: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(size), str(int(checkpoint))],
        capture_output=True,
        text=True,
        timeout=3000,
    )
    if out.returncode != 0:
        return {"size": size, "checkpoint": checkpoint, "error": out.stderr[-300:]}
    mib, seconds = (float(v) for v in out.stdout.split()[-2:])
    return {
        "size": size,
        "checkpoint": checkpoint,
        "peak_rss_MiB": round(mib),
        "seconds_for_2_steps": round(seconds, 1),
    }
