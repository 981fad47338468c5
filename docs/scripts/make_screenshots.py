"""Screenshots of the real napari viewer for the docs (run under Xvfb on Linux):

    xvfb-run -a python docs/scripts/make_screenshots.py --out docs/images

1. getting_started_widget.png: the sample pair loaded, the widget docked, mid-run;
   widget_simple.png and widget_advanced.png: the dock itself, folded and unfolded.
2. regions_run.png: two styles placed by a Labels layer.
3. stack_run.png: a Z stack stylised slice by slice ("All slices").

Every control stays at its default except what a shot shows: the regions and the
second style in 2; All slices and Size 0 (the stack's own size) in 3. The default
Size is the widget's on this machine (256 px without a GPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def wait(app, condition, timeout=600.0):
    import time

    end = time.monotonic() + timeout
    while not condition():
        app.processEvents()
        if time.monotonic() > end:
            raise TimeoutError("the run did not get there in time")
        time.sleep(0.01)


def save_png(path: Path, image, width=1000):
    from PIL import Image

    img = Image.fromarray(np.asarray(image)[..., :3])
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img = img.quantize(colors=128, dither=Image.Dither.NONE)  # small PNGs for the hub page
    img.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)", flush=True)


def grab(qwidget) -> np.ndarray:
    """The widget as drawn, at its full size (unlike a window screenshot, never clipped)."""
    import io

    from PIL import Image
    from qtpy.QtCore import QBuffer, QIODevice

    qwidget.adjustSize()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    qwidget.grab().save(buffer, "PNG")
    return np.asarray(Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/images")
    ap.add_argument("--steps-before-shot", type=int, default=120)
    ap.add_argument("--widget-only", action="store_true", help="only the shots of part 1")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="napari-nst")
    viewer.window.resize(1500, 900)
    viewer.open_sample("napari-nst", "astronaut_hubble")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    app = QApplication.instance()
    # As a user would: Run once the widget knows the devices (without a GPU it then
    # starts at its CPU size).
    wait(app, lambda: widget.device.native.itemText(0).startswith("auto →"))
    run = widget.start()
    wait(app, lambda: len(run.history) >= args.steps_before_shot)
    viewer.layers["astronaut (content)"].visible = False
    viewer.layers["Hubble deep field (style)"].visible = False
    app.processEvents()
    save_png(out / "getting_started_widget.png", viewer.screenshot(canvas_only=False))
    run.stop()
    wait(app, lambda: not run.running)
    save_png(out / "widget_simple.png", grab(widget.native), width=500)
    widget.advanced.set_expanded(True)
    widget.folder.fold.set_expanded(True)
    app.processEvents()
    save_png(out / "widget_advanced.png", grab(widget.native), width=500)
    widget.advanced.set_expanded(False)
    widget.folder.fold.set_expanded(False)
    if args.widget_only:
        viewer.close()
        return

    # Two styles placed by a Labels layer.
    import skimage.data

    viewer.layers.clear()
    coffee = skimage.data.coffee()
    viewer.add_image(coffee, name="coffee (content)")
    viewer.add_image(skimage.data.immunohistochemistry(), name="IHC (style 1)")
    viewer.add_image(skimage.data.brick(), name="brick (style 2)")
    regions = np.ones(coffee.shape[:2], dtype=np.uint8)
    regions[:, coffee.shape[1] // 2 :] = 2
    labels = viewer.add_labels(regions, name="regions", opacity=0.25)
    widget.content.value = viewer.layers["coffee (content)"]
    widget.style.value = viewer.layers["IHC (style 1)"]
    widget.inputs.add_style_row()
    widget.inputs._extra_rows[0].layer.value = viewer.layers["brick (style 2)"]
    widget.regions.value = labels
    run = widget.start()
    wait(app, lambda: not run.running)
    for name in ("coffee (content)", "IHC (style 1)", "brick (style 2)"):
        viewer.layers[name].visible = False
    viewer.layers.move(viewer.layers.index(labels), len(viewer.layers))
    app.processEvents()
    save_png(out / "regions_run.png", viewer.screenshot(canvas_only=False))
    widget.inputs.remove_style_row(widget.inputs._extra_rows[0])
    widget.regions.value = None

    # A small Z stack made from a photo drifting across frames.
    viewer.layers.clear()
    photo = skimage.data.coffee()[::4, ::4].mean(-1) / 255
    stack = np.stack([np.roll(photo, 6 * z, axis=1) for z in range(4)]).astype(np.float32)
    viewer.add_image(stack, name="drifting coffee (content)")
    viewer.add_image(skimage.data.immunohistochemistry(), name="IHC (style)")
    widget.content.value = viewer.layers[0]
    widget.style.value = viewer.layers[1]
    widget.all_slices.value = True
    widget.size.value = 0  # the stack's own size
    run = widget.start()
    wait(app, lambda: not run.running)
    viewer.layers["IHC (style)"].visible = False
    viewer.layers["drifting coffee (content)"].visible = False
    viewer.dims.set_current_step(0, 2)
    viewer.grid.enabled = False
    app.processEvents()
    save_png(out / "stack_run.png", viewer.screenshot(canvas_only=False))
    viewer.close()


if __name__ == "__main__":
    main()
