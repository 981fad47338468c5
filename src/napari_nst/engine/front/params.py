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

from . import param_rules
from .param_rules import (  # noqa: F401 - where the rest of the package reads them
    AUTO_LOWER_STEPS,
    AUTO_STEPS_CAP,
    COLOR_MODES,
    DEVICES,
    INITS,
    LOSS_SCALES,
    MAX_SIZE,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    PYRAMID_START,
    unknown_text,
)
from .vgg19_layers import CONV_LAYERS, PAPER_STYLE_LAYERS, min_size_for


def knob(default, help: str, label: str | None = None, choices=None, *, kind=None):
    """A StyleParams field with what users see for it, declared once.

    ``help``: one sentence (the CLI's help and the widget's tooltip); ``label``: the
    widget's label (None: no control); ``choices``: the allowed values; ``kind``: how
    the CLI reads it, when the default's type does not say (see cli.py).
    """
    meta = {"help": help, "label": label, "choices": choices, "kind": kind}
    return dataclasses.field(default=default, metadata=meta)


def knob_kind(field: dataclasses.Field) -> str:
    """How a field's value is read: its declared ``kind``, else its default's type."""
    kind = field.metadata.get("kind")
    if kind:
        return kind
    return {bool: "bool", int: "int", float: "float"}.get(type(field.default), "str")


def knob_of(name: str) -> Mapping[str, Any]:
    """The help, label, choices and kind declared for a StyleParams field."""
    return {f.name: f.metadata for f in dataclasses.fields(StyleParams)}[name]


@dataclass
class StyleParams:
    """Parameters of one run of Gatys et al.'s neural style transfer.

    J(G) = alpha·J_content + beta·J_style + tv_weight·TV(G)
    (+ layout_weight·alpha·J_layout, see ``objective.py``).
    """

    # Each field says, once, what the widget and the CLI show for it (see ``knob``).
    # α, β and γ weigh relative errors (loss_scale="gap"): the same values give the same
    # balance at every size and about the same on every pair (docs/algorithm.md).
    alpha: float = knob(1.0, "Content weight α in J = α·J_content + β·J_style.", "α (content)")
    beta: float = knob(7.5, "Style weight β. Raise it (lower α/β) for more style.", "β (style)")
    tv_weight: float = knob(1.0, "Total-variation weight γ: smooths the result.", "TV weight γ")
    layout_weight: float = knob(
        1.0,
        "Weight of the content's light layout: the result's luminance on a coarse grid "
        "correlated with the content's, so a night sky stays darker than a lit ground "
        "while the style sets the overall light. 0: off (the paper's J).",
        "Light layout",
    )
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
        "conv3_2", "The layer where the content is compared.", choices=CONV_LAYERS
    )
    # Without conv5_1: its face-sized parts paint a portrait style's eyes onto buildings.
    style_layers: tuple[str, ...] = knob(
        PAPER_STYLE_LAYERS[:4],
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
    carry_step_scale: bool = knob(
        True,
        "L-BFGS: each later pyramid stage starts with the last stage's step scale instead "
        "of a tiny first step (the first good picture sooner; docs/algorithm.md).",
    )
    init: str = knob(
        "noise",
        "Start from white noise (the paper), noise in the style's colours, the content, or an "
        "image.",
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
        "matrices and losses stay fp32. On a CPU it needs bf16 instructions (AVX-512 BF16, "
        "AMX or Arm's BF16).",
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
        if self.scales == "none":  # the word the help offers (the CLI and widget pass it on)
            self.scales = None
        self.validate()

    # -- validation ---------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError naming the first parameter that is out of range."""
        param_rules.validate(self)

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
        param_rules.check_number("style_strength", strength, low=0.0)
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
        and the larger stages only refine it (docs/algorithm.md). With steps="auto" these
        are caps, and the first and middle stages' are ``AUTO_LOWER_STEPS``: the last
        stage ends when settled, so their steps only delay the first good picture."""
        budget = self.step_budget
        if stages == 1:
            return (budget,)
        first = (2 * budget + 1) // 3
        each, extra = divmod(budget - first, stages - 1)
        later = [max(1, each + (i < extra)) for i in range(stages - 1)]
        if self.stop_when_settled:
            lower_first, middle = AUTO_LOWER_STEPS
            return (lower_first, *[middle] * (stages - 2), later[-1])
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
            raise ValueError(unknown_text(unknown, [*known, "style_strength"]))
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
