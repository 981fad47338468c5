"""Section 2b: fast mode's final J against fp32's, with the engine's defaults."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def measure(quick: bool, tmp: Path) -> dict:
    return {"fastj": fast_mode_j(64 if quick else 256, 20 if quick else 300)}


def fast_mode_j(size: int, steps: int, seeds=(0, 1, 2, 3)) -> dict:
    """Fast mode's final J against fp32's with the engine's defaults (fp32 evaluator).

    Per seed, three runs from the same white noise: fp32, bf16, and fp32 from that
    noise nudged by at most 1e-6 (a control: how far two fp32 runs drift apart
    after ``steps`` L-BFGS steps when their start differs by rounding-sized amounts).
    """
    from common import evaluate_j, image_pair
    from napari_nst import stylize
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.run import last_step

    c, s, _ = image_pair()
    h, w = working_shape(c, s, size)
    d = StyleParams()
    defaults = {"normalized": d.normalized, "alpha": d.alpha, "beta": d.beta}
    out = {"size": size, "steps": steps, "defaults": {**defaults, "loss_scale": d.loss_scale}}
    out["seeds"] = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        noise = rng.random((h, w, 3), dtype=np.float32)
        nudged = np.clip(noise + rng.uniform(-1e-6, 1e-6, noise.shape), 0, 1).astype(np.float32)
        runs = {}
        for label, start, precision in (
            ("fp32", noise, "fp32"),
            ("bf16", noise, "bf16"),
            ("fp32_nudged", nudged, "fp32"),
        ):
            last = last_step(
                stylize(c, s, size=size, steps=steps, init=start, precision=precision)
            )
            runs[label] = evaluate_j(c, s, last.image, size=size)["total"]
        out["seeds"][str(seed)] = runs
        print(f"fast mode J, seed {seed}: {runs}", flush=True)
    return out


def fast_j_gaps(fj) -> dict:
    """Relative J gaps to each seed's fp32 run: fast mode's, and the nudged control's."""

    runs = fj["seeds"].values()
    bf16 = [r["bf16"] / r["fp32"] - 1 for r in runs]
    nudged = [r["fp32_nudged"] / r["fp32"] - 1 for r in runs]
    return {
        "bf16": bf16,
        "nudged": nudged,
        "bf16_mean": float(np.mean(bf16)),
        "nudged_mean": float(np.mean(nudged)),
        "nudged_mean_abs": float(np.mean(np.abs(nudged))),
    }


def working_shape(content, style, size: int) -> tuple[int, int]:
    """The (h, w) a run at ``size`` works at, so that starts need no resizing."""
    from napari_nst import stylize

    step = next(iter(stylize(content, style, size=size, steps=1, optimizer="adam")))
    return step.image.shape[:2]
