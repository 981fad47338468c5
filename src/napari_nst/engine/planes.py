"""A stack's planes as independent batch jobs.

With no temporal weight, the frames of a stack do not depend on one another, so
All slices / frames runs them on ``stylize_batch``'s machinery: a local cluster
(or the scheduler given), each plane a job from the run's own start, results read
back as they finish. The planes go out with their contrast limits and come back
through a temporary folder of float32 TIFFs with their sidecars, so each is exactly
what the worker computed.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from .batch_jobs import BatchJob, output_paths, read_image
from .params import StyleParams
from .step import Step

PLANE_NAME = "plane_{:05d}"


def can_run_apart(params: StyleParams, frames: int, guides=None, init=None) -> bool:
    """Whether a stack's planes can run as independent jobs: more than one plane, no
    temporal weight (each frame its own run), no region guides, no start image, and
    Dask's distributed installed (the batch extra; without it frames run in turn)."""
    independent = params.temporal_weight == 0 and guides is None and init is None
    return frames > 1 and independent and importlib.util.find_spec("distributed") is not None


def stylize_planes(
    frames: Sequence,
    style,
    params: StyleParams,
    *,
    content_limits: Sequence[float] | None = None,
    style_limits=None,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[tuple[int, Step]]:
    """Each frame's last Step, as ``(frame index, Step)``, in the order they finish.

    Every frame runs ``params`` from its own start (no frame waits for another). A
    plane that fails raises ValueError with its reason; ``should_stop()`` turning
    True cancels the planes not yet finished. The cluster options are
    ``stylize_batch``'s.
    """
    if params.temporal_weight > 0:
        raise ValueError("With a temporal weight each frame starts from the one before it.")
    from .batch import stylize_batch  # torch and Dask load here, when a stack runs apart

    jobs = [
        BatchJob(
            np.asarray(frame),
            style,
            PLANE_NAME.format(n),
            style_limits=style_limits,
            content_limits=None if content_limits is None else tuple(content_limits),
        )
        for n, frame in enumerate(frames)
    ]
    index = {job.name: n for n, job in enumerate(jobs)}  # finished jobs come back by name
    with tempfile.TemporaryDirectory(prefix="napari-nst-planes-") as folder:
        results = stylize_batch(
            jobs,
            params,
            output_dir=folder,
            client=client,
            scheduler=scheduler,
            workers=workers,
            threads_per_worker=threads_per_worker,
            resume=False,
            file_format="tif",
            should_stop=should_stop,
        )
        try:
            for result in results:
                n = index[result.name]
                if result.status != "done":
                    raise ValueError(f"Slice {n} failed: {result.reason}")
                image, sidecar = output_paths(folder, jobs[n], "tif")
                yield n, _last_step(image, sidecar, params)
        finally:
            results.close()  # cancels what has not finished, before the folder goes


def _last_step(image, sidecar, params: StyleParams) -> Step:
    """The Step a worker ended with, from its float32 TIFF and its sidecar."""
    record = json.loads(sidecar.read_text())
    return Step(
        iteration=record["steps"],
        image=read_image(image),
        losses=record["losses"],
        elapsed=record["elapsed_s"],
        total_steps=params.step_budget,
        params=params,
        device=record["device"],
        weights_version=record["weights"].rsplit("@", 1)[-1],
        stop_reason=record["stop_reason"],
    )
