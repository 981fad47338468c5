"""A StyleParams field declared once reaches the CLI, the widget and Load settings."""

import dataclasses

import numpy as np
import pytest

from napari_nst.engine.front import params as params_module


@pytest.fixture
def throwaway(monkeypatch):
    """StyleParams with one more field, declared as any field is (``knob``)."""

    @dataclasses.dataclass
    class WithThrowaway(params_module.StyleParams):
        throwaway: float = params_module.knob(0.5, "A field for this test only.", "Throwaway")
        throwaway_count: int | None = params_module.knob(
            None, "Another, a whole number or none.", "Throwaway count", kind="int"
        )

    monkeypatch.setattr(params_module, "StyleParams", WithThrowaway)
    return WithThrowaway


def test_a_new_field_reaches_the_advanced_fold_run_and_load_settings(
    throwaway, make_napari_viewer
):
    from napari_nst._napari.output_layer import METADATA_KEY

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    number, count = widget.controls["throwaway"], widget.controls["throwaway_count"]
    advanced = list(widget.advanced.container)
    assert number.widget in advanced and count.widget in advanced
    assert number.widget.label == "Throwaway"
    assert number.widget.tooltip == "A field for this test only."
    # Run reads it...
    number.widget.value, count.widget.value = "0.25", 3
    params = widget.params()
    assert isinstance(params, throwaway) and (params.throwaway, params.throwaway_count) == (
        0.25,
        3,
    )
    number.widget.value = "lots"
    with pytest.raises(ValueError, match="Throwaway must be a number"):
        widget.params()
    # ... and Load settings puts a saved value back.
    viewer.add_image(np.zeros((8, 8), np.float32), name="saved")
    saved = throwaway(throwaway=0.75, throwaway_count=None).to_dict()
    viewer.layers["saved"].metadata[METADATA_KEY] = {"params": saved}
    viewer.layers.selection.active = viewer.layers["saved"]
    widget.results.load_settings()
    assert number.widget.value == "0.75" and count.widget.value == 0
    assert widget.params().throwaway == 0.75 and widget.params().throwaway_count is None


def test_a_new_field_reaches_the_cli(throwaway):
    from napari_nst.cli import _params, _parser

    args = _parser().parse_args(["c.png", "s.png", "-o", "o.png", "--throwaway", "0.3"])
    assert "--throwaway-count" in _parser().format_help()
    assert _params(args, "noise").throwaway == 0.3
