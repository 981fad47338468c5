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


def run_stack(stack, style, weight, **params):
    from napari_nst import stylize
    from napari_nst.engine.run import last_step

    results, style_losses, previous = [], [], None
    for t, frame in enumerate(stack):
        kw = dict(params, temporal_weight=weight)
        if previous is not None:
            kw.update(init=previous, previous_frame=(stack[t - 1], previous))
        step = last_step(stylize(frame, style, content_limits=(0, 1), **kw))
        previous = step.image
        results.append(step.image)
        style_losses.append(step.losses["style"])
    g = np.stack(results)
    c = np.repeat(stack[..., None], 3, -1) if stack.ndim == 3 else stack
    metric = float(np.abs(np.diff(g, axis=0)).mean() / np.abs(np.diff(c, axis=0)).mean())
    return metric, float(np.mean(style_losses[1:]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/results/temporal.json")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--weights", type=float, nargs="+", default=[1e4, 1e5, 1e6])
    args = ap.parse_args()
    import skimage.data

    style = skimage.data.immunohistochemistry()
    params = {"size": args.size, "steps": args.steps, "every": args.steps}
    result = {"frames": args.frames, "size": args.size, "steps": args.steps, "stacks": {}}
    for name, stack in (
        ("moving disc", moving_pattern(args.frames, args.size)),
        ("drifting photo", drifting_photo(args.frames, args.size)),
    ):
        rows = []
        t = time.perf_counter()
        base_metric, base_style = run_stack(stack, style, 0.0, **params)
        rows.append({"temporal_weight": 0.0, "metric": base_metric, "style_loss": base_style})
        for w in args.weights:
            metric, style_loss = run_stack(stack, style, w, **params)
            rows.append(
                {
                    "temporal_weight": w,
                    "metric": metric,
                    "style_loss": style_loss,
                    "metric_change": metric / base_metric - 1,
                    "style_change": style_loss / base_style - 1,
                }
            )
        result["stacks"][name] = {"rows": rows, "seconds": round(time.perf_counter() - t, 1)}
        print(name, json.dumps(rows), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
