"""All the knobs of a style-transfer run, in one validated dataclass.

Plain Python only (no torch): the widget validates its values with it before a
worker starts, and layer metadata and presets store it as a plain dict.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The VGG19 convolution layers, in order, named as in the paper. A layer's
# features are taken after its ReLU (as in Gatys et al.'s Caffe code, where
# ReLU runs in place on the convolution's output).
VGG19_BLOCKS = (2, 2, 4, 4, 4)
VGG19_WIDTHS = (64, 128, 256, 512, 512)  # filters per conv, by block
CONV_LAYERS = tuple(
    f"conv{block}_{i}"
    for block, count in enumerate(VGG19_BLOCKS, start=1)
    for i in range(1, count + 1)
)

INITS = ("noise", "content", "array")
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

# Below this longer side, five poolings leave too little of an image to compare.
# The smallest input that reaches conv5_1 through four 2×2 poolings is 16 px;
# see min_size_for() for the exact rule per deepest layer.
MAX_SIZE = 8192


def conv_shapes(h: int, w: int, deepest: str = "conv5_4"):
    """(name, in channels, out channels, height, width) of each conv up to ``deepest``.

    Height and width are those of the conv's input and output at an H×W image.
    """
    last, cin, index = CONV_LAYERS.index(deepest), 3, 0
    for block, (count, cout) in enumerate(zip(VGG19_BLOCKS, VGG19_WIDTHS)):
        for _ in range(count):
            if index > last:
                return
            yield CONV_LAYERS[index], cin, cout, h // 2**block, w // 2**block
            cin, index = cout, index + 1


def min_size_for(layers: tuple[str, ...]) -> int:
    """Smallest image side that still has at least one pixel at every layer."""
    deepest_block = max(int(name[4]) for name in layers)
    return 2 ** (deepest_block - 1)


def knob(default, help: str, label: str | None = None, choices=None, *, kind=None):
    """A StyleParams field with what users see for it, declared once.

    ``help``: one sentence (the CLI's help and the widget's tooltip); ``label``: the
    widget's label (None: no control); ``choices``: the allowed values; ``kind``: how
    the CLI reads it, when the default's type does not say (see cli.py).
    """
    meta = {"help": help, "label": label, "choices": choices, "kind": kind}
    return dataclasses.field(default=default, metadata=meta)


def knob_of(name: str) -> Mapping[str, Any]:
    """The help, label, choices and kind declared for a StyleParams field."""
    return {f.name: f.metadata for f in dataclasses.fields(StyleParams)}[name]


@dataclass
class StyleParams:
    """Parameters of one run of Gatys et al.'s neural style transfer.

    J(G) = alpha·J_content + beta·J_style + tv_weight·TV(G).
    """

    # Each field says, once, what the widget and the CLI show for it (see ``knob``).
    # α, β and γ weigh relative errors (loss_scale="gap"): the same values give the same
    # balance at every size and about the same on every pair (docs/algorithm.md).
    alpha: float = knob(1.0, "Content weight α in J = α·J_content + β·J_style.", "α (content)")
    beta: float = knob(5.0, "Style weight β. Raise it (lower α/β) for more style.", "β (style)")
    tv_weight: float = knob(1.0, "Total-variation weight γ: smooths the result.", "TV weight γ")
    temporal_weight: float = knob(
        0.0,
        "Stacks: keep each frame close to the previous result where the content did not "
        "change. 0: off; higher values flicker less.",
        "Temporal weight",
    )
    frame_steps: int | None = knob(
        None,
        "Stacks: steps for each frame after the first, which starts from the previous "
        "result (none: the same as steps).",
        "Frame steps",
        kind="int",
    )
    content_layer: str = knob(
        "conv4_2", "The layer where the content is compared.", choices=CONV_LAYERS
    )
    style_layers: tuple[str, ...] = knob(
        ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
        "The layers where the Gram matrices are compared.",
        kind="layers",
    )
    style_layer_weights: tuple[float, ...] | None = knob(
        None, "A weight per style layer (none: equal weights).", kind="floats"
    )
    steps: int | str = knob(
        300,
        "Gradient evaluations over the whole run, spread over the stages, or 'auto': stop "
        f"when the image has settled (at most {AUTO_STEPS_CAP}).",
        "Steps",
        kind="steps",
    )
    settle_levels: float = knob(
        2.0,
        "steps 'auto': a stage ends when its image changes by less than this many grey "
        "levels (mean, of 255) over 10 steps; higher stops sooner.",
        "Quality",
    )
    optimizer: str = knob(
        "lbfgs", "L-BFGS (the paper's, fast to converge) or Adam.", "Optimizer", OPTIMIZERS
    )
    learning_rate: float | None = knob(
        None, "Step size (none: 1 for L-BFGS, 0.02 for Adam).", kind="float"
    )
    init: str = knob(
        "noise",
        "Start from white noise (the paper), the content, or an image.",
        "Start from",
        kind="init",
    )
    size: int | None = knob(
        512, "Longer side of the output in px; the content is resized to it.", "Size (px)"
    )
    style_scale: float = knob(
        1.0,
        "Style image size relative to the content: larger gives larger brush strokes.",
        "Style scale",
    )
    scales: tuple[int, ...] | str | None = knob(
        "auto",
        f"Coarse-to-fine sizes: 'auto' starts at {PYRAMID_START} px and doubles up to the "
        "size (noise becomes a picture at the cheap sizes); 'none': the size only; or "
        "sizes such as 256 512.",
        "Scales",
        kind="scales",
    )
    preserve_color: str | None = knob(
        None,
        "Keep the content's colours: transfer luminance only, or match the style's colour "
        "histogram to the content first.",
        "Preserve colour",
        tuple(c for c in COLOR_MODES if c),
    )
    pooling: str = knob("max", "Pooling in the network (the paper prefers avg).", choices=POOLINGS)
    normalized: bool = knob(False, "The paper's normalised VGG19, instead of the raw one.")
    loss_scale: str = knob(
        "gap",
        "gap: each style layer's error relative to the photo's own distance from the style "
        "(one strength for every pair); relative: to the style's; both look the same at every "
        "size; paper: Gatys et al.'s sums.",
        choices=LOSS_SCALES,
    )
    weights: str = knob(
        "vgg19-original", "vgg19-original (bundled), vgg19-imagenet, or a state-dict path."
    )
    device: str = knob(
        "auto",
        "Where the run computes: auto (a CUDA GPU, then Apple's GPU, then the CPU), cpu, "
        "cuda, cuda:N or mps.",
        "Device",
    )
    precision: str = knob(
        "fp32",
        "bf16: the network in bfloat16 after its first convolution (fast mode); Gram "
        "matrices and losses stay fp32.",
        "Fast mode (bf16)",
        PRECISIONS,
    )
    checkpoint: bool = knob(False, "Gradient checkpointing: less memory, slower steps.")
    memory_limit: float | None = knob(
        None,
        "Memory the run may use, in GiB (none: 0.85 × what is free on the device); a stage "
        "that needs more runs block by block, with the same result.",
        "Memory limit (GiB)",
        kind="float",
    )
    compile: bool = knob(False, "torch.compile the network (slower than cuda_graph on a GPU).")
    cuda_graph: bool | None = knob(
        None,
        "Replay each whole step as one CUDA graph (default: wherever it works: CUDA, L-BFGS, "
        "no checkpoint, compile or region guides).",
        kind="bool",
    )
    seed: int | None = knob(
        0, "The same seed on the same device gives the same image.", "Seed", kind="int"
    )
    every: int = knob(1, "Report (refresh the output) every N steps.", "Update every")

    def __post_init__(self) -> None:
        # Lists from JSON or the widget become tuples, so that params compare and hash.
        for name in ("style_layers", "style_layer_weights", "scales"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (tuple, str)):
                setattr(self, name, tuple(value))
        self.validate()

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError naming the first parameter that is out of range."""
        for name in ("alpha", "beta", "tv_weight", "temporal_weight"):
            _check_number(name, getattr(self, name), low=0.0)
        if self.alpha == 0 and self.beta == 0:
            raise ValueError(
                "alpha and beta are both 0: nothing to optimise. "
                "Set alpha (content weight) or beta (style weight) above 0."
            )
        _check_choice("content_layer", self.content_layer, CONV_LAYERS)
        if not self.style_layers:
            raise ValueError(
                "style_layers is empty: name at least one of " + ", ".join(CONV_LAYERS)
            )
        for layer in self.style_layers:
            _check_choice("style_layers", layer, CONV_LAYERS)
        if len(set(self.style_layers)) != len(self.style_layers):
            raise ValueError(f"style_layers names a layer twice: {self.style_layers}")
        if self.style_layer_weights is not None:
            if len(self.style_layer_weights) != len(self.style_layers):
                raise ValueError(
                    f"style_layer_weights has {len(self.style_layer_weights)} values but "
                    f"style_layers has {len(self.style_layers)}; give one weight per layer."
                )
            for w in self.style_layer_weights:
                _check_number("style_layer_weights", w, low=0.0)
        if self.steps != "auto":
            _check_int("steps", self.steps, low=1, high=1_000_000)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.learning_rate is not None:
            _check_number("learning_rate", self.learning_rate, low=0.0, strict=True)
        _check_choice("init", self.init, INITS)
        min_size = min_size_for(self.layers_used)
        if self.size is not None:
            _check_int("size", self.size, low=min_size, high=MAX_SIZE)
        if self.memory_limit is not None:
            _check_number("memory_limit", self.memory_limit, low=0.0, strict=True)
        _check_number("style_scale", self.style_scale, low=0.0, strict=True, high=16.0)
        _check_number("settle_levels", self.settle_levels, low=0.0, strict=True, high=255.0)
        if isinstance(self.scales, str):
            _check_choice("scales", self.scales, ("auto",))
        elif self.scales is not None:
            if not self.scales:
                raise ValueError("scales is empty: give sizes such as (256, 512), or None.")
            for s in self.scales:
                _check_int("scales", s, low=min_size, high=MAX_SIZE)
        _check_choice("preserve_color", self.preserve_color, COLOR_MODES)
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("loss_scale", self.loss_scale, LOSS_SCALES)
        if not isinstance(self.normalized, bool):
            raise ValueError(f"normalized must be True or False, not {self.normalized!r}")
        for name in ("checkpoint", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if self.cuda_graph not in (None, True, False):
            raise ValueError(f"cuda_graph must be None, True or False, not {self.cuda_graph!r}")
        if not isinstance(self.weights, str) or not self.weights:
            raise ValueError(
                "weights must be 'vgg19-original', 'vgg19-imagenet' or a path to a state dict."
            )
        _check_device(self.device)
        _check_choice("precision", self.precision, PRECISIONS)
        if self.seed is not None:
            _check_int("seed", self.seed, low=0, high=2**63 - 1)
        _check_int("every", self.every, low=1, high=1_000_000)
        if self.frame_steps is not None:
            _check_int("frame_steps", self.frame_steps, low=1, high=1_000_000)
        if self.cuda_graph and not self.graphable:
            raise ValueError(
                "cuda_graph works with the L-BFGS optimiser, without checkpoint or compile."
            )

    # -- derived ------------------------------------------------------------------------
    @property
    def graphable(self) -> bool:
        """Whether a step can be one CUDA graph: it must never read a value back to
        the host, which only our L-BFGS guarantees, and own all its memory."""
        return self.optimizer == "lbfgs" and not self.checkpoint and not self.compile

    @property
    def per_element_terms(self) -> bool:
        """Terms as relative errors and per-pixel means (every scale but the paper's sums)."""
        return self.loss_scale != "paper"

    @property
    def layers_used(self) -> tuple[str, ...]:
        return (self.content_layer, *self.style_layers)

    @property
    def deepest_layer(self) -> str:
        return max(self.layers_used, key=CONV_LAYERS.index)

    @property
    def min_size(self) -> int:
        return min_size_for(self.layers_used)

    @property
    def layer_weights(self) -> tuple[float, ...]:
        if self.style_layer_weights is not None:
            return self.style_layer_weights
        return (1.0 / len(self.style_layers),) * len(self.style_layers)

    @property
    def ratio(self) -> float:
        """α/β (inf when β = 0)."""
        return math.inf if self.beta == 0 else self.alpha / self.beta

    @property
    def style_strength(self) -> float:
        """β/α: one knob for the balance, the same at every size (inf when α = 0)."""
        return math.inf if self.alpha == 0 else self.beta / self.alpha

    def with_style_strength(self, strength: float) -> StyleParams:
        """These parameters with β set so that β/α = ``strength``."""
        _check_number("style_strength", strength, low=0.0)
        return self.replace(beta=strength * (self.alpha or 1.0), alpha=self.alpha or 1.0)

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 1.0 if self.optimizer == "lbfgs" else 0.02

    @property
    def step_budget(self) -> int:
        """The most gradient evaluations the run may take."""
        return AUTO_STEPS_CAP if self.steps == "auto" else self.steps

    @property
    def stop_when_settled(self) -> bool:
        return self.steps == "auto"

    def stage_sizes(self, longer_side: int, start_image: bool = False) -> tuple[int, ...]:
        """Longer side of each stage for an output of ``longer_side`` px.

        ``start_image``: the run starts from an image of the user's (init="array"),
        which an automatic pyramid would blur, so it runs at the final size only.
        """
        if self.scales is None or (self.scales == "auto" and start_image):
            return (longer_side,)
        if self.scales != "auto":
            return self.scales
        sizes = [longer_side]
        while sizes[-1] // 2 >= PYRAMID_START:
            sizes.append(sizes[-1] // 2)
        return tuple(reversed(sizes))

    def stage_steps(self, stages: int) -> tuple[int, ...]:
        """The step budget spread over ``stages``: the first (the cheapest, where noise
        becomes a picture) gets two thirds at any size, the later stages share the rest.

        The first stage's steps do not shrink as the output grows: the layout forms there
        and the larger stages only refine it (docs/algorithm.md)."""
        budget = self.step_budget
        if stages == 1:
            return (budget,)
        first = (2 * budget + 1) // 3
        each, extra = divmod(budget - first, stages - 1)
        later = [max(1, each + (i < extra)) for i in range(stages - 1)]
        return (first, *later)  # first ≥ 1: the budget is at least 1

    def stack_steps(self, frames: int) -> int:
        """Steps of a stack run: the first frame's, then ``frame_steps`` per later frame."""
        if frames <= 0:
            return 0
        later = self.frame_steps or self.step_budget
        return self.step_budget + (frames - 1) * later

    # -- plain-dict round trip ----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StyleParams:
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(_unknown_text(unknown, [*known, "style_strength"]))
        return cls(**dict(data))

    def replace(self, **changes: Any) -> StyleParams:
        return self.from_dict({**self.to_dict(), **changes})


def as_params(
    params: StyleParams | Mapping[str, Any] | None = None,
    *,
    style_strength: float | None = None,
    **overrides: Any,
) -> StyleParams:
    """The one way every entry point reads its parameters: a ``StyleParams``, a dict
    (such as a sidecar's ``params``) or None, then keyword overrides, then
    ``style_strength`` (β/α). A bad name or value raises one ValueError that says which."""
    if params is None:
        base: dict[str, Any] = {}
    elif isinstance(params, StyleParams):
        base = params.to_dict()
    elif isinstance(params, Mapping):
        base = dict(params)
    else:
        raise ValueError(
            f"params must be a StyleParams, a dict or None, not {type(params).__name__}."
        )
    if "style_strength" in base:  # a dict may carry it too
        style_strength = base.pop("style_strength") if style_strength is None else style_strength
    merged = StyleParams.from_dict({**base, **overrides})
    return merged if style_strength is None else merged.with_style_strength(style_strength)


def _unknown_text(unknown: list[str], known: list[str]) -> str:
    import difflib

    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"Unknown parameter {', '.join(parts)}: see StyleParams for the names."


def _check_number(name, value, low=None, high=None, strict=False):
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
