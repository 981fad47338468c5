"""Real runs with the bundled original VGG19 (small images, no network)."""

import warnings

import numpy as np
import pytest

from napari_nst import stylize
from napari_nst.engine.front.errors import DivergedError
from napari_nst.engine.front.step import Step
from napari_nst.engine.optimise.objective import small_stage_emphasis
from napari_nst.engine.run import last_step

# chelsea × gravel at 128 px, one stage from noise, no TV: J's own parts.
SMALL = {"size": 128, "scales": None, "tv_weight": 0.0}


@pytest.mark.slow
def test_real_run_meets_the_papers_goals(small_pair, losses_of):
    content, style = small_pair
    content_before = content.copy()
    noise = losses_of(content, style, "noise", **SMALL)
    own = losses_of(content, style, "content", **SMALL)

    steps = list(stylize(content, style, steps=60, every=10, **SMALL))
    final = steps[-1]

    assert [s.iteration for s in steps] == [10, 20, 30, 40, 50, 60]
    assert final.losses["total"] <= 0.1 * noise["total"]  # J falls by at least 90%
    assert final.losses["style"] * 10 <= own["style"]  # 10× closer in style than C itself
    # 2.5× closer in content than noise (the default balance leans to the style)
    assert final.losses["content"] * 2.5 <= noise["content"]
    assert final.image.shape == (85, 128, 3) and final.image.dtype == np.float32
    assert final.image.min() >= 0.0 and final.image.max() <= 1.0
    assert final.losses["total"] == pytest.approx(weighted_sum(final.losses, final), rel=1e-4)
    assert np.array_equal(content, content_before)


def weighted_sum(losses, step):
    """α·(content + layout) + β·style + γ·tv + the range wall's share, from ``losses``."""
    p = step.params
    # Under 256 px the content weighs more (objective.small_stage_emphasis).
    alpha = p.alpha * small_stage_emphasis(step.image.transpose(2, 0, 1))
    content_side = losses["content"] + p.layout_weight * losses["layout"]
    weighted = alpha * content_side + p.beta * losses["style"] + p.tv_weight * losses["tv"]
    return weighted + losses["range"]


def test_reported_j_includes_the_range_wall(small_pair):
    content, style = small_pair
    black = np.zeros(content.shape, np.float32)  # every value outside the penalised range
    once = {**SMALL, "steps": 1, "optimizer": "adam", "learning_rate": 1e-30}
    start = next(stylize(content, style, init=black, **once))
    assert start.losses["range"] > 0
    assert start.losses["total"] == pytest.approx(weighted_sum(start.losses, start), rel=1e-4)


def test_same_seed_same_image_and_other_seed_differs(small_pair):
    content, style = small_pair
    run = {"size": 32, "steps": 3, "seed": 7}
    a = list(stylize(content, style, **run))[-1].image
    b = list(stylize(content, style, **run))[-1].image
    c = list(stylize(content, style, **{**run, "seed": 8}))[-1].image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_parameters_fail_at_the_call_before_any_work(small_pair):
    content, style = small_pair
    with pytest.raises(ValueError, match="steps"):
        stylize(content, style, steps=0)
    with pytest.raises(ValueError, match="too small"):
        stylize(np.zeros((4, 4)), style, size=None)
    with pytest.raises(ValueError, match="device"):
        stylize(content, style, device="quantum")


def test_cuda_requested_without_cuda_is_refused(small_pair):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no usable CUDA GPU"):
        stylize(*small_pair, device="cuda")


@pytest.mark.parametrize(
    ("device", "guided", "params", "expected"),
    [
        ("cuda", False, {}, True),  # on by default where it works
        ("cuda", False, {"cuda_graph": False}, False),
        ("cuda", False, {"optimizer": "adam"}, False),
        ("cuda", False, {"checkpoint": True}, False),
        ("cuda", False, {"compile": True}, False),
        ("cuda", True, {}, False),
        ("cpu", False, {}, False),
        ("mps", False, {}, False),
    ],
)
def test_cuda_graph_is_used_wherever_it_works(device, guided, params, expected):
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise.loop import uses_cuda_graph

    assert uses_cuda_graph(StyleParams(**params), device, guided) is expected


def test_cuda_graph_is_refused_where_it_cannot_work(small_pair):
    with pytest.raises(ValueError, match="L-BFGS"):
        stylize(*small_pair, cuda_graph=True, optimizer="adam")
    with pytest.raises(ValueError, match="L-BFGS"):
        stylize(*small_pair, cuda_graph=True, checkpoint=True)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        stylize(*small_pair, cuda_graph=True, device="cpu")


@pytest.mark.parametrize("mode", [None, "luminance", "histogram"])
def test_each_start_is_where_the_run_starts(small_pair, mode):
    from skimage.transform import resize

    content, style = small_pair
    flipped = content[::-1]

    def first_image(init):
        steps = stylize(content, style, size=32, steps=2, preserve_color=mode, init=init)
        return next(iter(steps)).image

    def distance(image, photo):
        return float(np.abs(image - resize(photo / 255.0, image.shape[:2])).mean())

    from_noise, from_content, from_flipped = (
        first_image(init) for init in ("noise", "content", flipped)
    )
    assert from_noise.shape == (21, 32, 3) and np.isfinite(from_noise).all()
    assert distance(from_content, content) < 0.5 * distance(from_noise, content)
    assert distance(from_flipped, flipped) < 0.5 * distance(from_flipped, content)


def test_histogram_mode_takes_the_content_colours(small_pair):
    content, style = small_pair  # chelsea (a brown cat) × gravel (grey)
    plain = list(stylize(content, style, size=48, steps=20, init="content"))[-1].image
    matched = list(
        stylize(content, style, size=48, steps=20, init="content", preserve_color="histogram")
    )[-1].image
    colour = (content / 255.0).reshape(-1, 3).mean(0)
    assert (
        np.abs(matched.reshape(-1, 3).mean(0) - colour).sum()
        < np.abs(plain.reshape(-1, 3).mean(0) - colour).sum()
    )


def test_luminance_mode_keeps_the_content_chroma(small_pair):
    from skimage.transform import resize

    from napari_nst.engine.front.images import rgb_to_yiq, to_rgb01

    content, style = small_pair
    out = list(stylize(content, style, size=48, steps=5, preserve_color="luminance"))[-1].image
    iq_content = resize(rgb_to_yiq(to_rgb01(content))[..., 1:], out.shape[:2], anti_aliasing=True)
    iq_out = rgb_to_yiq(out)[..., 1:]
    # only clipping to [0, 1] can move the chroma
    assert np.abs(iq_out - iq_content).mean() < 0.02


def test_several_styles_and_coarse_to_fine(small_pair):
    import skimage.data

    content, style = small_pair
    steps = list(
        stylize(
            content,
            [(style, 1.0), (skimage.data.brick(), 0.5)],
            scales=(32, 64),
            steps=4,
        )
    )
    assert [s.stage for s in steps] == [0, 0, 0, 1]  # two thirds of the budget, then the rest
    assert {s.image.shape for s in steps} == {(43, 64, 3)}
    assert steps[-1].total_steps == 4


def test_stopping_when_settled_the_lower_stages_take_few_steps_and_the_last_its_cap(small_pair):
    # They only lay out what the last stage refines until it settles: their steps were
    # the most of the time to the first good picture (docs/algorithm.md).
    from napari_nst.engine.front.params import AUTO_LOWER_STEPS, StyleParams

    content, style = small_pair
    run = stylize(
        content, style, scales=(32, 48, 64), steps="auto", settle_levels=1e-9, every=10_000
    )
    ends = [s.iteration for s in run]  # reported: each stage's end
    first, middle = AUTO_LOWER_STEPS
    last_cap = StyleParams(steps="auto").stage_steps(3)[-1]
    assert ends == [first, first + middle, first + middle + last_cap]


def test_carry_step_scale_makes_a_later_stages_first_step_a_full_one(small_pair):
    # Without it a stage's first step is torch's tiny one and its image barely moves.
    content, style = small_pair

    def first_move(carry):
        run = stylize(content, style, scales=(32, 64), steps=8, carry_step_scale=carry)
        later = [s.image for s in run if s.stage == 1]  # the start, then the first step
        return float(np.abs(later[1] - later[0]).mean())

    assert first_move(True) > 10 * first_move(False)
    # Adam scales its own steps: the option leaves its run as it was.
    adam = {"scales": (32, 64), "steps": 4, "optimizer": "adam", "seed": 0}
    with_option = last_step(stylize(content, style, carry_step_scale=True, **adam)).image
    without = last_step(stylize(content, style, carry_step_scale=False, **adam)).image
    assert np.array_equal(with_option, without)


def test_a_huge_learning_rate_is_taken_back_not_followed_into_divergence(small_pair):
    # Fixed-step L-BFGS with a step length of 1e30 ended in NaN here within 30 steps.
    content, style = small_pair
    for lr, steps in ((1e30, 30), (1e6, 60)):
        run = list(stylize(content, style, size=32, steps=steps, learning_rate=lr, init="content"))
        totals = [s.losses["total"] for s in run]
        assert np.isfinite(totals).all() and totals == sorted(totals, reverse=True)
        assert np.isfinite(run[-1].image).all()
    # At 1e6 it still gets somewhere (measured 0.38×: at 32 px the content weighs 8×).
    assert totals[-1] < 0.5 * totals[0]


def test_a_loss_that_is_not_finite_from_the_start_is_an_error(small_pair):
    with pytest.raises(DivergedError, match=r"from the start.*lower alpha, beta") as info:
        list(stylize(*small_pair, size=32, steps=3, beta=1e40))  # J overflows float32
    assert info.value.last_step is None


def test_divergence_stops_with_the_last_finite_step(small_pair, nan_from_the_fifth_tv_loss):
    it = stylize(*small_pair, size=32, steps=30, optimizer="adam", tv_weight=1.0)
    seen = []
    with pytest.raises(DivergedError, match="diverged") as info:
        for step in it:
            seen.append(step)
    last = info.value.last_step
    assert isinstance(last, Step) and last is seen[-1] and last.iteration == 4
    assert np.isfinite(last.image).all() and np.isfinite(last.losses["total"])


def test_every_and_the_last_step_are_reported(small_pair):
    steps = list(stylize(*small_pair, size=32, steps=7, every=3))
    assert [s.iteration for s in steps] == [3, 6, 7]


def test_should_stop_ends_the_run_within_one_step_and_reports_it(small_pair):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    steps = list(stylize(*small_pair, size=32, steps=50, every=10, should_stop=should_stop))
    assert [s.iteration for s in steps] == [3]


def test_init_image_at_the_output_size_is_used_as_is(small_pair):
    """An init exactly the output size skips resizing (a layout that once broke L-BFGS)."""
    content, style = small_pair
    init = np.random.default_rng(3).random((21, 32, 3)).astype(np.float32)
    first = next(stylize(content, style, size=32, steps=1, init=init, learning_rate=1e-12))
    assert np.allclose(first.image, init, atol=1e-5)


def test_temporal_coherence_keeps_still_content_still(small_pair):
    """With the same content in two frames, coherence keeps G near the last result."""
    content, style = small_pair
    run = {"size": 32, "steps": 16, "seed": 3}
    first = list(stylize(content, style, **run))[-1].image
    # a fresh start from other noise, same content: only coherence pulls it to `first`
    kw = {"previous_frame": (content, first), **run, "seed": 4}
    free = list(stylize(content, style, temporal_weight=0.0, **kw))[-1]
    held = list(stylize(content, style, temporal_weight=1e9, **kw))[-1]
    assert "temporal" in held.losses and "temporal" not in free.losses
    assert np.abs(held.image - first).mean() < 0.5 * np.abs(free.image - first).mean()


def test_fast_mode_on_a_cpu_without_bf16_instructions_is_refused_in_a_sentence(
    small_pair, monkeypatch
):
    from napari_nst.engine.optimise import device

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    with pytest.raises(ValueError, match=r"Fast mode \(bf16\) needs a CPU with bf16"):
        list(stylize(*small_pair, size=32, steps=1, device="cpu", precision="bf16"))
    assert len(list(stylize(*small_pair, size=32, steps=1, device="cpu"))) == 1


def test_fast_mode_reaches_about_the_same_loss_as_fp32(small_pair, losses_of, monkeypatch):
    """bf16 fast mode, judged by the fp32 loss of its final image, stays near fp32's."""
    from napari_nst.engine.optimise import device

    # A CPU without bf16 instructions refuses fast mode; its numbers are the same, slower.
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    content, style = small_pair
    run = {"size": 64, "steps": 30, "every": 30}

    def fp32_loss(image):
        return losses_of(content, style, image, **run)["total"]

    fp32 = list(stylize(content, style, **run))[-1]
    bf16 = list(stylize(content, style, precision="bf16", **run))[-1]
    assert bf16.image.dtype == np.float32
    ratio = fp32_loss(bf16.image) / fp32_loss(fp32.image)
    assert 0.9 < ratio < 1.1, ratio


def test_lbfgs_reports_a_falling_j_and_the_image_it_was_measured_on(small_pair, losses_of):
    # From this noise, fixed-step L-BFGS raised J at 5 of 40 steps (and ended 9% higher);
    # the run now takes such steps back, and each step reports its last accepted point.
    # The reported J is the one minimised, range wall included (when it left the wall
    # out, J rose once with the layout term: 3.74 -> 3.85 at step 10).
    content, style = small_pair
    run = {**SMALL, "size": 96}
    steps = list(stylize(content, style, steps=40, seed=1, **run))
    totals = [s.losses["total"] for s in steps]
    assert totals == sorted(totals, reverse=True)
    # The reported terms are those of the reported point, measured afresh. The image
    # the user gets is that point clamped to [0, 1]: the wall's share, 3·10⁴ × J per
    # unit of stray, feels a clamp that J itself does not.
    assert steps[-1].losses["total"] > 0
    again = losses_of(content, style, steps[-1].image, **run)
    without_wall = [x["total"] - x["range"] for x in (again, steps[-1].losses)]
    assert without_wall[0] == pytest.approx(without_wall[1], rel=1e-5)


def test_a_style_seen_before_in_this_process_reuses_its_targets(small_pair):
    from napari_nst.engine.optimise.style_cache import STYLE_GRAMS
    from napari_nst.engine.run import last_step

    content, style = small_pair
    params = {"size": 48, "steps": 3, "seed": 0}
    STYLE_GRAMS.clear()
    last_step(stylize(content, style, **params))
    computed = STYLE_GRAMS.misses
    assert computed >= 1 and STYLE_GRAMS.hits == 0
    other = np.ascontiguousarray(content[::-1])  # another image, the same style
    reused = last_step(stylize(other, style, **params)).image
    assert (STYLE_GRAMS.hits, STYLE_GRAMS.misses) == (computed, computed)
    STYLE_GRAMS.clear()
    assert np.array_equal(last_step(stylize(other, style, **params)).image, reused)
    changed = style.copy()
    changed[0, 0] = 255 - changed[0, 0]  # one pixel: a different style, computed anew
    before = STYLE_GRAMS.misses
    last_step(stylize(other, changed, **params))
    assert STYLE_GRAMS.misses == before + computed


def test_a_tiny_style_is_taken_with_a_warning_that_says_how_far_it_is_stretched(small_pair):
    content, _ = small_pair
    dot = np.full((1, 1, 3), 128, np.uint8)
    with pytest.warns(UserWarning, match=r"Style image 1 is only 1×1 px: it is stretched 64× to "):
        stylize(content, dot, size=64, steps=1).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a style of about the content's size: no word
        stylize(content, content, size=64, steps=1).close()


def test_gradient_checkpointing_gives_the_same_run(small_pair):
    content, style = small_pair
    plain, saved = (
        list(stylize(content, style, size=48, steps=4, checkpoint=flag))[-1]
        for flag in (False, True)
    )
    assert saved.params.checkpoint and not plain.params.checkpoint
    assert np.allclose(saved.image, plain.image, atol=1e-5)
    assert saved.losses["total"] == pytest.approx(plain.losses["total"], rel=1e-5)


def test_average_pooling_is_another_network_with_its_own_picture(small_pair):
    content, style = small_pair
    by_max, by_avg = (
        list(stylize(content, style, size=48, steps=10, pooling=pooling))[-1]
        for pooling in ("max", "avg")
    )
    assert by_avg.params.pooling == "avg" and np.isfinite(by_avg.image).all()
    assert np.abs(by_avg.image - by_max.image).mean() > 0.01  # not the same network
