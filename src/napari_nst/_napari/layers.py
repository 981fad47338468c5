"""napari layers in, engine arrays out: which pixels a user's layer means.

Rules (also in docs/parameters.md):
- RGB/RGBA layers are used as colour images; their contrast limits are ignored
  for uint8 and used for other dtypes.
- Other layers are grayscale, scaled by the layer's contrast limits, so that what
  the user sees is what gets stylised.
- Dimensions before the last two (the last three for RGB) are slices (Z, T, or
  channels of a C×Y×X layer): the slice shown in the viewer is used, or every
  slice in "all slices" mode.
"""

from __future__ import annotations

import numpy as np


def slice_dims(layer) -> int:
    """How many leading (non-image) dimensions the layer's data has."""
    return layer.data.ndim - (3 if layer.rgb else 2)


def current_slice_index(layer, viewer) -> tuple[int, ...]:
    """Integer index of the displayed slice along the layer's leading dimensions."""
    lead = slice_dims(layer)
    if lead == 0:
        return ()
    world = np.asarray(viewer.dims.point)[-layer.ndim :]
    data_pos = np.asarray(layer.world_to_data(world))[:lead]
    shape = layer.data.shape[:lead]
    return tuple(int(np.clip(round(p), 0, s - 1)) for p, s in zip(data_pos, shape))


def layer_contrast_limits(layer):
    """Limits the engine should scale by: the view's, except for 8-bit RGB."""
    if layer.rgb and np.dtype(layer.data.dtype) == np.uint8:
        return None
    return tuple(float(v) for v in layer.contrast_limits)


def layer_plane(layer, index: tuple[int, ...] = ()) -> np.ndarray:
    """A copy of one 2-D (or 2-D RGB) plane of the layer's data."""
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]  # full resolution
    return np.array(data[index] if index else data, copy=True)


def shown_plane(layer, viewer) -> np.ndarray:
    """A copy of the plane of ``layer`` that the viewer shows now."""
    return layer_plane(layer, current_slice_index(layer, viewer))


def image_layers(viewer) -> list:
    from napari.layers import Image

    return [layer for layer in viewer.layers if isinstance(layer, Image)]


def unwrapped(obj):
    """The object behind napari's PublicOnlyProxy (plugins get proxies of the viewer)."""
    return getattr(obj, "__wrapped__", obj)


def styles_from_layers(viewer, styles) -> tuple[list, list]:
    """[(shown plane, weight)] and their contrast limits, from [(style layer, weight)]."""
    pairs = [(shown_plane(layer, viewer), weight) for layer, weight in styles]
    return pairs, [layer_contrast_limits(layer) for layer, _ in styles]
