"""StyleParams: validation names the parameter; dict round trip."""

import json

import pytest

from napari_nst.engine.front.params import AUTO_LOWER_STEPS, AUTO_STEPS_CAP, StyleParams
from napari_nst.engine.front.vgg19_layers import PAPER_STYLE_LAYERS as FIVE_LAYERS


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": -5}, "steps"),
        ({"size": 4}, "size"),
        ({"alpha": -1.0}, "alpha"),
        ({"beta": -1.0}, "beta"),
        ({"tv_weight": -0.1}, "tv_weight"),
        ({"alpha": 0.0, "beta": 0.0}, "alpha and beta"),
        ({"device": "tpu"}, "device"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"init": "zeros"}, "init"),
        ({"content_layer": "conv9_9"}, "content_layer"),
        ({"style_layers": ()}, "style_layers"),
        ({"style_layer_weights": (1.0,)}, "style_layer_weights"),
        ({"preserve_color": "sepia"}, "preserve_color"),
        ({"pooling": "min"}, "pooling"),
        ({"scales": (4, 512)}, "scales"),
        ({"style_scale": 0.0}, "style_scale"),
        ({"every": 0}, "every"),
        ({"alpha": float("nan")}, "alpha"),
        ({"precision": "fp8"}, "precision"),
    ],
)
def test_bad_values_raise_value_error_naming_the_parameter(changes, name):
    with pytest.raises(ValueError, match=name):
        StyleParams(**changes)


def test_size_minimum_follows_the_deepest_layer():
    assert StyleParams().min_size == 8  # conv4_1 is behind three 2×2 poolings
    assert StyleParams(style_layers=FIVE_LAYERS).min_size == 16  # conv5_1: four
    assert StyleParams(content_layer="conv2_2", style_layers=("conv1_1",), size=2).min_size == 2
    with pytest.raises(ValueError, match="size = 7 is out of range: it must be from 8"):
        StyleParams(size=7)
    with pytest.raises(ValueError, match="size = 15 is out of range: it must be from 16"):
        StyleParams(size=15, style_layers=FIVE_LAYERS)


def test_the_default_style_stops_at_conv4_1_and_weighs_style_up():
    # conv5_1's face-sized parts paint a portrait style's eyes onto buildings
    # (docs/algorithm.md, "Portrait styles"); beta 7.5 gives back the style it carried.
    p = StyleParams()
    assert p.style_layers == ("conv1_1", "conv2_1", "conv3_1", "conv4_1")
    assert p.deepest_layer == "conv4_1"  # so the network is cut there, not at conv5_1
    assert p.beta == 7.5


def test_round_trips_through_a_plain_json_dict():
    p = StyleParams(alpha=2.0, beta=3e5, scales=(128, 256), style_layers=("conv1_1", "conv3_1"))
    data = json.loads(json.dumps(p.to_dict()))
    assert StyleParams.from_dict(data) == p


def test_scales_none_as_the_help_writes_it_means_the_size_only():
    p = StyleParams(scales="none")
    assert p.scales is None and p.stage_sizes(512) == (512,)
    assert StyleParams(scales="auto").stage_sizes(512) != (512,)


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(ValueError, match=r"Unknown parameter 'gamma_ray'"):
        StyleParams.from_dict({"alpha": 1.0, "gamma_ray": 3})


def test_ratio_and_derived_values():
    p = StyleParams(alpha=1.0, beta=1e3, scales=(64, 128), steps=10)
    assert p.ratio == pytest.approx(1e-3)
    assert p.step_budget == 10 and p.stage_steps(2) == (7, 3)
    assert p.layer_weights == (0.25,) * 4


@pytest.mark.parametrize("steps", [30, 300, 601])
def test_the_first_stage_keeps_two_thirds_of_the_steps_at_every_size(steps):
    # The layout forms at the first stage: when it got 2/(stages+1) of the budget, 2048 px
    # from noise ended with less of the content's layout than 256 px (docs/algorithm.md).
    p = StyleParams(steps=steps)
    firsts = set()
    for stages in range(2, 6):
        counts = p.stage_steps(stages)
        assert len(counts) == stages and sum(counts) == steps
        assert max(counts[1:]) - min(counts[1:]) <= 1
        firsts.add(counts[0])
    assert firsts == {round(2 * steps / 3)}
    assert p.stage_steps(1) == (steps,)


def test_stopping_when_settled_the_lower_stages_are_capped_alike_at_every_size():
    auto, fixed = StyleParams(steps="auto"), StyleParams(steps=AUTO_STEPS_CAP)
    first, middle = AUTO_LOWER_STEPS
    for stages in range(2, 8):
        counts = auto.stage_steps(stages)
        assert counts[:-1] == (first, *[middle] * (stages - 2))
        assert counts[-1] == fixed.stage_steps(stages)[-1]  # the last stage keeps its cap
    assert auto.stage_steps(1) == (AUTO_STEPS_CAP,)


def test_a_budget_smaller_than_the_stages_still_runs_every_stage():
    assert StyleParams(steps=2).stage_steps(4) == (1, 1, 1, 1)


def test_every_field_declares_what_users_see():
    import dataclasses

    from napari_nst.engine.front.params import knob_of

    for field in dataclasses.fields(StyleParams):
        knob = knob_of(field.name)
        assert knob["help"].endswith(".") and len(knob["help"]) > 20, field.name
        if knob["choices"]:
            assert field.default in knob["choices"] or field.default is None, field.name
