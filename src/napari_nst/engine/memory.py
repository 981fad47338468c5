"""Estimate a run's memory before it starts, and refuse one that cannot fit.

Refusing up front (with a size that fits) beats an out-of-memory kill or a swap
storm halfway through a user's session.
"""

from __future__ import annotations

import math

import psutil

from ._torch import torch
from .lbfgs import lbfgs_history
from .params import StyleParams, conv_shapes

# Bytes kept per activation element during one step: the ReLU outputs saved for the
# backward pass and the gradients in flight (calibrated: docs/performance-notes.md).
_BYTES_PER_ELEMENT = {"fp32": 10.0, "bf16": 6.0}


def activation_elements(h: int, w: int, deepest: str) -> int:
    """Elements of all conv outputs of VGG19 up to ``deepest`` for an H×W input."""
    return sum(cout * hl * wl for _, _, cout, hl, wl in conv_shapes(h, w, deepest))


def estimate_bytes(hw: tuple[int, int], params: StyleParams) -> int:
    """Peak extra memory of one step at ``hw`` (without torch and the weights)."""
    h, w = hw
    per = _BYTES_PER_ELEMENT[params.precision]
    if params.checkpoint:
        per /= 2  # only block outputs are kept; each block is recomputed
    acts = activation_elements(h, w, params.deepest_layer) * per
    image = 3 * h * w * 4
    lbfgs = params.optimizer == "lbfgs"
    history = 2 * lbfgs_history(3 * h * w) * image if lbfgs else 3 * image
    return int(acts + history)


def available_bytes(device) -> int | None:
    """Free memory on ``device`` (None when it cannot be told)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(psutil.virtual_memory().available)


def largest_stage(stage_shapes) -> tuple[int, int]:
    """The H×W of the stage with the most pixels: the one whose step needs most memory."""
    return max((shape for shape, _ in stage_shapes), key=lambda s: s[0] * s[1])


def check_fits(stage_shapes, params: StyleParams, device, available: int | None = None) -> None:
    """Raise ValueError, suggesting a size, when the largest stage would not fit."""
    available = available_bytes(device) if available is None else available
    if available is None:
        return
    hw = largest_stage(stage_shapes)
    need = estimate_bytes(hw, params)
    budget = 0.85 * available  # leave room for napari, the layers and the system
    if need <= budget:
        return
    # Memory grows about with the pixel count (not exactly: the L-BFGS history keeps
    # fewer pairs for large images), so start there and step down until it fits.
    fits = int(max(hw) * math.sqrt(budget / need)) // 16 * 16
    while fits > 16:
        scaled = (hw[0] * fits / max(hw), hw[1] * fits / max(hw))
        if estimate_bytes((round(scaled[0]), round(scaled[1])), params) <= budget:
            break
        fits -= 16
    where = "GPU memory" if device.type == "cuda" else "free RAM"
    raise ValueError(
        f"A {hw[0]}×{hw[1]} px run needs about {need / 2**30:.1f} GiB, but only "
        f"{available / 2**30:.1f} GiB of {where} is available. Use size={fits} or less, "
        "coarse-to-fine scales ending there, fast mode (bf16), or checkpoint=True."
    )
