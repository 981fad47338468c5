"""Style by region (Gatys et al. 2017, "Controlling Perceptual Factors in Neural
Style Transfer"): a label image says which style goes where.

Each region's Gram matrices are computed over that region only and compared with
the Gram matrices of the region's own style image (``regions.RegionStyle``, on the
torch side); regions mapped to ``None`` keep the content only.
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
