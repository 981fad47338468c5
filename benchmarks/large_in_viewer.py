"""A 3000×4000 content at its own size in a real viewer: blocks, progress, stalls, saving.

    xvfb-run -a python benchmarks/large_in_viewer.py    # writes docs/results/large_in_viewer.json

The widget's Run with Size 0 (the content's own size) and the defaults but for Steps
(fixed, few, so that the top stage is reached in minutes on a CPU). The run is stopped
once a step of the top stage, which runs in blocks, has been shown; the result is
saved as a TIFF with its record. Recorded: the status lines with their times, the
largest gap between 10 ms QTimer ticks after the first output (napari's own floor,
adding a 3000×4000 RGB layer and a multiscale one to the same viewer, measured after),
and the saved file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
OUT = HERE.parent / "docs" / "results" / "large_in_viewer.json"
HW = (3000, 4000)


def _pictures():
    import numpy as np
    import skimage.data
    from skimage import io
    from skimage.transform import resize

    if (SHARED / "tubingen.jpg").is_file():
        content, style = io.imread(SHARED / "tubingen.jpg"), io.imread(SHARED / "shipwreck.jpg")
    else:
        content, style = skimage.data.coffee(), skimage.data.immunohistochemistry()
    big = resize(content, HW, order=1, anti_aliasing=False, preserve_range=True)
    return big.astype(np.uint8), style


def _wait(app, condition, timeout):
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError
        app.processEvents()
        time.sleep(0.002)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import napari
    import numpy as np
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from common import measured_with
    from napari_nst._napari.output_layer import pyramid
    from napari_nst._napari.writer import read_record

    content, style = _pictures()
    viewer = napari.Viewer()
    viewer.add_image(content, name="photo 3000×4000")
    viewer.add_image(style, name="style")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value = viewer.layers["photo 3000×4000"]
    widget.style.value = viewer.layers["style"]
    widget.size.value = 0
    widget.auto_stop.value = False
    widget.steps.value = args.steps
    app = QApplication.instance()
    _wait(app, lambda: not widget.warm_up.is_alive(), 300)
    status, steps = [], []
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    run = widget.start()
    assert run is not None, widget.last_message
    run.status.events.steps_done.connect(
        lambda _e: steps.append((time.perf_counter(), run.status.stage, run.status.stage_blocks))
    )
    for event in (run.status.events.blocks, run.status.events.steps_done):  # the status line
        event.connect(lambda _e: status.append((time.perf_counter(), run.status.text)))
    started = time.perf_counter()
    timer.start()
    _wait(app, lambda: any(blocks for _, _, blocks in steps), 3 * 3600)
    top_step_at = time.perf_counter()
    widget._on_run_clicked()  # Stop
    _wait(app, lambda: not run.running, 3600)
    timer.stop()
    first = run.first_output_at or started
    later = [b - a for a, b in itertools.pairwise(ticks) if a >= first] or [0.0]
    out = run.output
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.tif"
        viewer.layers.selection.active = out
        save_start = time.perf_counter()
        written = viewer.layers.save(str(path), selected=True, plugin="napari-nst")
        save_s = time.perf_counter() - save_start
        saved_bytes = path.stat().st_size
        record = read_record(path)
    # napari's own floor on this display: adding a result-sized RGB layer, plain and
    # as the plugin's multiscale pyramid.
    image = np.asarray(out.data[0])
    floor = {}
    for name, data in (("plain", image), ("multiscale", pyramid(image))):
        t = time.perf_counter()
        viewer.add_image(data, rgb=True, name=f"floor {name}", contrast_limits=(0, 1))
        app.processEvents()
        floor[f"add_{name}_ms"] = round(1000 * (time.perf_counter() - t), 1)
    result = {
        **measured_with(run.params),
        "content_hw": list(HW),
        "steps_param": args.steps,
        "stage_sizes": list(run.params.stage_sizes(max(HW))),
        "steps_shown": [(round(t - started, 1), stage, blocks) for t, stage, blocks in steps],
        "status": [(round(t - started, 1), text) for t, text in status][:200],
        "seconds_to_first_top_stage_step": round(top_step_at - started, 1),
        "stop_reason": run.stop_reason,
        "error": run.error,
        "output_multiscale": bool(out.multiscale),
        "output_shape": list(image.shape),
        "max_gap_after_first_output_ms": round(1000 * max(later), 1),
        "napari_floor": floor,
        "saved": written == [str(path)],
        "saved_mib": round(saved_bytes / 2**20, 1),
        "save_s": round(save_s, 1),
        "record_params_size": record["params"]["size"] if record else "missing",
    }
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "status"}, ensure_ascii=False))
    viewer.close()


if __name__ == "__main__":
    main()
