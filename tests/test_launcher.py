"""``napari-nst``: the sample pair, side by side, with the widget docked (a real viewer)."""

from napari_nst._napari.launcher import parse, set_up


def test_the_launcher_shows_the_photo_beside_the_style_and_runs(qtbot, make_napari_viewer):
    viewer = make_napari_viewer()
    args = parse(["--sample", "chelsea_ihc", "--run", "--steps", "2", "--size", "32"])
    widget = set_up(viewer, args)
    content, style = viewer.layers
    assert content.name.endswith("(content)") and style.name.endswith("(style)")
    # Side by side: the style, added last, does not cover the photo.
    assert viewer.grid.enabled and content.visible and style.visible
    assert widget.content.value is content and widget.style.value is style
    run = widget.run
    assert run is not None and widget.steps.value == 2 and widget.size.value == 32
    qtbot.waitUntil(lambda: not run.running, timeout=60_000)
    assert run.error is None and len(run.history) == 2
    assert [layer.name for layer in viewer.layers][2] == run.output.name
