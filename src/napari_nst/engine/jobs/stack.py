"""Stacks and movies: frame after frame, each starting from the previous result.

The previous result is the next frame's start and, with ``temporal_weight`` > 0,
its target wherever the content stood still between the two frames.

``flow=True`` (off by default) carries the previous result along the optical
flow first, after Ruder, Dosovitskiy & Brox (2016, "Artistic style transfer for
videos"): then the target holds wherever the flow explains the content. It makes
the result follow moving content instead of lagging behind it, but on our test
stacks (benchmarks/temporal.py, docs/benchmarks.md) it mostly raised the
frame-to-frame change: a stylised texture shifted by a few pixels differs from
itself far more than the smooth content does, and bilinear resampling blurs it.
The flow is scikit-image's iterative Lucas-Kanade on the grey content at the
result's size.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from skimage.registration import optical_flow_ilk
from skimage.transform import resize, warp

from ..front.images import to_rgb01
from ..front.params import StyleParams
from ..front.request import RunHooks, RunRequest
from ..run import Step, request_of, run

FLOW_MIN_CHANGE = 0.02  # the flow is used only where the content changed by more than this


def stylize_stack(
    frames: Sequence,
    style,
    params: StyleParams | Mapping | None = None,
    *,
    flow: bool = False,
    **options,
) -> Iterator[tuple[int, Step]]:
    """Stylise each frame of ``frames``; yield ``(frame index, Step)``.

    The first frame runs ``steps`` from ``init`` (or ``params.init``); every later
    frame starts from the previous result (carried along the optical flow when
    ``flow``) and runs ``frame_steps`` (``steps`` when None). Stopping keeps every frame
    already done: the caller has seen each one's last Step. The other keywords are
    ``stylize``'s (``run.request_of``), checked at the call, not at the first frame.
    """
    request, hooks = request_of(None, style, params, **options)  # each frame: its content
    return _each_frame(frames, functools.partial(stylize_frame, request, hooks, flow=flow), hooks)


def _each_frame(frames, run_frame, hooks: RunHooks) -> Iterator[tuple[int, Step]]:
    """Each frame's Steps in turn, every frame after the first from the previous result."""
    previous = None  # (previous raw frame, its result)
    for n, frame in enumerate(frames):
        if hooks.stopping():
            return
        last = None
        for step in run_frame(frame, previous):
            last = step
            yield n, step
        if last is None or hooks.stopping():
            return
        previous = (frame, last.image)


def stylize_frame(
    request: RunRequest,
    hooks: RunHooks,
    frame,
    previous: tuple | None = None,
    flow: bool = False,
) -> Iterator[Step]:
    """One frame of a stack: ``request`` (its content left out) on ``frame``; its Steps.

    With ``previous`` = (the previous raw frame, its result) the frame starts from
    that result (carried along the optical flow when ``flow``), holds to it with the
    temporal weight and runs ``frame_steps``; without, it runs ``steps`` from the
    request's start, as a stack's first frame does.
    """
    request = request.replace(content=frame)
    if previous is not None:
        prev_frame, prev_result = previous
        if flow:
            limits = request.content_limits
            prev_frame, prev_result = follow_flow(prev_frame, frame, prev_result, limits)
        params = request.params
        request = request.replace(
            init=prev_result,
            previous_frame=(prev_frame, prev_result),
            params=params.replace(steps=params.frame_steps or params.steps),
        )
    yield from run(request, hooks)


def follow_flow(prev_frame, frame, prev_result, content_limits=None):
    """Carry the previous frame and its result along the flow to ``frame``.

    Returns the previous raw frame warped onto ``frame`` (same shape and dtype)
    and the previous result warped likewise (at its own size).
    """
    hw = prev_result.shape[:2]

    def grey(raw):
        return resize(to_rgb01(raw, content_limits).mean(axis=-1), hw, anti_aliasing=True)

    # For each pixel of the new frame: where it was in the previous one (rows, cols).
    current, before = grey(frame), grey(prev_frame)
    flow = optical_flow_ilk(current, before, radius=7)
    # Use the flow only where the content changed and the flow explains the change.
    # Elsewhere (still or flat content) a spurious flow would drag the result's
    # texture around, which is exactly the flicker this is meant to remove.
    changed = np.abs(before - current) >= FLOW_MIN_CHANGE
    explained = np.abs(_warp(before, flow) - current) < 0.5 * np.abs(before - current)
    flow *= (changed & explained)[None]
    result = np.clip(_warp(prev_result, flow), 0.0, 1.0).astype(np.float32)
    raw = np.asarray(prev_frame)
    src_hw = raw.shape[:2]
    if src_hw != hw:
        ratio = np.asarray(src_hw, dtype=np.float32) / np.asarray(hw, dtype=np.float32)
        flow = np.stack([resize(flow[k], src_hw, order=1) * ratio[k] for k in range(2)])
    warped = _warp(raw.astype(np.float32), flow)
    if raw.dtype.kind in "ui":
        info = np.iinfo(raw.dtype)
        warped = np.clip(np.rint(warped), info.min, info.max)
    return warped.astype(raw.dtype), result


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at (row + flow[0], col + flow[1]), bilinear, edges repeated."""
    h, w = image.shape[:2]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([rows + flow[0], cols + flow[1]])
    if image.ndim == 2:
        return warp(image, coords, order=1, mode="edge", preserve_range=True)
    channels = [
        warp(image[..., k], coords, order=1, mode="edge", preserve_range=True)
        for k in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1)
