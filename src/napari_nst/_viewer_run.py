"""One style-transfer run inside a napari viewer: worker, output layer, progress.

Used by the dock widget and by ``stylize_in_viewer`` from the console. The maths
is the engine's; this module only moves arrays between layers and the worker,
always changing only the output layer it created.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ._layers import (
    current_slice_index,
    layer_contrast_limits,
    layer_plane,
    shown_plane,
    slice_dims,
)
from ._writer import RECORD_KEY as METADATA_KEY
from . import __version__
from .engine.errors import friendly_message
from .engine.params import StyleParams

# The worker waits at most this long for the UI to draw a yielded image before it
# goes on regardless (a UI that is busy elsewhere must not stall the run for good).
REDRAW_WAIT_S = 1.0


@dataclass
class RunInputs:
    """Copies of everything the worker reads, taken on the main thread at start."""

    content_name: str
    style_names: list[str]
    planes: list[tuple[tuple[int, ...], np.ndarray]]  # (slice index, content plane)
    content_limits: tuple | None
    styles: list[tuple[np.ndarray, float]]
    style_limits: list
    lead_shape: tuple[int, ...]  # leading dims of the output layer
    init: np.ndarray | None = None
    guides: object = None  # engine Guides, reading a Labels/Shapes layer live
    layer_scale: np.ndarray = field(default_factory=lambda: np.ones(2))
    layer_translate: np.ndarray = field(default_factory=lambda: np.zeros(2))
    source_hw: tuple[int, int] = (1, 1)

    def without_pixels(self) -> RunInputs:
        """The same description with the image copies dropped (a finished run needs none)."""
        return replace(
            self,
            planes=[(index, None) for index, _ in self.planes],
            styles=[(None, weight) for _, weight in self.styles],
            init=None,
            guides=None,
        )


def region_guides(viewer, layer, hw, n_styles: int, unlabelled: int | None):
    """Guides that read ``layer`` (Labels or Shapes) afresh at every step.

    Label k (k ≥ 1) takes style k (1 = the first style); label 0 takes
    ``unlabelled`` (None: content only). Shapes are rasterised: shape k is label k.
    """
    from napari.layers import Shapes

    from .engine.guides import Guides

    layer = _unwrapped(layer)  # read from the worker thread: no proxy in between
    if isinstance(layer, Shapes):

        def read():
            return layer.to_labels(labels_shape=hw)

    else:
        index = current_slice_index(layer, viewer) if layer.data.ndim > 2 else ()

        def read():
            return np.asarray(layer.data[index] if index else layer.data)

    styles = {k: k - 1 for k in range(1, n_styles + 1)}
    styles[0] = unlabelled
    return Guides(read, styles=styles, default=None)


def gather_inputs(
    viewer, content, styles, *, all_slices=False, init=None, regions=None, unlabelled=None
) -> RunInputs:
    """Read (and copy) the content and style layers as the engine needs them."""
    lead = slice_dims(content)
    if lead and all_slices:
        indices = list(np.ndindex(*content.data.shape[:lead]))
        lead_shape = content.data.shape[:lead]
    else:
        indices = [current_slice_index(content, viewer)]
        lead_shape = (1,) * lead
    planes = [(idx, layer_plane(content, idx)) for idx in indices]
    style_arrays, style_limits = [], []
    for layer, weight in styles:
        style_arrays.append((shown_plane(layer, viewer), weight))
        style_limits.append(layer_contrast_limits(layer))
    hw = planes[0][1].shape[:2]
    return RunInputs(
        content_name=content.name,
        style_names=[layer.name for layer, _ in styles],
        planes=planes,
        content_limits=layer_contrast_limits(content),
        styles=style_arrays,
        style_limits=style_limits,
        lead_shape=lead_shape,
        init=init,
        layer_scale=np.asarray(content.scale, dtype=float),
        layer_translate=np.asarray(content.translate, dtype=float),
        source_hw=(int(hw[0]), int(hw[1])),
        guides=None
        if regions is None
        else region_guides(viewer, regions, tuple(hw[:2]), len(styles), unlabelled),
    )


class ViewerRun:
    """Runs ``stylize`` in a napari thread worker and streams G into one layer."""

    def __init__(
        self,
        viewer,
        inputs: RunInputs,
        params: StyleParams,
        *,
        on_step: Callable | None = None,
        on_finish: Callable | None = None,
    ):
        self.viewer = viewer
        self.inputs = inputs
        self.params = params
        self.on_step = on_step
        self.on_finish = on_finish
        self.output = None  # the layer this run created
        self.first_output_at: float | None = None  # perf_counter() when it appeared
        self.history: list[dict] = []
        self.error: str | None = None
        self.device = ""
        self._stop = threading.Event()
        self._shown = threading.Event()  # the last yielded image has been drawn
        self._redraw_notifier = None
        self._start_time = 0.0
        self._progress = None
        self._bar_time = 0.0
        self._done = False
        self.worker = None

    # -- control ------------------------------------------------------------------------
    def start(self):
        from napari.qt.threading import create_worker
        from napari.utils import progress

        total = self.params.stack_steps(len(self.inputs.planes))
        self._progress = progress(total=total, desc="Style transfer")
        self._start_time = time.perf_counter()
        self._redraw_notifier = _RedrawNotifier(self._shown.set)
        self._download_bar = _download_bar()  # first made here, on the main thread
        self.worker = create_worker(self._work, _ignore_errors=True)
        self.worker.yielded.connect(self._on_event)
        self.worker.finished.connect(self._on_finished)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.worker.nst_run = self  # the console can reach the run from the worker
        self.worker.start()
        return self.worker

    def stop(self):
        """End the run within one step; the last image stays in the output layer."""
        self._stop.set()
        self._shown.set()
        if self.worker is not None and self.worker.is_paused:
            self.worker.resume()

    def shutdown(self):
        """Stop for good (the widget or viewer is closing): no more layer or UI updates."""
        self._stop.set()
        self._shown.set()
        self.on_step = self.on_finish = None
        if self.worker is not None:
            with contextlib.suppress(TypeError, RuntimeError):
                self.worker.yielded.disconnect(self._on_event)
            self.worker.quit()
            if self.worker.is_paused:
                self.worker.resume()

    def pause(self):
        if self.worker is not None:
            self.worker.pause()

    def resume(self):
        if self.worker is not None:
            self.worker.resume()

    @property
    def running(self) -> bool:
        return self.worker is not None and not self._done

    # -- worker thread ------------------------------------------------------------------
    def _work(self):
        from .engine.run import DivergedError
        from .engine.stack import stylize_stack

        ins = self.inputs
        try:
            for n, step in stylize_stack(
                [plane for _, plane in ins.planes],
                ins.styles,
                self.params,
                content_limits=ins.content_limits,
                style_limits=ins.style_limits,
                guides=ins.guides,
                init=ins.init,
                should_stop=self._stop.is_set,
                download_progress=self._download_bar.progressed.emit,
            ):
                self._shown.clear()
                yield ("step", n, ins.planes[n][0], step)
                # Compute on only once the UI has drawn this image, so that the redraw
                # runs on an idle CPU (measured in docs/benchmarks.md, section 5).
                self._shown.wait(REDRAW_WAIT_S)
        except DivergedError as err:
            yield ("error", str(err), None)
        except Exception as err:  # every failure becomes one sentence for the user
            yield ("error", friendly_message(err), None)

    # -- main thread --------------------------------------------------------------------
    def _on_event(self, event):
        kind = event[0]
        if kind == "error":
            self._report_error(event[1])
            return
        _, n, index, step = event
        # Let the worker go on once Qt has drawn what this event changes.
        self._redraw_notifier.notify_after_next_redraw()
        if self.output is None:
            self._create_output(index, step.image)
            self.first_output_at = time.perf_counter()
            # Adding a layer is the longest thing napari does in a run (~50 ms here):
            # the bookkeeping waits for the next event-loop turn.
            _next_turn(lambda: self._record(n, step), ms=0)
            return
        if not any(_unwrapped(lay) is _unwrapped(self.output) for lay in self.viewer.layers):
            return  # _on_layer_removed already stopped the run
        self._write_image(index, step.image)
        self._record(n, step)

    def _record(self, n, step):
        """History, metadata, progress bar and the widget's view of one step."""
        self.device = step.device
        entry = {"slice": n, "iteration": step.iteration, **step.losses}
        self.history.append(entry)
        self._update_metadata(step)
        done = self.params.stack_steps(n) + step.iteration
        now = time.perf_counter()
        # The activity dock's bar repaints the whole window (napari calls processEvents
        # on every change), 15-35 ms on a software-GL display while the run uses every
        # core (measured). So it moves at most every 2 s, and its text and its value
        # change in separate event-loop turns after the output layer has been drawn,
        # each turn kept short rather than one long stall.
        bar = self._progress
        if bar is not None and (now - self._bar_time >= 2.0 or done >= bar.total):
            self._bar_time = now
            text = f"Style transfer {done}/{bar.total} · J = {step.losses['total']:.4g}"
            _next_turn(lambda: self._bar_text(bar, text, done))
        if self.on_step is not None:
            self.on_step(self, step)

    def _bar_text(self, bar, text: str, done: int):
        if bar is self._progress:  # else the run ended meanwhile and closed it
            bar.set_description(text)
            _next_turn(lambda: self._bar_value(bar, done))

    def _bar_value(self, bar, done: int):
        if bar is self._progress:
            bar.update(done - bar.n)

    def _create_output(self, index, image):
        ins = self.inputs
        h, w = image.shape[:2]
        if ins.lead_shape:
            data = np.zeros((*ins.lead_shape, h, w, 3), dtype=np.float32)
            data[self._output_index(index)] = image
        else:
            data = image
        # Scale so that the output overlays the content exactly, whatever its size.
        yx_scale = ins.layer_scale[-2:] * (np.asarray(ins.source_hw) / np.asarray((h, w)))
        scale = np.concatenate([ins.layer_scale[:-2], yx_scale])
        translate = ins.layer_translate.copy()
        if len(ins.planes) == 1 and ins.lead_shape:
            # One slice of a stack: place the 2-D result at that slice's position.
            lead = len(ins.lead_shape)
            translate[:lead] += np.asarray(ins.planes[0][0]) * ins.layer_scale[:lead]
        name = f"{ins.content_name} × {' + '.join(ins.style_names)}"
        with _not_selecting_new_layers(self.viewer.layers):
            self.output = self.viewer.add_image(
                data,
                name=name,
                rgb=True,
                contrast_limits=(0.0, 1.0),
                scale=scale,
                translate=translate,
                metadata={METADATA_KEY: {}},
            )

    def _output_index(self, index):
        """Where a slice's result goes in the output stack (a one-slice run: its only slice)."""
        return index if len(self.inputs.planes) > 1 else (0,) * len(self.inputs.lead_shape)

    def _write_image(self, index, image):
        layer = self.output
        if not self.inputs.lead_shape:
            layer.data = image
            return
        layer.data[self._output_index(index)] = image
        layer.refresh()

    def _update_metadata(self, step):
        self.output.metadata[METADATA_KEY] = {
            "params": self.params.to_dict(),
            "content": self.inputs.content_name,
            "styles": [
                {"name": name, "weight": weight}
                for name, (_, weight) in zip(self.inputs.style_names, self.inputs.styles)
            ],
            "versions": {
                "napari-nst": __version__,
                "torch": importlib.metadata.version("torch"),
                "weights": f"{self.params.weights}@{step.weights_version}",
            },
            "device": step.device,
            "loss_history": self.history,
            "elapsed": time.perf_counter() - self._start_time,
        }

    def _stop_watching_layers(self):
        with contextlib.suppress(TypeError, ValueError, RuntimeError):
            self.viewer.layers.events.removed.disconnect(self._on_layer_removed)

    def _on_layer_removed(self, event):
        layer = event.value
        if not self.running:
            if self.output is not None and _unwrapped(layer) is _unwrapped(self.output):
                self.output = None  # a deleted result must not outlive the viewer's hold
                self._stop_watching_layers()
            return
        if self.output is not None and _unwrapped(layer) is _unwrapped(self.output):
            self._report_error("The output layer was deleted, so the run was stopped.")
        elif layer.name == self.inputs.content_name or layer.name in self.inputs.style_names:
            self._report_error(
                f"Layer '{layer.name}' was deleted while in use, so the run was stopped. "
                "The result so far is kept."
            )

    def _report_error(self, message: str):
        if self.error is not None:  # one fault, one message
            return
        self.error = message
        self.stop()
        _next_turn(lambda: self._notify(message), ms=0)

    def _notify(self, message: str):
        from napari.utils.notifications import show_error

        if len(self.viewer.layers) == 0:  # the viewer is closing (it removes every layer)
            return
        show_error(message)

    def _on_finished(self):
        self._done = True
        self._download_bar.close()
        # napari 0.9 keeps every finished worker, and with it this run: keep no pixels.
        self.inputs = self.inputs.without_pixels()
        if self.output is None:
            self._stop_watching_layers()
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if self.on_finish is not None:
            self.on_finish(self)


def start_warm_up() -> threading.Thread:
    """Import torch and load the default weights in a background thread (see warm_up).

    Any failure is left for the run itself to report in a sentence.
    """

    def work():
        with contextlib.suppress(Exception):
            from .engine.run import warm_up

            warm_up()

    thread = threading.Thread(target=work, name="napari-nst warm-up")
    thread.start()
    return thread


@functools.cache
def _download_bar():
    """The napari progress bar for weights downloads reported from worker threads.

    One for the process, made on the main thread (where its reports are shown)."""
    from qtpy.QtCore import QObject, Signal

    class DownloadBar(QObject):
        progressed = Signal(int, int)  # bytes done, bytes in all (0: unknown)

        def __init__(self):
            super().__init__()
            self.bar = None
            self.latest = None  # (done, total) not shown yet
            self.showing = False
            self.progressed.connect(self._show)

        def _show(self, done, total):
            self.latest = (done, total)
            if self.showing:  # napari's bar runs the event loop: a report can arrive here
                return
            self.showing = True
            try:
                while self.latest is not None:
                    (done, total), self.latest = self.latest, None
                    if self.bar is None:
                        from napari.utils import progress

                        mib = max(total, done, 1) // 2**20 or 1
                        self.bar = progress(total=mib, desc="Downloading VGG19 weights (MB)")
                    self.bar.n = done // 2**20
                    self.bar.refresh()
                    if total and done >= total:
                        self.close()
            finally:
                self.showing = False

        def close(self):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return DownloadBar()


class _RedrawNotifier:
    """Calls ``callback`` once Qt has repainted the window after a change.

    A change to a layer makes Qt deliver an UpdateRequest to the main window a few
    milliseconds later, and the canvas is drawn while that event is handled. An
    application event filter, installed only while waiting, sees it arrive; the
    callback then runs in the next event-loop turn, after the paint. Should no
    repaint come (a hidden layer, a minimised window), it runs after ``NO_REDRAW_MS``.
    """

    NO_REDRAW_MS = 100

    def __init__(self, callback):
        from qtpy.QtCore import QEvent, QObject, QTimer

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
        from qtpy.QtWidgets import QApplication

        if not self._waiting:
            self._waiting = True
            QApplication.instance().installEventFilter(self._watcher)
            self._fallback.start(self.NO_REDRAW_MS)

    def _finish(self):
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QApplication

        if self._waiting:
            self._waiting = False
            self._fallback.stop()
            QApplication.instance().removeEventFilter(self._watcher)
            QTimer.singleShot(0, self._callback)


@contextlib.contextmanager
def _not_selecting_new_layers(layers):
    """Add a layer without making it the selected one.

    Selecting it rebuilds the layer-controls panel and the viewer's active-layer
    state. ``_activate_on_insert`` is napari's (0.5-0.9) and private: reading it
    through napari's proxy warns (issue #16). A public-API version (select, then
    give the selection back) was set aside when the memory test of twenty runs
    failed with it; that test has since been found noisy, so it is worth a retry.
    """
    had = getattr(layers, "_activate_on_insert", None)
    if had is None:
        yield
        return
    layers._activate_on_insert = False
    try:
        yield
    finally:
        layers._activate_on_insert = had


def _next_turn(callback, ms: int = 25):
    """Run ``callback`` in a later turn of the Qt event loop (after ``ms``)."""
    from qtpy.QtCore import QTimer

    QTimer.singleShot(ms, callback)


def _unwrapped(obj):
    """The object behind napari's PublicOnlyProxy (plugins get proxies of the viewer)."""
    return getattr(obj, "__wrapped__", obj)
