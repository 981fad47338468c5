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

When the gradient is wanted, pass 1 runs its last block with gradients and keeps that
block's graph, and pass 2 starts with it: one forward fewer per step, in no more memory
than pass 2 needs for any block.

A block is an inner part of the image plus a halo as wide as the deepest layer reaches
(``halo_for``), so that its features over the inner part equal the whole image's. Inner
parts start on the network's pooling grid (``GRID``) and tile every layer's map.
Its input gradient is kept whole, halo included: the inner features depend on the halo's
pixels too, and each feature is counted in exactly one block.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from ..front.vgg19_layers import CONV_LAYERS, VGG19_BLOCKS
from . import allocator
from ._torch import torch
from .losses import gram

# Inner parts start on multiples of this: 2×2 pooling four times up to conv5_x.
GRID = 16
# A pass over more blocks than this gives freed memory back to the system before each
# block. What the heap keeps grows with the blocks of a pass (after a 4096 px step in 90
# blocks, 1.8 GiB above the live tensors), and many blocks mean a tight budget. It costs
# time: 2048 px in 16 blocks took 47.7-49.1 s a step instead of 45.1 s and held 1.82 GiB, not
# 2.02, against a 1.96 GiB memory_limit (2026-12-07, AMD EPYC).
RETURN_MEMORY_ABOVE = 8


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
        return self.inner_at(layer_stride(name), t)

    def whole(self, name, t):
        """The same positions of a whole-image map ``t`` at layer ``name``."""
        return self.whole_at(layer_stride(name), t)

    def inner_at(self, s, t):
        """The block's own positions of its map ``t`` whose positions span ``s`` pixels."""
        r0, c0 = self.rows.start // s, self.cols.start // s
        rows = slice(self.inner_rows.start // s - r0, self.inner_rows.stop // s - r0)
        cols = slice(self.inner_cols.start // s - c0, self.inner_cols.stop // s - c0)
        if t.requires_grad:
            return _InnerPart.apply(t, rows, cols)
        return t[..., rows, cols]

    def whole_at(self, s, t):
        """The same positions of a whole-image map ``t`` whose positions span ``s`` pixels."""
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


def memory_layout(t):
    channels_last = t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last else torch.contiguous_format


class _InnerPart(torch.autograd.Function):
    """``t[..., rows, cols]`` whose gradient keeps ``t``'s memory layout.

    Slicing's own backward writes into a zero map in NCHW order, which a channels-last
    network then converts at every layer of its backward pass: a 592 px block's pass 2
    took 2.5 s instead of 2.0 s.
    """

    @staticmethod
    def forward(ctx, t, rows, cols):
        ctx.shape, ctx.layout, ctx.rows, ctx.cols = t.shape, memory_layout(t), rows, cols
        return t[..., rows, cols].clone(memory_format=ctx.layout)

    @staticmethod
    def backward(ctx, grad):
        whole = torch.empty(
            ctx.shape, dtype=grad.dtype, device=grad.device, memory_format=ctx.layout
        ).zero_()
        whole[..., ctx.rows, ctx.cols] = grad
        return whole, None, None


def _cuts(length: int, parts: int) -> list[int]:
    """Block edges along one side: ``parts`` near-equal parts, on the grid."""
    edges = [round(length * i / parts) // GRID * GRID for i in range(parts)] + [length]
    return sorted(set(edges))


def _spans(edges: list[int], halo: int) -> list[int]:
    """How many pixels along this side each block reads, halo included."""
    length = edges[-1]
    return [min(length, b + halo) - max(0, a - halo) for a, b in itertools.pairwise(edges)]


@functools.lru_cache(maxsize=64)
def grid_cuts(hw, inner: int, halo: int) -> tuple[list[int], list[int]]:
    """Row and column edges of the blocks. Of the grids with no more parts along a side
    than blocks of ``inner`` px a side need, whose blocks are no larger than such a block
    (inner part and halo: what the memory plan allows), the one that reads fewest pixels
    in all. A 1024 px square over 768 px blocks is cut in two halves (1.16× its pixels
    read), not in four quarters (1.34×)."""
    h, w = hw
    allowed = min(h, inner + 2 * halo) * min(w, inner + 2 * halo)
    best = None
    for row_parts in range(1, -(-h // inner) + 1):
        rows = _cuts(h, row_parts)
        for col_parts in range(1, -(-w // inner) + 1):
            cols = _cuts(w, col_parts)
            inner_area = max(_spans(rows, 0)) * max(_spans(cols, 0))
            block_area = max(_spans(rows, halo)) * max(_spans(cols, halo))
            if inner_area > inner * inner or block_area > allowed:
                continue
            read = sum(_spans(rows, halo)) * sum(_spans(cols, halo))
            if best is None or read < best[0]:
                best = (read, rows, cols)
    return best[1], best[2]


def block_grid(hw, inner: int, halo: int) -> list[Window]:
    """Windows whose inner parts tile an H×W image, each reading no more than a block of
    ``inner`` px a side with its halo (``grid_cuts``)."""
    h, w = hw
    rows, cols = grid_cuts(hw, inner, halo)
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

    def first_pass(self, objective, x, keep_last: bool = False):
        """The statistics of J (``Objective.statistics``) summed over the blocks, and with
        ``keep_last`` the last block's share with its graph (a ``KeptBlock``) for pass 2."""
        grid = self.grid(x.shape[-2:])
        self.read_regions(objective, x, grid)
        shares, kept = [], None
        for i, window in enumerate(grid):
            self._before_block(1, i, len(grid))
            if keep_last and i == len(grid) - 1:
                kept = KeptBlock.run(self.features, objective, window, window.pixels(x))
                shares.append({k: v.detach() for k, v in kept.share.items()})
            else:
                shares.append(block_statistics(self.features, objective, window, window.pixels(x)))
        return add_up(shares), kept

    def second_pass(self, objective, x, stats, weights, kept=None):
        """∇ of weights·(content, style) at ``x``, from each block's share of ``stats``;
        ``kept``: pass 1's last block, whose forward need not run again."""
        slopes = statistics_slopes(objective, stats, weights)
        grad = torch.zeros_like(x)
        grid = self.grid(x.shape[-2:])
        order = list(range(len(grid)))
        if kept is not None:  # first, so that its graph is freed before the next block's
            order = order[-1:] + order[:-1]
        for done, i in enumerate(order):
            self._before_block(2, done, len(grid))
            window = grid[i]
            if kept is not None and i == order[0]:
                block_grad = kept.gradient(slopes)
            else:
                block_grad = block_gradient(
                    self.features, objective, window, window.pixels(x), slopes
                )
            grad[..., window.rows, window.cols] += block_grad
        return grad

    def read_regions(self, objective, x, grid):
        """The region masks for this evaluation at every layer's map size (None without
        guides), read once for all blocks."""
        sizes = {n: grid[0].map_size(n) for n in objective.layers}
        return objective.read_regions(tuple(x.shape[-2:]), sizes, x.device)

    def _before_block(self, stage_pass, index, count):
        """Before a block computes here: free the last one's memory, then report."""
        if count > RETURN_MEMORY_ABOVE:
            allocator.release_freed()
        self._report(stage_pass, index, count)

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
    return KeptBlock.run(features, objective, window, xb).gradient(slopes)


@dataclass
class KeptBlock:
    """One block's share of the statistics with the graph back to its pixels."""

    pixels: torch.Tensor  # the block's input, a leaf that requires grad
    share: dict

    @classmethod
    def run(cls, features, objective, window, xb) -> KeptBlock:
        with torch.enable_grad():
            xb = xb.detach().requires_grad_(True)
            return cls(xb, objective.statistics(features(xb, objective.layers), window))

    def gradient(self, slopes):
        """d(Σ slopes·share)/d(pixels), halo included; frees the graph."""
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(sum(weighted_shares(slopes, self.share)), self.pixels)
        return grad


def weighted_shares(slopes, share) -> list:
    """Each statistic of a share times its slope, summed: the terms whose gradient is ∇J's."""
    return [(slopes[k].to(v.dtype) * v).sum() for k, v in share.items() if slopes[k] is not None]


class _BlockedTerms(torch.autograd.Function):
    """(content, style) of the whole image from blocks; the backward is the second pass."""

    @staticmethod
    def forward(ctx, x, objective, network):
        stats, kept = network.first_pass(objective, x, keep_last=ctx.needs_input_grad[0])
        terms = objective.feature_terms(stats)
        ctx.objective, ctx.network, ctx.stats, ctx.kept = objective, network, stats, kept
        ctx.save_for_backward(x)
        return torch.stack([terms["content"].float(), terms["style"].float()])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        kept, ctx.kept = ctx.kept, None
        return ctx.network.second_pass(ctx.objective, x, ctx.stats, grad, kept), None, None
