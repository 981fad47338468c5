"""steps="auto": a stage ends when its image has stopped changing visibly."""

from __future__ import annotations

# Every SETTLE_EVERY steps the image is compared with the one SETTLE_EVERY steps
# before; when the mean change is below ``levels`` grey levels (of 255), it has
# settled (StyleParams.settle_levels; the default's choice is in docs/algorithm.md).
SETTLE_EVERY = 10


class SettleCheck:
    """Watches ``current()`` (the image a stepper reports) for settling."""

    def __init__(self, current, levels: float):
        self.current = current
        self.levels = levels
        self.before = None

    def after_step(self, step: int) -> bool:
        """True once the image changed by less than the threshold over the last steps.

        Reads the image only every SETTLE_EVERY steps (a device sync on a GPU).
        """
        if step % SETTLE_EVERY:
            return False
        now = self.current().detach().clamp(0, 1)
        settled = (
            self.before is not None and float((now - self.before).abs().mean()) * 255 < self.levels
        )
        self.before = now.clone()
        return settled
