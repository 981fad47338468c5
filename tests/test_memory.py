"""Memory estimate: runs that cannot fit are refused before any work."""

import pytest

from napari_nst.engine.front.params import StyleParams
from napari_nst.engine.front.vgg19_layers import PAPER_STYLE_LAYERS
from napari_nst.engine.optimise.memory import (
    activation_elements,
    blocked_bytes,
    estimate_bytes,
    plan_blocks,
    shallow_blocked_bytes,
    stage_evaluation,
)

torch = pytest.importorskip("torch")
CPU = torch.device("cpu")


def test_activation_count_by_hand():
    # conv1_1 and conv1_2 at 16×16 (64 filters), conv2_1 at 8×8 (128 filters)
    assert activation_elements(16, 16, "conv2_1") == 2 * 64 * 256 + 128 * 64


def test_estimate_grows_with_pixels_and_shrinks_with_fast_modes():
    p = StyleParams()
    small, big = estimate_bytes((512, 512), p), estimate_bytes((1024, 1024), p)
    assert 3.5 < big / small < 4.5
    assert estimate_bytes((1024, 1024), p.replace(precision="bf16")) < big
    assert estimate_bytes((1024, 1024), p.replace(checkpoint=True)) < big


def test_a_stage_too_large_for_memory_runs_in_blocks_that_fit():
    p = StyleParams(size=4096)
    available = 8 * 2**30  # 0.85 of it is the budget
    # 4096² whole would need ~50 GiB; in blocks, the plan fits within the budget.
    assert estimate_bytes((4096, 4096), p) > 40 * 2**30
    budget, plan = plan_blocks([((512, 512), []), ((4096, 4096), [])], p, CPU, available)
    assert plan[0] is None  # a stage that fits runs whole
    assert plan[1] and plan[1] % 64 == 0
    assert (
        blocked_bytes((4096, 4096), plan[1], p)
        <= budget
        < blocked_bytes((4096, 4096), plan[1] + 64, p)
    )  # the largest blocks that fit: the fewest halos


def test_the_deep_layers_run_whole_where_that_fits_and_costs_less():
    p = StyleParams(style_layers=PAPER_STYLE_LAYERS)  # up to conv4_1 no deep part is left
    # 1024² over four 512 px blocks: the fine blocks fit the same budget and cost less.
    budget = int(1.001 * blocked_bytes((1024, 1024), 512, p))
    how, side = stage_evaluation((1024, 1024), p, budget)
    assert how == "fine blocks"
    assert shallow_blocked_bytes((1024, 1024), side, p) <= budget
    assert stage_evaluation((1024, 1024), p, budget, plain_only=True) == ("blocks", 512)
    assert stage_evaluation((1024, 1024), p.replace(checkpoint=True), budget)[0] == "blocks"
    assert stage_evaluation((1024, 1024), p, None) == ("whole", None)
    # 4096² in a budget of 448 px blocks: the deep layers' whole pass does not fit.
    budget = int(1.001 * blocked_bytes((4096, 4096), 448, p))
    assert shallow_blocked_bytes((4096, 4096), 64, p) > budget
    assert stage_evaluation((4096, 4096), p, budget) == ("blocks", 448)


def test_too_large_even_for_blocks_is_refused_with_a_size_that_fits():
    p = StyleParams(size=4096)
    with pytest.raises(ValueError, match=r"even in blocks.*Use size=\d+") as info:
        plan_blocks([((4096, 4096), [])], p, CPU, available=2 * 2**30)
    fits = int(str(info.value).split("size=")[1].split()[0])
    plan_blocks([((fits, fits), [])], p, CPU, available=2 * 2**30)  # the suggestion fits


def test_stylize_refuses_before_any_work(monkeypatch, small_pair):
    import napari_nst.engine.optimise.memory as memory
    from napari_nst import stylize

    monkeypatch.setattr(memory, "available_bytes", lambda device: 16 * 2**20)
    with pytest.raises(ValueError, match="free RAM"):
        stylize(*small_pair, size=512)
