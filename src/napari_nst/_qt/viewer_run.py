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
from dataclasses import dataclass
from typing import Any

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QObject, Signal

from .._napari.inputs import LayerInputs
from .._napari.output_layer import OutputLayer
from .._napari.run_status import RunStatus
from ..engine.engine_thread import relayed
from ..engine.front.errors import friendly_message
from ..engine.front.params import StyleParams
from ..engine.front.progress import Progress, RunPlan, Stage, Stopwatch
from ..engine.front.step import Step, ending
from ..engine.jobs import planes, stack
from .download_bar import download_bar
from .paced_display import PacedDisplay
from .redraw import next_turn

# The status (and the loss plot that follows it) changes at most this often.
STATUS_EVERY_S = 0.5


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
    shown: Any = None  # the image as the layer holds it (OutputLayer.displayed)


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
    ``status`` (a ``RunStatus``) says where the run stands, field by field.
    """

    def __init__(self, viewer, inputs: LayerInputs, params: StyleParams, *, scheduler=None):
        self.viewer = viewer
        self.inputs = inputs
        self.params = params
        self.scheduler = scheduler or None
        self.on_cluster = planes.can_run_on_cluster(
            params, len(inputs.planes), inputs.guides, inputs.init, self.scheduler
        )
        self.state = RunState.IDLE
        self.status = RunStatus()
        self.progress = Progress(self._plan())
        self.clock = Stopwatch()
        self.out = OutputLayer(viewer, inputs)
        self.first_output_at: float | None = None  # perf_counter() when it appeared
        self.history: list[dict] = []
        self.error: str | None = None
        self.stop_reason = ""  # from EndEvent: "steps", "settled" or "stopped"
        self.last_iteration = 0
        self.worker = None
        self._stop = threading.Event()
        self._status_time = 0.0

    def _plan(self) -> RunPlan:
        count = len(self.inputs.planes)
        longer = self.params.size or max(self.inputs.planes[0][1].shape[:2])
        if self.on_cluster:  # each plane is one unit of work, reported when done
            each = (Stage(longer, 1, 1.0),)
            return RunPlan(each, each, count, up_to=False)
        return RunPlan.of(self.params, longer, count, start_image=self.inputs.init is not None)

    @property
    def output(self):
        """The layer this run created (None before the first image or once deleted)."""
        return self.out.layer

    @property
    def result(self):
        """The float32 result in [0, 1] that the 8-bit output layer shows (None before)."""
        return self.out.result

    @property
    def running(self) -> bool:
        return self.state in (RunState.RUNNING, RunState.PAUSED, RunState.STOPPING)

    # -- control ------------------------------------------------------------------------
    def start(self) -> ViewerRun:
        plan = self.progress.plan
        self.status.update(
            {
                "steps_planned": plan.steps,
                "up_to": plan.up_to,
                "unit": "slices" if self.on_cluster else "steps",
                "planes": plan.planes,
                "stages": len(plan.first),
                "stage_size": plan.first[0].size,
            }
        )
        # No activity-dock bar for the run: while one is open, napari animates its
        # activity indicator, which doubled a small run's time on software GL
        # (docs/performance-notes.md). The status says where the run is.
        self.display = PacedDisplay(self._show)  # the newest image per slice, paced
        self._download_bar = download_bar()  # first made here, on the main thread
        self._blocks = BlockSignal()
        self._blocks.progressed.connect(self._on_blocks)
        self.worker = create_worker(self._work, _ignore_errors=True)
        self.worker.yielded.connect(self._on_event)
        self.worker.finished.connect(self._on_finished)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.worker.nst_run = self  # the console can reach the run from the worker
        self._set_state(RunState.RUNNING)
        self.clock.start()
        self.worker.start()
        return self

    def stop(self):
        """End the run within one step; the last image stays in the output layer."""
        if self.running:
            self._set_state(RunState.STOPPING)
        self._stop.set()
        if self.worker is not None and self.worker.is_paused:
            self.worker.resume()

    def shutdown(self):
        """Stop for good (the widget or viewer is closing): no more layer or UI updates."""
        self.stop()
        if self.worker is not None:
            with contextlib.suppress(TypeError, RuntimeError):  # already disconnected
                self.worker.yielded.disconnect(self._on_event)
            self.worker.quit()

    def pause(self):
        if self.state is RunState.RUNNING:
            self.worker.pause()
            self.clock.pause()
            self._set_state(RunState.PAUSED)
            self.status.seconds = self.clock.seconds

    def resume(self):
        if self.state is RunState.PAUSED:
            self.clock.resume()
            self.worker.resume()
            self._set_state(RunState.RUNNING)

    def _set_state(self, state: RunState):
        self.state = state
        self.status.state = state.value

    # -- worker thread ------------------------------------------------------------------
    def _work(self):
        ins = self.inputs
        try:
            last = None
            frames = [plane for _, plane in ins.planes]
            limits = {"content_limits": ins.content_limits, "style_limits": ins.style_limits}
            if self.on_cluster:
                make = lambda: planes.stylize_planes(  # noqa: E731
                    frames,
                    ins.styles,
                    self.params,
                    **limits,
                    scheduler=self.scheduler,
                    should_stop=self._stop.is_set,
                )
            else:
                make = lambda: stack.stylize_stack(  # noqa: E731
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
            steps = relayed(make)  # computed on the engine thread (see engine_thread)
            for n, step in steps:
                last = step
                # Handed over, never waited on, in the layer's form (made off napari's thread).
                yield StepEvent(n, ins.planes[n][0], step, self.out.displayed(step.image))
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
        if self.out.layer is not None and not self.out.in_viewer():
            return  # _on_layer_removed already stopped the run
        self._record(event.plane, event.step)
        self.display.offer(event.index, event)

    def _show(self, events: list[StepEvent]):
        """Put the newest image of each slice in the layer, with the record."""
        if self.out.layer is not None and not self.out.in_viewer():
            return  # deleted: the run has been stopped
        if self.out.layer is None and self._viewer_closing():
            return  # a closing viewer's layer controls are gone: a new layer breaks them
        for event in events:
            self.out.show(event.index, event.step.image, event.shown)
        if self.first_output_at is None:
            self.first_output_at = time.perf_counter()
        self.out.record(self.params, events[-1].step, self.history, self.clock.seconds)

    def _on_blocks(self, stage_pass, done, count):
        text = block_text(stage_pass, done, count)
        self.status.blocks = text

    def _record(self, n, step):
        """History and progress of one step; the status, when it is due."""
        self.history.append({"slice": n, "iteration": step.iteration, **step.losses})
        seconds = self.clock.seconds
        if self.on_cluster:  # each step is a plane's last: count finished planes
            self.progress.report(len(self.history) - 1, 0, 1, seconds)
        else:
            self.progress.report(n, step.stage, step.iteration, seconds)
        now = time.perf_counter()
        if now - self._status_time >= STATUS_EVERY_S or step.stop_reason or self.on_cluster:
            self._status_time = now
            self._publish(n, step, seconds)

    def _publish(self, n, step, seconds):
        p = self.params
        self.status.update(  # steps_done last: its subscribers read the rest
            {
                "plane": n,
                "stage": step.stage,
                "stages": len(self.progress.plan.stages(n)),
                "stage_size": self.progress.current_stage.size,
                "stage_blocks": step.blocks,
                "seconds": seconds,
                "seconds_left": self.progress.seconds_left(),
                "losses": {
                    **step.losses,
                    "weighted content": p.alpha * step.losses["content"],
                    "weighted style": p.beta * step.losses["style"],
                },
                "blocks": "",
                "device": step.device,
                "steps_done": self.progress.steps,
            }
        )

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
        if not self._viewer_closing():
            show_error(message)

    def _viewer_closing(self) -> bool:
        """napari's ``Viewer.close`` removes every layer first, then the window."""
        return len(self.viewer.layers) == 0

    def _on_finished(self):
        if self.error is None:  # the last images, whatever the gap
            self.display.flush()
        self.display.drop()
        self.clock.pause()
        self._download_bar.close()
        # napari 0.9 keeps every finished worker, and with it this run: keep no pixels.
        self.inputs = self.inputs.without_pixels()
        if self.out.layer is None:
            self._stop_watching_layers()
        self.status.update({"seconds": self.clock.seconds, "seconds_left": 0.0})
        self.status.ended = self._ending()
        self._set_state(RunState.FAILED if self.error is not None else RunState.DONE)

    def _ending(self) -> str:
        if self.error is not None:
            return self.error
        if self.out.layer is None:
            return "The run ended with no image."
        why = ending(self.stop_reason, self.last_iteration)
        if self.stop_reason == "stopped":
            return f"{why} '{self.out.layer.name}' keeps the last image."
        return f"Done: '{self.out.layer.name}'. {why}".strip()
