"""Apply to folder in a real viewer: a local Dask cluster, progress, failures, Cancel."""

import json

import numpy as np
import pytest
from skimage import io

pytest.importorskip("distributed")


@pytest.fixture
def widget_and_folder(photo_and_texture, tmp_path):
    viewer, widget = photo_and_texture
    rng = np.random.default_rng(0)
    widget.steps.value = 2
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("one", "two"):
        io.imsave(folder / f"{name}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    (folder / "broken.png").write_bytes(b"not an image")
    widget.folder_in.value = folder
    widget.folder_out.value = tmp_path / "out"
    return viewer, widget, tmp_path / "out"


def test_apply_to_folder_paints_every_image_and_names_failures(qtbot, widget_and_folder):
    viewer, widget, out = widget_and_folder
    texture = viewer.layers["texture"].data.copy()
    layers_before = len(viewer.layers)
    run = widget.apply_to_folder()
    assert run is not None and widget.apply_button.text == "Cancel batch"
    assert {job.style_limits == [(0.2, 0.8)] for job in run.jobs} == {True}  # as shown
    qtbot.waitUntil(lambda: not run.running, timeout=240_000)
    # From the first second: the cluster starting, then its workers, before any result.
    said = run.sentences
    assert said[0] == "Starting local Dask workers…"
    assert said[1].endswith("workers ready: painting 3 images…")
    assert any(s.startswith("1 of 3 images done") for s in said[2:])
    assert said[-1].startswith("3 of 3 images done")
    assert run.error is None and run.counts == {"done": 2, "skipped": 0, "failed": 1}
    assert sorted(p.name for p in out.iterdir()) == ["one.json", "one.png", "two.json", "two.png"]
    assert "2 written, 0 already there, 1 failed" in widget.last_message
    assert "broken: broken.png could not be read" in widget.last_message
    assert json.loads((out / "one.json").read_text())["params"]["steps"] == 2
    assert io.imread(out / "one.png").shape == (24, 32, 3)
    assert widget.apply_button.text == "Apply to folder…"
    assert np.array_equal(viewer.layers["texture"].data, texture)  # inputs untouched
    assert len(viewer.layers) == layers_before  # a batch adds no layers


def test_apply_to_folder_refuses_what_it_cannot_do(widget_and_folder, tmp_path):
    _, widget, _ = widget_and_folder
    widget.folder_out.value = widget.folder_in.value
    assert widget.apply_to_folder() is None and "other than Folder in" in widget.last_message
    widget.folder_in.value = tmp_path / "nowhere"
    assert widget.apply_to_folder() is None and "Folder in" in widget.last_message


def test_cancel_keeps_only_complete_outputs(qtbot, widget_and_folder):
    _, widget, out = widget_and_folder
    widget.auto_stop.value = False
    widget.steps.value = 400
    run = widget.apply_to_folder()
    # Cancel once a job has ended (the broken one fails at once, the others run on).
    qtbot.waitUntil(lambda: run.tally.finished >= 1, timeout=120_000)
    widget.folder.on_apply_clicked()  # Cancel
    qtbot.waitUntil(lambda: not run.running, timeout=120_000)
    assert widget.last_message.startswith("Cancelled:")
    assert widget.apply_button.text == "Apply to folder…" and widget.apply_button.enabled
    written = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert all(not name.startswith(".") for name in written)  # no partial files
    done = [name for name in written if name.endswith(".png")]
    assert sorted(written) == sorted(done + [n[:-4] + ".json" for n in done])  # in pairs
    assert run.counts["done"] == len(done) < 2  # what finished is there; the rest is not


def test_all_slices_without_temporal_weight_runs_its_planes_as_tasks(qtbot, photo_and_texture):
    from napari_nst._napari.output_layer import METADATA_KEY

    viewer, widget = photo_and_texture
    stack = viewer.add_image(
        np.random.default_rng(1).random((3, 32, 32)).astype(np.float32), name="stack"
    )
    before = stack.data.copy()
    widget.content.value = stack
    widget.size.value = 32
    widget.auto_stop.value = False
    widget.steps.value = 2
    widget.all_slices.value = True
    assert widget.temporal_weight.value == "0"
    run = widget.start()
    assert run.on_cluster
    qtbot.waitUntil(lambda: not run.running, timeout=240_000)
    assert run.error is None and run.stop_reason == "steps"
    assert run.output.data.shape == (3, 32, 32, 3)
    planes = run.output.data
    assert all(planes[i].any() for i in range(3))
    assert not np.array_equal(planes[0], planes[1])  # each plane its own run
    assert sorted(entry["slice"] for entry in run.history) == [0, 1, 2]
    assert {entry["iteration"] for entry in run.history} == {2}
    assert run.output.metadata[METADATA_KEY]["params"]["temporal_weight"] == 0
    assert np.array_equal(stack.data, before)  # the input layer is untouched


def test_all_frames_with_temporal_weight_run_in_chains_on_the_named_scheduler(
    qtbot, photo_and_texture
):
    import distributed

    from napari_nst.engine.jobs.planes import frame_chains

    viewer, widget = photo_and_texture
    rng = np.random.default_rng(2)
    movie = viewer.add_image(rng.random((4, 32, 32)).astype(np.float32), name="movie")
    before = movie.data.copy()
    widget.content.value = movie
    widget.size.value = 32
    widget.auto_stop.value = False
    widget.steps.value = 3
    widget.frame_steps.value = 2
    widget.temporal_weight.value = "1"
    widget.all_slices.value = True
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        widget.scheduler.value = cluster.scheduler_address
        run = widget.start()
        assert run.on_cluster
        qtbot.waitUntil(lambda: not run.running, timeout=240_000)
        assert cluster.scheduler.workers  # the cluster the field names is still up
        # Stop keeps the frames done and cancels the rest.
        widget.steps.value, widget.frame_steps.value = 100, 20_000
        stopped = widget.start()
        qtbot.waitUntil(lambda: len(stopped.history) >= 1, timeout=240_000)
        stopped.stop()
        qtbot.waitUntil(lambda: not stopped.running, timeout=240_000)
        assert stopped.stop_reason == "stopped" and 1 <= len(stopped.history) < 4
    assert run.error is None and run.stop_reason == "steps"
    assert all(run.output.data[i].any() for i in range(4))
    ran = {entry["slice"]: entry["iteration"] for entry in run.history}
    assert sorted(ran) == [0, 1, 2, 3] and len(run.history) == 4  # each frame once
    # The shared middle frame runs all steps; the frames chained from it, frame_steps.
    start = frame_chains(4, 2)[0][0]
    assert ran == {n: 3 if n == start else 2 for n in range(4)}
    assert np.array_equal(movie.data, before)  # the input layer is untouched


def test_stylize_in_viewer_runs_all_slices_on_the_named_scheduler(
    qtbot, make_napari_viewer, client
):
    import napari_nst

    viewer = make_napari_viewer()
    rng = np.random.default_rng(3)
    viewer.add_image(rng.random((3, 32, 32)).astype(np.float32), name="stack")
    viewer.add_image(rng.random((32, 32)).astype(np.float32), name="texture")
    run = napari_nst.stylize_in_viewer(
        viewer, "stack", "texture", steps=2, size=32, all_slices=True,
        scheduler=client.scheduler.address,
    )  # fmt: skip
    assert run.on_cluster and run.status.unit == "slices"
    qtbot.waitUntil(lambda: not run.running, timeout=240_000)
    assert run.error is None and run.output.data.shape == (3, 32, 32, 3)
    assert sorted(entry["slice"] for entry in run.history) == [0, 1, 2]
    assert run.status.ended.startswith("Done:") and run.status.steps_done == 3
