"""steps="auto": a stage ends when its image has stopped changing visibly."""

from __future__ import annotations

# Every SETTLE_EVERY steps the image is compared with the one SETTLE_EVERY steps
# before; when the mean change is below SETTLE_LEVELS grey levels (of 255), it has
# settled. The threshold was chosen from measured traces (docs/algorithm.md).
SETTLE_EVERY = 10
SETTLE_LEVELS = 2.0


class SettleCheck:
    """Watches ``current()`` (the image a stepper reports) for settling."""

    def __init__(self, current):
        self.current = current
        self.before = None

    def after_step(self, step: int) -> bool:
        """True once the image changed by less than the threshold over the last steps.

        Reads the image only every SETTLE_EVERY steps (a device sync on a GPU).
        """
        if step % SETTLE_EVERY:
            return False
        now = self.current().detach().clamp(0, 1)
        settled = (
            self.before is not None
            and float((now - self.before).abs().mean()) * 255 < SETTLE_LEVELS
        )
        self.before = now.clone()
        return settled
