"""Import torch safely from any process state, and keep triton out where it would crash.

The engine imports torch lazily (napari's start-up should not pay for it), which
means torch may first be imported *after* a napari window and its OpenGL context
exist. On Linux with Mesa, that context maps Mesa's ``libLLVM``, and triton's
bundled LLVM clashes with it: importing triton then segfaults the process.
``import torch`` does not import triton, but ``torch._dynamo`` does, and more of
torch imports it on first use than torchvision and ``torch.compile``: creating a
``torch.optim.Adam`` does (measured: the test suite segfaulted there once the guard
ran only before ``torch.compile``). So before torch is first imported, when a
foreign libLLVM is mapped and triton is not yet imported, triton is marked
unavailable (``sys.modules["triton"] = None``); torch then behaves as on a machine
without triton. The engine never needs it. torch may also have been imported before
the window existed (by the user, or another plugin), so every run checks again when
it starts (``loop.start``).
"""

from __future__ import annotations

import sys

_guard_applied = False


def _libllvm_is_mapped() -> bool:
    """True if some shared library named libLLVM is mapped into this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any("libLLVM" in line for line in maps)
    except OSError:  # not Linux: no /proc, and no known clash
        return False


def keep_triton_out_if_llvm_loaded() -> bool:
    """Block the triton import when it would clash with a loaded libLLVM.

    Returns True if triton was blocked by this or an earlier call.
    """
    global _guard_applied
    if _guard_applied:
        return True
    if "triton" in sys.modules:  # already imported: nothing left to protect
        return False
    if _libllvm_is_mapped():
        sys.modules["triton"] = None  # import triton now raises ImportError
        _guard_applied = True
    return _guard_applied


# Modules that need torch import it from here, so the guard always runs first.
keep_triton_out_if_llvm_loaded()
import torch  # noqa: E402

__all__ = ["keep_triton_out_if_llvm_loaded", "torch"]
