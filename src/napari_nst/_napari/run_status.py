"""A run's status as one evented object: the run updates it, the widget and the console read it.

No Qt: ``status.events.<field>.connect(callback)`` subscribes to one field, and
``status.text`` is the status line the widget shows.
"""

from __future__ import annotations

from napari.utils.events import EventedModel

from ..engine.front.progress import duration_text


class RunStatus(EventedModel):
    """Where one run in the viewer stands."""

    state: str = "idle"  # idle, running, paused, stopping, done or failed
    steps_done: int = 0  # over every plane (on a cluster: planes finished)
    steps_planned: int = 0
    up_to: bool = False  # steps_planned is a cap: with auto stop a run ends when settled
    unit: str = "steps"  # "slices" when the planes run on a cluster
    plane: int = 0
    planes: int = 1
    stage: int = 0
    stages: int = 1
    stage_size: int = 0  # the current stage's longer side, px
    stage_blocks: int = 0  # blocks the stage runs in (0: whole)
    seconds: float = 0.0  # running time, pauses left out
    seconds_left: float | None = None  # None until the run has a rate
    losses: dict | None = None  # the last step's: content, style, tv, total and weighted
    blocks: str = ""  # where a large stage's step is among its blocks
    device: str = ""
    ended: str = ""  # why the run ended, one sentence

    @property
    def text(self) -> str:
        """The status line: what is done, what is left, and the state."""
        if self.ended:
            return self.ended
        if self.state == "idle" or (self.steps_done == 0 and not self.blocks):
            return "Starting…"
        if self.blocks:
            return f"Step {self.steps_done + 1}: {self.blocks}"
        parts = [self._done_text()]
        if self.unit == "steps" and (self.stages > 1 or self.stage_blocks):
            blocks = f" in {self.stage_blocks} blocks" if self.stage_blocks else ""
            parts.append(f"stage {self.stage + 1}/{self.stages} ({self.stage_size} px){blocks}")
        if self.losses:
            parts.append(f"J = {self.losses['total']:.4g}")
        parts.append(duration_text(self.seconds))
        if self.state == "paused":
            return "Paused · " + " · ".join(parts)
        parts.append(self._left_text())
        return " · ".join(parts)

    def _done_text(self) -> str:
        noun = "Step" if self.unit == "steps" else "Slices"
        of = "of up to" if self.up_to else "of"
        where = f" (slice {self.plane + 1}/{self.planes})" if self.planes > 1 else ""
        return f"{noun} {self.steps_done} {of} {self.steps_planned}{where}"

    def _left_text(self) -> str:
        if self.seconds_left is None and self.up_to and self.stage < self.stages - 1:
            return "the time left shows in the last stage"
        if self.seconds_left is None:
            return "estimating the time left…"
        left = duration_text(self.seconds_left)
        return f"at most about {left} left" if self.up_to else f"about {left} left"
