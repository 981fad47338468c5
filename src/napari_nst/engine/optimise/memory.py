"""Estimate a run's memory before it starts: a stage whose step does not fit the budget
runs in blocks (``blocks.py``), and a run that cannot fit even so is refused.

Refusing up front (with a size that fits) beats an out-of-memory kill or a swap
storm halfway through a user's session.
"""

from __future__ import annotations

import math

import psutil

from ..front.params import StyleParams
from ..front.vgg19_layers import conv_shapes
from ._torch import torch
from .blocks import halo_for
from .lbfgs import lbfgs_history
from .shallow_blocks import POOLED_STRIDE, SHALLOW_HALO, is_shallow, work_ratio

# Bytes kept per activation element during one step: the ReLU outputs saved for the
# backward pass and the gradients in flight (calibrated: docs/performance-notes.md).
_BYTES_PER_ELEMENT = {"fp32": 10.0, "bf16": 6.0}
# Image-sized fp32 tensors (3 channels) a blocked step keeps beside the optimiser's state
# and the content target, heap slack included. Calibrated at 4096 px in blocks of at most
# 448 px at the default layers (up to conv4_1): the process's peak was 5.03-5.06 GiB above its
# RSS before the run (2026-12-07), which 9 images cover (5.21 GiB; 7 made 4.84).
WHOLE_IMAGES = 9
# Block sides are multiples of this (and so of the pooling grid).
BLOCK_STEP = 64


def activation_elements(h: int, w: int, deepest: str) -> int:
    """Elements of all conv outputs of VGG19 up to ``deepest`` for an H×W input."""
    return sum(cout * hl * wl for _, _, cout, hl, wl in conv_shapes(h, w, deepest))


def step_bytes(hw: tuple[int, int], params: StyleParams) -> int:
    """Peak memory of the network's forward and backward pass on an H×W input."""
    per = _BYTES_PER_ELEMENT[params.precision]
    if params.checkpoint:
        per /= 2  # only block outputs are kept; each block is recomputed
    return int(activation_elements(*hw, params.deepest_layer) * per)


def state_bytes(hw: tuple[int, int], params: StyleParams) -> int:
    """Memory the optimiser keeps for an H×W image: its history (L-BFGS) or moments (Adam)."""
    image = 3 * hw[0] * hw[1] * 4
    if params.optimizer == "lbfgs":
        return 2 * lbfgs_history(3 * hw[0] * hw[1]) * image
    return 3 * image


def estimate_bytes(hw: tuple[int, int], params: StyleParams) -> int:
    """Peak extra memory of one step at ``hw`` (without torch and the weights)."""
    return step_bytes(hw, params) + state_bytes(hw, params)


def blocked_bytes(hw: tuple[int, int], inner: int, params: StyleParams) -> int:
    """Peak memory of one step at ``hw`` run in blocks of ``inner`` px a side: one block's
    pass, the optimiser's state and the whole-image tensors a blocked step keeps."""
    side = inner + 2 * halo_for(params.deepest_layer)
    block = (min(hw[0], side), min(hw[1], side))
    return step_bytes(block, params) + _kept_by_blocked_steps(hw, params)


def shallow_blocked_bytes(hw: tuple[int, int], inner: int, params: StyleParams) -> int:
    """As ``blocked_bytes`` with only the fine layers in blocks (``shallow_blocks.py``):
    one block's fine layers, the deep layers' pass on the whole image, the pooled map
    and its gradient."""
    side = inner + 2 * SHALLOW_HALO
    block = (min(hw[0], side), min(hw[1], side))
    shapes = [*conv_shapes(*block, params.deepest_layer)]
    fine = sum(c * h * w for name, _, c, h, w in shapes if is_shallow(name))
    deep = sum(
        c * h * w
        for name, _, c, h, w in conv_shapes(*hw, params.deepest_layer)
        if not is_shallow(name)
    )
    *_, (_, _, channels, _, _) = (s for s in shapes if is_shallow(s[0]))
    pooled = 2 * channels * (hw[0] // POOLED_STRIDE) * (hw[1] // POOLED_STRIDE) * 4
    per = _BYTES_PER_ELEMENT[params.precision]
    return int((fine + deep) * per) + pooled + _kept_by_blocked_steps(hw, params)


def shallow_block_side(hw, params: StyleParams, budget: int | None) -> int | None:
    """The side of the largest blocks for which a step with only the fine layers in blocks
    fits ``budget``; None where the deep layers' whole-image pass does not fit, or the run
    uses no deep layer, or checkpoints (that is for the whole network's blocks)."""
    deep = any(not is_shallow(name) for name in params.layers_used)
    if budget is None or not deep or params.checkpoint:
        return None
    for inner in range(max(hw) // BLOCK_STEP * BLOCK_STEP, BLOCK_STEP - 1, -BLOCK_STEP):
        if shallow_blocked_bytes(hw, inner, params) <= budget:
            return inner
    return None


def _kept_by_blocked_steps(hw, params) -> int:
    """The optimiser's state and the whole-image tensors a blocked step keeps: the image,
    its gradient, the start, content and style tensors and the pixel terms' temporaries,
    and the content target at its layer."""
    *_, (_, _, channels, h, w) = conv_shapes(*hw, params.content_layer)
    whole = WHOLE_IMAGES * 12 * hw[0] * hw[1] + channels * h * w * 4
    return state_bytes(hw, params) + whole


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


def memory_budget(params: StyleParams, device, available: int | None = None) -> int | None:
    """Bytes a run may use: ``memory_limit``, or a share of what is free (None: unknown)."""
    if params.memory_limit is not None:
        return int(params.memory_limit * 2**30)
    available = available_bytes(device) if available is None else available
    return None if available is None else int(0.85 * available)  # room for napari, the system


def block_side(hw, params: StyleParams, budget: int | None) -> int | None:
    """None where an H×W step fits ``budget`` whole, else the side of the largest blocks
    that fit (0 where not even the smallest do)."""
    if budget is None or estimate_bytes(hw, params) <= budget:
        return None
    for inner in range(max(hw) // BLOCK_STEP * BLOCK_STEP, BLOCK_STEP - 1, -BLOCK_STEP):
        if blocked_bytes(hw, inner, params) <= budget:
            return inner
    return 0


def stage_evaluation(hw, params: StyleParams, budget: int | None, plain_only: bool = False):
    """How a stage's network runs: ("whole", None), ("blocks", side) for ``BlockedImage``
    or ("fine blocks", side) for ``ShallowBlocks``, whichever fits ``budget`` and, of the
    blocked two, takes less work (``work_ratio``). ``plain_only``: region guides and
    Dask's blocks (``DaskBlocks``) need whole-network blocks."""
    side = block_side(hw, params, budget)
    if side is None:
        return "whole", None
    side = side or BLOCK_STEP  # too big even so: only a style image, measured without backward
    fine = None if plain_only else shallow_block_side(hw, params, budget)
    deepest = params.deepest_layer
    if fine and work_ratio(hw, fine, deepest, True) < work_ratio(hw, side, deepest, False):
        return "fine blocks", fine
    return "blocks", side


def plan_blocks(stage_shapes, params: StyleParams, device, available=None):
    """(budget, per stage None or its block side); raise ValueError, suggesting a size,
    where a stage cannot fit even in the smallest blocks."""
    budget = memory_budget(params, device, available)
    plan = [block_side(hw, params, budget) for hw, _ in stage_shapes]
    for (hw, _), side in zip(stage_shapes, plan):
        if side == 0:
            raise ValueError(_refusal(hw, params, device, budget))
    return budget, plan


def _refusal(hw, params, device, budget) -> str:
    """What to say when a stage cannot fit even in the smallest blocks, with a size that fits."""
    need = blocked_bytes(hw, BLOCK_STEP, params)
    # The state grows about with the pixel count (not exactly: the L-BFGS history keeps
    # fewer pairs for large images), so start there and step down until it fits.
    fits = int(max(hw) * math.sqrt(budget / need)) // 16 * 16
    while fits > 16:
        scaled = (round(hw[0] * fits / max(hw)), round(hw[1] * fits / max(hw)))
        if blocked_bytes(scaled, BLOCK_STEP, params) <= budget:
            break
        fits -= 16
    where = "GPU memory" if device.type == "cuda" else "free RAM"
    limit = "memory_limit" if params.memory_limit is not None else where
    return (
        f"A {hw[0]}×{hw[1]} px run needs about {need / 2**30:.1f} GiB even in blocks (the "
        f"image, its gradient and the optimiser's history), but {limit} allows "
        f"{budget / 2**30:.1f} GiB. Use size={fits} or less, or the Adam optimiser (it keeps "
        "less history)."
    )
