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
divided by M_l.

The layout term (``layout_weight`` > 0) belongs to the content: weighed by α and that
emphasis, it is 2·(1 − r), r the correlation of G's and C's luminance on a coarse grid
(``losses.coarse_luminance``). The content layer's ReLU features answer local contrast,
not where the picture is light and dark, so without it a night sky takes a light style's
light (docs/algorithm.md, "Dark photos turn light"). In the paper scale it is multiplied
by the content term's ½‖P‖².
"""

from __future__ import annotations

from dataclasses import dataclass

from . import losses
from ._torch import torch
from .losses import gram
from .regions import RegionStyle

# The penalised range: two grey levels inside [0, 1], so that a pixel the style presses
# a little past the soft wall still rounds to 1 or 254, not to a pinned 0 or 255.
RANGE_MARGIN = 2.0 / 255
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
    layout: torch.Tensor | None = None  # C's coarse luminance (losses.coarse_luminance)
    layout_scale: float | torch.Tensor = 1.0  # the paper scale's ½‖P‖², as the content's
    previous: torch.Tensor | None = None  # stacks: the previous frame's result
    still: torch.Tensor | None = None  # stacks: 1 where the content did not change


def style_layers_used(params) -> list[str]:
    """The layers whose Gram matrices the style term compares (none when β is 0)."""
    return list(params.style_layers) if params.beta > 0 else []


def style_grams(network, image, layers) -> dict:
    """{layer: Gram matrix} of one style image at one stage (``network``: ``blocks.py``)."""
    return network.measure(image, grams=layers)[1]


def stage_targets(network, content, per_style, weights, params, previous=None, still=None):
    """Targets of one stage; ``network`` is a ``blocks.WholeImage`` or ``BlockedImage`` and
    ``per_style`` each style image's ``style_grams``."""
    relative = params.per_element_terms
    gap = params.loss_scale == "gap"
    layers = style_layers_used(params)
    with torch.no_grad():  # not inference_mode: the factors are saved for the backward pass
        target = None
        keep = [params.content_layer] if params.alpha > 0 else []
        maps, own_grams = network.measure(content, keep, layers if gap else [])
        if params.alpha > 0:
            target = maps[params.content_layer].float().clone()
        total = sum(weights)
        blended = {n: sum(w * g[n] for w, g in zip(weights, per_style)) / total for n in layers}
        content_factor, style_factors = 1.0, dict.fromkeys(layers, 1.0)
        if relative and target is not None:
            content_factor = 2.0 / target.pow(2).sum().clamp_min(1e-12)
        layout, layout_scale = None, 1.0
        if params.layout_weight > 0 and target is not None:
            layout = losses.coarse_luminance(content)
            layout_scale = 1.0 if relative else 0.5 * target.pow(2).sum()
        if relative:
            style_factors = {
                n: 4.0 * a.shape[0] ** 2 / _style_norm(a, own_grams[n] if gap else None)
                for n, a in blended.items()
            }
    return StageTargets(
        target,
        blended,
        tuple(per_style),
        content_factor,
        style_factors,
        small_stage_emphasis(content) if relative else 1.0,
        layout,
        layout_scale,
        previous,
        still,
    )


def small_stage_emphasis(image) -> float:
    """How much more the content term weighs at this stage's size (1 from 256 px up)."""
    emphasis = max(1.0, SMALL_STAGE_SIDE / max(image.shape[-2:])) ** SMALL_STAGE_POWER
    return min(SMALL_STAGE_MAX, emphasis)


class Objective:
    """J(x) = Σ weight·term(x): the content and style terms on the network's features of x
    (through ``network``: the whole image or blocks, ``blocks.py``), TV and the temporal
    term on its pixels."""

    def __init__(self, params, network, targets: StageTargets, guides=None):
        self.params, self.network, self.targets = params, network, targets
        self.regions = RegionStyle(guides) if guides is not None else None
        self.relative = params.per_element_terms
        self.layer_weights = dict(zip(params.style_layers, params.layer_weights))
        self.layers = list(
            dict.fromkeys(
                ([params.content_layer] if targets.content is not None else [])
                + list(targets.grams)
            )
        )
        # name: weight; "content" and "style" come from the features' statistics, the
        # others are pixel terms, each mapping x to a scalar tensor.
        self.weights = {"content": params.alpha * targets.content_emphasis, "style": params.beta}
        self.pixel_terms = {}
        if params.tv_weight > 0:
            self.weights["tv"], self.pixel_terms["tv"] = params.tv_weight, self.tv
        if targets.layout is not None:
            self.weights["layout"] = params.layout_weight * self.weights["content"]
            self.pixel_terms["layout"] = self.layout
        if targets.previous is not None and params.temporal_weight > 0:
            self.weights["temporal"] = params.temporal_weight
            self.pixel_terms["temporal"] = self.temporal
        self.terms = tuple(self.weights)

    # -- the terms on features: sums over positions, so blocks can add them up ----------
    def read_regions(self, hw, sizes: dict, device):
        """Read the region labels for this evaluation (they may change between steps);
        the masks (``RegionStyle.masks``), or None without guides."""
        if self.regions is not None:
            return self.regions.masks(hw, {n: sizes[n] for n in self.layer_weights}, device)
        return None

    def statistics(self, feats, window=None, hw=None) -> dict:
        """What the content and style terms depend on: the content error and the Gram
        matrices, over the whole maps or, for a block (``window``), its share of each.
        Without guides, only of the layers in ``feats`` (a split run's shallow or deep
        part, ``shallow_blocks.py``)."""
        stats = {}
        if self.targets.content is not None and self.params.content_layer in feats:
            name, target = self.params.content_layer, self.targets.content
            f = feats[name].float()
            if window is not None:
                f, target = window.inner(name, f), window.whole(name, target)
            stats["content"] = losses.content_loss(f, target)
        if not self.targets.grams:
            return stats
        if self.regions is not None:
            if window is None:  # the whole image: the labels are read afresh each time
                sizes = {n: tuple(feats[n].shape[-2:]) for n in self.layer_weights}
                self.read_regions(hw, sizes, next(iter(feats.values())).device)
            stats.update(self.regions.statistics(feats, self.layer_weights, window))
            return stats
        for n in (n for n in self.targets.grams if n in feats):
            if window is None:
                stats[n] = gram(feats[n])
            else:
                stats[n] = gram(window.inner(n, feats[n]), total=window.positions(n))
        return stats

    def feature_terms(self, stats) -> dict:
        """{"content": …, "style": …} (unweighted) from the whole image's ``statistics``."""
        reference = next(iter(stats.values()))
        content = reference.new_zeros(())
        if "content" in stats:
            content = stats["content"] * self.targets.content_factor
        style = reference.new_zeros(())
        if self.regions is not None and self.targets.grams:
            style = self.regions.loss(
                stats, self.targets.style_grams, self.layer_weights, self.layer_loss
            )
        elif self.targets.grams:
            style = sum(
                self.layer_weights[n] * self.layer_loss(n, stats[n], self.targets.grams[n])
                for n in self.targets.grams
            )
        return {"content": content, "style": style}

    def layer_loss(self, layer, g, a):
        """One style layer's error; its norm is the blended target's (shared by regions)."""
        return losses.style_layer_loss(g, a) * self.targets.style_factors[layer]

    # -- the terms on pixels ------------------------------------------------------------
    def tv(self, x):
        return losses.tv_loss(x) / (x.numel() if self.relative else 1.0)

    def layout(self, x):
        return losses.layout_loss(x, self.targets.layout) * self.targets.layout_scale

    def temporal(self, x):
        t = self.targets
        return losses.temporal_loss(x, t.previous, t.still) / (x.numel() if self.relative else 1.0)

    def __call__(self, x):
        """(J, {name: unweighted term}) of the image x (1×C×H×W, unconstrained)."""
        parts = dict(self.network.feature_terms(self, x))
        parts.update({name: term(x) for name, term in self.pixel_terms.items()})
        total = sum(w * parts[name] for name, w in self.weights.items())
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


def with_range_wall(total, x):
    """J·(1 + RANGE_WEIGHT·penalty): J itself inside the range, a wall outside it.

    The wall scales with J, so it holds as firmly at the end of a run as at its start,
    and from the content (a small first J) as from noise; it keeps no state, so a
    captured CUDA-graph step stays valid.
    """
    penalty = in_range_penalty(x)
    # Where nothing strays, exactly J, even when J overflowed.
    return torch.where(penalty > 0, total * (1.0 + RANGE_WEIGHT * penalty), total)
