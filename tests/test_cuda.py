"""Runs on a CUDA GPU: the whole-step CUDA graph and fast mode. Skipped without one."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

from napari_nst import stylize  # noqa: E402

RUN = {"size": 128, "steps": 30, "every": 10, "seed": 0, "device": "cuda"}


def _losses(content, style, **extra):
    return [s.losses["total"] for s in stylize(content, style, **{**RUN, **extra})]


def test_a_default_run_replays_the_eager_run_as_cuda_graphs(small_pair, monkeypatch):
    from napari_nst.engine.optimise import loop

    captures = []
    captured = loop.captured
    monkeypatch.setattr(loop, "captured", lambda *a: captures.append(1) or captured(*a))
    two_stages = (64, 128)
    eager = _losses(*small_pair, scales=two_stages, cuda_graph=False)
    assert captures == []
    graphed = _losses(*small_pair, scales=two_stages)  # the default: one graph per stage
    assert len(captures) == 2
    # A replay that read stale buffers would stop J falling or drift from eager.
    assert graphed[-1] < 0.5 * graphed[0]
    assert graphed[-1] == pytest.approx(eager[-1], rel=1e-4)


def test_cuda_graph_output_is_the_reported_image(small_pair, monkeypatch, losses_of):
    # Strict fp32, so that measuring the same image twice agrees to rounding.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    last = list(stylize(*small_pair, **RUN))[-1]
    again = losses_of(*small_pair, last.image, **RUN)
    assert again["total"] == pytest.approx(last.losses["total"], rel=1e-4)
    assert np.isfinite(last.image).all()


def test_fast_mode_on_cuda_stays_close_to_fp32(small_pair):
    fp32 = _losses(*small_pair, steps=100, every=100)[-1]
    fast = _losses(*small_pair, steps=100, every=100, precision="bf16")[-1]
    assert fast == pytest.approx(fp32, rel=0.1)


def test_a_run_in_a_worker_thread_matches_the_main_thread(small_pair):
    import threading

    here = _losses(*small_pair)
    there = []
    # napari's widget runs the generator in a worker thread; graphs are captured there.
    worker = threading.Thread(target=lambda: there.extend(_losses(*small_pair)))
    worker.start()
    worker.join(timeout=120)
    assert there == pytest.approx(here, rel=1e-6)
