"""``stylize_in_viewer``: what the Run button does, from napari's console."""

from __future__ import annotations

from collections.abc import Mapping

from napari.layers import Image

from .._napari.inputs import check_styles, gather_inputs
from ..engine.front.params import StyleParams, as_params
from .viewer_run import ViewerRun


def stylize_in_viewer(
    viewer,
    content,
    style,
    params: StyleParams | Mapping | None = None,
    *,
    all_slices: bool = False,
    scheduler: str | None = None,
    **overrides,
):
    """Start a style transfer between two layers of ``viewer``; return the run.

    ``content`` and ``style`` are layers or layer names; ``style`` may also be a
    list of ``(layer or name, weight)``. Parameters are taken as everywhere
    (``as_params``): a ``StyleParams`` or a dict, keyword overrides, ``style_strength``. The
    result streams into a new output layer (``run.output``); ``run.state`` says
    where the run is, ``run.stop()`` stops it and ``run.worker`` is napari's worker.
    ``scheduler``: a Dask scheduler's address where a stack's slices run (see the
    widget's Scheduler field and docs/batch.md), and a stage too large for memory runs
    its blocks (docs/large-images.md).
    """
    p = as_params(params, **overrides)  # first: a bad name says so before anything else
    content_layer = _layer(viewer, content)
    pairs = style if isinstance(style, list) else [(style, 1.0)]
    style_layers = [(_layer(viewer, s), float(w)) for s, w in pairs]
    check_styles(content_layer, style_layers)
    inputs = gather_inputs(viewer, content_layer, style_layers, all_slices=all_slices)
    return ViewerRun(viewer, inputs, p, scheduler=scheduler).start()


def _layer(viewer, ref):
    if isinstance(ref, str):
        if ref not in viewer.layers:
            raise ValueError(f"No layer named '{ref}' in the viewer.")
        ref = viewer.layers[ref]
    layer = ref
    if not isinstance(layer, Image):
        raise ValueError(f"Layer '{layer.name}' is not an image layer.")
    return layer
