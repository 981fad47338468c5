"""``stylize_in_viewer`` from the console: what the Run button does."""

import numpy as np
import pytest

import napari_nst
from napari_nst._qt.viewer_run import RunState


def test_stylize_in_viewer_by_layer_names(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((32, 32)), name="c")
    viewer.add_image(np.random.default_rng(1).random((32, 32)), name="s")
    run = napari_nst.stylize_in_viewer(viewer, "c", "s", size=32, steps=3)
    assert run.state is RunState.RUNNING and run.worker is not None
    qtbot.waitUntil(lambda: not run.running, timeout=60_000)
    assert run.state is RunState.DONE and run.stop_reason == "steps"
    out = run.output
    assert out.name == "c × s" and out.data.shape == (32, 32, 3)
    assert len(run.history) == 3


def test_stylize_in_viewer_refuses_mistakes(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((32, 32)), name="c")
    viewer.add_image(np.ones((32, 32)), name="s")
    viewer.add_labels(np.zeros((32, 32), int), name="labels")
    with pytest.raises(ValueError, match="same layer"):
        napari_nst.stylize_in_viewer(viewer, "c", "c")
    with pytest.raises(ValueError, match="not an image layer"):
        napari_nst.stylize_in_viewer(viewer, "c", "labels")
    with pytest.raises(ValueError, match="No layer named"):
        napari_nst.stylize_in_viewer(viewer, "c", "missing")
    with pytest.raises(ValueError, match="steps"):
        napari_nst.stylize_in_viewer(viewer, "c", "s", steps=0)
    assert [layer.name for layer in viewer.layers] == ["c", "s", "labels"]
