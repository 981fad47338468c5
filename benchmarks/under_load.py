"""A 128 px run beside two busy processes: in the viewer, against the CLI.

    xvfb-run -a python benchmarks/under_load.py     # writes docs/results/under_load.json

Two processes spin on the CPU the whole time (as other work on a shared machine
would). Under that load, in turn: the CLI's run (its own time for the run, from
its JSON record, without the process start), then the widget's run in a real
viewer (the run's own time, from the output's record), at normal priority as
napari-nst runs now, then with the worker thread at nice 10 as it ran before.
All at 128 px, 20 steps, chelsea × immunohistochemistry, seed 0.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "under_load.json"
SIZE, STEPS = 128, 20


def _spin():
    while True:
        pass


def cli_seconds(folder: Path) -> float:
    import skimage.data
    from skimage import io

    io.imsave(folder / "c.png", skimage.data.chelsea(), check_contrast=False)
    io.imsave(folder / "s.png", skimage.data.immunohistochemistry(), check_contrast=False)
    out = folder / "out.png"
    args = ["c.png", "s.png", "-o", str(out), "--size", str(SIZE), "--steps", str(STEPS)]
    subprocess.run([sys.executable, "-m", "napari_nst.cli", *args], cwd=folder, check=True)
    return json.loads(out.with_suffix(".json").read_text())["elapsed_s"]


def viewer_seconds(nice: int) -> float:
    import napari
    import skimage.data
    from qtpy.QtWidgets import QApplication

    from napari_nst._napari.output_layer import METADATA_KEY
    from napari_nst._qt import viewer_run

    if nice:
        work = viewer_run.ViewerRun._work

        def lowered(self):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            yield from work(self)

        viewer_run.ViewerRun._work = lowered
    viewer = napari.Viewer()
    viewer.add_image(skimage.data.chelsea(), name="chelsea")
    viewer.add_image(skimage.data.immunohistochemistry(), name="ihc")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value, widget.style.value = viewer.layers["chelsea"], viewer.layers["ihc"]
    widget.size.value, widget.auto_stop.value, widget.steps.value = SIZE, False, STEPS
    app = QApplication.instance()
    widget.warm_up.join()
    run = widget.start()
    while run.running:
        app.processEvents()
        time.sleep(0.005)
    seconds = run.output.metadata[METADATA_KEY]["elapsed"]
    viewer.close()
    return seconds


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--viewer":
        print(viewer_seconds(int(sys.argv[2])))
        return 0
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(2)]
    for p in spinners:
        p.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cli = cli_seconds(Path(tmp))
        rows = {"cli_s": cli}
        for nice in (0, 10):
            done = subprocess.run(
                [sys.executable, __file__, "--viewer", str(nice)],
                capture_output=True,
                text=True,
                check=True,
            )
            rows[f"viewer_nice{nice}_s"] = float(done.stdout.strip().splitlines()[-1])
            print(json.dumps(rows), file=sys.stderr, flush=True)
    finally:
        for p in spinners:
            p.terminate()
    rows["ratio_now"] = rows["viewer_nice0_s"] / rows["cli_s"]
    rows["ratio_nice10"] = rows["viewer_nice10_s"] / rows["cli_s"]
    from common import measured_with

    record = {
        **measured_with(),
        "size": SIZE,
        "steps": STEPS,
        "busy_processes": 2,
        **rows,
    }
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(rows), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
