"""Shared pieces of the benchmarks: the image pair and one fp32 evaluator of J."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def template_environment(folder: Path, **filters):
    """The Jinja environment the benchmark reports are rendered with."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(filters)
    return env


def with_rendered_block(page: str, name: str, script: str, text: str) -> str:
    """``page`` with ``text`` between its ``<!-- name: rendered by script -->`` and
    ``<!-- /name -->`` markers: a figure quoted in a hand-written page, from its results."""
    start, end = f"<!-- {name}: rendered by {script} -->", f"<!-- /{name} -->"
    before, rest = page.split(start)
    _, after = rest.split(end)
    return f"{before}{start}\n{text}\n{end}{after}"


def image_pair():
    """tübingen × starry night from ../shared/data, else scikit-image's astronaut × Hubble."""
    if (SHARED / "tubingen.jpg").is_file() and (SHARED / "starry_night.jpg").is_file():
        from skimage import io

        return (
            io.imread(SHARED / "tubingen.jpg"),
            io.imread(SHARED / "starry_night.jpg"),
            "tübingen × starry night",
        )
    import skimage.data

    return skimage.data.astronaut(), skimage.data.hubble_deep_field(), "astronaut × Hubble"


def evaluate_j(content, style, image, **params) -> dict:
    """The paper's J of ``image``, in fp32, with the same weights and layers.

    One Adam step with a vanishing learning rate from ``init=image`` reports the
    losses of the image itself.
    """
    from napari_nst import stylize

    params = {**params, "precision": "fp32", "compile": False, "scales": None}
    params.update(steps=1, every=1, optimizer="adam", learning_rate=1e-30, init=image)
    step = next(iter(stylize(content, style, **params)))
    return step.losses


def timed_run(content, style, **params):
    """Run to the end; return (last Step, wall seconds including set-up)."""
    from napari_nst import stylize
    from napari_nst.engine.run import last_step

    start = time.perf_counter()
    last = last_step(stylize(content, style, **params))
    _sync(params.get("device", "auto"))
    return last, time.perf_counter() - start


def _sync(device):
    import torch

    if torch.cuda.is_available() and device in ("auto", "cuda"):
        torch.cuda.synchronize()


def machine() -> str:
    import torch

    cpu = _cpu_model() or platform.processor() or platform.machine()
    parts = [f"{cpu} ({_vector_units()})", f"{_cores()} cores"]
    if torch.cuda.is_available():
        parts.append(torch.cuda.get_device_name(0))
    parts.append(f"torch {torch.__version__}")
    return ", ".join(parts)


def _vector_units() -> str:
    """What torch's CPU kernels use here, and whether bf16 is native: CPUs of one model name
    may differ (an AMD EPYC with AVX-512 and bf16, another with AVX2 only)."""
    import torch

    from napari_nst.engine.optimise.device import cpu_has_bf16

    units = torch.backends.cpu.get_cpu_capability()
    return f"{units}, bf16" if cpu_has_bf16() else f"{units}, no bf16"


def _cpu_model() -> str:
    """The CPU's model name where Linux tells it (machines of one kind differ in speed)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def picture_defaults(params=None) -> dict:
    """The settings whose defaults changed what a run paints, as a results row records
    them, so that a page can say which of its figures predate a change (``params``: the
    run's, else the defaults)."""
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise.objective import RANGE_MARGIN

    params = params or StyleParams()
    return {
        "content_layer": params.content_layer,
        "layout_weight": params.layout_weight,
        "style_layers": list(params.style_layers),
        "beta": params.beta,
        "range_margin": round(RANGE_MARGIN * 255),  # grey levels
        "carry_step_scale": params.carry_step_scale,
    }


def measured_with(params=None) -> dict:
    """The head of a results record: today's date, this machine and the painting
    defaults the runs had (``picture_defaults``)."""
    return {"date": time.strftime("%Y-%m-%d"), "machine": machine(), **picture_defaults(params)}


def settings_given(pairs) -> dict:
    """``--set`` arguments, each ``parameter=JSON value``, as keywords of ``stylize``."""
    import json

    return {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in pairs)}


def median(values) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def tile_row(images, height: int, gap: int = 4):
    """``images`` (8-bit or [0, 1], grey or RGB(A)) side by side at ``height`` px, each
    keeping its aspect, with white gaps between: float RGB in [0, 1]."""
    from skimage.transform import resize

    tiles = []
    for image in images:
        image = np.asarray(image, dtype=np.float32)
        image = image / 255 if image.max() > 1.5 else image
        image = np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image[..., :3]
        width = round(image.shape[1] * height / image.shape[0])
        tiles.append(resize(image, (height, width), anti_aliasing=True))
    blank = np.ones((height, gap, 3), np.float32)
    return np.concatenate([part for tile in tiles for part in (tile, blank)][:-1], axis=1)
