"""Batch runs on Dask: one ``stylize`` per job, on a local or an existing cluster.

The client side (this generator) checks the output folder, skips jobs whose
result is already there with the same inputs and parameters, submits the rest,
and yields one ``BatchResult`` per job as it finishes. Each worker reads its
content, runs ``stylize`` to the end and writes the image and its JSON sidecar
atomically; only that small record travels back. A worker process that dies
mid-job has its job rerun elsewhere by Dask; a job that fails on its input
(an unreadable file, a bad shape) fails alone, with its reason.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ... import __version__
from ..front.errors import friendly_message
from ..front.params import StyleParams, as_params
from ..front.progress import BatchTally
from ..on_dask.cluster import (
    as_finished,
    close_all,
    connect_cluster,
    live_workers,
    on_worker,
    require_distributed,
    workers_per_host,
)
from ..optimise._torch import torch
from ..run import stylize
from .batch_jobs import BatchJob, check_writable, fingerprint, is_done, output_paths, read_image
from .result_files import partial_files, write_image, write_json

FILE_FORMATS = ("png", "tif")
# A worker tells the client of its job's steps this often (and at the first step),
# on this topic of Dask's structured events.
STEP_NEWS_EVERY_S = 2.0
STEP_TOPIC = "napari-nst-steps"


@dataclass(frozen=True)
class BatchResult:
    """How one job ended: "done", "skipped" (resumed: already there) or "failed"."""

    name: str
    status: str
    output: Path | None = None
    reason: str = ""
    elapsed: float = 0.0  # seconds the run took on its worker


@dataclass(frozen=True)
class JobSettings:
    """What every job of one batch shares: sent once with each job."""

    params: dict
    output_dir: str
    file_format: str
    threads: int | dict  # torch threads, or {host: workers there} to share its cores
    own_process: bool  # the worker was started for this batch: glibc's settings are ours
    batch: str  # this batch's id, on its step news


def stylize_batch(
    jobs: Sequence[BatchJob],
    params: StyleParams | Mapping | None = None,
    *,
    output_dir: str | Path,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    resume: bool = True,
    file_format: str = "png",
    should_stop: Callable[[], bool] | None = None,
    tally: BatchTally | None = None,
    **overrides,
) -> Iterator[BatchResult]:
    """Run every job; yield its ``BatchResult`` as soon as it finishes.

    ``client`` (a ``distributed.Client``) or ``scheduler`` (its address) runs the
    jobs on that cluster as it is. With neither, a ``LocalCluster`` is started for
    this batch and closed at the end: one worker per GPU on a CUDA machine, else
    ``workers`` (default: one per core, as memory allows) with ``threads_per_worker`` torch
    threads each (default: the cores shared out), never more threads than cores.
    Outputs are ``output_dir/<name>.<file_format>`` with ``<name>.json`` beside.
    With ``resume``, a job whose sidecar has the same inputs and parameters is
    skipped. Closing the iterator, or ``should_stop()`` turning True, cancels
    what has not finished; only complete outputs remain. ``tally`` (a ``BatchTally``)
    counts the results and, where it has a ``report``, hears what happens before and
    between them: the cluster starting, then the running jobs' steps and the time left.
    """
    params = as_params(params, **overrides)  # all checked at the call, before any cluster
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {FILE_FORMATS}, not {file_format!r}")
    if params.init == "array":
        raise ValueError("A batch cannot start every job from one array: use noise or content.")
    _check_names(jobs)
    folder = check_writable(output_dir)
    distributed = require_distributed()
    tally = tally or BatchTally(len(jobs))
    params_dict = params.to_dict()
    todo = []
    for job in jobs:
        job_fingerprint = fingerprint(job, params_dict)
        if resume and is_done(job, folder, file_format, job_fingerprint):
            tally.add(BatchResult(job.name, "skipped", output_paths(folder, job, file_format)[0]))
        else:
            todo.append((job, job_fingerprint))
    cluster = (distributed, client, scheduler, workers, threads_per_worker)
    return _batch_results(todo, params_dict, folder, file_format, cluster, should_stop, tally)


def _batch_results(todo, params_dict, folder, file_format, cluster, should_stop, tally):
    """The skipped jobs' results, then each job's as it finishes (see stylize_batch)."""
    yield from (r for r in tally.results if r.status == "skipped")
    if not todo:
        return
    distributed, client, scheduler, workers, threads_per_worker = cluster
    tally.say(_starting(client, scheduler, workers))
    client, started, own_workers = connect_cluster(
        distributed, client, scheduler, workers, threads_per_worker
    )
    batch = uuid.uuid4().hex
    try:
        ready = len(live_workers(client))
        tally.say(f"{ready} workers ready: painting {len(todo)} images…")
        if tally.report is not None:
            client.subscribe_topic(STEP_TOPIC, _step_listener(batch, tally))
        threads = threads_per_worker or workers_per_host(client)
        settings = JobSettings(params_dict, str(folder), file_format, threads, own_workers, batch)
        futures = _submit(client, todo, settings)
    except BaseException:
        close_all(started)
        raise
    stream = as_finished(distributed, futures, should_stop, started)
    try:
        for future, job in stream:
            result = _result_of(future, job)
            tally.add(result)
            yield result
    finally:
        if tally.report is not None and client.status == "running":
            client.unsubscribe_topic(STEP_TOPIC)
        stream.close()  # first cancel and close, then clean up
        for job in futures.values():  # cancelled or killed: no partial file stays
            for partial in partial_files(folder, job.name):
                partial.unlink(missing_ok=True)


def _starting(client, scheduler, workers) -> str:
    if client is not None:
        return "Sending the jobs to the cluster…"
    if scheduler is not None:
        return f"Connecting to the Dask scheduler at {scheduler}…"
    count = f"{workers} " if workers else ""
    return f"Starting {count}local Dask workers…"


def _step_listener(batch: str, tally: BatchTally):
    """The handler of this batch's step news (Dask calls it on its client's thread)."""

    def heard(event):
        _, news = event
        if news.get("batch") == batch:
            tally.step(news["job"], news["step"], news["of"], news["up_to"])

    return heard


def _submit(client, todo, settings: JobSettings):
    """One future per job; style images in memory go to every worker once, not per job."""
    sent: dict = {}

    def style_of(job):
        if _is_files(job.style):
            return job.style
        if id(job.style) not in sent:
            sent[id(job.style)] = client.scatter(job.style, broadcast=True, hash=False)
        return sent[id(job.style)]

    return {
        client.submit(
            run_job,
            job,
            style_of(job),
            job_fingerprint,
            settings,
            key=f"napari-nst-{job.name}-{uuid.uuid4().hex[:12]}",  # never a cancelled one's
            pure=False,
        ): job
        for job, job_fingerprint in todo
    }


def run_job(job, style, job_fingerprint, settings: JobSettings):
    """On a worker: one ``stylize`` to the end, then the image and its sidecar.

    ``style`` is ``job.style``, or its images once sent to this worker.
    """
    output_dir, file_format = settings.output_dir, settings.file_format
    for partial in partial_files(output_dir, job.name):  # from a worker that died here
        partial.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        params, keep = on_worker(settings.params, settings.threads, settings.own_process)
        last, told = None, 0.0
        with keep:
            style_images = _read_style(style)
            for step in stylize(
                job.read_content(),
                style_images,
                params,
                content_limits=job.content_limits,
                style_limits=job.style_limits,
            ):
                last = step
                if time.perf_counter() - told >= STEP_NEWS_EVERY_S:
                    told = time.perf_counter()
                    _tell_step(settings.batch, job.name, step, params.stop_when_settled)
    except Exception as err:  # the input's fault: fails alone, not retried
        return {"status": "failed", "reason": friendly_message(err)}
    image_path, sidecar_path = output_paths(output_dir, job, file_format)
    record = {
        "content": _source(job.content),
        "plane": job.plane,
        "style": _source(job.style),
        "params": params.to_dict(),
        "fingerprint": job_fingerprint,
        "versions": {"napari-nst": __version__, "torch": torch.__version__},
        "weights": f"{params.weights}@{last.weights_version}",
        "losses": last.losses,
        "steps": last.iteration,
        "stop_reason": last.stop_reason,
        "device": last.device,
        "elapsed_s": time.perf_counter() - start,
    }
    write_image(image_path, last.image, record)
    write_json(sidecar_path, record)  # last: a sidecar means the image is complete
    return {"status": "done", "output": str(image_path), "elapsed": record["elapsed_s"]}


def _tell_step(batch: str, job: str, step, up_to: bool) -> None:
    from distributed import get_worker

    news = {"batch": batch, "job": job, "step": step.iteration, "of": step.total_steps}
    get_worker().log_event(STEP_TOPIC, {**news, "up_to": up_to})


def _result_of(future, job: BatchJob) -> BatchResult:
    try:
        out = future.result()
    except Exception as err:  # e.g. the job's worker died more often than Dask allows
        return BatchResult(job.name, "failed", reason=friendly_message(err))
    if out["status"] == "failed":
        return BatchResult(job.name, "failed", reason=out["reason"])
    return BatchResult(job.name, "done", Path(out["output"]), elapsed=out["elapsed"])


_styles_read: dict = {}  # per worker process: each style file is read once


def _read_style(style):
    if isinstance(style, list):
        return [(_read_style(image), weight) for image, weight in style]
    if not isinstance(style, (str, Path)):
        return style
    key = str(Path(style).resolve())
    if key not in _styles_read:
        _styles_read[key] = read_image(style)
    return _styles_read[key]


def _is_files(style) -> bool:
    if isinstance(style, list):
        return all(isinstance(image, (str, Path)) for image, _ in style)
    return isinstance(style, (str, Path))


def _source(image) -> object:
    if isinstance(image, list):
        return [[_source(item), weight] for item, weight in image]
    return str(image) if isinstance(image, (str, Path)) else "array"


def _check_names(jobs: Sequence[BatchJob]) -> None:
    seen = set()
    for job in jobs:
        if job.name in seen:
            raise ValueError(f"Two jobs would both write '{job.name}': give them distinct names.")
        seen.add(job.name)
