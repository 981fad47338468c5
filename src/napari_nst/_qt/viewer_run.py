"""One style-transfer run inside a napari viewer: its worker, its state, its progress.

Used by the dock widget and by ``stylize_in_viewer`` from the console. The maths
is the engine's; the pixels in are ``_inputs``'s copies and the pixels out go to
one ``OutputLayer``, the only layer a run changes.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from napari.qt.threading import create_worker
from napari.utils import progress
from napari.utils.notifications import show_error
from qtpy.QtCore import QObject, Signal

from .._inputs import LayerInputs
from .._output_layer import OutputLayer
from ..engine import planes, stack
from ..engine.errors import friendly_message
from ..engine.params import StyleParams
from ..engine.step import Step
from .download_bar import download_bar
from .redraw import RedrawNotifier, next_turn

# The worker waits at most this long for the UI to draw a yielded image before it
# goes on regardless (a UI that is busy elsewhere must not stall the run for good).
REDRAW_WAIT_S = 1.0
# The activity dock's bar repaints the whole window at every change (napari runs the
# event loop there): it moves at most this often (docs/performance-notes.md).
BAR_EVERY_S = 2.0


class BlockSignal(QObject):
    """A large stage's block progress, from the worker thread to the main thread."""

    progressed = Signal(int, int, int)  # pass (1: sums, 2: gradient), blocks done, blocks


def block_text(stage_pass: int, done: int, count: int) -> str:
    what = "sums" if stage_pass == 1 else "gradient"
    return f"block pass {stage_pass} ({what}): block {done + 1}/{count}"


class RunState(enum.Enum):
    IDLE = "idle"  # made, not started
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop: ends within one step
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class StepEvent:
    """The worker has a new image for plane ``plane`` (at ``index`` in the stack)."""

    plane: int
    index: tuple[int, ...]
    step: Step


@dataclass(frozen=True)
class ErrorEvent:
    """The run failed; ``message`` is one sentence for the user."""

    message: str


@dataclass(frozen=True)
class EndEvent:
    """The engine ended the run: ``reason`` is the last Step's stop_reason."""

    reason: str
    iteration: int


class ViewerRun:
    """Runs ``stylize_stack`` in a napari thread worker and streams G into one layer.

    A stack's planes run as tasks on a Dask cluster instead when they can
    (``planes.can_run_on_cluster``): without a temporal weight each its own run, on a
    local cluster or the ``scheduler`` given; with one, in chains on the ``scheduler``
    given. Each plane then shows when it is done, and the progress counts planes.
    A stage too large for memory runs in blocks: on the ``scheduler`` given, else here.
    """

    def __init__(
        self,
        viewer,
        inputs: LayerInputs,
        params: StyleParams,
        *,
        on_step: Callable | None = None,
        on_finish: Callable | None = None,
        on_blocks: Callable | None = None,
        scheduler: str | None = None,
    ):
        self.viewer = viewer
        self.inputs = inputs
        self.params = params
        self.scheduler = scheduler or None
        self.on_cluster = planes.can_run_on_cluster(
            params, len(inputs.planes), inputs.guides, inputs.init, self.scheduler
        )
        self.on_step = on_step
        self.on_finish = on_finish
        self.on_blocks = on_blocks  # (run, pass, done, blocks): a large stage's progress
        self.block_status: tuple | None = None  # the last (pass, done, blocks) reported
        self.state = RunState.IDLE
        self.out = OutputLayer(viewer, inputs)
        self.first_output_at: float | None = None  # perf_counter() when it appeared
        self.history: list[dict] = []
        self.error: str | None = None
        self.stop_reason = ""  # from EndEvent: "steps", "settled" or "stopped"
        self.last_iteration = 0
        self.device = ""
        self.worker = None
        self._stop = threading.Event()
        self._shown = threading.Event()  # the last yielded image has been drawn
        self._redraw_notifier = None
        self._start_time = 0.0
        self._progress = None
        self._bar_time = 0.0

    @property
    def output(self):
        """The layer this run created (None before the first image or once deleted)."""
        return self.out.layer

    @property
    def running(self) -> bool:
        return self.state in (RunState.RUNNING, RunState.PAUSED, RunState.STOPPING)

    # -- control ------------------------------------------------------------------------
    def start(self) -> ViewerRun:
        count = len(self.inputs.planes)
        total = count if self.on_cluster else self.params.stack_steps(count)
        self._progress = progress(total=total, desc="Style transfer")
        self._start_time = time.perf_counter()
        self._redraw_notifier = RedrawNotifier(self._shown.set)
        self._download_bar = download_bar()  # first made here, on the main thread
        self._blocks = BlockSignal()
        self._blocks.progressed.connect(self._on_blocks)
        self.worker = create_worker(self._work, _ignore_errors=True)
        self.worker.yielded.connect(self._on_event)
        self.worker.finished.connect(self._on_finished)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.worker.nst_run = self  # the console can reach the run from the worker
        self.state = RunState.RUNNING
        self.worker.start()
        return self

    def stop(self):
        """End the run within one step; the last image stays in the output layer."""
        if self.running:
            self.state = RunState.STOPPING
        self._stop.set()
        self._shown.set()
        if self.worker is not None and self.worker.is_paused:
            self.worker.resume()

    def shutdown(self):
        """Stop for good (the widget or viewer is closing): no more layer or UI updates."""
        self.stop()
        self.on_step = self.on_finish = None
        if self.worker is not None:
            with contextlib.suppress(TypeError, RuntimeError):  # already disconnected
                self.worker.yielded.disconnect(self._on_event)
            self.worker.quit()

    def pause(self):
        if self.state is RunState.RUNNING:
            self.worker.pause()
            self.state = RunState.PAUSED

    def resume(self):
        if self.state is RunState.PAUSED:
            self.worker.resume()
            self.state = RunState.RUNNING

    # -- worker thread ------------------------------------------------------------------
    def _work(self):
        ins = self.inputs
        try:
            last = None
            frames = [plane for _, plane in ins.planes]
            limits = {"content_limits": ins.content_limits, "style_limits": ins.style_limits}
            if self.on_cluster:
                steps = planes.stylize_planes(
                    frames,
                    ins.styles,
                    self.params,
                    **limits,
                    scheduler=self.scheduler,
                    should_stop=self._stop.is_set,
                )
            else:
                steps = stack.stylize_stack(
                    frames,
                    ins.styles,
                    self.params,
                    **limits,
                    guides=ins.guides,
                    init=ins.init,
                    should_stop=self._stop.is_set,
                    download_progress=self._download_bar.progressed.emit,
                    block_progress=self._blocks.progressed.emit,
                    blocks_on=self.scheduler,  # a large stage's blocks, where one is named
                )
            for n, step in steps:
                self._shown.clear()
                last = step
                yield StepEvent(n, ins.planes[n][0], step)
                # Compute on only once the UI has drawn this image, so that the redraw
                # runs on an idle CPU (docs/performance-notes.md).
                self._shown.wait(REDRAW_WAIT_S)
            if last is not None:
                # Planes on a cluster end with their own runs; a stop is the run's.
                stopped = self.on_cluster and self._stop.is_set()
                yield EndEvent("stopped" if stopped else last.stop_reason, last.iteration)
        except Exception as err:  # every failure becomes one sentence for the user
            yield ErrorEvent(friendly_message(err))

    # -- main thread --------------------------------------------------------------------
    def _on_event(self, event):
        if isinstance(event, ErrorEvent):
            self._report_error(event.message)
        elif isinstance(event, EndEvent):
            self.stop_reason, self.last_iteration = event.reason, event.iteration
        else:
            self._on_step_event(event)

    def _on_step_event(self, event: StepEvent):
        # Let the worker go on once Qt has drawn what this event changes.
        self._redraw_notifier.notify_after_next_redraw()
        if self.out.layer is None:
            self.out.show(event.index, event.step.image)
            self.first_output_at = time.perf_counter()
            # Adding a layer is the longest thing napari does in a run: the
            # bookkeeping waits for the next event-loop turn.
            next_turn(lambda: self._record(event.plane, event.step), ms=0)
            return
        if not self.out.in_viewer():
            return  # _on_layer_removed already stopped the run
        self.out.show(event.index, event.step.image)
        self._record(event.plane, event.step)

    def _on_blocks(self, stage_pass, done, count):
        self.block_status = (stage_pass, done, count)
        bar = self._progress
        if bar is not None:
            bar.set_description(f"Style transfer · {block_text(stage_pass, done, count)}")
        if self.on_blocks is not None:
            self.on_blocks(self, stage_pass, done, count)

    def _record(self, n, step):
        """History, metadata, progress bar and the widget's view of one step."""
        self.device = step.device
        self.history.append({"slice": n, "iteration": step.iteration, **step.losses})
        if self.out.layer is not None:
            elapsed = time.perf_counter() - self._start_time
            self.out.record(self.params, step, self.history, elapsed)
        if self.on_cluster:  # each step is a plane's last: the history counts finished planes
            done = len(self.history)
        else:
            done = self.params.stack_steps(n) + step.iteration
        now = time.perf_counter()
        # The bar's text and value change in separate event-loop turns after the
        # output layer has been drawn: each turn short rather than one long stall.
        bar = self._progress
        if bar is not None and (now - self._bar_time >= BAR_EVERY_S or done >= bar.total):
            self._bar_time = now
            unit = " slices" if self.on_cluster else ""
            text = f"Style transfer {done}/{bar.total}{unit} · J = {step.losses['total']:.4g}"
            next_turn(lambda: self._bar_text(bar, text, done))
        if self.on_step is not None:
            self.on_step(self, step)

    def _bar_text(self, bar, text: str, done: int):
        if bar is self._progress:  # else the run ended meanwhile and closed it
            bar.set_description(text)
            next_turn(lambda: self._bar_value(bar, done))

    def _bar_value(self, bar, done: int):
        if bar is self._progress:
            bar.update(done - bar.n)

    def _stop_watching_layers(self):
        with contextlib.suppress(TypeError, ValueError, RuntimeError):  # already, or gone
            self.viewer.layers.events.removed.disconnect(self._on_layer_removed)

    def _on_layer_removed(self, event):
        layer = event.value
        if not self.running:
            if self.out.is_it(layer):
                self.out.layer = None  # a deleted result must not outlive the viewer's hold
                self._stop_watching_layers()
            return
        if self.out.is_it(layer):
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
        next_turn(lambda: self._notify(message), ms=0)

    def _notify(self, message: str):
        if len(self.viewer.layers) == 0:  # the viewer is closing (it removes every layer)
            return
        show_error(message)

    def _on_finished(self):
        self.state = RunState.FAILED if self.error is not None else RunState.DONE
        self._download_bar.close()
        # napari 0.9 keeps every finished worker, and with it this run: keep no pixels.
        self.inputs = self.inputs.without_pixels()
        if self.out.layer is None:
            self._stop_watching_layers()
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        if self.on_finish is not None:
            self.on_finish(self)
