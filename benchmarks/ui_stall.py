"""Largest gap between 10 ms QTimer ticks in a real viewer during a widget run.

    xvfb-run -a python benchmarks/ui_stall.py --size 512 --steps 8
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=8)
    args = ap.parse_args()

    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer()
    viewer.open_sample("napari-nst", "astronaut_hubble")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.size.value = args.size
    widget.auto_stop.value = False  # exactly --steps
    widget.steps.value = args.steps
    app = QApplication.instance()
    # A user picks layers before pressing Run: the widget's warm-up (torch's import
    # and the weights) has finished by then. Its time is reported separately.
    warm_start = time.perf_counter()
    while widget.warm_up.is_alive():
        app.processEvents()
        time.sleep(0.001)
    warm_up_s = time.perf_counter() - warm_start
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    run = widget.start()
    started = time.perf_counter()
    timer.start()
    while run.running:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    run_s = time.perf_counter() - started
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    # Gaps after the first output (torch's import and the first layer are excluded).
    first = run.first_output_at or started
    later = [b - a for a, b in itertools.pairwise(ticks) if a >= first] or [0.0]
    print(
        json.dumps(
            {
                "size": args.size,
                "steps": len(run.history),
                "max_gap_ms": round(1000 * max(gaps), 1),
                "p99_gap_ms": round(1000 * sorted(gaps)[int(0.99 * (len(gaps) - 1))], 1),
                "max_gap_after_first_output_ms": round(1000 * max(later), 1),
                "seconds_to_first_output": round(first - started, 2),
                "run_s": round(run_s, 2),
                "ticks": len(ticks),
                "warm_up_s": round(warm_up_s, 2),
            }
        )
    )
    viewer.close()


if __name__ == "__main__":
    main()
