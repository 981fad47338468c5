"""``stylize``: check a run's inputs, then start the loop; an iterator of ``Step``s.

The console API, the CLI, the napari widget and batch runs all drive this one
function. It imports no torch until its checks pass (the torch line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .front.images import fit_size, to_rgb01
from .front.params import StyleParams, as_params
from .front.request import RunHooks, RunRequest
from .front.step import Step, last_step

StyleInput = Any  # an array, or a sequence of (array, weight)


def stylize(
    content, style: StyleInput, params: StyleParams | None = None, **options
) -> Iterator[Step]:
    """Paint ``content`` in the style of ``style``; yield a ``Step`` every ``every`` steps.

    ``style`` is one image or a list of ``(image, weight)``; the target Gram
    matrices are the weighted mix. Parameters are those of ``StyleParams`` (given as
    ``params`` and/or as keywords, ``style_strength`` among them); ``init`` may be
    "noise" (white), "style noise" (in the style's colours), "content" or an image. The other
    keywords are ``request_of``'s. Everything is checked before any work: a bad value
    raises ``ValueError`` at the call. Closing the iterator stops the run at once.
    """
    return run(*request_of(content, style, params, **options))


def request_of(
    content,
    style: StyleInput,
    params: StyleParams | None = None,
    *,
    content_limits: Sequence[float] | None = None,
    style_limits: Sequence[float] | Sequence[Sequence[float] | None] | None = None,
    guides=None,
    init=None,
    previous_frame: tuple | None = None,
    should_stop: Callable[[], bool] | None = None,
    download_progress: Callable[[int, int], None] | None = None,
    block_progress: Callable[[int, int, int], None] | None = None,
    blocks_on=None,
    **overrides,
) -> tuple[RunRequest, RunHooks]:
    """The keywords every entry point takes, as one ``RunRequest`` and one ``RunHooks``.

    ``content_limits``/``style_limits`` say how to read the images' values (as napari's
    contrast limits do); ``guides`` (a ``Guides``) restricts each style to a region of
    the content; ``previous_frame`` = (previous content, previous result) of a stack:
    with ``temporal_weight`` > 0, G is kept close to the previous result where the
    content did not change. ``should_stop``, ``download_progress``, ``block_progress``
    and ``blocks_on`` are ``RunHooks`` (front/request.py). The rest are parameters.
    """
    request = RunRequest(
        content,
        style,
        as_params(params, **overrides),
        content_limits=content_limits,
        style_limits=style_limits,
        guides=guides,
        init=init,
        previous_frame=previous_frame,
    )
    return request, RunHooks(should_stop, download_progress, block_progress, blocks_on)


def run(request: RunRequest, hooks: RunHooks | None = None) -> Iterator[Step]:
    """A request's Steps: checked here, before any work, then the loop (the torch line)."""
    request = checked(request)
    hooks = hooks or RunHooks()
    from .optimise import loop  # the one import across the torch line: torch loads here

    on_dask = None
    if hooks.blocks_on is not None:
        from .on_dask.blocks import OnDask

        on_dask = OnDask(hooks.blocks_on, request.params)
    return loop.start(request, hooks, on_dask)


def checked(request: RunRequest) -> RunRequest:
    """The request with its images converted to RGB in [0, 1] and its stages sized."""
    params, init_image = _with_init(request.params, request.init)
    content01 = to_rgb01(request.content, request.content_limits, name="content image")
    styles = _style_list(request.style, request.style_limits)
    if request.guides is not None:
        request.guides.check(content01.shape[:2], len(styles))
    return request.replace(
        content=content01,
        style=styles,
        params=params,
        content_limits=None,
        style_limits=None,
        init=init_image,
        previous_frame=_previous_frame(request.previous_frame, request.content_limits),
        stage_shapes=_stage_shapes(content01.shape[:2], styles, params),
    )


def _previous_frame(previous_frame, content_limits):
    if previous_frame is None:
        return None
    prev_content, prev_result = previous_frame
    return (
        to_rgb01(prev_content, content_limits, name="previous content frame"),
        to_rgb01(prev_result, (0.0, 1.0), name="previous result"),
    )


def _with_init(params: StyleParams, init) -> tuple[StyleParams, np.ndarray | None]:
    """``params`` with ``init`` (a mode, or a start image: init "array"); the start image
    in [0, 1], or None."""
    if init is None or isinstance(init, str):
        params = params if init is None else params.replace(init=init)
        if params.init == "array":
            raise ValueError("init = 'array' needs the image itself: pass init=<array>.")
        return params, None
    init = np.asarray(init)
    # A float init is taken as an image in [0, 1] (e.g. an earlier result), not stretched.
    limits = (0.0, 1.0) if init.dtype.kind == "f" else None
    return params.replace(init="array"), to_rgb01(init, limits, name="init image")


def _style_list(style, limits) -> list[tuple[np.ndarray, float]]:
    is_pairs = (
        isinstance(style, (list, tuple))
        and all(isinstance(s, (list, tuple)) and len(s) == 2 and np.isscalar(s[1]) for s in style)
        and len(style) > 0
    )
    pairs = list(style) if is_pairs else [(style, 1.0)]
    if limits is None or (len(limits) == 2 and all(np.isscalar(v) for v in limits)):
        limits = [limits] * len(pairs)
    if len(limits) != len(pairs):
        raise ValueError(f"style_limits has {len(limits)} entries for {len(pairs)} style images.")
    out = []
    for i, ((image, weight), lim) in enumerate(zip(pairs, limits), start=1):
        if isinstance(weight, bool) or not np.isfinite(weight) or weight < 0:
            raise ValueError(f"style weight {i} = {weight!r} is out of range: it must be >= 0.")
        name = "style image" if len(pairs) == 1 else f"style image {i}"
        out.append((to_rgb01(image, lim, name=name), float(weight)))
    if sum(w for _, w in out) <= 0:
        raise ValueError("All style weights are 0: give at least one style a weight above 0.")
    return out


def _stage_shapes(content_hw, styles, params: StyleParams):
    """(content H×W, [style H×W]) per stage, refusing sizes VGG19 cannot take."""
    shapes = []
    need = params.min_size
    longer = params.size or max(content_hw)
    for size in params.stage_sizes(longer, start_image=params.init == "array"):
        hw = fit_size(content_hw, size)
        if min(hw) < need:
            raise ValueError(
                f"The content image would be {hw[0]}×{hw[1]} px, too small: VGG19 needs at "
                f"least {need}×{need} px to reach {params.deepest_layer}. Use a larger image "
                "or size, or shallower layers."
            )
        style_side = max(1, round(max(hw) * params.style_scale))
        style_hws = []
        for i, (image, _) in enumerate(styles, start=1):
            shw = fit_size(image.shape[:2], style_side)
            if min(shw) < need:
                raise ValueError(
                    f"Style image {i} would be {shw[0]}×{shw[1]} px, too small: VGG19 needs at "
                    f"least {need}×{need} px to reach {params.deepest_layer}. Raise style_scale "
                    "or size, or use a larger style image."
                )
            style_hws.append(shw)
        shapes.append((hw, style_hws))
    for i, ((image, _), shw) in enumerate(zip(styles, shapes[-1][1]), start=1):
        _warn_if_stretched(i, image.shape[:2], shw)
    return shapes


# A style image enlarged more than this many times has too few pixels to paint with.
STRETCH_WARNING = 4.0


def _warn_if_stretched(index: int, own_hw, used_hw) -> None:
    factor = max(used_hw) / max(own_hw)
    if factor > STRETCH_WARNING:
        import warnings

        warnings.warn(
            f"Style image {index} is only {own_hw[0]}×{own_hw[1]} px: it is stretched "
            f"{factor:.0f}× to {used_hw[0]}×{used_hw[1]} px, so the style is painted from "
            "those few pixels. Use a larger style image, or lower style_scale.",
            UserWarning,
            stacklevel=4,
        )


def warm_up() -> None:
    """Import the engine's dependencies, build the default network and run one tiny step.

    Loading libtorch and torchvision, and torch's first kernels, hold Python's GIL
    for up to ~0.3 s at a time, which would freeze a GUI mid-run; the dock widget
    calls this from a background thread when it opens, so that Run starts at once.
    """
    tiny = np.full((32, 32, 3), 0.5, dtype=np.float32)
    last_step(stylize(tiny, tiny, steps=1, size=32))
