"""One clear sentence for any exception a run can raise (no traceback for users)."""

from __future__ import annotations


def friendly_message(exc: BaseException) -> str:
    name = type(exc).__name__
    text = str(exc).strip() or name
    if name == "OutOfMemoryError" or "out of memory" in text.lower():
        return (
            "Out of memory on the device. The last result was kept. Try a smaller size, "
            "coarse-to-fine scales, fast mode (bf16), or the CPU."
        )
    if isinstance(exc, (ValueError, RuntimeError)) and name in (
        "ValueError",
        "WeightsUnavailableError",
        "DivergedError",
    ):
        return text
    return f"Style transfer failed ({name}): {text}"
