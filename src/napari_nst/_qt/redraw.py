"""Waiting for Qt: a callback once the window has been repainted, or in a later turn."""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QApplication


class RedrawNotifier:
    """Calls ``callback`` once Qt has repainted the window after a change.

    A change to a layer makes Qt deliver an UpdateRequest to the main window a few
    milliseconds later, and the canvas is drawn while that event is handled. An
    application event filter, installed only while waiting, sees it arrive; the
    callback then runs in the next event-loop turn, after the paint. Should no
    repaint come (a hidden layer, a minimised window), it runs after ``NO_REDRAW_MS``.
    """

    NO_REDRAW_MS = 100

    def __init__(self, callback):
        finish = self._finish

        class Watcher(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.UpdateRequest:
                    finish()
                return False  # only watching: the event goes on as usual

        self._callback = callback
        self._watcher = Watcher()  # created, and so living, in the main thread
        self._fallback = QTimer()
        self._fallback.setSingleShot(True)
        self._fallback.timeout.connect(finish)
        self._waiting = False

    def notify_after_next_redraw(self):
        if not self._waiting:
            self._waiting = True
            QApplication.instance().installEventFilter(self._watcher)
            self._fallback.start(self.NO_REDRAW_MS)

    def _finish(self):
        if self._waiting:
            self._waiting = False
            self._fallback.stop()
            QApplication.instance().removeEventFilter(self._watcher)
            QTimer.singleShot(0, self._callback)


def next_turn(callback, ms: int = 25):
    """Run ``callback`` in a later turn of the Qt event loop (after ``ms``)."""
    QTimer.singleShot(ms, callback)
