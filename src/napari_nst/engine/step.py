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
    losses: dict[str, float]  # content, style, tv, total (= α·content + β·style + γ·tv)
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


def last_step(steps: Iterator[Step]) -> Step | None:
    """Run ``steps`` to the end and return the final Step (None if there was none)."""
    tail = deque(steps, maxlen=1)
    return tail[0] if tail else None
