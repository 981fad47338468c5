"""Freed feature-map memory is reused between steps on the CPU (glibc only)."""

import resource

import numpy as np
import pytest

from napari_nst import stylize
from napari_nst.engine.optimise import allocator

pytestmark = pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc settings only")


M_MMAP_THRESHOLD = -3  # glibc's malloc.h


@pytest.fixture
def our_own_process():
    with allocator.used_in_this_process():
        yield


def test_off_unless_the_process_opts_in(monkeypatch):
    monkeypatch.setattr(allocator, "_enabled", False)
    content, style = _pair()
    run = stylize(content, style, size=64, steps=5, seed=0)
    next(run)
    assert allocator.active_runs() == 0  # napari's process: glibc's settings untouched
    run.close()


def _pair():
    rng = np.random.default_rng(0)
    return rng.random((96, 128, 3), dtype=np.float32), rng.random((96, 96, 3), dtype=np.float32)


def _faults_per_step(run, steps=3) -> float:
    for _ in range(2):  # warm-up: the heap reaches its working size
        next(run)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        next(run)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


def test_a_small_run_keeps_freed_memory_only_while_it_lasts(monkeypatch, our_own_process):
    content, style = _pair()
    run = stylize(content, style, size=128, steps=20, seed=0)
    kept = _faults_per_step(run)
    assert allocator.active_runs() == 1
    run.close()
    assert allocator.active_runs() == 0

    # The same run without the reuse (as above the size limit) faults its maps in anew,
    # with glibc's starting threshold for serving blocks by mmap held fixed (else
    # glibc raises it as blocks are freed, and small maps stop being mmapped).
    monkeypatch.setattr(allocator, "REUSE_UP_TO_BYTES", 0)
    allocator._glibc().mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    run = stylize(content, style, size=128, steps=20, seed=0)
    fresh = _faults_per_step(run)
    assert allocator.active_runs() == 0
    run.close()
    assert kept < 0.25 * fresh, (kept, fresh)


def test_overlapping_runs_keep_memory_until_the_last_one_ends(our_own_process):
    content, style = _pair()
    first = stylize(content, style, size=64, steps=5, seed=0)
    second = stylize(content, style, size=64, steps=5, seed=0)
    next(first)
    next(second)
    assert allocator.active_runs() == 2
    first.close()
    assert allocator.active_runs() == 1
    second.close()
    assert allocator.active_runs() == 0


def test_the_cli_turns_it_on_for_its_own_run_only(monkeypatch):
    from napari_nst import cli

    seen = []
    monkeypatch.setattr(cli, "_run", lambda args: seen.append(allocator._enabled) or 0)
    assert cli.main(["content.png", "style.png", "-o", "out.png"]) == 0
    assert seen == [True] and not allocator._enabled


def test_release_freed_gives_a_fragmented_heap_back():
    import psutil
    import torch

    process = psutil.Process()
    # 64 KiB blocks come from the heap (below glibc's mmap threshold); freeing every other
    # one leaves holes that glibc keeps until it is asked to give them back.
    blocks = [torch.ones(16 * 1024) for _ in range(4096)]
    del blocks[::2]
    held = process.memory_info().rss
    allocator.release_freed()
    given_back = held - process.memory_info().rss
    assert given_back > 64 * 2**20, given_back  # most of the 128 MiB freed
    del blocks


def test_a_fine_blocked_pass_gives_memory_back_between_blocks(monkeypatch):
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise import blocks
    from napari_nst.engine.optimise.memory import blocked_bytes

    released = []
    monkeypatch.setattr(allocator, "release_freed", lambda: released.append(1))
    content, style = _pair()
    params = StyleParams(size=256, steps=2, seed=0, scales=None)
    limit = 1.01 * blocked_bytes((192, 256), 64, params) / 2**30  # blocks of 64 px
    for above, expect in ((1000, 0), (3, 1)):  # a few blocks a pass: left alone, then not
        monkeypatch.setattr(blocks, "RETURN_MEMORY_ABOVE", above)
        released.clear()
        run = stylize(content, style, params, memory_limit=limit)
        step = next(run)
        run.close()
        assert step.blocks > 3
        assert len(released) == expect * 2 * step.blocks, (above, len(released), step.blocks)
