"""A stack's planes on a Dask cluster, each plane one task.

With no temporal weight every plane is its own run, from the run's own start, and
the planes are independent tasks. With a temporal weight each frame starts from the
result before it, so the frames go in chains, each on a worker: the stack is cut
into spans, and each span's middle frame runs first, from the run's start; from there
one chain goes forward to the span's end and one goes backward to its start (the two
chunks overlap in that one frame, their shared start). Two chains (the default) are
one span and leave no seam; more leave a seam where two spans meet. A frame's result
stays on its worker for the next frame of its chain and is read back as it finishes.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from ..front.errors import friendly_message
from ..front.params import StyleParams, as_params
from ..front.request import RunHooks, RunRequest
from ..front.step import Step, last_step

MIN_CHAIN = 2  # frames per chain, at least: shorter chains spend more on starts than they save


def can_run_on_cluster(
    params: StyleParams, frames: int, guides=None, init=None, scheduler: str | None = None
) -> bool:
    """Whether the viewer runs a stack's planes as tasks on a cluster: no region guides,
    no start image, Dask's distributed installed (the batch extra; without it frames
    run in turn), and more than one plane. With a temporal weight, only on the
    ``scheduler`` named and with enough frames for two chains: on one machine's cores
    chains run slower than the frames in turn (docs/batch.md)."""
    if params.temporal_weight > 0:
        enough = frames >= 2 * MIN_CHAIN and bool(scheduler)
    else:
        enough = frames > 1
    simple = guides is None and init is None
    return enough and simple and importlib.util.find_spec("distributed") is not None


def frame_chains(frames: int, at_most: int) -> list[list[int]]:
    """Chains of frame indices, each in the order it runs; a chain's first frame starts
    from the run's start, each later one from the frame before it in the chain.

    Every frame is in exactly one chain, except a span's middle frame, which starts
    both the chain forward and the chain backward (it runs once). The chains are
    about equally long; there are at most ``at_most``, each at least MIN_CHAIN long.
    """
    count = max(1, min(at_most, frames // MIN_CHAIN))
    parts = [list(part) for part in np.array_split(np.arange(frames), count)]
    chains = []
    if count % 2:  # one chain alone, forward from the first frame
        chains.append([int(n) for n in parts.pop(0)])
    for before, after in zip(parts[::2], parts[1::2], strict=True):
        span = [int(n) for n in before + after]
        middle = len(span) // 2
        chains.append(span[middle:])
        chains.append(span[middle::-1])
    return chains


def stylize_planes(
    frames: Sequence,
    style,
    params: StyleParams | Mapping | None = None,
    *,
    content_limits: Sequence[float] | None = None,
    style_limits=None,
    flow: bool = False,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    chains: int = 2,
    should_stop: Callable[[], bool] | None = None,
    **overrides,
) -> Iterator[tuple[int, Step]]:
    """Each frame's last Step, as ``(frame index, Step)``, in the order they finish.

    Without a temporal weight every frame runs ``params`` from its own start; with
    one, in chains (``frame_chains``) as ``stylize_stack`` runs them (``flow`` as
    there): at most ``chains`` of them. Two leave no seam; more finish sooner on more
    workers but leave a seam where two spans meet, a jump like that between two
    independent runs (docs/batch.md). A frame that fails raises ValueError with
    its reason; ``should_stop()`` turning True cancels the frames not yet finished.
    The cluster options are ``stylize_batch``'s.
    """
    from ..on_dask import cluster  # Dask loads here, when a stack runs on a cluster

    params = as_params(params, **overrides)  # checked at the call, as the cluster is
    connect = (cluster.require_distributed(), client, scheduler, workers, threads_per_worker)
    options = ({"content_limits": content_limits, "style_limits": style_limits}, flow)
    return _finished_planes(connect, (frames, style, params, chains, options), should_stop)


def _finished_planes(connect, work, should_stop) -> Iterator[tuple[int, Step]]:
    """Start or reach the cluster, submit ``work``, yield each plane as it finishes."""
    from ..on_dask import cluster  # torch loads here

    distributed, threads_per_worker = connect[0], connect[-1]
    frames, style, params, chains, options = work
    connected, started, own_workers = cluster.connect_cluster(*connect)
    try:
        threads = threads_per_worker or cluster.workers_per_host(connected)
        futures = _submit(
            connected, frames, style, params, own_workers, chains, threads=threads, options=options
        )
    except BaseException:
        cluster.close_all(started)
        raise
    for future, n in cluster.as_finished(distributed, futures, should_stop, started):
        try:
            step = future.result()
        except Exception as err:  # the frame's own error, or its worker died too often
            raise ValueError(f"Slice {n} failed: {friendly_message(err)}") from None
        yield n, step


def _submit(client, frames, style, params, own_workers, at_most, threads, options) -> dict:
    """One future per frame (key: the future, value: the frame's index)."""
    from ..on_dask.cluster import live_workers

    addresses = live_workers(client)
    if params.temporal_weight > 0:
        chains = frame_chains(len(frames), at_most)
    else:
        chains = [[n] for n in range(len(frames))]
    sent_frames = client.scatter([np.asarray(frame) for frame in frames], hash=False)
    sent_style = client.scatter(style, broadcast=True, hash=False)
    task = {}  # frame index -> its future
    for k, chain in enumerate(chains):
        # A chain stays on one worker, where its results are (a lost worker's tasks may
        # move to another); planes that depend on none go wherever Dask sends them.
        place = {"workers": [addresses[k % len(addresses)]], "allow_other_workers": True}
        if len(chain) == 1:
            place = {}
        for position, n in enumerate(chain):
            if n in task:  # the shared first frame of a span's two chains
                continue
            before = chain[position - 1] if position else None
            task[n] = client.submit(
                run_plane,
                sent_frames[n],
                None if before is None else sent_frames[before],
                None if before is None else task[before],
                sent_style,
                params.to_dict(),
                options,
                threads,
                own_workers,
                key=f"napari-nst-plane-{n}-{uuid.uuid4().hex[:12]}",
                pure=False,
                **place,
            )
    return {future: n for n, future in task.items()}


def run_plane(frame, previous_frame, previous, style, params_dict, options, threads, own_process):
    """On a worker: one frame to the end (``stack.stylize_frame``); its last Step.

    ``previous`` is the Step of the frame before it in its chain (None: the chain's
    start), ``previous_frame`` that frame's raw plane.
    """
    from ..on_dask import cluster
    from . import stack

    params, keep = cluster.on_worker(params_dict, threads, own_process)
    before = None if previous is None else (previous_frame, previous.image)
    limits, flow = options
    request = RunRequest(None, style, params, **limits)
    with keep:
        return last_step(stack.stylize_frame(request, RunHooks(), frame, before, flow))
