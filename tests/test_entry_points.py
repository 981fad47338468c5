"""Every public entry point takes its parameters one way (docs/scripting.md's table):
a StyleParams, a dict, keyword overrides and style_strength; a bad name or value
raises one sentence at the call, before any work, generators included."""

import json

import numpy as np
import pytest

import napari_nst
from napari_nst import StyleParams
from napari_nst.engine.front.params import as_params

RNG = np.random.default_rng(0)
CONTENT = RNG.integers(0, 255, (30, 40, 3), dtype=np.uint8)
STYLE = RNG.integers(0, 255, (36, 36, 3), dtype=np.uint8)
BASE = {"size": 32, "steps": 1, "scales": None}
# Each form, and the parameters it must give.
FORMS = {
    "StyleParams": ((StyleParams(**BASE, beta=3.0),), {}, {"beta": 3.0}),
    "dict": (({**BASE, "beta": 3.0},), {}, {"beta": 3.0}),
    "keywords": ((), {**BASE, "beta": 3.0}, {"beta": 3.0}),
    "style_strength": (({**BASE, "alpha": 2.0},), {"style_strength": 4.0}, {"beta": 8.0}),
}


def test_the_rule_merges_params_then_keywords_then_strength():
    p = as_params({"beta": 2.0, "steps": 7}, steps=9, style_strength=3.0)
    assert (p.steps, p.alpha, p.beta) == (9, 1.0, 3.0)
    assert as_params(None) == StyleParams()
    with pytest.raises(ValueError, match=r"Unknown parameter 'stepz' \(did you mean 'steps'\?\)"):
        as_params(stepz=3)
    with pytest.raises(ValueError, match="params must be a StyleParams, a dict or None"):
        as_params(["steps", 3])


@pytest.mark.parametrize("form", FORMS)
def test_stylize(form):
    args, kwargs, expected = FORMS[form]
    (step,) = list(napari_nst.stylize(CONTENT, STYLE, *args, **kwargs))
    assert {k: getattr(step.params, k) for k in expected} == expected


@pytest.mark.parametrize("form", FORMS)
def test_stylize_stack(form):
    args, kwargs, expected = FORMS[form]
    steps = list(napari_nst.stylize_stack([CONTENT, CONTENT], STYLE, *args, **kwargs))
    assert [n for n, _ in steps] == [0, 1]
    assert {k: getattr(steps[-1][1].params, k) for k in expected} == expected


def test_stylize_and_stack_refuse_a_bad_name_at_the_call():
    with pytest.raises(ValueError, match="did you mean 'steps'"):
        napari_nst.stylize(CONTENT, STYLE, stepz=3)
    with pytest.raises(ValueError, match="did you mean 'steps'"):
        napari_nst.stylize_stack([CONTENT], STYLE, stepz=3)  # never iterated
    with pytest.raises(ValueError, match="beta = -1"):
        napari_nst.stylize_stack([CONTENT], STYLE, {"beta": -1})


@pytest.mark.parametrize("form", FORMS)
def test_stylize_batch(form, tmp_path, client):
    from skimage import io

    args, kwargs, expected = FORMS[form]
    io.imsave(tmp_path / "a.png", CONTENT)
    jobs = napari_nst.jobs_from_inputs([tmp_path / "a.png"], STYLE)
    out = tmp_path / "out"
    (result,) = napari_nst.stylize_batch(jobs, *args, output_dir=out, client=client, **kwargs)
    saved = json.loads((tmp_path / "out" / "a.json").read_text())["params"]
    assert result.status == "done" and {k: saved[k] for k in expected} == expected


def test_stylize_batch_and_planes_refuse_a_bad_name_at_the_call(tmp_path):
    jobs = napari_nst.jobs_from_inputs([tmp_path], STYLE)
    with pytest.raises(ValueError, match="did you mean 'steps'"):
        napari_nst.stylize_batch(jobs, {"stepz": 3}, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing was done
    with pytest.raises(ValueError, match="did you mean 'steps'"):
        napari_nst.stylize_planes([CONTENT], STYLE, {"stepz": 3})


@pytest.mark.parametrize("form", FORMS)
def test_stylize_in_viewer(form, qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(CONTENT, name="photo", rgb=True)
    viewer.add_image(STYLE, name="texture", rgb=True)
    args, kwargs, expected = FORMS[form]
    run = napari_nst.stylize_in_viewer(viewer, "photo", "texture", *args, **kwargs)
    qtbot.waitUntil(lambda: not run.running, timeout=60_000)
    assert run.error is None and {k: getattr(run.params, k) for k in expected} == expected


def test_stylize_in_viewer_refuses_a_bad_name_before_any_layer_is_read(make_napari_viewer):
    viewer = make_napari_viewer()
    with pytest.raises(ValueError, match="did you mean 'steps'"):
        napari_nst.stylize_in_viewer(viewer, "no such layer", "texture", stepz=3)
    assert len(viewer.layers) == 0
