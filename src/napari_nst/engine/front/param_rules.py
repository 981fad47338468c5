"""What each parameter may be, and the checks that say, in one sentence, which one is not.

Plain Python (no torch). ``validate`` runs whenever a ``StyleParams`` is made.
"""

from __future__ import annotations

import math

from .vgg19_layers import CONV_LAYERS, min_size_for

INITS = ("noise", "style noise", "content", "array")
OPTIMIZERS = ("lbfgs", "adam")
POOLINGS = ("max", "avg")
COLOR_MODES = (None, "luminance", "histogram")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
LOSS_SCALES = ("gap", "relative", "paper")

# The automatic pyramid starts here (or at the size itself when that is smaller) and
# doubles up to the requested size.
PYRAMID_START = 128
# steps="auto": the most steps a run may take while it waits for the image to settle.
AUTO_STEPS_CAP = 600
# steps="auto": the most steps of the pyramid's first stage and of each middle stage.
# They only lay out the picture that the last stage refines until it settles, so their
# steps delay the first good picture (docs/algorithm.md, "Coarse-to-fine from noise").
AUTO_LOWER_STEPS = (75, 15)

# The largest longer side a run takes, px (the smallest: min_size_for, by deepest layer).
MAX_SIZE = 8192


def validate(p) -> None:
    """Raise ValueError naming the first parameter of ``p`` that is out of range."""
    _check_weights(p)
    _check_layers(p)
    _check_run(p)
    _check_switches(p)


def _check_weights(p) -> None:
    """α, β, γ, the layout and the temporal weight."""
    for name in ("alpha", "beta", "tv_weight", "layout_weight", "temporal_weight"):
        check_number(name, getattr(p, name), low=0.0)
    if p.alpha == 0 and p.beta == 0:
        raise ValueError(
            "alpha and beta are both 0: nothing to optimise. "
            "Set alpha (content weight) or beta (style weight) above 0."
        )


def _check_layers(p) -> None:
    """The content and style layers, and the style layers' weights."""
    _check_choice("content_layer", p.content_layer, CONV_LAYERS)
    if not p.style_layers:
        raise ValueError("style_layers is empty: name at least one of " + ", ".join(CONV_LAYERS))
    for layer in p.style_layers:
        _check_choice("style_layers", layer, CONV_LAYERS)
    if len(set(p.style_layers)) != len(p.style_layers):
        raise ValueError(f"style_layers names a layer twice: {p.style_layers}")
    if p.style_layer_weights is not None:
        if len(p.style_layer_weights) != len(p.style_layers):
            raise ValueError(
                f"style_layer_weights has {len(p.style_layer_weights)} values but "
                f"style_layers has {len(p.style_layers)}; give one weight per layer."
            )
        for w in p.style_layer_weights:
            check_number("style_layer_weights", w, low=0.0)


def _check_run(p) -> None:
    """Steps, optimiser, start, sizes and scales."""
    if p.steps != "auto":
        _check_int("steps", p.steps, low=1, high=1_000_000)
    _check_choice("optimizer", p.optimizer, OPTIMIZERS)
    if p.learning_rate is not None:
        check_number("learning_rate", p.learning_rate, low=0.0, strict=True)
    _check_choice("init", p.init, INITS)
    min_size = min_size_for(p.layers_used)
    if p.size is not None:
        _check_int("size", p.size, low=min_size, high=MAX_SIZE)
    if p.memory_limit is not None:
        check_number("memory_limit", p.memory_limit, low=0.0, strict=True)
    check_number("style_scale", p.style_scale, low=0.0, strict=True, high=16.0)
    check_number("settle_levels", p.settle_levels, low=0.0, strict=True, high=255.0)
    if isinstance(p.scales, str):
        _check_choice("scales", p.scales, ("auto",))
    elif p.scales is not None:
        if not p.scales:
            raise ValueError("scales is empty: give sizes such as (256, 512), or None.")
        for s in p.scales:
            _check_int("scales", s, low=min_size, high=MAX_SIZE)


def _check_switches(p) -> None:
    """Colour, pooling, loss scale, flags, weights, device, seed."""
    _check_choice("preserve_color", p.preserve_color, COLOR_MODES)
    _check_choice("pooling", p.pooling, POOLINGS)
    _check_choice("loss_scale", p.loss_scale, LOSS_SCALES)
    if not isinstance(p.normalized, bool):
        raise ValueError(f"normalized must be True or False, not {p.normalized!r}")
    for name in ("checkpoint", "compile"):
        if not isinstance(getattr(p, name), bool):
            raise ValueError(f"{name} must be True or False, not {getattr(p, name)!r}")
    if p.cuda_graph not in (None, True, False):
        raise ValueError(f"cuda_graph must be None, True or False, not {p.cuda_graph!r}")
    if not isinstance(p.weights, str) or not p.weights:
        raise ValueError(
            "weights must be 'vgg19-original', 'vgg19-imagenet' or a path to a state dict."
        )
    _check_device(p.device)
    _check_choice("precision", p.precision, PRECISIONS)
    if p.seed is not None:
        _check_int("seed", p.seed, low=0, high=2**63 - 1)
    _check_int("every", p.every, low=1, high=1_000_000)
    if p.frame_steps is not None:
        _check_int("frame_steps", p.frame_steps, low=1, high=1_000_000)
    if p.cuda_graph and not p.graphable:
        raise ValueError(
            "cuda_graph works with the L-BFGS optimiser, without checkpoint or compile."
        )


def unknown_text(unknown: list[str], known: list[str]) -> str:
    import difflib

    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"Unknown parameter {', '.join(parts)}: see StyleParams for the names."


def check_number(name, value, low=None, high=None, strict=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value!r}")
    if low is not None and (value <= low if strict else value < low):
        bound = f"> {low}" if strict else f">= {low}"
        raise ValueError(f"{name} = {value!r} is out of range: it must be {bound}")
    if high is not None and value > high:
        raise ValueError(f"{name} = {value!r} is out of range: it must be <= {high}")


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} = {value} is out of range: it must be from {low} to {high}")


def _check_choice(name, value, choices):
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} = {value!r} is not allowed: choose one of {allowed}")


def _check_device(device):
    if not isinstance(device, str):
        raise ValueError(
            f"device must be a string such as 'auto', 'cpu' or 'cuda:0', not {device!r}"
        )
    base, _, index = device.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise ValueError(
            f"device = {device!r} is not allowed: choose 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        )
