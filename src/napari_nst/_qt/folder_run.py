"""Apply to folder: the widget's settings over every image of a folder, on Dask.

The same ``stylize_batch`` as the CLI, in a napari thread worker, with Cancel. Its
``BatchTally`` says what is happening from the first second (the cluster starting,
the running jobs' steps, the time left); the widget shows it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from napari.qt.threading import create_worker
from qtpy.QtCore import QObject, Signal

from ..engine.front.errors import friendly_message
from ..engine.front.params import StyleParams
from ..engine.front.progress import BatchTally


class _News(QObject):
    """The tally's sentences, from the worker's or Dask's thread to the main thread."""

    said = Signal(str)


class FolderRun:
    """One batch over a folder; ``tally`` fills in as jobs run and end."""

    def __init__(
        self,
        jobs,
        params: StyleParams,
        output_dir: Path,
        *,
        scheduler: str | None = None,
        on_news: Callable | None = None,
        on_finish: Callable | None = None,
    ):
        self.jobs = jobs
        self.params = params
        self.output_dir = output_dir
        self.scheduler = scheduler or None
        self.on_news = on_news
        self.on_finish = on_finish
        self.messages = _News()  # made here, on the main thread
        self.messages.said.connect(self._on_news)
        self.tally = BatchTally(len(jobs), report=self.messages.said.emit)
        self.news = ""  # the tally's last sentence
        self.sentences: list[str] = []  # all of them, in order
        self.error: str | None = None
        self.worker = None
        self._cancel = threading.Event()
        self._done = False

    @property
    def counts(self) -> dict[str, int]:
        return self.tally.counts

    @property
    def failures(self) -> list:
        return self.tally.failures

    @property
    def running(self) -> bool:
        return self.worker is not None and not self._done

    def start(self):
        self.worker = create_worker(self._work, _ignore_errors=True)
        self.worker.yielded.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()
        return self.worker

    def cancel(self):
        """Stop submitting and drop what has not finished; complete outputs stay."""
        self._cancel.set()

    def summary(self) -> str:
        return self.tally.summary(self.output_dir, cancelled=self._cancel.is_set())

    def _work(self):
        from ..engine.jobs.batch import stylize_batch

        try:
            for _ in stylize_batch(
                self.jobs,
                self.params,
                output_dir=self.output_dir,
                scheduler=self.scheduler,
                should_stop=self._cancel.is_set,
                tally=self.tally,
            ):
                pass  # the tally hears each result
        except Exception as err:  # one sentence for the user, never a traceback
            yield friendly_message(err)

    def _on_news(self, sentence: str):
        self.news = sentence
        self.sentences.append(sentence)
        if self.on_news is not None and not self._done:
            self.on_news(self)

    def _on_error(self, message: str):
        self.error = message

    def _on_finished(self):
        self._done = True
        if self.on_finish is not None:
            self.on_finish(self)
