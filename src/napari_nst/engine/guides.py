"""Style by region (Gatys et al. 2017, "Controlling Perceptual Factors in Neural
Style Transfer"): a label image says which style goes where.

Each region's Gram matrices are computed over that region only (a masked Gram
matrix, ``losses.gram(features, mask)``) and compared with the Gram matrices of
the region's own style image; regions mapped to ``None`` keep the content only.
The labels may be a callable: it is read again at every step, so painting on a
napari Labels layer while a run goes moves the styles at the next step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

LabelSource = np.ndarray | Callable[[], np.ndarray]


@dataclass
class Guides:
    labels: LabelSource  # H×W integer labels, resized (nearest) to the content
    styles: Mapping[int, int | None]  # label -> index of its style image, or None
    default: int | None = None  # for labels not in ``styles`` (None: content only)
    weights: Mapping[int, float] = field(default_factory=dict)  # per-label weight, default 1
    _cache: dict = field(default_factory=dict, repr=False)

    def read(self) -> np.ndarray:
        labels = self.labels() if callable(self.labels) else self.labels
        labels = np.asarray(labels)
        if labels.ndim != 2:
            raise ValueError(f"The region labels must be 2-D (H×W), not shape {labels.shape}.")
        return labels

    def check(self, content_hw, n_styles: int) -> None:
        self.read()
        for label, index in {**dict(self.styles), "default": self.default}.items():
            if index is not None and not 0 <= index < n_styles:
                raise ValueError(
                    f"Region {label} maps to style {index}, but there are only {n_styles} "
                    f"style images (0 to {n_styles - 1})."
                )
        for label, weight in self.weights.items():
            if not np.isfinite(weight) or weight < 0:
                raise ValueError(f"Region {label} has weight {weight!r}; it must be >= 0.")

    def style_of(self, label: int) -> int | None:
        return self.styles.get(int(label), self.default)

    def masks(self, hw, feature_sizes: dict, device):
        """{layer: [(style index, weight, mask at that layer's resolution)]}, cached."""
        labels = self.read()
        key = (tuple(hw), labels.shape, labels.tobytes())
        if self._cache.get("key") != key:
            self._cache.update(key=key, value=self._build(labels, hw, feature_sizes, device))
        return self._cache["value"]

    def _build(self, labels, hw, feature_sizes, device):
        from ._torch import torch

        nn = torch.nn.functional
        lab = torch.from_numpy(labels.astype(np.int64))[None, None].float()
        lab = nn.interpolate(lab, size=tuple(hw), mode="nearest")[0, 0].long()
        regions = []
        for label in torch.unique(lab).tolist():
            index = self.style_of(label)
            if index is not None:
                regions.append((index, float(self.weights.get(label, 1.0)), lab == label))
        out = {}
        for layer, size in feature_sizes.items():
            out[layer] = [
                # Area averaging = how much of each feature position lies in the region.
                (
                    i,
                    w,
                    nn.interpolate(m[None, None].float(), size=size, mode="area")[0, 0].to(device),
                )
                for i, w, m in regions
            ]
        return out

    def style_loss(self, feats, style_grams, layer_weights, hw, layer_loss):
        """Σ over layers and regions; ``layer_loss(layer, G, A)`` is one layer's error."""
        from .losses import gram

        sizes = {name: tuple(feats[name].shape[-2:]) for name in layer_weights}
        masks = self.masks(hw, sizes, next(iter(feats.values())).device)
        total = 0.0
        for layer, w in layer_weights.items():
            for index, region_weight, mask in masks[layer]:
                g = gram(feats[layer], mask)
                total = total + region_weight * w * layer_loss(layer, g, style_grams[index][layer])
        return total
