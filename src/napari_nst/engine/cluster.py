"""The workers' side of Dask, shared by batch runs, stacks' planes and blocked stages:
whether Dask's distributed is there, and how a worker sets itself up for a run (its torch
threads, its device, the allocator).
"""

from __future__ import annotations

import contextlib
import os

from . import allocator
from ._torch import torch
from .params import StyleParams

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


def workers_per_host(client) -> dict[str, int]:
    hosts: dict[str, int] = {}
    for worker in client.scheduler_info()["workers"].values():
        hosts[worker["host"]] = hosts.get(worker["host"], 0) + 1
    return hosts


def _share_of_cores(workers_per_host: dict[str, int]) -> int:
    """On a worker: the cores this process may use, shared among its host's workers."""
    from distributed import get_worker

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    here = workers_per_host.get(get_worker().address.split("://")[-1].rsplit(":", 1)[0], 1)
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
