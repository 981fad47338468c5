"""``Step``: one reported point of a run, what ``stylize`` yields."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .params import StyleParams


@dataclass
class Step:
    """One reported point of a run."""

    iteration: int  # gradient evaluations so far, over all stages
    image: np.ndarray  # float32 H×W×3 in [0, 1], on the CPU
    losses: dict[str, float]  # each term of J unweighted, range (the wall's share) and total
    elapsed: float  # seconds since the run started
    total_steps: int = 0
    stage: int = 0  # index into params.stage_sizes
    params: StyleParams | None = field(default=None, repr=False)
    device: str = "cpu"  # where the run computes
    weights_version: str = ""  # short hash of the weights file
    # On the run's last step, why it ended: "steps" (budget used), "settled" (the
    # image stopped changing, steps="auto") or "stopped" (should_stop). Else "".
    stop_reason: str = ""
    blocks: int = 0  # blocks the stage's image is evaluated in (0: whole, it fits in memory)

    @property
    def ending(self) -> str:
        """Why the run ended, as the widget and the CLI say it ("" before the last step)."""
        return ending(self.stop_reason, self.iteration)


def ending(reason: str, step: int) -> str:
    """A stop_reason as one sentence ("" for none)."""
    sentences = {
        "steps": "All {step} steps done.",
        "settled": "The image settled at step {step}.",
        "stopped": "Stopped at step {step}.",
    }
    return sentences.get(reason, "").format(step=step)


def last_step(steps: Iterator[Step]) -> Step | None:
    """Run ``steps`` to the end and return the final Step (None if there was none)."""
    tail = deque(steps, maxlen=1)
    return tail[0] if tail else None
