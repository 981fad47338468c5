"""Stacks with a temporal weight in chains on a Dask cluster, against in turn.

    python benchmarks/temporal_chains.py --out docs/results/temporal_chains.json

On the test stacks of benchmarks/temporal.py, with one temporal weight: the stack in
turn in this process (stylize_stack, all cores), then in chains on a LocalCluster of
2 workers (one span, no seam) and of 4 workers (two spans, one seam; on 2 cores four
workers share them, so that row's time says nothing), the cores shared out among the
workers' torch threads. Each row: wall time (the cluster's start included), every
frame-to-frame change (as a multiple of the content's) and their mean, the flicker
(temporal.py instead pools the frames before dividing), the change at each seam, and
the mean style loss of the frames.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from temporal import named_stacks


def changes(images: dict, stack: np.ndarray) -> list[float]:
    """mean|G_t − G_{t−1}| / mean|C_t − C_{t−1}| for each pair of neighbouring frames."""
    content = np.repeat(stack[..., None], 3, -1) if stack.ndim == 3 else stack
    return [
        float(_mean_change(images[t], images[t - 1]) / _mean_change(content[t], content[t - 1]))
        for t in range(1, len(stack))
    ]


def _mean_change(a, b) -> float:
    return float(np.abs(a - b).mean())


def seams(frames: int, workers: int) -> list[int]:
    """The frames t whose change from t − 1 crosses from one chain to another."""
    from napari_nst.engine.jobs.planes import frame_chains

    linked = set()
    for chain in frame_chains(frames, workers):
        linked |= {(min(a, b), max(a, b)) for a, b in itertools.pairwise(chain)}
    return [t for t in range(1, frames) if (t - 1, t) not in linked]


def measure(stack, style, params, how: str, workers: int = 0) -> dict:
    from napari_nst.engine.jobs.planes import stylize_planes
    from napari_nst.engine.jobs.stack import stylize_stack

    start = time.perf_counter()
    if how == "in turn":
        steps = stylize_stack(stack, style, params, content_limits=(0, 1))
        last = {}
        for n, step in steps:
            last[n] = step
    else:
        import distributed

        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            threads = max(1, (os.cpu_count() or 1) // workers)
            last = dict(
                stylize_planes(
                    stack,
                    style,
                    params,
                    content_limits=(0, 1),
                    client=client,
                    threads_per_worker=threads,
                    chains=workers,  # one chain per worker (the default is two)
                )
            )
    seconds = time.perf_counter() - start
    images = {n: step.image for n, step in last.items()}
    every = changes(images, stack)
    at_seams = seams(len(stack), workers) if workers else []
    return {
        "how": how,
        "workers": workers,
        "seconds": round(seconds, 1),
        "metric": float(np.mean(every)),
        "changes": [round(c, 4) for c in every],
        "seams": at_seams,
        "change_at_seams": [round(every[t - 1], 4) for t in at_seams],
        "style_loss": float(np.mean([last[n].losses["style"] for n in sorted(last)])),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/results/temporal_chains.json")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--steps", type=int, default=300, help="steps of a chain's first frame")
    ap.add_argument("--frame-steps", type=int, default=40, help="steps of each later frame")
    ap.add_argument("--temporal-weight", type=float, default=1000.0)
    ap.add_argument("--stacks", nargs="+", help="only these stacks (by name)")
    args = ap.parse_args()
    import skimage.data

    from napari_nst import StyleParams

    style = skimage.data.immunohistochemistry()
    params = StyleParams(
        size=args.size,
        steps=args.steps,
        frame_steps=args.frame_steps,
        every=args.steps,
        temporal_weight=args.temporal_weight,
    )
    result = {"params": params.to_dict(), "frames": args.frames, "stacks": {}}
    for name, stack in named_stacks(args.frames, args.size, args.stacks):
        rows = [
            measure(stack, style, params, "in turn"),
            measure(stack, style, params, "chains", workers=2),
            measure(stack, style, params, "chains", workers=4),
        ]
        for row in rows:
            print(name, json.dumps(row), flush=True)
        result["stacks"][name] = rows
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
