"""Freed feature-map memory is reused between steps on the CPU (glibc only)."""

import subprocess
import sys

import numpy as np
import pytest

from napari_nst import stylize
from napari_nst.engine.optimise import allocator

pytestmark = pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc settings only")


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


FAULTS_PER_STEP = """
import resource, sys
import numpy as np
from napari_nst import stylize
from napari_nst.engine.optimise import allocator
reuse = sys.argv[1] == "reuse"
if not reuse:  # as above the size limit
    allocator.REUSE_UP_TO_BYTES = 0
rng = np.random.default_rng(0)
content = rng.random((384, 384, 3), dtype=np.float32)
style = rng.random((128, 128, 3), dtype=np.float32)
with allocator.used_in_this_process():
    run = stylize(content, style, size=384, scales=None, steps=20, seed=0)
    for _ in range(2):  # warm-up: the heap reaches its working size
        next(run)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        next(run)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3
    active = allocator.active_runs()
    run.close()
    print(faults, active, allocator.active_runs())
"""


def _faults_per_step(reuse: bool) -> tuple[float, int, int]:
    """Page faults per step of a 384 px run in a fresh process of our own (as the CLI's or
    a batch worker's; a long-lived process's heap has its own history), with the runs
    active during and after it. Its first layers' maps (38 MiB) are above the largest
    threshold glibc sets by itself (32 MiB), so without the reuse they are mmapped anew."""
    out = subprocess.run(
        [sys.executable, "-c", FAULTS_PER_STEP, "reuse" if reuse else "fresh"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def test_a_run_keeps_freed_memory_only_while_it_lasts():
    kept, during, after = _faults_per_step(reuse=True)
    assert (during, after) == (1, 0)
    # The same run without the reuse faults its maps in anew.
    fresh, during, _ = _faults_per_step(reuse=False)
    assert during == 0
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
