"""Keep freed memory in the process while a run is going (Linux, glibc).

Every step allocates and frees the same feature maps, tens of MiB each. glibc's
malloc serves blocks that large with fresh ``mmap`` calls and returns them to the
system when freed, so every step faults all of that memory in again, page by page,
and the kernel zeroes each page (measured: docs/performance-notes.md).

So while at least one run is active, big blocks come from the heap and freed ones
stay there for the next step; when the last run ends, glibc's settings are put
back and the kept memory is returned to the system (``malloc_trim``). Elsewhere
(macOS, Windows, musl) this does nothing.

glibc's settings belong to the whole process, and one of them cannot be put back
(once ``M_MMAP_MAX`` is set, glibc's dynamic mmap threshold is off for good). So
this is opt-in: only a process of our own (the CLI, a batch worker) turns it on,
with ``used_in_this_process()``; inside napari, which other plugins share, it is off.

Only for runs whose step needs at most ``REUSE_UP_TO_BYTES`` (the memory estimate):
in one heap, blocks of many sizes fragment it, and larger runs' peak memory rose.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading

# mallopt parameters (glibc's malloc.h) and glibc's defaults for them.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
KEEP_ALL = 2**31 - 1  # the largest trim threshold mallopt takes (an int)
# Up to about 1024 × 768 px in fp32 (docs/performance-notes.md).
REUSE_UP_TO_BYTES = 1 << 30

_lock = threading.Lock()
_active_runs = 0
_enabled = False


@contextlib.contextmanager
def used_in_this_process():
    """Within this block, runs keep freed memory (only where the process is ours)."""
    global _enabled
    was, _enabled = _enabled, True
    try:
        yield
    finally:
        _enabled = was


def _glibc():
    """The C library if it is glibc (its mallopt is the one described above), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
        libc.mallopt, libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


@contextlib.contextmanager
def reuse_freed_memory():
    """Within this block (and any other run's), freed blocks stay in the heap, if enabled."""
    global _active_runs
    libc = _glibc() if _enabled else None
    if libc is None:
        yield
        return
    with _lock:
        _active_runs += 1
        if _active_runs == 1:
            libc.mallopt(M_MMAP_MAX, 0)
            libc.mallopt(M_TRIM_THRESHOLD, KEEP_ALL)
    try:
        yield
    finally:
        with _lock:
            _active_runs -= 1
            if _active_runs == 0:
                libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)


def release_freed() -> None:
    """Give freed heap memory back to the system now (glibc), unless runs are keeping it.

    Called between the blocks of a finely cut stage, where what glibc keeps in its heaps
    would count in the peak (measured: ``blocks.RETURN_MEMORY_ABOVE``).
    """
    if _active_runs:
        return
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def active_runs() -> int:
    """How many runs are holding freed memory now (for tests)."""
    return _active_runs
