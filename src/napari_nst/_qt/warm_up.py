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


class DeviceList:
    """The devices that work here: auto and cpu until the warm-up has loaded torch, then
    what ``available_devices`` finds (read once, so the labels stay put), and whether the
    CPU runs bf16 natively."""

    def __init__(self):
        self.devices = None
        self.cpu_has_bf16 = True  # until known: nothing is greyed out on a guess

    def choices(self, _widget=None):
        return self.devices or [("auto", "auto"), ("cpu", "cpu")]

    def list_when_warm(self, warm_up: threading.Thread, combo, parent, on_listed) -> None:
        """Fill ``combo`` once the warm-up has ended, then call ``on_listed(devices)``."""
        from qtpy.QtCore import QTimer

        self._timer = QTimer(parent)  # dies with the widget
        self._timer.setInterval(200)

        def check():
            if warm_up.is_alive():
                return
            self._timer.stop()
            from ..engine.optimise.device import available_devices, cpu_has_bf16

            self.devices = available_devices()
            self.cpu_has_bf16 = cpu_has_bf16()
            value = combo.value
            combo.native.clear()  # else changed labels would move to the end
            combo.reset_choices()
            combo.value = value if value in combo.choices else "auto"
            on_listed(self.devices)

        self._timer.timeout.connect(check)
        self._timer.start()
