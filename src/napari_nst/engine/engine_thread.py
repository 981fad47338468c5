"""All of the plugin's torch work in a process on one long-lived thread.

A thread that has run torch's parallel CPU kernels keeps its OpenMP team for as long
as it lives. With two such threads alive, every small kernel of either ran 1.6–1.8×
slower on 2 cores, and a whole 64 px run twice as long (docs/performance-notes.md).
napari's workers are pooled threads that outlive a run, so the widget's warm-up and
every run in the viewer compute here, and the napari worker only relays the Steps.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()
# How often a producer whose consumer has gone looks whether it should give up.
_POLL_S = 0.1


def _engine() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(1, thread_name_prefix="napari-nst engine")
        return _executor


def on_engine_thread(work: Callable):
    """``work()``'s result, computed on the engine thread (its exception is raised here)."""
    return _engine().submit(work).result()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


def relayed(make_items: Callable[[], Iterator]) -> Iterator:
    """The items of ``make_items()``, an iterator run on the engine thread.

    The engine computes at most one item ahead of the consumer, so a consumer that
    pauses pauses the work; closing this iterator closes the other at its next item.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    gone = threading.Event()

    def hand(item) -> bool:
        while not gone.is_set():
            try:
                handoff.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        items = make_items()
        try:
            for item in items:
                if not hand(item):
                    return
            hand(_END)
        except BaseException as err:  # raised again in the consumer's thread
            hand(_Failed(err))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    _engine().submit(produce)
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        gone.set()
