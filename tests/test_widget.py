"""The dock widget in a real napari viewer (pytest-qt, under Xvfb)."""

import numpy as np
import pytest

from napari_nst._napari.output_layer import METADATA_KEY
from napari_nst._qt.cpu_first_run import CPU_START_SIZE, fit_to_devices
from napari_nst._qt.viewer_run import RunState
from napari_nst._qt.widget import StyleTransferWidget
from napari_nst.engine.front.images import to_uint8
from napari_nst.engine.front.params import StyleParams


@pytest.fixture
def viewer_and_widget(make_napari_viewer):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    viewer.add_image(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8), name="photo")
    viewer.add_image(rng.random((40, 40)).astype(np.float32), name="texture")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value = viewer.layers["photo"]
    widget.style.value = viewer.layers["texture"]
    widget.size.value = 32
    widget.auto_stop.value = False  # exact step counts below
    widget.steps.value = 6
    return viewer, widget


def _wait_done(qtbot, widget, timeout=60_000):
    qtbot.waitUntil(lambda: widget.run is not None and not widget.run.running, timeout=timeout)


def test_widget_opens_through_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    assert isinstance(widget, StyleTransferWidget)
    assert widget.run_button.text == "Run"
    # The first Run stops by itself, at Standard quality; the rest are StyleParams' defaults.
    assert widget.auto_stop.value and widget.quality.enabled and not widget.steps.enabled
    expected = StyleParams(steps="auto").to_dict()
    assert widget.params().to_dict() == expected


def _devices_known(widget) -> bool:
    return widget.device.native.itemText(0).startswith("auto →")


def test_without_a_gpu_the_first_run_starts_at_the_cpu_size_and_says_why(
    qtbot, make_napari_viewer
):
    import torch

    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("a GPU is here: the size stays StyleParams' default")
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    qtbot.waitUntil(lambda: _devices_known(widget), timeout=60_000)
    assert widget.size.value == CPU_START_SIZE != StyleParams().size
    assert widget.params().size == CPU_START_SIZE
    assert "No GPU here" in widget.last_message


def test_a_size_chosen_before_the_devices_are_known_is_kept(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.size.value = 320
    qtbot.waitUntil(lambda: _devices_known(widget), timeout=60_000)
    assert widget.size.value == 320 and "No GPU" not in widget.last_message


def test_with_a_gpu_the_size_stays_the_default(viewer_and_widget):
    _, widget = viewer_and_widget
    widget._size_chosen = False  # as if the user had not set the fixture's size
    fit_to_devices(
        widget, [("auto → cuda:0", "auto"), ("cuda:0 · a GPU", "cuda:0"), ("cpu", "cpu")]
    )
    assert widget.size.value == 32 and widget.last_message == ""


@pytest.mark.parametrize("has_bf16", [True, False])
def test_without_a_gpu_fast_mode_is_offered_only_where_the_cpu_has_bf16(
    qtbot, make_napari_viewer, monkeypatch, has_bf16
):
    import torch

    from napari_nst.engine.optimise import device

    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("a GPU is here: it runs bf16 well")
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: has_bf16)
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    qtbot.waitUntil(lambda: _devices_known(widget), timeout=60_000)
    assert widget.fast.enabled == has_bf16
    assert ("no bf16 instructions" in widget.fast.tooltip) != has_bf16
    assert widget.params().precision == "fp32"


def test_fast_mode_ticked_on_a_cpu_without_bf16_is_refused_in_the_status_line(
    qtbot, viewer_and_widget, monkeypatch
):
    from napari_nst.engine.optimise import device

    viewer, widget = viewer_and_widget
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    widget.device.value, widget.fast.value = "cpu", True
    count = len(viewer.layers)
    widget.start()
    qtbot.waitUntil(lambda: "needs a CPU with bf16" in widget.last_message, timeout=60_000)
    qtbot.waitUntil(lambda: widget.run is None or not widget.run.running, timeout=60_000)
    assert "Untick Fast mode" in widget.last_message and "Traceback" not in widget.last_message
    assert widget.run_button.text == "Run" and len(viewer.layers) == count


@pytest.mark.parametrize("key", ["astronaut_hubble", "chelsea_ihc", "coffee_brick"])
def test_sample_pairs_open_through_the_manifest(make_napari_viewer, key):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-nst", key)
    names = [layer.name for layer in viewer.layers]
    assert len(names) == 2 and names[0].endswith("(content)") and names[1].endswith("(style)")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    assert widget.content.value is viewer.layers[0]
    assert widget.style.value is viewer.layers[1]


def test_run_streams_into_one_output_layer(qtbot, viewer_and_widget):
    viewer, widget = viewer_and_widget
    photo, texture = viewer.layers["photo"], viewer.layers["texture"]
    before = {
        layer.name: (
            layer.data.copy(),
            tuple(layer.contrast_limits),
            tuple(layer.scale),
            dict(layer.metadata),
        )
        for layer in (photo, texture)
    }
    texture.scale = (1, 1)
    photo.scale = (2.0, 2.0)
    before["photo"] = (photo.data.copy(), tuple(photo.contrast_limits), (2.0, 2.0), {})
    snapshots = []
    viewer.layers.events.inserted.connect(
        lambda e: e.value.events.data.connect(lambda _: snapshots.append(e.value.data.copy()))
    )
    run = widget.start()
    assert run is not None and widget.run_button.text == "Stop"
    _wait_done(qtbot, widget)

    out = run.output
    assert out is not None and out.name == "photo × texture"
    assert [layer.name for layer in viewer.layers].count("photo × texture") == 1
    assert len(snapshots) >= 1  # made with the first image, then written in place
    assert out.data.shape == (27, 32, 3) and out.data.dtype == np.uint8  # as a photo
    assert tuple(out.contrast_limits) == (0, 255)
    assert run.result.dtype == np.float32 and np.array_equal(to_uint8(run.result), out.data)
    # overlays the content: 48 px wide at scale 2 = 96 world units = 32 px × 3
    assert np.allclose(out.scale, (2 * 40 / 27, 2 * 48 / 32))
    meta = out.metadata[METADATA_KEY]
    assert meta["params"]["steps"] == 6 and meta["params"]["size"] == 32
    assert len(meta["loss_history"]) == 6 and meta["elapsed"] > 0
    assert set(meta["versions"]) == {"napari-nst", "torch", "weights"}
    for layer in (photo, texture):
        data, limits, scale, metadata = before[layer.name]
        assert np.array_equal(layer.data, data)
        assert tuple(layer.contrast_limits) == limits
        assert tuple(layer.scale) == scale
        assert layer.metadata == metadata
    assert widget.run_button.text == "Run"
    assert widget.device_in_use.value == "cpu"


def test_stop_mid_run_keeps_the_last_image(qtbot, viewer_and_widget):
    viewer, widget = viewer_and_widget
    widget.steps.value = 10_000
    run = widget.start()
    qtbot.waitUntil(lambda: len(run.history) >= 2, timeout=30_000)
    widget.run_button.native.click()  # the Run button reads "Stop" while running
    _wait_done(qtbot, widget)
    assert run.worker is not None and not run.running
    assert 2 <= len(run.history) < 100
    assert run.output.data.any()
    assert widget.last_message.startswith("Stopped at step ")
    assert widget.last_message.endswith("keeps the last image.")
    # re-running makes a new output layer
    widget.steps.value = 2
    widget.start()
    _wait_done(qtbot, widget)
    assert sum(layer.name.startswith("photo × texture") for layer in viewer.layers) == 2


def test_pause_and_resume(qtbot, viewer_and_widget):
    _, widget = viewer_and_widget
    widget.steps.value = 10_000
    run = widget.start()
    qtbot.waitUntil(lambda: len(run.history) >= 1, timeout=30_000)
    with qtbot.waitSignal(run.worker.paused, timeout=30_000):
        widget._on_pause_clicked()
    assert widget.pause_button.text == "Resume" and run.state is RunState.PAUSED
    assert widget.status.value.startswith("Paused · Step ")
    paused_at, clock = len(run.history), run.clock.seconds
    qtbot.wait(300)  # time passes while paused; the run's clock must not
    assert run.clock.seconds == clock and run.status.seconds <= clock
    with qtbot.waitSignal(run.worker.resumed, timeout=30_000):
        widget._on_pause_clicked()
    assert run.state is RunState.RUNNING
    qtbot.waitUntil(lambda: len(run.history) > paused_at + 1, timeout=30_000)
    widget._on_run_clicked()
    assert run.state is RunState.STOPPING and run.running
    _wait_done(qtbot, widget)
    assert run.state is RunState.DONE and run.stop_reason == "stopped"


def test_layer_choices_follow_add_remove_and_rename(viewer_and_widget):
    viewer, widget = viewer_and_widget

    def shown(combo):
        return [combo.native.itemText(i) for i in range(combo.native.count())]

    extra = viewer.add_image(np.zeros((20, 20)), name="extra")
    assert "extra" in shown(widget.content) and "extra" in shown(widget.style)
    viewer.add_points(np.zeros((1, 2)), name="points")
    assert "points" not in shown(widget.content)
    extra.name = "renamed"
    assert "renamed" in shown(widget.content) and "extra" not in shown(widget.content)
    viewer.layers.remove(extra)
    assert "renamed" not in shown(widget.content)
    assert widget.content.value is viewer.layers["photo"]


def test_same_layer_and_bad_values_reach_the_user(viewer_and_widget, messages):
    viewer, widget = viewer_and_widget
    widget.style.value = widget.content.value
    assert widget.start() is None
    assert "same layer" in widget.last_message
    widget.style.value = viewer.layers["texture"]
    widget.beta.value = "lots"
    assert widget.start() is None
    assert "β (style) must be a number" in widget.last_message
    widget.beta.value = "-3"
    assert widget.start() is None
    assert "beta" in widget.last_message and "out of range" in widget.last_message
    shown = [str(m.message) for m in messages]
    assert any("same layer" in m for m in shown)
    assert any("must be a number" in m for m in shown)
    assert widget.run is None  # no worker was started


def test_load_settings_round_trips(qtbot, viewer_and_widget):
    viewer, widget = viewer_and_widget
    widget.beta.value = "123456"
    widget.seed.value = 42
    widget.preserve_color.value = "luminance"
    widget.steps.value = 2
    run = widget.start()
    _wait_done(qtbot, widget)
    original = widget.params()
    widget.beta.value = "1"
    widget.seed.value = 1
    widget.preserve_color.value = None
    viewer.layers.selection.active = run.output
    widget.results.load_settings()
    assert widget.params() == original


def test_load_settings_keeps_fields_that_have_no_control(qtbot, viewer_and_widget):
    from napari_nst.engine.front.params import StyleParams

    viewer, widget = viewer_and_widget
    hidden = {
        "pooling": "avg",
        "style_layers": ("conv1_1", "conv2_1", "conv3_1"),
        "style_layer_weights": (0.5, 0.3, 0.2),
        "learning_rate": 0.7,
        "content_layer": "conv3_2",
        "normalized": True,
        "seed": None,
        "loss_scale": "paper",
    }
    widget.steps.value = 2
    run = widget.start()
    _wait_done(qtbot, widget)
    saved = StyleParams(**{**run.params.to_dict(), **hidden})
    run.output.metadata[METADATA_KEY]["params"] = saved.to_dict()
    viewer.layers.selection.active = run.output
    widget.results.load_settings()
    widget.steps.value = 3  # one control changed after loading
    again = widget.start()
    _wait_done(qtbot, widget)
    recorded = again.output.metadata[METADATA_KEY]["params"]
    assert StyleParams.from_dict(recorded) == saved.replace(steps=3)


def test_the_strength_slider_sets_beta_and_continue_records_its_start(qtbot, viewer_and_widget):
    viewer, widget = viewer_and_widget
    widget.strength.value = 10.0
    assert widget.strength.value == pytest.approx(10.0, rel=0.1)  # the slider's resolution
    assert widget.params().style_strength == pytest.approx(widget.strength.value, rel=1e-2)
    widget.steps.value = 2
    first = widget.start()
    _wait_done(qtbot, widget)
    viewer.layers.selection.active = first.output
    widget.results.continue_from_output()
    _wait_done(qtbot, widget)
    assert widget.run.output.metadata[METADATA_KEY]["params"]["init"] == "array"


def test_continue_from_output_starts_from_that_image(qtbot, viewer_and_widget):
    viewer, widget = viewer_and_widget
    widget.steps.value = 2
    first = widget.start()
    _wait_done(qtbot, widget)
    viewer.layers.selection.active = first.output
    widget.results.continue_from_output()
    second = widget.run
    assert second is not first and second.inputs.init is not None
    assert np.array_equal(second.inputs.init, first.output.data)
    _wait_done(qtbot, widget)


def test_all_slices_gives_a_stack_of_the_same_shape(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(1)
    stack = viewer.add_image(rng.random((3, 32, 32)).astype(np.float32), name="stack")
    viewer.add_image(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), name="style")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value = stack
    widget.style.value = viewer.layers["style"]
    widget.size.value = 32
    widget.auto_stop.value = False
    widget.steps.value = 2
    widget.frame_steps.value = 1  # slices after the first start from the previous result
    widget.temporal_weight.value = "1"  # frames that depend on each other run in turn
    widget.all_slices.value = True
    run = widget.start()
    _wait_done(qtbot, widget)
    assert run.output.data.shape == (3, 32, 32, 3)
    assert all(run.output.data[i].any() for i in range(3))
    assert [entry["slice"] for entry in run.history] == [0, 0, 1, 2]
    assert run.output.metadata[METADATA_KEY]["params"]["frame_steps"] == 1
    widget.frame_steps.value = 0
    widget.temporal_weight.value = "0"
    # the current slice alone gives one plane, placed at that slice
    viewer.dims.set_current_step(0, 2)
    widget.all_slices.value = False
    run = widget.start()
    _wait_done(qtbot, widget)
    assert run.output.data.shape == (1, 32, 32, 3)
    assert run.output.translate[0] == 2


def _endless_run_widget(make_napari_viewer):
    """A viewer with two layers and the widget set to a run far too long to finish."""
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((32, 32)), name="a")
    viewer.add_image(np.random.default_rng(1).random((32, 32)), name="b")
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.size.value = 32
    widget.auto_stop.value = False
    widget.steps.value = 100_000
    return viewer, widget


def test_closing_the_viewer_mid_run_stops_the_worker(qtbot, make_napari_viewer):
    viewer, widget = _endless_run_widget(make_napari_viewer)
    run = widget.start()
    qtbot.waitUntil(lambda: len(run.history) >= 1, timeout=30_000)
    worker = run.worker
    viewer.close()
    # 100 000 steps take hours: the worker ends within seconds only because it was stopped.
    qtbot.waitUntil(lambda: not worker.is_running, timeout=30_000)


def test_a_closing_viewer_gets_no_output_layer(qtbot, make_napari_viewer):
    viewer, widget = _endless_run_widget(make_napari_viewer)
    run = widget.start()
    waiting = []  # steps handed to the display but not drawn yet, as when close comes
    run.display.offer = lambda key, event: waiting.append(event)
    qtbot.waitUntil(lambda: len(waiting) >= 1, timeout=30_000)
    viewer.layers.clear()  # what Viewer.close does before it closes the window
    run._show(waiting[-1:])  # the draw that was already scheduled
    assert len(viewer.layers) == 0
    qtbot.waitUntil(lambda: not run.worker.is_running, timeout=30_000)


def test_several_styles_blend_with_weights(qtbot, viewer_and_widget):
    viewer, widget = viewer_and_widget
    viewer.add_image(np.random.default_rng(5).random((36, 36)), name="third")
    widget.inputs.add_style_row()
    row = widget._extra_rows[0]
    row.layer.value = viewer.layers["third"]
    row.weight.value = 0.5
    widget.steps.value = 2
    run = widget.start()
    _wait_done(qtbot, widget)
    assert run.output.name == "photo × texture + third"
    meta = run.output.metadata["napari_nst"]["styles"]
    assert meta == [{"name": "texture", "weight": 1.0}, {"name": "third", "weight": 0.5}]
    widget.inputs.remove_style_row(row)
    assert widget.inputs.chosen_styles() == [(viewer.layers["texture"], 1.0)]


def test_regions_from_a_labels_layer_read_live(qtbot, viewer_and_widget, monkeypatch):
    from napari_nst.engine.front.guides import Guides

    viewer, widget = viewer_and_widget
    viewer.add_image(np.random.default_rng(7).random((36, 36)), name="second")
    labels = viewer.add_labels(np.zeros((40, 48), dtype=np.uint8), name="regions")
    labels.data[:, 24:] = 2
    widget.inputs.add_style_row()
    widget._extra_rows[0].layer.value = viewer.layers["second"]
    assert labels in [c for c in widget.regions.choices if c is not None]
    widget.regions.value = labels
    widget.unlabelled.value = 0
    widget.steps.value = 100_000
    seen = []  # the highest label of each read by the running engine
    real_read = Guides.read
    monkeypatch.setattr(Guides, "read", lambda self: seen.append(real_read(self).max()) or (
        real_read(self)
    ))  # fmt: skip
    run = widget.start()
    assert run.inputs.guides.styles == {0: 0, 1: 0, 2: 1}
    qtbot.waitUntil(lambda: len(run.history) >= 2 and 2 in seen, timeout=30_000)
    labels.data[:] = 1  # painting while it runs: the next step reads it
    painted_at = len(seen)
    qtbot.waitUntil(lambda: 1 in seen[painted_at:], timeout=30_000)
    assert run.running  # read live, not after the run
    widget._on_run_clicked()
    _wait_done(qtbot, widget)
    assert run.error is None and run.output.data.any()


def test_regions_from_a_shapes_layer(qtbot, viewer_and_widget):
    viewer, widget = viewer_and_widget
    shapes = viewer.add_shapes(
        [np.array([[0, 0], [0, 24], [40, 24], [40, 0]])], shape_type="rectangle", name="painted"
    )
    widget.regions.value = shapes
    widget.steps.value = 2
    run = widget.start()
    labels = run.inputs.guides.read()
    assert labels.shape == (40, 48) and labels[:, :20].max() == 1 and labels[:, 30:].max() == 0
    _wait_done(qtbot, widget)
    assert run.error is None


def test_widget_warms_up_torch_and_the_network_on_the_engine_thread(
    qtbot, make_napari_viewer, monkeypatch
):
    """Opening the widget runs the engine's warm-up where runs compute, in the background."""
    import threading

    import napari_nst._qt.warm_up as warm_up_module

    ran_on = []
    monkeypatch.setattr(
        warm_up_module, "warm_up", lambda: ran_on.append(threading.current_thread().name)
    )
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    qtbot.waitUntil(lambda: not widget.warm_up.is_alive(), timeout=60_000)
    assert len(ran_on) == 1 and ran_on[0].startswith("napari-nst engine")


def test_a_run_leaves_the_process_as_it_found_it(qtbot, viewer_and_widget, monkeypatch):
    """The worker thread's priority and glibc's malloc settings are left alone."""
    import os
    import threading

    from napari_nst._qt import viewer_run
    from napari_nst.engine.optimise import allocator

    _, widget = viewer_and_widget
    seen, held = [], []
    work = viewer_run.ViewerRun._work

    def watched(self):
        tid = threading.get_native_id()
        seen.append(os.getpriority(os.PRIO_PROCESS, tid))
        for event in work(self):
            held.append(allocator.active_runs())  # mid-run: is glibc's malloc changed?
            yield event
        seen.append(os.getpriority(os.PRIO_PROCESS, tid))

    monkeypatch.setattr(viewer_run.ViewerRun, "_work", watched)
    widget.steps.value = 2
    widget.start()
    _wait_done(qtbot, widget)
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    assert seen == [nice, nice] and held and set(held) == {0}
    assert allocator.active_runs() == 0 and not allocator._enabled


def test_a_slow_display_never_holds_the_steps_back(qtbot, viewer_and_widget, monkeypatch):
    import time

    import napari_nst._napari.output_layer as output_layer
    import napari_nst.engine.jobs.stack as stack

    viewer, widget = viewer_and_widget
    viewer.layers.selection.active = viewer.layers["texture"]
    widget.steps.value = 40
    made, images, real_stack = [0], [], stack.stylize_stack

    def counted_stack(*args, **kwargs):
        for n, step in real_stack(*args, **kwargs):
            made[0] += 1
            images.append(step.image)
            yield n, step

    draws, real_show = [], output_layer.OutputLayer.show

    def slow_show(self, index, image, shown=None):  # a display that takes 0.3 s per image
        before = made[0]
        time.sleep(0.3)
        real_show(self, index, image, shown)
        draws.append((before, made[0]))

    monkeypatch.setattr(stack, "stylize_stack", counted_stack)
    monkeypatch.setattr(output_layer.OutputLayer, "show", slow_show)
    run = widget.start()
    _wait_done(qtbot, widget)
    assert run.output is not None and run.output.name == "photo × texture"
    assert viewer.layers.selection.active is viewer.layers["texture"]
    # The worker computed on while an image was being drawn, so fewer draws than steps.
    assert any(after > before for before, after in draws)
    assert len(draws) < len(images) == 40 == len(run.history)
    # Whatever was skipped, the layer ends on the last step's image.
    assert np.array_equal(run.result, images[-1])
    assert np.array_equal(run.output.data, to_uint8(images[-1]))


def test_the_status_shows_the_stage_an_estimate_and_the_end(qtbot, viewer_and_widget):
    _, widget = viewer_and_widget
    widget.steps.value = 10_000
    run = widget.start()
    shown = []
    run.status.events.steps_done.connect(lambda _e: shown.append(widget.status.value))
    qtbot.waitUntil(lambda: "about" in widget.status.value, timeout=30_000)
    text = widget.status.value
    assert text.startswith("Step ") and " of 10000 · J = " in text and text.endswith(" left")
    # A stage's first step gives no rate yet: the line says so rather than guess.
    assert shown[0].endswith("estimating the time left…")
    widget._on_run_clicked()
    _wait_done(qtbot, widget)
    assert widget.status.value == run.status.ended == widget.last_message
    assert run.status.ended.startswith(f"Stopped at step {run.last_iteration}.")
    # With auto stop, the step count is a cap and says so.
    widget.auto_stop.value = True
    run = widget.start()
    qtbot.waitUntil(lambda: "of up to" in widget.status.value, timeout=30_000)
    widget._on_run_clicked()
    _wait_done(qtbot, widget)


def test_redraw_notifier_waits_for_a_repaint_or_gives_up(qtbot, make_napari_viewer):
    from napari_nst._qt.redraw import RedrawNotifier

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((8, 8), dtype=np.float32))
    calls = []
    notifier = RedrawNotifier(lambda: calls.append("shown"))
    notifier.notify_after_next_redraw()
    viewer.layers[0].data = np.ones((8, 8), dtype=np.float32)  # asks for a repaint
    qtbot.waitUntil(lambda: calls == ["shown"], timeout=5_000)
    # Nothing changes on screen: the callback still comes, after NO_REDRAW_MS at most.
    notifier.notify_after_next_redraw()
    qtbot.waitUntil(lambda: calls == ["shown", "shown"], timeout=5_000)


def _a_result_selected(qtbot, viewer, widget):
    """A finished 2-step run, its output layer selected."""
    widget.steps.value = 2
    run = widget.start()
    _wait_done(qtbot, widget)
    viewer.layers.selection.active = run.output
    return run


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_saving_the_result_keeps_the_picture_and_its_record(
    qtbot, viewer_and_widget, tmp_path, suffix
):
    from napari_nst._napari.writer import read_record
    from napari_nst.engine.front.params import StyleParams

    viewer, widget = viewer_and_widget
    run = _a_result_selected(qtbot, viewer, widget)
    path = tmp_path / f"result{suffix}"
    written = viewer.layers.save(str(path), selected=True, plugin="napari-nst")
    assert written == [str(path)]
    record = read_record(path)
    assert record["params"] == run.output.metadata[METADATA_KEY]["params"]
    # The file opens as the picture: 8-bit PNG or float32 TIFF, the same image.
    [opened] = viewer.open(str(path))
    if suffix == ".png":
        assert opened.data.dtype == np.uint8
        assert np.array_equal(opened.data[..., :3], run.output.data)
    else:
        assert opened.data.dtype == np.float32
        assert np.array_equal(opened.data, run.result)
    # Load settings reads the record back from the opened file.
    widget.steps.value = 7
    viewer.layers.selection.active = opened
    widget.results.load_settings()
    assert widget.params() == StyleParams.from_dict(record["params"])


@pytest.mark.parametrize("plugin", [None, "napari"])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_saving_with_napari_s_own_writer_writes_the_picture(
    qtbot, viewer_and_widget, tmp_path, suffix, plugin
):
    """No plugin named: what File › Save Selected Layers' first choice and
    ``viewer.layers.save(path, selected=True)`` do."""
    from skimage import io

    viewer, widget = viewer_and_widget
    run = _a_result_selected(qtbot, viewer, widget)
    path = tmp_path / f"result{suffix}"
    assert viewer.layers.save(str(path), selected=True, plugin=plugin) == [str(path)]
    saved = io.imread(path)[..., :3]
    # napari's writer saves the 8 bits shown; where napari lists the plugin's writer
    # first (the order of installed plugins decides), that one saves the float result.
    if saved.dtype == np.uint8:
        assert np.array_equal(saved, run.output.data)
    else:
        assert suffix == ".tif" and np.array_equal(saved, run.result)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_the_save_button_writes_the_result_with_its_record(
    qtbot, viewer_and_widget, tmp_path, suffix
):
    from napari_nst._napari.writer import read_record
    from napari_nst.engine.jobs.result_files import is_result_suffix

    viewer, widget = viewer_and_widget
    assert widget.save_result(str(tmp_path / "early.png")) is None
    assert widget.last_message.startswith("There is no result yet")
    widget.steps.value = 2
    run = widget.start()
    _wait_done(qtbot, widget)
    viewer.layers.selection.active = viewer.layers["texture"]  # not an output: the run's
    path = tmp_path / f"result{suffix}"
    assert widget.save_result(str(path)) == str(path) and is_result_suffix(suffix)
    assert read_record(path)["params"] == run.output.metadata[METADATA_KEY]["params"]
    if suffix == ".tif":
        import tifffile

        assert np.array_equal(tifffile.imread(path), run.result)  # the float result
    assert widget.save_result(str(tmp_path / "x.jpg")) is None and ".png or .tif" in (
        widget.last_message
    )


@pytest.mark.parametrize(("typed", "expected"), [("256", 256), ("100", 100), ("64", 64)])
def test_size_can_be_typed(qtbot, viewer_and_widget, typed, expected):
    from qtpy.QtCore import Qt

    _, widget = viewer_and_widget
    box = widget.size.native
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, typed)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert widget.size.value == expected


def test_a_size_below_vgg19s_minimum_is_refused_in_words(qtbot, viewer_and_widget):
    _, widget = viewer_and_widget
    widget.size.value = 7  # the default layers reach conv4_1: 8 px at least
    assert widget.start() is None
    assert "size = 7 is out of range" in widget.last_message


def test_a_long_message_wraps_instead_of_widening_the_dock(viewer_and_widget):
    _, widget = viewer_and_widget
    narrow = widget.native.sizeHint().width()
    widget._say("A message that goes on and on. " * 20, error=False)
    assert widget.native.sizeHint().width() <= narrow


def test_the_device_list_shows_what_works_here_and_what_auto_takes(qtbot, viewer_and_widget):
    import torch

    _, widget = viewer_and_widget
    qtbot.waitUntil(lambda: widget.device.native.itemText(0).startswith("auto →"), timeout=60_000)
    expected = ["auto", *(f"cuda:{i}" for i in range(torch.cuda.device_count())), "cpu"]
    if torch.backends.mps.is_available():
        expected.insert(-1, "mps")
    assert list(widget.device.choices) == expected
    picked = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert widget.device.native.itemText(0) == f"auto → {picked}"


def test_the_first_view_is_simple_and_advanced_unfolds(viewer_and_widget):
    _, widget = viewer_and_widget
    widget.native.show()

    def shown(control):
        return control.native.isVisibleTo(widget.native)

    simple = [widget.content, widget.style, widget.strength, widget.size, widget.quality]
    simple += [widget.run_button, widget.pause_button, widget.status]
    advanced = [widget.alpha, widget.beta, widget.tv_weight, widget.optimizer, widget.init]
    advanced += [widget.device, widget.fast, widget.regions, widget.seed, widget.every]
    advanced += [widget.all_slices, widget.scales]
    assert all(shown(c) for c in simple)
    assert not any(shown(c) for c in advanced) and not shown(widget.folder_in)
    assert not shown(widget.style_weight)  # a blend weight shows with a second style
    widget.advanced.set_expanded(True)
    assert all(shown(c) for c in advanced)
    widget.folder.fold.set_expanded(True)
    assert shown(widget.folder_in) and shown(widget.apply_button)
    widget.inputs.add_style_row()
    assert shown(widget.style_weight)
    assert widget.strength_value.value == "7.5"  # the strength itself, not the slider position
    widget.strength.value = 8.0  # the slider's resolution gives 7.59
    assert widget.strength_value.value == widget.beta.value  # α = 1
    assert abs(float(widget.strength_value.value) - 8) < 0.5


def test_quality_chooses_when_the_run_stops(viewer_and_widget):
    from napari_nst import StyleParams
    from napari_nst._qt.knob_controls import QUALITY_LEVELS

    _, widget = viewer_and_widget
    widget.auto_stop.value = True
    assert widget.quality.enabled and widget.params().settle_levels == QUALITY_LEVELS["Standard"]
    widget.quality.value = QUALITY_LEVELS["Preview"]
    assert widget.params().settle_levels > QUALITY_LEVELS["Standard"] > QUALITY_LEVELS["Fine"]
    widget.set_params(StyleParams(steps="auto", settle_levels=QUALITY_LEVELS["Fine"]))
    assert widget.quality.native.currentText() == "Fine"
    widget.auto_stop.value = False
    assert not widget.quality.enabled  # exact Steps: no stopping rule to choose


def test_the_plugins_menu_finds_the_widget_the_launcher_docked(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")  # as napari-nst does
    actions = [a for a in viewer.window.plugins_menu.actions() if a.text().startswith("Style")]
    assert [a.text() for a in actions] == ["Style Transfer (napari-nst)"]
    actions[0].trigger()
    assert [name for name in viewer.window.dock_widgets if "Style" in name] == [
        "Style Transfer (napari-nst)"
    ]


def test_controls_show_the_labels_and_help_that_style_params_declares(viewer_and_widget):
    from napari_nst.engine.front.params import knob_of

    _, widget = viewer_and_widget
    for name in ("alpha", "beta", "tv_weight", "size", "scales", "init", "seed", "every"):
        control, knob = getattr(widget, name), knob_of(name)
        assert control.label == knob["label"] and control.tooltip.startswith(knob["help"])
    assert widget.optimizer.choices == ("lbfgs", "adam")
    widget.alpha.value = "x"
    with pytest.raises(ValueError, match=r"α \(content\) must be a number"):
        widget.params()
    widget.alpha.value = "1"
    widget.scales.value = "none"  # as the Scales help offers it: the size only
    assert widget.params().scales is None


def test_a_whole_run_reads_no_private_napari_attribute(qtbot, viewer_and_widget, monkeypatch):
    """napari's proxy warns (FutureWarning, an error from napari 0.10) when a plugin
    reads a private attribute; a run from the widget must not."""
    from napari.utils._proxies import PublicOnlyProxy

    viewer, widget = viewer_and_widget
    private = []
    monkeypatch.setattr(
        PublicOnlyProxy, "_private_attr_warning", staticmethod(lambda *a: private.append(a))
    )
    viewer.layers.selection.active = viewer.layers["texture"]
    widget.steps.value = 2
    run = widget.start()
    _wait_done(qtbot, widget)
    assert run.state is RunState.DONE and run.output is not None
    assert viewer.layers.selection.active is viewer.layers["texture"]
    assert private == []
