"""Pictures at 2048 px, judged, with the top stage in blocks, and the seam check.

    python benchmarks/large_pictures.py            # write docs/results/large_pictures.json
    python benchmarks/large_pictures.py --only tubingen-shipwreck-noise

Each run is the defaults at size 2048 in fast mode (bf16) on this CPU. A run marked
blocked gets a memory_limit that fits its 2048 px stage only in blocks of
``BLOCK`` px: the picture is the blocked evaluation's, and its block borders are
where a seam would show. The seam ratio is the mean absolute difference between
neighbouring pixels across the block borders, over the same across the lines 16–64 px
either side (1: no seam). Nearby, because a plain "elsewhere" counts the picture's own
detail where a border falls (the house fronts at mid-height here: 1.36 that way); on the
same 16 px phase, because the network leaves a faint pattern of that period in any run.
Each result is judged by ../shared/tools/nst_judge.py and saved under bench-out/large/;
the docs get a reduced view and a 1:1 crop across a block corner.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
OUT = ROOT / "docs" / "results" / "large_pictures.json"
SAVE = ROOT / "bench-out" / "large"
IMAGES = ROOT / "docs" / "images"
SIZE = 2048
BLOCK = 1024
GRID_STEP = 16  # the seam ratio compares a border with lines on the same pooling phase
SAME_PHASE = (-4, -3, -2, -1, 1, 2, 3, 4)
# The 4096 px run stops after this many top-stage steps (of 20): each takes over a minute.
TOP_STEPS_4096 = 6
RUNS = [  # name, content, style, init, blocked, size, top-stage steps (None: all)
    ("tubingen-shipwreck-noise", "tubingen", "shipwreck", "noise", True, SIZE, None),
    ("tubingen-shipwreck-content", "tubingen", "shipwreck", "content", False, SIZE, None),
    ("tubingen-starry-noise", "tubingen", "starry_night", "noise", True, SIZE, None),
    ("tubingen-starry-content", "tubingen", "starry_night", "content", False, SIZE, None),
    # The control for the seam ratio: the blocked run above on the whole image, the same
    # seed; its ratio over the same lines is the picture's own, with no border there.
    ("tubingen-starry-noise-whole", "tubingen", "starry_night", "noise", False, SIZE, None),
    # At 4096 px the planner chooses the blocks from this machine's free memory.
    (
        "tubingen-shipwreck-4096-noise",
        "tubingen",
        "shipwreck",
        "noise",
        "auto",
        4096,
        TOP_STEPS_4096,
    ),
]


def judge_module():
    spec = importlib.util.spec_from_file_location("nst_judge", SHARED / "tools" / "nst_judge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def seam_ratio(image: np.ndarray, rows: list[int], cols: list[int]) -> dict:
    """Mean |difference| of neighbouring pixels across the block borders, over that across
    the lines 16, 32, 48 and 64 px either side of them: the same part of the picture, and
    the same phase of the network's 16 px pooling grid, whose faint periodic pattern a
    whole-image run shows too (block borders sit on that grid)."""
    dy = np.abs(np.diff(image, axis=0)).mean(axis=(1, 2))  # between row r and r + 1
    dx = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))
    across, nearby = [], []
    for diffs, borders in ((dy, rows), (dx, cols)):
        for b in borders:
            across.append(diffs[b - 1])
            nearby += [diffs[b - 1 + GRID_STEP * j] for j in SAME_PHASE]
    return {
        "across_borders": float(np.mean(across)),
        "same_phase_nearby": float(np.mean(nearby)),
        "ratio": float(np.mean(across) / np.mean(nearby)),
    }


def run_one(name, content_name, style_name, init, blocked, size, top_steps, judge):
    from skimage import io

    from common import picture_defaults
    from napari_nst import stylize
    from napari_nst.engine.front.images import fit_size
    from napari_nst.engine.front.params import StyleParams

    content = io.imread(SHARED / "data" / f"{content_name}.jpg")
    style = io.imread(SHARED / "data" / f"{style_name}.jpg")
    # A capped run reports every step, to stop after its top stage's first steps.
    params = StyleParams(size=size, init=init, precision="bf16", every=1 if top_steps else 1000)
    hw = fit_size(content.shape[:2], size)
    limit = blocked_limit(hw, params) if blocked is True else None
    evaluation, side, rows, cols = block_lines(hw, params, limit)  # from the memory free now
    top = len(params.stage_sizes(max(hw))) - 1
    start, blocks, stage_ends, top_done = time.perf_counter(), [], {}, 0
    for step in stylize(content, style, params, memory_limit=limit):
        blocks.append(step.blocks)
        top_done += step.stage == top
        stage_ends[step.stage] = (step.stage, step.iteration, round(step.elapsed, 1))
        last = step
        if top_done == top_steps:
            break  # closes the run
    wall = time.perf_counter() - start
    SAVE.mkdir(parents=True, exist_ok=True)
    image8 = (np.clip(last.image, 0, 1) * 255 + 0.5).astype(np.uint8)
    io.imsave(SAVE / f"{name}.png", image8, check_contrast=False)
    verdict = judge.judge(image8, content, style)
    row = {
        "name": name,
        "content": content_name,
        "style": style_name,
        "init": init,
        "size": list(hw),
        "top_stage_steps": f"{top_done} (stopped there)" if top_steps else "all",
        "block_side": side,
        "evaluation": evaluation,
        "precision": "bf16",
        **picture_defaults(params),
        "memory_limit_gib": limit,
        "top_stage_blocks": blocks[-1],
        "stage_ends": list(stage_ends.values()),
        "wall_s": round(wall, 1),
        "judge": {k: (float(v) if not isinstance(v, bool) else v) for k, v in verdict.items()},
    }
    if side:
        row["block_rows"], row["block_cols"] = rows, cols
        row["seams"] = seam_ratio(image8 / 255.0, rows, cols)  # as saved
        if name in DOCS_IMAGES:
            # Centred where borders cross (or on the one border, mid-way along it).
            corner = (rows[0] if rows else hw[0] // 2, cols[0] if cols else hw[1] // 2)
            _docs_images(image8, *corner, *DOCS_IMAGES[name])
    elif size == SIZE:
        # The control for a blocked run of this size: the lines where its blocks meet.
        *_, rows, cols = block_lines(hw, params, blocked_limit(hw, params))
        row["block_rows"], row["block_cols"] = rows, cols
        row["seams_at_block_lines"] = seam_ratio(image8 / 255.0, rows, cols)
        row["differs_from_blocked"] = differs_from_blocked(name, image8)
    return row


def blocked_limit(hw, params) -> float:
    """A memory_limit (GiB) that just fits whole-network blocks of ``BLOCK`` px."""
    from napari_nst.engine.optimise.memory import blocked_bytes

    return blocked_bytes(hw, BLOCK, params) * 1.001 / 2**30


def block_lines(hw, params, limit):
    """How a stage of ``hw`` runs within ``limit`` (None: 0.85 of the memory free now):
    (evaluation, block side or None, the rows and columns where its blocks meet)."""
    from napari_nst.engine.optimise.device import resolve_device
    from napari_nst.engine.optimise.memory import memory_budget, stage_evaluation
    from napari_nst.engine.optimise.shallow_blocks import blocks_of

    budget = memory_budget(params.replace(memory_limit=limit), resolve_device("cpu"))
    evaluation, side = stage_evaluation(hw, params, budget)
    if evaluation == "whole":
        return evaluation, None, [], []
    grid = blocks_of(hw, side, params.deepest_layer, evaluation == "fine blocks")
    rows = sorted({w.inner_rows.start for w in grid} - {0})
    cols = sorted({w.inner_cols.start for w in grid} - {0})
    return evaluation, side, rows, cols


def differs_from_blocked(name, image8):
    """Mean and 99th percentile |difference| in grey levels (of 255) between a whole-image
    control run and its blocked run's saved result, or None if that has not run."""
    blocked = SAVE / f"{name.removesuffix('-whole')}.png"
    if name == blocked.stem or not blocked.exists():
        return None
    from skimage import io

    diff = np.abs(io.imread(blocked).astype(np.float32) - image8)
    return {"mean": round(float(diff.mean()), 2), "p99": round(float(np.percentile(diff, 99)), 1)}


# Runs shown in docs/large-images.md: (reduced view, 1:1 crop across a block corner).
DOCS_IMAGES = {
    "tubingen-shipwreck-noise": ("large_2048.jpg", "large_seam_crop.jpg"),
    "tubingen-shipwreck-4096-noise": ("large_4096.jpg", "large_4096_crop.jpg"),
}


def _docs_images(image8, row, col, whole_name, crop_name, half=192):
    """A reduced view of the whole result and a 1:1 crop centred on a block corner."""
    from PIL import Image

    IMAGES.mkdir(parents=True, exist_ok=True)
    crop = image8[row - half : row + half, col - half : col + half]
    Image.fromarray(crop).save(IMAGES / crop_name, quality=92)
    whole = Image.fromarray(image8)
    whole.thumbnail((1024, 1024), Image.LANCZOS)
    whole.save(IMAGES / whole_name, quality=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="run names (default: all)")
    args = ap.parse_args()
    import sys

    sys.path.insert(0, str(HERE))
    from common import machine

    judge = judge_module()
    record = json.loads(OUT.read_text()) if OUT.exists() else {"runs": {}}
    for name, *run in RUNS:
        if args.only and name not in args.only:
            continue
        row = run_one(name, *run, judge)
        row["machine"], row["date"] = machine(), time.strftime("%Y-%m-%d")
        print(json.dumps(row), flush=True)
        record["runs"][name] = row
        OUT.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
