"""The style term of a guided run: each region's masked Gram matrices against its style's."""

from __future__ import annotations

import numpy as np

from ..front.guides import Guides
from ._torch import torch
from .losses import gram

nn = torch.nn.functional


class RegionStyle:
    """A ``Guides``'s regions as masks at each layer's size, rebuilt when the labels change."""

    def __init__(self, guides: Guides):
        self.guides = guides
        self._key, self._masks = None, None

    def masks(self, hw, feature_sizes: dict, device):
        """{layer: [(style index, weight, mask at that layer's resolution)]}."""
        labels = self.guides.read()
        key = (tuple(hw), labels.shape, labels.tobytes())
        if self._key != key:
            self._key, self._masks = key, self._build(labels, hw, feature_sizes, device)
        return self._masks

    def _build(self, labels, hw, feature_sizes, device):
        lab = torch.from_numpy(labels.astype(np.int64))[None, None].float()
        lab = nn.interpolate(lab, size=tuple(hw), mode="nearest")[0, 0].long()
        regions = []
        for label in torch.unique(lab).tolist():
            index = self.guides.style_of(label)
            if index is not None:
                regions.append((index, float(self.guides.weights.get(label, 1.0)), lab == label))
        out = {}
        for layer, size in feature_sizes.items():
            out[layer] = [
                # Area averaging = how much of each feature position lies in the region.
                (i, w, _area(m, size).to(device))
                for i, w, m in regions
            ]
        return out

    def statistics(self, feats, layers, window=None) -> dict:
        """{(layer, region): the region's Gram matrix}, with the masks ``masks`` read
        last; for a block (``window``), its share of each (``blocks.py``)."""
        out = {}
        for layer in layers:
            f = feats[layer] if window is None else window.inner(layer, feats[layer])
            for k, (mask, total) in enumerate(self.block_masks(layer, window)):
                out[(layer, k)] = gram(f, mask, total=total)
        return out

    def block_masks(self, layer, window=None) -> list:
        """[(mask, the whole mask's sum)] of each region at ``layer``: whole (sum None: the
        mask's own), or cut to a block's ``window``."""
        if window is None:
            return [(mask, None) for _, _, mask in self._masks[layer]]
        return [(window.whole(layer, mask), mask.sum()) for _, _, mask in self._masks[layer]]

    def loss(self, stats, style_grams, layer_weights, layer_loss):
        """Σ over layers and regions; ``layer_loss(layer, G, A)`` is one layer's error."""
        total = 0.0
        for layer, w in layer_weights.items():
            for k, (index, region_weight, _) in enumerate(self._masks[layer]):
                target = style_grams[index][layer]
                total = total + region_weight * w * layer_loss(layer, stats[(layer, k)], target)
        return total


def _area(mask, size):
    return nn.interpolate(mask[None, None].float(), size=size, mode="area")[0, 0]
