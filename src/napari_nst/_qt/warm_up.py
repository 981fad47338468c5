"""Load torch and the default network in the background when the widget opens."""

from __future__ import annotations

import contextlib
import threading

from ..engine.engine_thread import on_engine_thread
from ..engine.run import warm_up


def start_warm_up() -> threading.Thread:
    """Import torch and load the default weights in a background thread (see warm_up).

    Any failure is left for the run itself to report in a sentence.
    """

    def work():
        with contextlib.suppress(Exception):
            on_engine_thread(warm_up)  # where the runs will compute

    thread = threading.Thread(target=work, name="napari-nst warm-up")
    thread.start()
    return thread
