"""Dask, for batch runs, stacks' planes and blocked stages: whether distributed is there;
reaching or starting a cluster, streaming finished work and cancelling the rest (the
client's side); how a worker sets itself up for a run (its torch threads, its device,
the allocator).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import psutil

from ..front.params import StyleParams
from ..optimise import allocator
from ..optimise._torch import torch

POLL_S = 0.25  # how often a waiting client looks at should_stop
# Closing cancels what the workers run, and each cancelled task is logged by these (a
# warning, at times a traceback): noise for a user who stopped the run on purpose.
SHUTDOWN_LOGGERS = ("distributed", "tornado")
WORKER_MEMORY_GIB = 2  # a CPU worker's network and one 512 px run, with room to spare
MISSING_DASK = (
    "Batch runs need Dask's distributed scheduler: "
    "pip install 'napari-nst[batch]' (or: pip install distributed)."
)


def require_distributed():
    """Dask's distributed, an optional extra imported only when a batch runs; without
    it, ValueError saying in one sentence what to install."""
    try:
        import distributed
    except ImportError:
        raise ValueError(MISSING_DASK) from None
    return distributed


def live_workers(client) -> list[str]:
    """The workers' addresses, asked of the scheduler now: the client's own
    ``scheduler_info()`` is refreshed only every few seconds, and read right after a
    cluster started or a worker was replaced it said "0 workers ready"."""
    return sorted(client.nthreads())


def _host(address: str) -> str:
    return address.split("://")[-1].rsplit(":", 1)[0]


def workers_per_host(client) -> dict[str, int]:
    hosts: dict[str, int] = {}
    for address in live_workers(client):
        hosts[_host(address)] = hosts.get(_host(address), 0) + 1
    return hosts


def _share_of_cores(workers_per_host: dict[str, int]) -> int:
    """On a worker: the cores this process may use, shared among its host's workers."""
    from distributed import get_worker

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    here = workers_per_host.get(_host(get_worker().address), 1)
    return max(1, (cores or 1) // here)


def on_worker(params_dict: dict, threads, own_process: bool):
    """On a worker, before a run: set torch's threads (``threads``: a number, or
    {host: workers there} to share this host's cores); return the run's parameters on
    this worker's device, and the allocator's context (glibc's settings are ours only in
    a worker process started for this batch, ``own_process``)."""
    torch.set_num_threads(threads if isinstance(threads, int) else _share_of_cores(threads))
    params = StyleParams.from_dict(params_dict)
    params = params.replace(device=_worker_device(params.device))
    keep = allocator.used_in_this_process() if own_process else contextlib.nullcontext()
    return params, keep


def cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _worker_device(device: str) -> str:
    """With several GPUs and device "auto", worker k uses GPU k (modulo their count)."""
    if device != "auto" or cuda_count() < 2:
        return device
    from distributed import get_worker

    name = get_worker().name
    index = name if isinstance(name, int) else abs(hash(name))
    return f"cuda:{index % cuda_count()}"


# -- the client's side -----------------------------------------------------------------
def connect_cluster(distributed, client, scheduler, workers, threads_per_worker):
    """(client, what was started here and so must be closed, whether the workers are ours).

    ``client`` or ``scheduler`` is used as it is; with neither, a ``LocalCluster`` is
    started (see ``batch.stylize_batch``)."""
    if client is not None:
        return client, [], False
    if scheduler is not None:
        client = distributed.Client(scheduler)
        return client, [client], False
    cluster = _local_cluster(distributed, workers, threads_per_worker)
    client = distributed.Client(cluster)
    # The workers are processes of ours: glibc's settings are ours too.
    return client, [client, cluster], True


def as_finished(distributed, futures: dict, should_stop, started) -> Iterator[tuple]:
    """``(future, futures[future])`` as each finishes. On the end, ``should_stop()``
    turning True or an error: cancel what is pending and close what was ``started``.
    Finished futures are taken out of ``futures``, so what stays there never finished."""
    stop = should_stop or (lambda: False)
    pending = set(futures)
    try:
        while pending:
            if stop():
                return
            try:
                done, pending = distributed.wait(
                    pending, timeout=POLL_S, return_when="FIRST_COMPLETED"
                )
            except (TimeoutError, distributed.TimeoutError):
                continue
            for future in done:
                yield future, futures.pop(future)
    finally:
        close_all(started, cancel=pending)


def close_all(started, cancel=()) -> None:
    """Cancel the futures ``cancel``, then close what was ``started``, quietly."""
    with _quiet_logs(started):
        for future in cancel:
            future.cancel()
        for thing in started:
            thing.close()


@contextlib.contextmanager
def _quiet_logs(started):
    """While what was ``started`` here closes: its workers' and this process's
    SHUTDOWN_LOGGERS print nothing (this process's levels are restored after)."""
    for client in started:
        if any(getattr(client, "cluster", None) is cluster for cluster in started):
            # A client of a cluster started here: the cluster's workers are ours.
            with contextlib.suppress(Exception):  # a worker already gone needs no quiet
                client.run(_silence, SHUTDOWN_LOGGERS)
    loggers = [logging.getLogger(name) for name in SHUTDOWN_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        _silence(SHUTDOWN_LOGGERS)
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _silence(names) -> None:
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _local_cluster(distributed, workers, threads_per_worker):
    cores = os.cpu_count() or 1
    gpus = cuda_count()
    if gpus and workers is None:
        workers = gpus
    workers = workers or _cpu_workers(cores)
    if threads_per_worker is not None and workers * threads_per_worker > cores:
        raise ValueError(
            f"{workers} workers × {threads_per_worker} threads is more than this "
            f"machine's {cores} cores."
        )
    return distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,  # one job at a time per worker; torch has its own threads
        processes=True,
        dashboard_address=None,
    )


def _cpu_workers(cores: int) -> int:
    """One single-threaded worker per core (faster than fewer, wider workers: see
    docs/batch.md), as far as memory allows WORKER_MEMORY_GIB each."""
    by_memory = int(psutil.virtual_memory().available / 2**30 // WORKER_MEMORY_GIB)
    return max(1, min(cores, by_memory))
