"""The cost J(G) as named, weighted terms, with each stage's targets computed once.

Adding a loss term means adding one entry to ``Objective.terms`` (and its test).

Three scales (``StyleParams.loss_scale``):

- "gap" (default): as "relative", but each style layer's error is measured against
  the content's own distance from the style there, ‖G_l − A_l‖²/‖G_l(C) − A_l‖²: 1
  at the photo, 0 at the style. One style strength then closes about the same share
  of the photo-to-style gap for any pair, which is how the picture judge
  (``quality.judge``'s style_ratio) measures style.
- "relative": each term is a relative error, ‖F − P‖²/‖P‖² for the content
  and ‖G_l − A_l‖²/‖A_l‖² for each style layer, and TV and the temporal term are
  means over pixels. No term grows with the image's size, so one α/β gives one look
  at every size, and every style layer counts by how far it is from its target.
- "paper": Gatys et al.'s sums, ½·Σ(F − P)² and Σ(G_l − A_l)²/(4·N_l²·M_l²).
  The content term grows with the pixel count, so the balance shifts with size.

Below 256 px the per-element scales weigh the content more (``small_stage_emphasis``).
The mapping between them: relative α equals paper α·‖P‖²/2 (÷ that emphasis), and the relative
weight of layer l equals the paper weight·‖A_l‖²/(4·N_l²), with Gram matrices
divided by M_l. ``paper_ratio`` gives the paper's α/β of a relative run at one stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import losses
from ._torch import torch
from .losses import gram
from .regions import RegionStyle

# The penalised range: one grey level inside [0, 1], so that a pixel held at the
# wall still rounds to 1 or 254, not to a pinned 0 or 255.
RANGE_MARGIN = 1.0 / 255
# loss_scale="gap": a layer where the content is already this close to the style
# (squared, relative to the style's Gram norm) counts as this far, not as nearly 0.
GAP_FLOOR = 0.01
# Per-element scales: below this longer side the content term weighs more, by
# (SMALL_STAGE_SIDE / side) ** SMALL_STAGE_POWER up to SMALL_STAGE_MAX, so that small
# outputs and the pyramid's coarse stages keep the layout (docs/algorithm.md, "One look
# at every size").
SMALL_STAGE_SIDE = 256
SMALL_STAGE_POWER = 1.5
SMALL_STAGE_MAX = 4.0
# The wall's weight, as a multiple of the current J (so it means the same for any
# α, β, loss scale and start; docs/algorithm.md has the measured choice).
RANGE_WEIGHT = 3e4


@dataclass(frozen=True)
class StageTargets:
    """What one stage compares against, computed once when the stage starts."""

    content: torch.Tensor | None  # features of C at the content layer
    grams: dict  # layer -> blended style Gram matrix (divided by M)
    style_grams: tuple  # per style image: {layer: Gram matrix}, for region guides
    content_factor: float | torch.Tensor  # multiplies the paper's content term
    style_factors: dict  # layer -> multiplies the paper's E_l
    content_emphasis: float = 1.0  # multiplies α under 256 px (small_stage_emphasis)
    previous: torch.Tensor | None = None  # stacks: the previous frame's result
    still: torch.Tensor | None = None  # stacks: 1 where the content did not change


def style_layers_used(params) -> list[str]:
    """The layers whose Gram matrices the style term compares (none when β is 0)."""
    return list(params.style_layers) if params.beta > 0 else []


def style_grams(features, image, layers) -> dict:
    """{layer: Gram matrix} of one style image at one stage."""
    with torch.no_grad():
        feats = features(image, layers)
        return {n: gram(feats[n]).clone() for n in layers}


def stage_targets(features, content, per_style, weights, params, previous=None, still=None):
    """Targets of one stage; ``features(image, layers)`` is the network and ``per_style``
    each style image's ``style_grams``."""
    relative = params.per_element_terms
    gap = params.loss_scale == "gap"
    layers = style_layers_used(params)
    with torch.no_grad():  # not inference_mode: the factors are saved for the backward pass
        target = None
        wanted = ([params.content_layer] if params.alpha > 0 else []) + (layers if gap else [])
        own = features(content, wanted) if wanted else {}
        if params.alpha > 0:
            target = own[params.content_layer].float().clone()
        total = sum(weights)
        blended = {n: sum(w * g[n] for w, g in zip(weights, per_style)) / total for n in layers}
        content_factor, style_factors = 1.0, dict.fromkeys(layers, 1.0)
        if relative and target is not None:
            content_factor = 2.0 / target.pow(2).sum().clamp_min(1e-12)
        if relative:
            style_factors = {
                n: 4.0 * a.shape[0] ** 2 / _style_norm(a, gram(own[n]) if gap else None)
                for n, a in blended.items()
            }
    return StageTargets(
        target,
        blended,
        tuple(per_style),
        content_factor,
        style_factors,
        small_stage_emphasis(content) if relative else 1.0,
        previous,
        still,
    )


def small_stage_emphasis(image) -> float:
    """How much more the content term weighs at this stage's size (1 from 256 px up)."""
    emphasis = max(1.0, SMALL_STAGE_SIDE / max(image.shape[-2:])) ** SMALL_STAGE_POWER
    return min(SMALL_STAGE_MAX, emphasis)


class Objective:
    """J(x) = Σ weight·term(x), evaluated on the network's features of x."""

    def __init__(self, params, features, targets: StageTargets, guides=None):
        self.params, self.features, self.targets = params, features, targets
        self.regions = RegionStyle(guides) if guides is not None else None
        self.relative = params.per_element_terms
        self.layer_weights = dict(zip(params.style_layers, params.layer_weights))
        self.layers = list(
            dict.fromkeys(
                ([params.content_layer] if targets.content is not None else [])
                + list(targets.grams)
            )
        )
        # name: (weight, term); a term maps (x, features) to a scalar tensor.
        self.terms = {
            "content": (params.alpha * targets.content_emphasis, self.content),
            "style": (params.beta, self.style),
        }
        if params.tv_weight > 0:
            self.terms["tv"] = (params.tv_weight, self.tv)
        if targets.previous is not None and params.temporal_weight > 0:
            self.terms["temporal"] = (params.temporal_weight, self.temporal)

    def content(self, x, feats):
        if self.targets.content is None:
            return x.new_zeros(())
        f = feats[self.params.content_layer].float()
        return losses.content_loss(f, self.targets.content) * self.targets.content_factor

    def style(self, x, feats):
        if not self.targets.grams:
            return x.new_zeros(())
        if self.regions is not None:
            return self.regions.loss(
                feats,
                self.targets.style_grams,
                self.layer_weights,
                tuple(x.shape[-2:]),
                self.layer_loss,
            )
        return sum(
            self.layer_weights[n] * self.layer_loss(n, gram(feats[n]), self.targets.grams[n])
            for n in self.targets.grams
        )

    def layer_loss(self, layer, g, a):
        """One style layer's error; its norm is the blended target's (shared by regions)."""
        return losses.style_layer_loss(g, a) * self.targets.style_factors[layer]

    def tv(self, x, feats):
        return losses.tv_loss(x) / (x.numel() if self.relative else 1.0)

    def temporal(self, x, feats):
        t = self.targets
        return losses.temporal_loss(x, t.previous, t.still) / (x.numel() if self.relative else 1.0)

    def __call__(self, x):
        """(J, {name: unweighted term}) of the image x (1×C×H×W, unconstrained)."""
        feats = self.features(x, self.layers)
        parts = {name: term(x, feats) for name, (_, term) in self.terms.items()}
        total = sum(w * parts[name] for name, (w, _) in self.terms.items())
        return total, parts


def _style_norm(target, content_gram=None):
    """‖A‖², or with the content's Gram matrix the content's distance ‖G(C) − A‖²."""
    norm = target.pow(2).sum().clamp_min(1e-12)
    if content_gram is None:
        return norm
    return (content_gram.float() - target).pow(2).sum().clamp_min(GAP_FLOOR * norm)


def in_range_penalty(x):
    """How far x strays outside the displayable range (see ``RANGE_MARGIN``)."""
    return losses.range_penalty(x, RANGE_MARGIN, 1.0 - RANGE_MARGIN)


def paper_ratio(params, targets: StageTargets) -> float:
    """The paper's α/β that weighs this stage's terms as the relative ones do.

    With equal layer weights the style side maps layer by layer; this reports the
    ratio for the first style layer's mapping (see the module docstring).
    """
    if params.loss_scale == "paper" or targets.content is None or not targets.grams:
        return params.ratio
    first = next(iter(targets.grams))
    alpha_paper = params.alpha * targets.content_emphasis * float(targets.content_factor)
    return alpha_paper / (params.beta * float(targets.style_factors[first]))


def with_range_wall(total, x):
    """J·(1 + RANGE_WEIGHT·penalty): J itself inside the range, a wall outside it.

    The wall scales with J, so it holds as firmly at the end of a run as at its start,
    and from the content (a small first J) as from noise; it keeps no state, so a
    captured CUDA-graph step stays valid.
    """
    penalty = in_range_penalty(x)
    # Where nothing strays, exactly J, even when J overflowed.
    return torch.where(penalty > 0, total * (1.0 + RANGE_WEIGHT * penalty), total)
