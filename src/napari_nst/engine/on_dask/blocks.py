"""A blocked stage's two passes as tasks on a Dask cluster: one image over several workers.

The client keeps the image, the optimiser and J; each block's passes run where its
block lives. At a stage's start each block's part of the content target is placed on a
worker (block k on worker k mod n), and stays there for the stage's steps. Per step,
each block's pixels travel once (the two passes share them), its share of the sums comes
back (pass 1), the slopes of J go out and its gradient comes back (pass 2). Region
guides are read here at every step, as in a local run; each block's cut of the masks
travels when the labels have changed. The shares
are added in the grid's order, as ``BlockedImage`` does, so the result is that of the
local blocked run (up to the workers' own float rounding).

Every value a task reads is itself a task whose input is in the graph (``_hold``), never
scattered data, so when a worker is lost Dask computes its blocks again elsewhere and
the run goes on.
"""

from __future__ import annotations

import dataclasses

from ..front.params import StyleParams
from ..optimise._torch import torch
from ..optimise.blocks import (
    BlockedImage,
    Window,
    add_up,
    block_gradient,
    block_statistics,
    statistics_slopes,
)
from ..optimise.device import resolve_device
from ..optimise.network import cached_features, network_key, rgb_features
from ..optimise.objective import Objective, StageTargets
from ..optimise.regions import RegionStyle
from .cluster import live_workers, on_worker, require_distributed, workers_per_host


class DaskBlocks(BlockedImage):
    """``BlockedImage`` whose passes run on the workers of a ``distributed.Client``."""

    def __init__(self, features, inner, halo, progress, client, params: StyleParams):
        super().__init__(features, inner, halo, progress)
        self.client, self.params = client, params
        self._placed = None  # (objective, [worker], [target part future], config): a stage's
        self._pixels = None  # the blocks' pixel futures of the evaluation under way
        self._regions = (None, None)  # (the masks read last, [each block's cut's future])
        self._cuts = None  # the blocks' region cuts of the evaluation under way (or Nones)

    def first_pass(self, objective, x, keep_last: bool = False):
        # No block's graph is kept: it would live on its worker between the passes.
        grid = self.grid(x.shape[-2:])
        workers, targets, config = self._place(objective, grid)
        self._cuts = regions = self._place_regions(objective, x, grid, workers)
        self._pixels = [
            self._submit(_hold, window.pixels(x).detach().cpu(), worker)
            for window, worker in zip(grid, workers)
        ]
        futures = [
            self._submit(_pass_on_worker, config, *block, None, worker)
            for *block, worker in zip(grid, targets, regions, self._pixels, workers)
        ]
        shares = self._gather(futures, 1)
        return {k: v.to(x.device) for k, v in add_up(shares).items()}, None

    def second_pass(self, objective, x, stats, weights, kept=None):
        slopes = statistics_slopes(objective, stats, weights)
        slopes = {k: None if v is None else v.cpu() for k, v in slopes.items()}
        grid = self.grid(x.shape[-2:])
        workers, targets, config = self._place(objective, grid)
        regions = self._cuts
        futures = [
            self._submit(_pass_on_worker, config, *block, slopes, worker)
            for *block, worker in zip(grid, targets, regions, self._pixels, workers)
        ]
        grad = torch.zeros_like(x)
        for window, block_grad in zip(grid, self._gather(futures, 2)):
            grad[..., window.rows, window.cols] += block_grad.to(x.device)
        self._pixels = self._cuts = None
        return grad

    def _place(self, objective, grid):
        """Each block's worker and part of the content target, and the tasks' settings,
        made once per stage."""
        if self._placed is None or self._placed[0] is not objective:
            names = live_workers(self.client)
            workers = [names[k % len(names)] for k in range(len(grid))]
            target, layer = objective.targets.content, objective.params.content_layer
            parts = [
                None if target is None else window.whole(layer, target).cpu().contiguous()
                for window in grid
            ]
            futures = [self._submit(_hold, part, w) for part, w in zip(parts, workers)]
            config = _config(self.params, objective, self.client)
            self._placed = (objective, workers, futures, config)
        return self._placed[1:]

    def _place_regions(self, objective, x, grid, workers) -> list:
        """Each block's cut of the region masks (None without guides), read for this step
        and sent again only when the labels have changed."""
        masks = self.read_regions(objective, x, grid)
        if masks is None:
            return [None] * len(grid)
        if masks is not self._regions[0]:
            cuts = [_regions_cut(objective.regions, masks, window) for window in grid]
            futures = [self._submit(_hold, cut, w) for cut, w in zip(cuts, workers)]
            self._regions = (masks, futures)
        return self._regions[1]

    def _submit(self, fn, *args):
        *args, worker = args
        # Placed, not pinned: a lost worker's blocks may run elsewhere.
        return self.client.submit(
            fn, *args, workers=[worker], allow_other_workers=True, pure=False
        )

    def _gather(self, futures, stage_pass):
        distributed = require_distributed()
        index = {f.key: k for k, f in enumerate(futures)}
        results = [None] * len(futures)
        # This client's loop: as_completed otherwise waits on the default client's, which
        # with two clients in one process (a run's own, by address) may never hear of them.
        finished = distributed.as_completed(futures, loop=self.client.loop, with_results=True)
        for done, (future, result) in enumerate(finished):
            self._report(stage_pass, done, len(futures))
            results[index[future.key]] = result
        return results


class OnDask:
    """A run's blocked stages on Dask: ``blocks_on`` is a ``distributed.Client`` or a
    scheduler's address, connected at the first blocked stage and closed with the run."""

    def __init__(self, blocks_on, params: StyleParams):
        self.client, self.params, self.own_client = blocks_on, params, None

    def __call__(self, features, inner, halo, progress) -> DaskBlocks:
        if isinstance(self.client, str):
            self.client = self.own_client = require_distributed().Client(self.client)
        return DaskBlocks(features, inner, halo, progress, self.client, self.params)

    def close(self) -> None:
        if self.own_client is not None:
            self.own_client.close()


def _config(params: StyleParams, objective, client) -> dict:
    return {
        "params": params.to_dict(),
        "layers": list(objective.targets.grams),
        "threads": workers_per_host(client),
    }


def _hold(value):
    """A task that returns its input: data a lost worker's tasks can be computed from."""
    return value


@dataclasses.dataclass(frozen=True)
class _PlacedWindow(Window):
    """A window whose whole-image data (the content target) was cut to it already."""

    def whole(self, name, t):
        return t


def _regions_cut(regions: RegionStyle, masks: dict, window) -> dict:
    """{layer: [(mask cut to the block, the whole mask's sum)]} of ``masks``, on the CPU."""
    return {
        layer: [
            (m.cpu().contiguous(), total.cpu()) for m, total in regions.block_masks(layer, window)
        ]
        for layer in masks
    }


class _PlacedRegions(RegionStyle):
    """A block's region masks, cut to it on the client (``_regions_cut``)."""

    def __init__(self, cut: dict, device):
        self.cut = {
            layer: [(mask.to(device), total.to(device)) for mask, total in parts]
            for layer, parts in cut.items()
        }

    def block_masks(self, layer, window=None) -> list:
        return self.cut[layer]


def _pass_on_worker(config, window, target_part, regions_part, pixels, slopes):
    """On a worker: one block's share of the sums (no ``slopes``), or its gradient."""
    params, keep = on_worker(config["params"], config["threads"], own_process=False)
    device = resolve_device(params.device)
    with keep:
        net, _ = cached_features(*network_key(params, device))
        target = None if target_part is None else target_part.to(device)
        targets = StageTargets(target, dict.fromkeys(config["layers"]), (), 1.0, {})
        objective = Objective(params, None, targets)
        if regions_part is not None:
            objective.regions = _PlacedRegions(regions_part, device)
        placed = _PlacedWindow(*(getattr(window, f.name) for f in dataclasses.fields(window)))
        features = rgb_features(net, params.checkpoint)
        if slopes is None:
            share = block_statistics(features, objective, placed, pixels.to(device))
            return {k: v.cpu() for k, v in share.items()}
        slopes = {k: None if v is None else v.to(device) for k, v in slopes.items()}
        return block_gradient(features, objective, placed, pixels.to(device), slopes).cpu()
