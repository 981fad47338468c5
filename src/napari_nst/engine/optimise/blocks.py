"""The network over a whole image, at once or block by block with the same J and ∇J.

A stage that fits in memory runs the network on the whole image (``WholeImage``). One
that does not runs it on blocks (``BlockedImage``), after Galerne et al., "Scaling
Painting Style Transfer" (2023): every term of J on the network's features depends on
the image only through sums over positions (the content error, each Gram matrix), so
it can be computed exactly from blocks, in two passes per evaluation:

1. without gradients, each block's share of those sums is added up (``first_pass``),
   and J follows from the totals;
2. autograd gives dJ/d(each sum); each block runs again with gradients, its own share
   weighted by those derivatives is backpropagated, and its input gradient is added to
   the image's (``second_pass``).

A block is an inner part of the image plus a halo as wide as the deepest layer reaches
(``halo_for``), so that its features over the inner part equal the whole image's. Inner
parts start on the network's pooling grid (``GRID``) and tile every layer's map.
Its input gradient is kept whole, halo included: the inner features depend on the halo's
pixels too, and each feature is counted in exactly one block.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..front.vgg19_layers import CONV_LAYERS, VGG19_BLOCKS
from ._torch import torch
from .losses import gram

# Inner parts start on multiples of this: 2×2 pooling four times up to conv5_x.
GRID = 16


class StopBetweenBlocks(Exception):
    """Raised by a block callback to end a long blocked step early (the user's Stop)."""


def halo_for(deepest: str) -> int:
    """Pixels of context a block needs on each side for exact features up to ``deepest``.

    A 3×3 convolution reaches one position further at its stride; a 2×2 pooling
    adds no reach (its output's cell is exactly its two input cells), only doubles
    the stride.
    """
    reach, stride, index = 0, 1, 0
    for count in VGG19_BLOCKS:
        for _ in range(count):
            reach += stride
            if CONV_LAYERS[index] == deepest:
                return -(-reach // GRID) * GRID
            index += 1
        stride *= 2
    raise ValueError(f"unknown layer {deepest!r}")


def layer_stride(name: str) -> int:
    """How many input pixels one position of ``name``'s map spans."""
    return 2 ** (int(name[4]) - 1)


@dataclass(frozen=True)
class Window:
    """One block: its input rows and columns (halo included) and its inner part."""

    rows: slice  # of the image, halo included
    cols: slice
    inner_rows: slice  # of the image; starts and ends on the grid or at the image's edge
    inner_cols: slice
    hw: tuple  # the whole image's H×W

    def pixels(self, x):
        """The block's input: its rows and columns of the image ``x``, halo included."""
        return x[..., self.rows, self.cols]

    def inner(self, name, t):
        """The block's own positions of its feature map ``t`` at layer ``name``."""
        s = layer_stride(name)
        r0, c0 = self.rows.start // s, self.cols.start // s
        return t[
            ...,
            self.inner_rows.start // s - r0 : self.inner_rows.stop // s - r0,
            self.inner_cols.start // s - c0 : self.inner_cols.stop // s - c0,
        ]

    def whole(self, name, t):
        """The same positions of a whole-image map ``t`` at layer ``name``."""
        s = layer_stride(name)
        return t[
            ...,
            self.inner_rows.start // s : self.inner_rows.stop // s,
            self.inner_cols.start // s : self.inner_cols.stop // s,
        ]

    def positions(self, name) -> int:
        """Positions in the whole image's map at layer ``name`` (the Gram's M)."""
        s = layer_stride(name)
        return (self.hw[0] // s) * (self.hw[1] // s)

    def map_size(self, name) -> tuple[int, int]:
        s = layer_stride(name)
        return self.hw[0] // s, self.hw[1] // s


def _cuts(length: int, inner: int) -> list[int]:
    """Block edges along one side: near-equal parts of at most ``inner`` px, on the grid."""
    parts = -(-length // inner)
    edges = [round(length * i / parts) // GRID * GRID for i in range(parts)] + [length]
    return sorted(set(edges))


def block_grid(hw, inner: int, halo: int) -> list[Window]:
    """Windows whose inner parts tile an H×W image, each at most ``inner`` px a side."""
    h, w = hw
    rows, cols = _cuts(h, inner), _cuts(w, inner)
    grid = []
    for r0, r1 in itertools.pairwise(rows):
        for c0, c1 in itertools.pairwise(cols):
            grid.append(
                Window(
                    slice(max(0, r0 - halo), min(h, r1 + halo)),
                    slice(max(0, c0 - halo), min(w, c1 + halo)),
                    slice(r0, r1),
                    slice(c0, c1),
                    (h, w),
                )
            )
    return grid


def add_up(shares) -> dict:
    """The sum of the blocks' shares, key by key, in the grid's order."""
    total = dict(shares[0])
    for share in shares[1:]:
        for key, value in share.items():
            total[key] = total[key] + value
    return total


class WholeImage:
    """The network on the whole image at once: a stage that fits in memory."""

    blocks = None

    def count(self, hw) -> int:
        return 0

    def __init__(self, features):
        self.features = features  # (x, names) -> {name: map}

    def measure(self, image, keep=(), grams=()):
        """Without gradients: the maps at ``keep`` and the Gram matrices at ``grams``."""
        names = list(dict.fromkeys([*keep, *grams]))
        if not names:
            return {}, {}
        with torch.no_grad():
            feats = self.features(image, names)
            return {n: feats[n] for n in keep}, {n: gram(feats[n]).clone() for n in grams}

    def feature_terms(self, objective, x) -> dict:
        """{"content": …, "style": …} of the image ``x``, differentiable."""
        feats = self.features(x, objective.layers)
        return objective.feature_terms(objective.statistics(feats, hw=tuple(x.shape[-2:])))


class BlockedImage:
    """The network block by block: the same results as ``WholeImage``, in the memory of
    one block of at most ``inner`` px a side plus its halo."""

    def __init__(self, features, inner: int, halo: int, progress=None):
        self.features, self.inner, self.halo = features, inner, halo
        # (pass 1 or 2, blocks done, blocks) before each block: the status line, and a
        # Stop that need not wait for a step of many blocks (it may raise StopBetweenBlocks).
        self.progress = progress

    def grid(self, hw) -> list[Window]:
        return block_grid(tuple(hw), self.inner, self.halo)

    @property
    def blocks(self):
        return self.inner

    def count(self, hw) -> int:
        return len(self.grid(hw))

    def measure(self, image, keep=(), grams=()):
        """As ``WholeImage.measure``: kept maps assembled, Gram matrices summed over blocks."""
        names = list(dict.fromkeys([*keep, *grams]))
        grid = self.grid(image.shape[-2:]) if names else []
        kept, sums = {}, {}
        with torch.no_grad():
            for window in grid:
                feats = self.features(window.pixels(image), names)
                for n in keep:
                    if n not in kept:
                        whole = (*feats[n].shape[:2], *window.map_size(n))
                        kept[n] = feats[n].new_empty(whole)
                    window.whole(n, kept[n]).copy_(window.inner(n, feats[n]))
                for n in grams:
                    part = gram(window.inner(n, feats[n]), total=window.positions(n))
                    sums[n] = part if n not in sums else sums[n] + part
                del feats
        return kept, sums

    def feature_terms(self, objective, x) -> dict:
        values = _BlockedTerms.apply(x, objective, self)
        return {"content": values[0], "style": values[1]}

    def first_pass(self, objective, x) -> dict:
        """The statistics of J (``Objective.statistics``) summed over the blocks."""
        grid = self.grid(x.shape[-2:])
        sizes = {n: grid[0].map_size(n) for n in objective.layers}
        objective.read_regions(tuple(x.shape[-2:]), sizes, x.device)
        shares = []
        for i, window in enumerate(grid):
            self._report(1, i, len(grid))
            shares.append(block_statistics(self.features, objective, window, window.pixels(x)))
        return add_up(shares)

    def second_pass(self, objective, x, stats, weights):
        """∇ of weights·(content, style) at ``x``, from each block's share of ``stats``."""
        slopes = statistics_slopes(objective, stats, weights)
        grad = torch.zeros_like(x)
        grid = self.grid(x.shape[-2:])
        for i, window in enumerate(grid):
            self._report(2, i, len(grid))
            grad[..., window.rows, window.cols] += block_gradient(
                self.features, objective, window, window.pixels(x), slopes
            )
        return grad

    def _report(self, stage_pass, index, count):
        if self.progress is not None:
            self.progress(stage_pass, index, count)


def statistics_slopes(objective, stats, weights) -> dict:
    """d(weights·(content, style))/d(each statistic), at the whole image's ``stats``."""
    keys = list(stats)
    leaves = [stats[k].detach().requires_grad_(True) for k in keys]
    with torch.enable_grad():
        terms = objective.feature_terms(dict(zip(keys, leaves)))
        j = weights[0] * terms["content"] + weights[1] * terms["style"]
        slopes = torch.autograd.grad(j, leaves, allow_unused=True)
    return dict(zip(keys, slopes))


def block_statistics(features, objective, window, xb) -> dict:
    """One block's share of the statistics (pass 1), without gradients."""
    with torch.no_grad():
        return objective.statistics(features(xb, objective.layers), window)


def block_gradient(features, objective, window, xb, slopes):
    """The input gradient of one block's share of the statistics, weighted by ``slopes``
    (pass 2); halo included."""
    with torch.enable_grad():
        xb = xb.detach().requires_grad_(True)
        share = objective.statistics(features(xb, objective.layers), window)
        surrogate = sum(
            (slopes[k].to(v.dtype) * v).sum() for k, v in share.items() if slopes[k] is not None
        )
        (grad,) = torch.autograd.grad(surrogate, xb)
    return grad


class _BlockedTerms(torch.autograd.Function):
    """(content, style) of the whole image from blocks; the backward is the second pass."""

    @staticmethod
    def forward(ctx, x, objective, network):
        stats = network.first_pass(objective, x)
        terms = objective.feature_terms(stats)
        ctx.objective, ctx.network, ctx.stats = objective, network, stats
        ctx.save_for_backward(x)
        return torch.stack([terms["content"].float(), terms["style"].float()])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return ctx.network.second_pass(ctx.objective, x, ctx.stats, grad), None, None
