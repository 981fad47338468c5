"""Temporal coherence on stacks: how much consecutive output frames differ,
relative to how much the content frames differ, with and without coherence.

    python benchmarks/temporal.py --out docs/results/temporal.json

metric = mean|G_t − G_{t−1}| / mean|C_t − C_{t−1}| over consecutive frames; lower
is steadier. Each frame starts from the previous result, as the widget does.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def moving_pattern(frames: int, size: int) -> np.ndarray:
    """A still photo with a bright disc moving across it: most pixels never change."""
    import skimage.data
    from skimage.transform import resize

    base = resize(skimage.data.camera() / 255.0, (size, size), anti_aliasing=True)
    yy, xx = np.mgrid[:size, :size]
    out = []
    for t in range(frames):
        frame = base.copy()
        cx = size * (0.2 + 0.6 * t / max(frames - 1, 1))
        frame[(yy - size / 2) ** 2 + (xx - cx) ** 2 < (size / 8) ** 2] = 1.0
        out.append(frame)
    return np.stack(out).astype(np.float32)


def drifting_photo(frames: int, size: int) -> np.ndarray:
    """A real photo panning by a few pixels per frame (every pixel changes)."""
    import skimage.data
    from skimage.transform import resize

    photo = resize(skimage.data.coffee() / 255.0, (size, int(size * 1.5)), anti_aliasing=True)
    return np.stack([photo[:, 2 * t : 2 * t + size] for t in range(frames)]).astype(np.float32)


def movie_clip(frames: int) -> np.ndarray:
    """The first frames of the short real movie clip that scikit-image ships (a GIF)."""
    import os

    import skimage
    from skimage import io

    path = os.path.join(os.path.dirname(skimage.__file__), "data", "no_time_for_that_tiny.gif")
    return (io.imread(path)[:frames] / 255.0).astype(np.float32)


def named_stacks(frames: int, size: int, only=None) -> list[tuple[str, np.ndarray]]:
    """The three test stacks, by name (``only``: just these names)."""
    stacks = (
        ("moving disc", lambda: moving_pattern(frames, size)),
        ("drifting photo", lambda: drifting_photo(frames, size)),
        ("movie clip", lambda: movie_clip(frames)),
    )
    return [(name, make()) for name, make in stacks if not only or name in only]


def run_stack(stack, style, weight, flow, **params):
    from napari_nst.engine.jobs.stack import stylize_stack

    last = {}
    for n, step in stylize_stack(
        stack, style, content_limits=(0, 1), temporal_weight=weight, flow=flow, **params
    ):
        last[n] = step
    g = np.stack([last[n].image for n in sorted(last)])
    c = np.repeat(stack[..., None], 3, -1) if stack.ndim == 3 else stack
    metric = float(np.abs(np.diff(g, axis=0)).mean() / np.abs(np.diff(c, axis=0)).mean())
    return metric, float(np.mean([last[n].losses["style"] for n in sorted(last)[1:]]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/results/temporal.json")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--steps", type=int, default=300, help="steps of the first frame")
    ap.add_argument("--frame-steps", type=int, default=40, help="steps of each later frame")
    ap.add_argument("--weights", type=float, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--stacks", nargs="+", help="only these stacks (by name)")
    ap.add_argument(
        "--add-weights",
        type=float,
        nargs="+",
        help="measure only these weights (no flow) and add them to the rows in --out",
    )
    args = ap.parse_args()
    import skimage.data

    style = skimage.data.immunohistochemistry()
    params = {
        "size": args.size,
        "steps": args.steps,
        "frame_steps": args.frame_steps,
        "every": args.steps,
    }
    from common import measured_with

    result = {
        **measured_with(),
        "frames": args.frames,
        "size": args.size,
        "steps": args.steps,
        "frame_steps": args.frame_steps,
        "stacks": {},
    }
    # Baseline: each frame starts from the previous result, nothing more. Then the
    # coherence weight, with and without carrying the previous result along the flow.
    settings = [(0.0, False)] + [(w, False) for w in args.weights] + [(args.weights[0], True)]
    saved = json.loads(Path(args.out).read_text()) if args.add_weights else None
    if saved:
        settings = [(w, False) for w in args.add_weights]
        result = saved
    for name, stack in named_stacks(args.frames, args.size, args.stacks):
        rows, base = [], None
        if saved:  # later rows compare with the saved baseline (first row)
            rows = saved["stacks"][name]["rows"]
            base = (rows[0]["metric"], rows[0]["style_loss"])
        t = time.perf_counter()
        for weight, flow in settings:
            metric, style_loss = run_stack(stack, style, weight, flow, **params)
            base = base or (metric, style_loss)
            rows.append(
                {
                    "temporal_weight": weight,
                    "flow": flow,
                    "metric": metric,
                    "style_loss": style_loss,
                    "metric_change": metric / base[0] - 1,
                    "style_change": style_loss / base[1] - 1,
                }
            )
            print(name, json.dumps(rows[-1]), flush=True)
        seconds = round(time.perf_counter() - t, 1)
        if saved:
            added = {"weights": args.add_weights, "seconds": seconds}
            previous = result["stacks"][name].get("added_later", [])
            previous = [previous] if isinstance(previous, dict) else previous
            result["stacks"][name]["added_later"] = [*previous, added]
        else:
            result["stacks"][name] = {"rows": rows, "seconds": seconds}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
