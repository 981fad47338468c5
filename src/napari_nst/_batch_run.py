"""Apply to folder: the widget's settings over every image of a folder, on Dask.

The same ``stylize_batch`` as the CLI, in a napari thread worker, with a progress
bar in the activity dock and a Cancel. The style is taken from the style layers
with their contrast limits, as a run in the viewer takes it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from ._layers import layer_contrast_limits, shown_plane
from .engine.errors import friendly_message
from .engine.params import StyleParams


def styles_from_layers(viewer, styles) -> tuple[list, list]:
    """[(shown plane, weight)] and their contrast limits, from [(style layer, weight)]."""
    pairs = [(shown_plane(layer, viewer), weight) for layer, weight in styles]
    return pairs, [layer_contrast_limits(layer) for layer, _ in styles]


class FolderRun:
    """One batch over a folder; ``counts`` and ``failures`` fill in as jobs end."""

    def __init__(
        self,
        jobs,
        params: StyleParams,
        output_dir: Path,
        *,
        scheduler: str | None = None,
        on_result: Callable | None = None,
        on_finish: Callable | None = None,
    ):
        self.jobs = jobs
        self.params = params
        self.output_dir = output_dir
        self.scheduler = scheduler or None
        self.on_result = on_result
        self.on_finish = on_finish
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self.failures: list = []  # BatchResults
        self.error: str | None = None
        self.worker = None
        self._cancel = threading.Event()
        self._progress = None
        self._done = False

    @property
    def running(self) -> bool:
        return self.worker is not None and not self._done

    def start(self):
        from napari.qt.threading import create_worker
        from napari.utils import progress

        self._progress = progress(total=len(self.jobs), desc="Apply to folder")
        self.worker = create_worker(
            _work,
            self.jobs,
            self.params,
            self.output_dir,
            self.scheduler,
            self._cancel.is_set,
            _ignore_errors=True,
        )
        self.worker.yielded.connect(self._on_result)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()
        return self.worker

    def cancel(self):
        """Stop submitting and drop what has not finished; complete outputs stay."""
        self._cancel.set()

    def _on_result(self, result):
        if isinstance(result, str):  # the batch could not start or run
            self.error = result
            return
        self.counts[result.status] += 1
        if result.status == "failed":
            self.failures.append(result)
        if self._progress is not None:
            self._progress.update(1)
        if self.on_result is not None:
            self.on_result(self)

    def _on_finished(self):
        self._done = True
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if self.on_finish is not None:
            self.on_finish(self)

    def summary(self) -> str:
        c = self.counts
        text = (
            f"{c['done']} written, {c['skipped']} already there, {c['failed']} failed, "
            f"into {self.output_dir}."
        )
        return ("Cancelled: " + text) if self._cancel.is_set() else text


def _work(jobs, params, output_dir, scheduler, should_stop):
    from .engine.batch import stylize_batch

    try:
        yield from stylize_batch(
            jobs, params, output_dir=output_dir, scheduler=scheduler, should_stop=should_stop
        )
    except Exception as err:  # one sentence for the user, never a traceback
        yield friendly_message(err)
