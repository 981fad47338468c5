"""napari's own stalls, with no plugin: the floor under the widget's UI figures.

    xvfb-run -a python benchmarks/napari_floor.py --trials 5
Prints one JSON line: for each action, the largest gap between 10 ms QTimer
ticks around it, once per trial, in a viewer holding the sample pair's two images.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()

    import napari
    import numpy as np
    import skimage.data
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer()
    viewer.add_image(skimage.data.astronaut(), name="astronaut")
    viewer.add_image(skimage.data.hubble_deep_field(), name="hubble")
    app = QApplication.instance()
    rng = np.random.default_rng(0)

    def image():  # what the widget streams at 512 px: float RGB in [0, 1]
        return rng.random((384, 512, 3), dtype=np.float32)

    def spin(seconds):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)

    def add(selected: bool):
        layers = viewer.layers
        # napari's default selects a new layer; the widget adds its output unselected
        had = layers._activate_on_insert
        layers._activate_on_insert = selected
        try:
            return viewer.add_image(image(), rgb=True, contrast_limits=(0.0, 1.0))
        finally:
            layers._activate_on_insert = had

    def largest_gap(action):
        ticks = []
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        spin(0.3)
        result = action()
        spin(0.5)
        timer.stop()
        return round(1000 * max(b - a for a, b in itertools.pairwise(ticks)), 1), result

    spin(3.0)  # the window is up and drawn
    out = {"nothing": [], "add_selected": [], "add_unselected": [], "set_data": []}
    for _ in range(args.trials):
        out["nothing"].append(largest_gap(lambda: None)[0])
        for selected, key in ((True, "add_selected"), (False, "add_unselected")):
            gap, layer = largest_gap(lambda s=selected: add(s))
            out[key].append(gap)
            viewer.layers.remove(layer)
            spin(0.3)
        layer = add(False)
        spin(0.5)
        gap, _ = largest_gap(lambda lay=layer: setattr(lay, "data", image()))
        out["set_data"].append(gap)
        viewer.layers.remove(layer)
        spin(0.3)
    print(json.dumps({"napari": napari.__version__, **out}))
    viewer.close()


if __name__ == "__main__":
    main()
