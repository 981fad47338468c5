"""A large image in the viewer: a multiscale content at its own size, run in blocks,
its progress shown block by block, a multiscale output, saved whole as TIFF."""

import threading

import numpy as np
import pytest

from napari_nst._napari.output_layer import METADATA_KEY

SIDE = 320


@pytest.fixture
def large_setup(make_napari_viewer):
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise.memory import blocked_bytes

    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    # A multiscale content: the run takes its full-resolution level.
    viewer.add_image([photo, photo[::2, ::2]], name="slide", rgb=True, multiscale=True)
    viewer.add_image(rng.random((96, 96)).astype(np.float32), name="texture")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value = viewer.layers["slide"]
    widget.style.value = viewer.layers["texture"]
    widget.size.value = 0  # the content's own size
    widget.scales.value = ""  # one stage: the blocked one
    widget.auto_stop.value = False
    widget.steps.value = 3
    # A budget that fits 128 px blocks but not the whole 320 px step (the control
    # rounds it: the test counts the blocks of the value it shows).
    limit = blocked_bytes((SIDE, SIDE), 128, StyleParams()) * 1.01 / 2**30
    widget.memory_limit.value = limit
    return viewer, widget


def _blocks_for(limit_gib):
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise.memory import stage_evaluation
    from napari_nst.engine.optimise.shallow_blocks import blocks_of

    params = StyleParams(memory_limit=limit_gib)
    how, side = stage_evaluation((SIDE, SIDE), params, int(limit_gib * 2**30))
    return len(blocks_of((SIDE, SIDE), side, params.deepest_layer, how == "fine blocks"))


def test_a_run_over_the_memory_limit_goes_block_by_block_and_saves_whole(
    qtbot, large_setup, tmp_path, monkeypatch
):
    import napari_nst._napari.output_layer as output_layer
    from napari_nst._napari.writer import read_record

    # Shown as a large result is (above 2048 px, levels down to 512), at this size.
    monkeypatch.setattr(output_layer, "MULTISCALE_ABOVE", 256)
    monkeypatch.setattr(output_layer, "SMALLEST_LEVEL", 100)
    viewer, widget = large_setup
    shown = []  # the status line after each block and each step
    made_on = []  # the threads the output's pyramid was made on
    real_pyramid = output_layer.pyramid

    def pyramid(image):
        made_on.append(threading.current_thread() is threading.main_thread())
        return real_pyramid(image)

    monkeypatch.setattr(output_layer, "pyramid", pyramid)
    run = widget.start()
    assert run is not None, widget.last_message
    for event in (run.status.events.blocks, run.status.events.steps_done):
        event.connect(lambda _e: shown.append(widget.status.value))
    qtbot.waitUntil(lambda: len(run.history) >= 1, timeout=120_000)
    widget._on_run_clicked()  # Stop, after the first step
    qtbot.waitUntil(lambda: not run.running, timeout=120_000)
    assert run.error is None and run.stop_reason == "stopped"
    # The status said which pass and block the step was in, and how many blocks.
    n = _blocks_for(widget.memory_limit.value)
    assert n >= 4
    passes = [t for t in shown if "block pass" in t]
    assert any("pass 1" in t and f"block 1/{n}" in t for t in passes)
    assert any("pass 2" in t and f"block {n}/{n}" in t for t in passes)
    assert any(f"in {n} blocks" in t for t in shown)
    # The pyramid was made off napari's thread (the worker's), never on it.
    assert made_on and not any(made_on)
    # The output is multiscale; its first level is the result at the content's size.
    out = run.output
    assert out.multiscale and out.data[0].shape == (SIDE, SIDE, 3)
    assert np.asarray(out.data[1]).shape == (SIDE // 2, SIDE // 2, 3)
    record = out.metadata[METADATA_KEY]
    assert record["params"]["size"] is None
    assert record["params"]["memory_limit"] == pytest.approx(widget.memory_limit.value)
    # Saved as one TIFF: the full-resolution result and the record.
    viewer.layers.selection.active = out
    path = tmp_path / "large.tif"
    assert viewer.layers.save(str(path), selected=True, plugin="napari-nst") == [str(path)]
    import tifffile

    assert np.array_equal(tifffile.imread(path), run.result)  # the float result, whole
    assert read_record(path)["params"] == record["params"]
    # The input layer is untouched.
    assert viewer.layers["slide"].data[0].dtype == np.uint8
