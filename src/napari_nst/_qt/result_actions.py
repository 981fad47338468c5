"""What the widget does with a result: Continue from output, Load settings, Save result."""

from __future__ import annotations

from .._napari.layers import shown_plane
from .._napari.output_layer import METADATA_KEY
from ..engine.front import params as params_module


class ResultActions:
    """The three buttons under Run that take an output layer (or a saved result)."""

    def __init__(self, widget):
        self.widget = widget

    def continue_from_output(self, *_):
        w = self.widget
        try:
            layer = w.selected_output()
        except ValueError as err:
            w._say(str(err))
            return
        w.start(init=shown_plane(layer, w.viewer))

    def load_settings(self, *_):
        """Settings from the selected output layer, or from the file it was opened from."""
        w = self.widget
        try:
            layer = w.viewer.layers.selection.active
            if layer is None:
                raise ValueError("Select an output layer made by Style Transfer first.")
            record = layer.metadata.get(METADATA_KEY)
            if record is None and layer.source.path:
                from .._napari.writer import read_record

                record = read_record(layer.source.path)
            if record is None:
                raise ValueError(
                    "Select an output layer made by Style Transfer, or a result saved from one."
                )
            if not record.get("params"):
                raise ValueError("This output layer has no saved settings yet.")
            w.set_params(params_module.StyleParams.from_dict(record["params"]))
        except ValueError as err:
            w._say(str(err))
            return
        w._say(f"Settings loaded from '{layer.name}'.", error=False)

    def ask_where_to_save(self, *_):
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(
            self.widget.native, "Save result", "", "PNG (*.png);;TIFF, float32 (*.tif *.tiff)"
        )
        if path:
            self.save(path)

    def save(self, path: str) -> str | None:
        """Write the selected output layer, else this run's, with its record; the path."""
        from .._napari.writer import write_result

        w = self.widget
        try:
            layer = self._output()
            state = {"metadata": layer.metadata, "multiscale": layer.multiscale}
            written = write_result(path, layer.data, state)
            if not written:
                raise ValueError(f"Results are saved as .png or .tif, not '{path}'.")
        except (ValueError, OSError) as err:
            w._say(str(err))
            return None
        w._say(f"Saved '{layer.name}' to {written[0]}.", error=False)
        return written[0]

    def _output(self):
        w = self.widget
        try:
            return w.selected_output()
        except ValueError:  # none selected: this run's
            pass
        if w.run is None or w.run.output is None:
            raise ValueError("There is no result yet: press Run, or select an output layer.")
        return w.run.output
