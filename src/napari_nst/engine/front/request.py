"""A run as two objects: what it paints (``RunRequest``) and how its caller follows it
(``RunHooks``). Every path (the API, a stack's frames, a plane's task, a batch job) hands
these down to ``run.run`` and on to the loop, instead of re-listing keywords."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .params import StyleParams


@dataclass(frozen=True)
class RunRequest:
    """Everything that decides the picture.

    As given: ``content`` and ``style`` (an image or ``[(image, weight)]``) in any dtype,
    read through ``content_limits``/``style_limits``; ``init`` overrides ``params.init``
    (a mode or a start image). Once ``run.checked`` has converted it, ``content`` is
    H×W×3 (or H×W, luminance mode) float32 in [0, 1], ``style`` the list of
    ``(image, weight)``, ``init`` the start image or None, the limits None, and
    ``stage_shapes`` the (content H×W, [style H×W]) of every stage.
    """

    content: Any
    style: Any
    params: StyleParams
    content_limits: Sequence[float] | None = None
    style_limits: Any = None
    guides: Any = None  # a Guides, or None
    init: Any = None  # None: params.init; a mode, or a start image
    previous_frame: tuple | None = None  # stacks: (previous content, previous result)
    stage_shapes: list | None = None  # set by the check

    def replace(self, **changes) -> RunRequest:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class RunHooks:
    """How a caller follows and stops a run, and where a large stage's blocks compute.
    None of them changes the picture.

    ``should_stop()`` is polled after every step and between blocks; True ends the run
    with the current image. ``download_progress(done, total)`` reports a weights
    download in bytes, ``block_progress(pass, done, blocks)`` a blocked step's blocks;
    ``blocks_on`` (a ``distributed.Client`` or an address) runs those blocks on Dask.
    """

    should_stop: Callable[[], bool] | None = None
    download_progress: Callable[[int, int], None] | None = None
    block_progress: Callable[[int, int, int], None] | None = None
    blocks_on: Any = None

    def stopping(self) -> bool:
        return self.should_stop is not None and bool(self.should_stop())
