"""The run's buttons, its status line and its loss plot; it follows a run's RunStatus."""

from __future__ import annotations

from magicgui.widgets import Container, Label, PushButton

from .loss_plot import LossPlot


class RunPanel:
    """Run/Stop, Pause, Continue from output, Load settings, Save result, the status
    line and the loss plot. The widget wires the buttons; ``follow`` shows a run."""

    def __init__(self):
        self.run_button = PushButton(text="Run")
        self.pause_button = PushButton(text="Pause", enabled=False)
        self.continue_button = PushButton(
            text="Continue from output",
            tooltip="Start a new run from the selected output layer's image.",
        )
        self.load_button = PushButton(
            text="Load settings", tooltip="Restore the parameters of the selected output layer."
        )
        self.save_button = PushButton(
            text="Save result…",
            tooltip="Write the selected output layer (or this run's) as PNG (8-bit) or TIFF "
            "(float32), with its settings inside for Load settings.",
        )
        self.status = Label(value="")
        self.plot = LossPlot()
        self.last_message = ""
        self.on_end = None  # called when a followed run ends

    def rows(self) -> list:
        """The two rows of buttons (the status line and the plot go below the form)."""
        return [
            Container(
                widgets=[self.run_button, self.pause_button], layout="horizontal", labels=False
            ),
            Container(
                widgets=[self.continue_button, self.load_button, self.save_button],
                layout="horizontal",
                labels=False,
            ),
        ]

    def add_below(self, layout) -> None:
        """The status line (it wraps inside the dock instead of widening it) and the plot."""
        from qtpy.QtWidgets import QLabel, QSizePolicy

        layout.addWidget(self.status.native)  # not in a form row: it wraps to its height
        layout.addWidget(self.plot)
        label = self.status.native.findChild(QLabel) or self.status.native
        label.setWordWrap(True)
        label.setMinimumWidth(1)
        label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def say(self, message: str, error: bool = True) -> None:
        self.last_message = message
        self.status.value = message
        if error:
            from napari.utils.notifications import show_warning

            show_warning(message)

    def set_running(self, running: bool) -> None:
        self.run_button.text = "Stop" if running else "Run"
        self.run_button.enabled = True
        self.pause_button.enabled = running
        self.pause_button.text = "Pause"
        self.continue_button.enabled = not running
        self.load_button.enabled = not running

    # -- a run's status -----------------------------------------------------------------
    def follow(self, status, device_label) -> None:
        """Show ``status`` (a RunStatus): its line, its losses, its device, its end."""
        self.plot.clear()
        for name in ("steps_done", "blocks", "state"):
            getattr(status.events, name).connect(lambda _e: self._show(status))
        status.events.losses.connect(lambda _e: self._plot(status))
        status.events.device.connect(lambda e: setattr(device_label, "value", e.value))
        status.events.state.connect(lambda e: self._on_state(status, e.value))

    def _show(self, status):
        if not status.ended:
            self.status.value = status.text

    def _plot(self, status):
        losses = status.losses
        values = {
            "total": losses["total"],
            "content": losses["weighted content"],
            "style": losses["weighted style"],
        }
        self.plot.add(status.steps_done, values)

    def _on_state(self, status, state: str):
        if state in ("done", "failed"):
            self.set_running(False)
            self.say(status.ended, error=False)  # a failed run has notified the user
        elif state in ("paused", "running"):
            self.pause_button.text = "Resume" if state == "paused" else "Pause"
