"""Large images in blocks: peak memory and step time, whole image against blocks.

    python benchmarks/large_images.py           # measure, write docs/results/large_images.json
    python benchmarks/large_images.py --quick   # 512 and 1024 px only
    python benchmarks/large_images.py --dask    # one image's blocks on 1 and 2 Dask workers

Each configuration runs in a fresh process (so that its peak RSS is its own): one
stage at the given size (``scales=None``), from the content, 4 steps, fp32. The first
step also computes the stage's targets (the style's Gram matrices and the content's
features); the step time is the median of the later steps. The peak RSS is the whole
process's (torch, the weights and the images included), read from the kernel at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
OUT = HERE.parent / "docs" / "results" / "large_images.json"
STEPS = 4
# A 4096 px step takes minutes here: the first (targets) and one more.
STEPS_4096 = 2
# (size, blocks' inner side or None for the whole image)
FULL = [
    (1024, None),
    (1024, 768),  # two halves (blocks.grid_cuts)
    (1024, 512),
    (2048, None),
    (2048, 1536),  # two halves
    (2048, 1024),
    (2048, 512),
    (4096, 448),
]
QUICK = [(512, None), (512, 256), (1024, None), (1024, 512)]


def one(size: int, inner) -> dict:
    """Run one configuration here; return its measurements."""
    import numpy as np
    import skimage.data

    from common import machine, picture_defaults
    from napari_nst import stylize
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise import memory
    from napari_nst.engine.optimise.memory import blocked_bytes, estimate_bytes, stage_evaluation
    from napari_nst.engine.run import warm_up

    warm_up()
    base_rss = _rss_mib()
    content = skimage.data.astronaut()
    style = skimage.data.gravel()
    steps = STEPS_4096 if size >= 4096 else STEPS
    params = StyleParams(size=size, scales=None, steps=steps, every=1, init="content")
    hw = (size, size)
    limit = None if inner is None else blocked_bytes(hw, inner, params) * 1.001 / 2**30
    budget = None if limit is None else int(limit * 2**30)
    # The memory limit fits blocks of ``inner`` px; the run may take the fine layers only
    # in blocks within it, as the engine would (``stage_evaluation``).
    evaluation, side = stage_evaluation(hw, params, budget)
    times, blocks, last = [], 0, time.perf_counter()
    for step in stylize(content, style, params, memory_limit=limit):
        now = time.perf_counter()
        times.append(now - last)
        last, blocks = now, step.blocks
    return {
        "size": size,
        "steps": steps,
        "blocks": blocks,
        "inner": side,
        "evaluation": evaluation,
        "limit_for_inner": inner,
        "memory_limit_gib": limit,
        "first_step_s": times[0],
        "step_s": float(np.median(times[1:])),
        "per_megapixel_s": float(np.median(times[1:])) / (size * size / 1e6),
        "peak_rss_mib": _rss_mib(),
        "base_rss_mib": base_rss,
        "whole_estimate_gib": estimate_bytes(hw, params) / 2**30,
        "whole_images_in_estimate": memory.WHOLE_IMAGES,
        "machine": machine(),
        **picture_defaults(params),
    }


def dask_rows(size: int = 1024, inner: int = 512) -> list[dict]:
    """Step time of one image's blocks here, and on a LocalCluster of 1 and 2 workers
    sharing this machine's cores."""
    import distributed
    import numpy as np
    import skimage.data

    from napari_nst import stylize
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise.memory import blocked_bytes

    params = StyleParams(size=size, scales=None, steps=STEPS, every=1, init="content")
    limit = blocked_bytes((size, size), inner, params) * 1.001 / 2**30
    content, style = skimage.data.astronaut(), skimage.data.gravel()
    cores = len(os.sched_getaffinity(0))
    rows = []
    for workers in (None, 1, 2):
        cluster = client = None
        if workers:
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=max(1, cores // workers),
                processes=True,
                dashboard_address=None,
            )
            client = distributed.Client(cluster)
        times, last, blocks = [], time.perf_counter(), 0
        for step in stylize(content, style, params, memory_limit=limit, blocks_on=client):
            now = time.perf_counter()
            times.append(now - last)
            last, blocks = now, step.blocks
        rows.append(
            {
                "workers": workers or 0,
                "threads_each": max(1, cores // workers) if workers else cores,
                "size": size,
                "blocks": blocks,
                "first_step_s": times[0],
                "step_s": float(np.median(times[1:])),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        if client is not None:
            client.close()
            cluster.close()
    return rows


def _config(row) -> tuple:
    """(size, the block side its memory limit was made for, or None): one of FULL."""
    return row["size"], row.get("limit_for_inner", row["inner"])


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dask", action="store_true")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument(
        "--only",
        nargs="+",
        metavar="SIZE:INNER",
        help="measure these configurations (INNER: a block side or whole) and keep the "
        "file's other rows",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.one:
        size, inner = args.one
        inner = None if inner == "whole" else int(inner)
        print(json.dumps(one(int(size), inner)))
        return
    if args.dask:
        record = json.loads(args.out.read_text())
        from common import picture_defaults

        record["dask"] = {
            "date": time.strftime("%Y-%m-%d"),
            "rows": dask_rows(),
            **picture_defaults(),
        }
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out}")
        return
    configs = QUICK if args.quick else FULL
    if args.only:
        configs = [
            (int(s), None if i == "whole" else int(i))
            for s, i in (c.split(":") for c in args.only)
        ]
    record = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows = []
    for size, inner in configs:
        label = "whole" if inner is None else str(inner)
        cmd = [sys.executable, __file__, "--one", str(size), label]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        rows.append(row)
    for r in rows:
        r["date"] = time.strftime("%Y-%m-%d %H:%M")
    if args.only:  # the new rows replace those of the same configuration, in FULL's order
        kept = {_config(r): r for r in record.get("rows", [])}
        kept.update({_config(r): r for r in rows})
        order = {config: k for k, config in enumerate(FULL)}
        rows = sorted(kept.values(), key=lambda r: (r["size"], order.get(_config(r), 0)))
    whole = {r["size"]: r for r in rows if r["blocks"] == 0}
    for r in rows:
        if r["blocks"] and r["size"] in whole:
            r["time_vs_whole"] = r["step_s"] / whole[r["size"]]["step_s"]
    # The Dask rows (--dask) keep their own date.
    record.update({"date": time.strftime("%Y-%m-%d"), "steps": STEPS, "rows": rows})
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
