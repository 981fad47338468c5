"""The errors a run reports to users, and one clear sentence for any exception."""

from __future__ import annotations


class StyleTransferError(RuntimeError):
    """A run cannot go on; the message is a sentence for users, saying what to do."""


class WeightsUnavailableError(StyleTransferError):
    """A weights source cannot be used; the message says what to do instead."""


class DivergedError(StyleTransferError):
    """The loss became NaN or infinite; ``last_step`` holds the last finite result."""

    def __init__(self, message: str, last_step=None):
        super().__init__(message)
        self.last_step = last_step


def friendly_message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # torch's OutOfMemoryError lives behind the torch line; its message says what it is.
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return (
            "Out of memory on the device. The last result was kept. Try a smaller size, "
            "coarse-to-fine scales, fast mode (bf16), or the CPU."
        )
    if type(exc) is ValueError or isinstance(exc, StyleTransferError):
        return text
    return f"Style transfer failed ({type(exc).__name__}): {text}"
