"""Drawing a run's newest images at a rate the display sustains, never holding the run back.

The worker hands every Step over and goes on; this draws the newest image of each
slice that has one, times the repaint, and waits ``DRAW_GAP_FACTOR`` times as long
(within ``DRAW_GAP_S``) before the next draw. A draw costs the run more than its own
time on software GL (the window's composition and Mesa's threads take the cores that
torch's threads need), so the factor is large (docs/performance-notes.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .redraw import RedrawNotifier, next_turn

DRAW_GAP_FACTOR = 30.0
DRAW_GAP_S = (0.1, 1.5)


class PacedDisplay:
    """``offer(key, item)`` as often as items come; ``draw(items)`` runs at a paced rate
    with the newest item per key, and ``flush()`` draws what is left at once."""

    def __init__(self, draw: Callable[[list], None]):
        self._draw_items = draw
        self._newest: dict = {}  # per key: the item not yet drawn
        self._busy = False  # a draw is scheduled or waits for its repaint
        self._started = 0.0
        self._next_at = 0.0
        self._notifier = RedrawNotifier(self._drawn)

    def offer(self, key, item) -> None:
        self._newest[key] = item
        if not self._busy:
            self._busy = True
            wait = self._next_at - time.perf_counter()
            next_turn(self._draw, ms=max(0, round(1000 * wait)))

    def flush(self) -> None:
        """Draw every waiting item now (the run has ended: its last images must show)."""
        if self._newest:
            self._draw_newest()

    def drop(self) -> None:
        self._newest = {}

    def _draw(self):
        if not self._newest:
            self._busy = False
            return
        self._started = time.perf_counter()
        self._draw_newest()
        self._notifier.notify_after_next_redraw()

    def _draw_newest(self):
        newest, self._newest = self._newest, {}
        self._draw_items(list(newest.values()))

    def _drawn(self):
        now = time.perf_counter()
        low, high = DRAW_GAP_S
        gap = min(high, max(low, DRAW_GAP_FACTOR * (now - self._started)))
        self._next_at = now + gap
        self._busy = False
        if self._newest:  # more came meanwhile: draw them when the gap is over
            self._busy = True
            next_turn(self._draw, ms=round(1000 * gap))
