"""What a run in the viewer reads: copies of its layers' pixels, taken at Run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from napari.layers import Shapes

from ..engine.front.guides import Guides
from .layers import (
    current_slice_index,
    layer_contrast_limits,
    layer_plane,
    shown_plane,
    slice_dims,
    unwrapped,
)


@dataclass
class LayerInputs:
    """Copies of everything the worker reads, taken on the main thread at start."""

    content_name: str
    style_names: list[str]
    planes: list[tuple[tuple[int, ...], np.ndarray]]  # (slice index, content plane)
    content_limits: tuple | None
    styles: list[tuple[np.ndarray, float]]
    style_limits: list
    lead_shape: tuple[int, ...]  # leading dims of the output layer
    init: np.ndarray | None = None
    guides: object = None  # engine Guides, reading a Labels/Shapes layer live
    layer_scale: np.ndarray = field(default_factory=lambda: np.ones(2))
    layer_translate: np.ndarray = field(default_factory=lambda: np.zeros(2))
    source_hw: tuple[int, int] = (1, 1)

    def without_pixels(self) -> LayerInputs:
        """The same description with the image copies dropped (a finished run needs none)."""
        return replace(
            self,
            planes=[(index, None) for index, _ in self.planes],
            styles=[(None, weight) for _, weight in self.styles],
            init=None,
            guides=None,
        )


def region_guides(viewer, layer, hw, n_styles: int, unlabelled: int | None):
    """Guides that read ``layer`` (Labels or Shapes) afresh at every step.

    Label k (k ≥ 1) takes style k (1 = the first style); label 0 takes
    ``unlabelled`` (None: content only). Shapes are rasterised: shape k is label k.
    """
    layer = unwrapped(layer)  # read from the worker thread: no proxy in between
    if isinstance(layer, Shapes):

        def read():
            return layer.to_labels(labels_shape=hw)

    else:
        index = current_slice_index(layer, viewer) if layer.data.ndim > 2 else ()

        def read():
            return np.asarray(layer.data[index] if index else layer.data)

    styles = {k: k - 1 for k in range(1, n_styles + 1)}
    styles[0] = unlabelled
    return Guides(read, styles=styles, default=None)


def check_styles(content, styles) -> list:
    """``styles`` ([(style layer, weight)]) if a run may take them with ``content``
    (None: no content to check, as for Apply to folder); else ValueError saying why."""
    if any(layer is None for layer, _ in styles):
        raise ValueError("Open an image layer and choose it as the style.")
    if content is not None and any(layer is content for layer, _ in styles):
        raise ValueError("Content and style are the same layer: choose two different layers.")
    if sum(w for _, w in styles) <= 0:
        raise ValueError("All style weights are 0: give a style a weight above 0.")
    return styles


def gather_inputs(
    viewer, content, styles, *, all_slices=False, init=None, regions=None, unlabelled=None
) -> LayerInputs:
    """Read (and copy) the content and style layers as the engine needs them."""
    lead = slice_dims(content)
    if lead and all_slices:
        indices = list(np.ndindex(*content.data.shape[:lead]))
        lead_shape = content.data.shape[:lead]
    else:
        indices = [current_slice_index(content, viewer)]
        lead_shape = (1,) * lead
    planes = [(idx, layer_plane(content, idx)) for idx in indices]
    style_arrays, style_limits = [], []
    for layer, weight in styles:
        style_arrays.append((shown_plane(layer, viewer), weight))
        style_limits.append(layer_contrast_limits(layer))
    hw = planes[0][1].shape[:2]
    return LayerInputs(
        content_name=content.name,
        style_names=[layer.name for layer, _ in styles],
        planes=planes,
        content_limits=layer_contrast_limits(content),
        styles=style_arrays,
        style_limits=style_limits,
        lead_shape=lead_shape,
        init=init,
        layer_scale=np.asarray(content.scale, dtype=float),
        layer_translate=np.asarray(content.translate, dtype=float),
        source_hw=(int(hw[0]), int(hw[1])),
        guides=None
        if regions is None
        else region_guides(viewer, regions, tuple(hw[:2]), len(styles), unlabelled),
    )
