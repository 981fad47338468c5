"""napari's progress bar for a weights download reported from any worker thread."""

from __future__ import annotations

import functools

from napari.utils import progress
from qtpy.QtCore import QObject, Signal


@functools.cache
def download_bar():
    """The napari progress bar for weights downloads reported from worker threads.

    One for the process, made on the main thread (where its reports are shown)."""

    class DownloadBar(QObject):
        progressed = Signal(int, int)  # bytes done, bytes in all (0: unknown)

        def __init__(self):
            super().__init__()
            self.bar = None
            self.latest = None  # (done, total) not shown yet
            self.showing = False
            self.progressed.connect(self._show)

        def _show(self, done, total):
            self.latest = (done, total)
            if self.showing:  # napari's bar runs the event loop: a report can arrive here
                return
            self.showing = True
            try:
                while self.latest is not None:
                    (done, total), self.latest = self.latest, None
                    if self.bar is None:
                        mib = max(total, done, 1) // 2**20 or 1
                        self.bar = progress(total=mib, desc="Downloading VGG19 weights (MB)")
                    self.bar.n = done // 2**20
                    self.bar.refresh()
                    if total and done >= total:
                        self.close()
            finally:
                self.showing = False

        def close(self):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return DownloadBar()
