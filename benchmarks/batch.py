"""Batch throughput on Dask: images per minute and the cost of scheduling a job.

    python benchmarks/batch.py          # measure, write docs/results/batch.json

On this machine, in one run: 16 images at 128 px (50 steps each), on a
LocalCluster of 1 worker × all cores' torch threads and of one worker per core ×
1 thread. Each cluster is warmed first (one tiny job per worker loads the
network), then timed from submit to the last result. A job's overhead is the
wall time the cluster spends per job beyond the runs themselves:
(wall × workers − Σ run time) / jobs. It is set against one 256 px job's run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

JOBS = 16
SIZE = 128
STEPS = 50  # fewer than the default 300, so that both timed batches fit in minutes
REFERENCE_SIZE = 256
OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "batch.json"


def _images(folder: Path, count: int) -> list[Path]:
    import skimage.data
    from skimage import io

    sources = [skimage.data.chelsea(), skimage.data.coffee(), skimage.data.astronaut()]
    paths = []
    for k in range(count):
        path = folder / f"in_{k:02d}.png"
        image = np.roll(sources[k % len(sources)], 7 * k, axis=1)  # distinct images
        io.imsave(path, image, check_contrast=False)
        paths.append(path)
    return paths


def _timed_batch(client, jobs, params, out_dir, threads):
    from napari_nst.engine.jobs.batch import stylize_batch

    start = time.perf_counter()
    results = list(
        stylize_batch(
            jobs,
            params,
            output_dir=out_dir,
            client=client,
            threads_per_worker=threads,
            resume=False,
        )
    )
    wall = time.perf_counter() - start
    assert all(r.status == "done" for r in results), [r.reason for r in results]
    return wall, [r.elapsed for r in results]


def measure(workers: int, threads: int, folder: Path, style: Path) -> dict:
    import distributed

    from napari_nst import StyleParams
    from napari_nst.engine.jobs.batch_jobs import BatchJob

    params = StyleParams(size=SIZE, steps=STEPS, seed=0)
    jobs = [BatchJob(p, str(style), p.stem) for p in sorted(folder.glob("in_*.png"))]
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        warm = [BatchJob(jobs[0].content, str(style), f"warm{k}") for k in range(workers)]
        _timed_batch(client, warm, params.replace(steps=2, size=32), folder / "warm", threads)
        wall, runs = _timed_batch(
            client, jobs, params, folder / f"out_{workers}x{threads}", threads
        )
        reference = None
        if workers == 1:
            big = [BatchJob(jobs[0].content, str(style), "reference")]
            _, (reference,) = _timed_batch(
                client, big, params.replace(size=REFERENCE_SIZE), folder / "ref", threads
            )
    overhead = (wall * workers - sum(runs)) / len(jobs)
    return {
        "workers": workers,
        "threads_per_worker": threads,
        "jobs": len(jobs),
        "size": SIZE,
        "steps": params.steps,
        "wall_s": wall,
        "images_per_minute": 60 * len(jobs) / wall,
        "median_run_s": float(np.median(runs)),
        "overhead_per_job_s": overhead,
        "reference_256px_run_s": reference,
    }


def main() -> int:
    import skimage.data
    from skimage import io

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _images(folder, JOBS)
        style = folder / "style.png"
        io.imsave(style, skimage.data.rocket(), check_contrast=False)
        rows = [measure(1, cores, folder, style)]
        if cores > 1:
            rows.append(measure(cores, 1, folder, style))
    reference = rows[0]["reference_256px_run_s"]
    for row in rows:
        row["overhead_share_of_256px_job"] = row["overhead_per_job_s"] / reference
        print(json.dumps(row), file=sys.stderr)
    from common import measured_with

    OUT.write_text(json.dumps({**measured_with(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
