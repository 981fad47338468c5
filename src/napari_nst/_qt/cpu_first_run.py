"""Without a GPU, the widget fits itself to the CPU once the devices are known: a smaller
first size, and Fast mode greyed out where the CPU has no bf16 instructions."""

from __future__ import annotations

# Without a GPU the first Run starts at this size: on 2 cores a good picture within about
# a minute, where 512 px takes about 95 s (docs/viewer-speed.md).
CPU_START_SIZE = 256


def fit_to_devices(widget, devices) -> None:
    """``devices``: DeviceList's (label, device) pairs; with a GPU among them, nothing."""
    if any(value not in ("auto", "cpu") for _, value in devices):
        return
    _start_size(widget)
    _offer_fast_mode(widget)


def _start_size(widget) -> None:
    """Start at ``CPU_START_SIZE`` unless the user has begun: chosen a size, started a run
    or a folder, or been told something."""
    begun = widget._size_chosen or widget.run is not None or widget.last_message
    if begun or widget.size.native.hasFocus():
        return
    widget.size.value = CPU_START_SIZE
    widget._say(
        f"No GPU here: Size starts at {CPU_START_SIZE} px, for a first picture in about "
        "a minute. Raise it for more detail.",
        error=False,
    )


def _offer_fast_mode(widget) -> None:
    """Grey out an unticked Fast mode where bf16 would be slower (a ticked one is left for
    the Run to refuse in a sentence, so that the user can untick it)."""
    if widget.devices.cpu_has_bf16 or widget.fast.value:
        return
    widget.fast.enabled = False
    widget.fast.tooltip = (
        "Off here: this CPU has no bf16 instructions (AVX-512 BF16, AMX or Arm's BF16) "
        "and there is no GPU, so bf16 would run many times slower than fp32."
    )
