"""Choosing and checking the device a run uses."""

from __future__ import annotations

from ._torch import torch


def resolve_device(name: str):
    """'auto' → cuda, then mps, then cpu; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device = {name!r}, but this machine has no usable CUDA GPU. "
                "Use device='auto' or 'cpu'."
            )
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device = {name!r}, but only {torch.cuda.device_count()} CUDA device(s) exist "
                f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})."
            )
    if device.type == "mps" and not _mps_available():
        raise ValueError(
            f"device = {name!r}, but Apple's MPS backend is not available here. "
            "Use device='auto' or 'cpu'."
        )
    return device


def check_precision(device, precision: str) -> None:
    """Refuse fast mode on a CPU without bf16 instructions, where it is slower, not faster."""
    if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        raise ValueError(
            "Fast mode (bf16) needs a CPU with bf16 instructions (AVX-512 BF16, AMX or "
            "Arm's BF16), and this one has none: here bf16 runs many times slower than "
            "fp32. Untick Fast mode (precision='fp32'), or run on a GPU."
        )


def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (torch's own test, where it has one)."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return probe is None or bool(probe())


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def available_devices() -> list[tuple[str, str]]:
    """(label, device) for every device that works here, "auto" first saying its pick.

    A CUDA GPU's label has its name and free memory at the time of the call.
    """
    devices = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            name = torch.cuda.get_device_name(index)
            label = f"cuda:{index} · {name} · {free / 2**30:.0f} of {total / 2**30:.0f} GiB free"
            devices.append((label, f"cuda:{index}"))
    if _mps_available():
        devices.append(("mps · Apple GPU", "mps"))
    devices.append(("cpu", "cpu"))
    auto = resolve_device("auto")
    picked = next((label for label, value in devices if value in (str(auto), f"{auto}:0")), "cpu")
    return [(f"auto → {picked.split(' · ')[0]}", "auto"), *devices]
