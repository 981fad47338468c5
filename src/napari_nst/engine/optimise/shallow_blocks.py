"""Blocks for VGG19's fine layers only; its deep layers run once on the whole image.

``BlockedImage`` runs the whole network on every block, with the halo of the deepest
layer: 80 px for conv5_1, of which block 4 and conv5_1 add 48. Yet those deep layers
see the image at 1/8 of its size, so their maps for the whole image are small. Where
they fit the budget (``memory.shallow_blocked_bytes``), ``ShallowBlocks`` runs only the
layers up to block ``SPLIT_BLOCK``'s pooling in blocks, with the 32 px halo those need,
puts the blocks' parts of that pooled map together, and runs the deep layers on it once,
forward and backward. The two passes are those of ``BlockedImage``:

1. without gradients, each block's share of the fine layers' sums and its part of the
   pooled map; then the deep layers on the whole pooled map, with gradients;
2. after the slopes of J: the deep layers' backward gives the pooled map's gradient; each
   block runs again with gradients and backpropagates its share weighted by the slopes
   plus its part of that gradient.

Same J and ∇J as the whole image (tests/test_blocks.py), with fewer pixels read twice:
a 1024 px square in four blocks reads 1.13× its pixels instead of 1.34×, and block 4
and conv5_1 (a third of the network's work) run once, forward and backward.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..front.vgg19_layers import VGG19_BLOCKS, conv_shapes
from ._torch import torch
from .blocks import (
    BlockedImage,
    add_up,
    block_grid,
    halo_for,
    memory_layout,
    statistics_slopes,
    weighted_shares,
)

# The blocks run VGG19 up to this block's pooling: past it, maps are 1/8 of the image.
SPLIT_BLOCK = 3
POOLED_STRIDE = 2**SPLIT_BLOCK
SHALLOW_HALO = halo_for(f"conv{SPLIT_BLOCK}_{VGG19_BLOCKS[SPLIT_BLOCK - 1]}")


def is_shallow(layer: str) -> bool:
    """Whether ``layer`` runs in the blocks (else on the whole pooled map)."""
    return int(layer[4]) <= SPLIT_BLOCK


def work_ratio(hw, inner: int, deepest: str, shallow_only: bool) -> float:
    """About how much longer a step takes in blocks of ``inner`` px than on the whole
    image: the convolutions' multiply-adds, a backward counting two forwards. Each block
    reads its halo too; pass 1 runs a forward and pass 2 a forward and a backward, less
    the one forward of the block pass 1 keeps; with ``shallow_only`` (``ShallowBlocks``)
    only the fine layers run so, and the deep ones once on the whole image."""
    grid = blocks_of(hw, inner, deepest, shallow_only)
    area = sum((w.rows.stop - w.rows.start) * (w.cols.stop - w.cols.start) for w in grid)
    read = area / (hw[0] * hw[1])
    work = {name: cin * cout * h * w for name, cin, cout, h, w in conv_shapes(*hw, deepest)}
    blocked = sum(v for name, v in work.items() if is_shallow(name) or not shallow_only)
    once = sum(work.values()) - blocked
    passes = 4 - 1 / len(grid)
    return (passes * read * blocked + 3 * once) / (3 * sum(work.values()))


def blocks_of(hw, side: int, deepest: str, fine: bool) -> list:
    """The windows of a stage in blocks of ``side`` px: ``ShallowBlocks``'s with ``fine``,
    else ``BlockedImage``'s (each with its halo)."""
    return block_grid(tuple(hw), side, SHALLOW_HALO if fine else halo_for(deepest))


class ShallowBlocks(BlockedImage):
    """``BlockedImage`` with the deep layers on the whole image (see the module's text)."""

    def __init__(self, features, inner: int, halo: int, progress=None):
        super().__init__(features, inner, SHALLOW_HALO, progress)
        self.deep_halo = halo  # the whole network's, for ``measure``

    def measure(self, image, keep=(), grams=()):
        # Targets need no gradient: plain blocks with the deepest layer's halo.
        return BlockedImage(self.features, self.inner, self.deep_halo).measure(image, keep, grams)

    def first_pass(self, objective, x, keep_last: bool = False):
        grid = self.grid(x.shape[-2:])
        shallow = [n for n in objective.layers if is_shallow(n)]
        deep = [n for n in objective.layers if not is_shallow(n)]
        shares, kept, pooled = [], None, None
        for i, window in enumerate(grid):
            self._before_block(1, i, len(grid))
            keep = keep_last and i == len(grid) - 1
            block = ShallowBlock.run(
                self.features, objective, window, window.pixels(x), shallow, keep
            )
            if pooled is None:
                pooled = _pooled_map(block.pooled, x.shape[-2:])
            window.whole_at(POOLED_STRIDE, pooled).copy_(block.pooled.detach())
            shares.append({k: v.detach() for k, v in block.share.items()})
            kept = block if keep else None
        whole = DeepPart.run(self.features, objective, pooled, deep, keep_last)
        stats = add_up(shares)
        stats.update({k: v.detach() for k, v in whole.share.items()})
        return stats, (kept, whole) if keep_last else None

    def second_pass(self, objective, x, stats, weights, kept=None):
        if kept is None:
            kept = self.first_pass(objective, x, keep_last=True)[1]
        kept_block, whole = kept
        slopes = statistics_slopes(objective, stats, weights)
        pooled_grad = whole.gradient(slopes)
        del kept, whole  # the deep layers' graph is spent
        shallow = [n for n in objective.layers if is_shallow(n)]
        grad = torch.zeros_like(x)
        grid = self.grid(x.shape[-2:])
        order = [len(grid) - 1, *range(len(grid) - 1)]  # the kept block first: free it
        for done, i in enumerate(order):
            self._before_block(2, done, len(grid))
            window = grid[i]
            if done == 0:
                block, kept_block = kept_block, None
            else:
                block = ShallowBlock.run(
                    self.features, objective, window, window.pixels(x), shallow, True
                )
            part = None if pooled_grad is None else window.whole_at(POOLED_STRIDE, pooled_grad)
            grad[..., window.rows, window.cols] += block.gradient(slopes, part)
        return grad


def _pooled_map(part, hw):
    """An empty whole-image map like a block's part of the pooled map."""
    shape = (*part.shape[:2], hw[0] // POOLED_STRIDE, hw[1] // POOLED_STRIDE)
    layout = memory_layout(part)
    return torch.empty(shape, dtype=part.dtype, device=part.device, memory_format=layout)


@dataclass
class ShallowBlock:
    """One block's share of the fine layers' sums and its part of the pooled map, with
    the graph back to its pixels when it will be backpropagated."""

    pixels: torch.Tensor
    share: dict
    pooled: torch.Tensor

    @classmethod
    def run(cls, features, objective, window, xb, layers, with_graph: bool) -> ShallowBlock:
        with torch.set_grad_enabled(with_graph):
            if with_graph:
                xb = xb.detach().requires_grad_(True)
            feats, pooled = features(xb, layers, upto_block=SPLIT_BLOCK)
            share = objective.statistics(feats, window)
            return cls(xb, share, window.inner_at(POOLED_STRIDE, pooled))

    def gradient(self, slopes, pooled_grad):
        """d(Σ slopes·share + ⟨pooled_grad, pooled⟩)/d(pixels), halo included."""
        with torch.enable_grad():
            terms = weighted_shares(slopes, self.share)
            if pooled_grad is not None:
                terms.append((pooled_grad.to(self.pooled.dtype) * self.pooled).sum())
            if not terms:
                return torch.zeros_like(self.pixels)
            (grad,) = torch.autograd.grad(sum(terms), self.pixels)
        return grad


@dataclass
class DeepPart:
    """The deep layers' statistics on the whole pooled map, with their graph when kept."""

    pooled: torch.Tensor
    share: dict

    @classmethod
    def run(cls, features, objective, pooled, layers, with_graph: bool) -> DeepPart:
        if not layers:
            return cls(pooled, {})
        with torch.set_grad_enabled(with_graph):
            pooled.requires_grad_(with_graph)
            feats = features(pooled, layers, from_block=SPLIT_BLOCK)
            return cls(pooled, objective.statistics(feats))

    def gradient(self, slopes):
        """The pooled map's gradient of Σ slopes·share (None: no deep term); frees the graph."""
        with torch.enable_grad():
            terms = weighted_shares(slopes, self.share)
            if not terms:
                return None
            (grad,) = torch.autograd.grad(sum(terms), self.pooled)
        return grad
