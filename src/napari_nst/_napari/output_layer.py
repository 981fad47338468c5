"""The one layer a run creates: placed over the content, written in place, with its record.

It holds 8-bit RGB, as a photo does, so that napari's own writer (File › Save Selected
Layers' first choice) saves it as PNG or TIFF; the float result stays beside it
(``OutputLayer.result``, and in the layer's metadata for the plugin's writer).
"""

from __future__ import annotations

import importlib.metadata

import numpy as np

from .. import __version__
from ..engine.front.images import to_uint8
from .inputs import LayerInputs
from .layers import unwrapped
from .writer import RECORD_KEY as METADATA_KEY
from .writer import RESULT_KEY

# A single-plane result with a longer side above this is shown as a multiscale layer:
# napari then draws only the level the view needs, not the whole image at each update.
MULTISCALE_ABOVE = 2048
# The pyramid halves down to this longer side.
SMALLEST_LEVEL = 512


class OutputLayer:
    """Creates the output layer at the first image, then writes each image into it.

    Holds no pixels of the inputs: only where the result goes and what it records.
    """

    def __init__(self, viewer, inputs: LayerInputs):
        self.viewer = viewer
        self.layer = None
        self.name = f"{inputs.content_name} × {' + '.join(inputs.style_names)}"
        self.lead_shape = inputs.lead_shape
        self.n_planes = len(inputs.planes)
        self.first_index = inputs.planes[0][0]
        self.layer_scale = inputs.layer_scale
        self.layer_translate = inputs.layer_translate
        self.source_hw = inputs.source_hw
        self.content_name = inputs.content_name
        self.styles = [
            {"name": name, "weight": weight}
            for name, (_, weight) in zip(inputs.style_names, inputs.styles)
        ]

    def displayed(self, image) -> np.ndarray | list[np.ndarray]:
        """What the layer holds for ``image``: 8 bits, or their pyramid for a large single
        image. Any thread may make it (a run's worker does, so napari's only swaps it in)."""
        if not self.lead_shape and max(image.shape[:2]) > MULTISCALE_ABOVE:
            return pyramid(image)
        return to_uint8(image)

    def show(self, index, image, shown=None) -> None:
        """Put one slice's image in place (creating the layer with the first one);
        ``shown``: its ``displayed`` form, if made already."""
        shown = self.displayed(image) if shown is None else shown
        if self.layer is None:
            self._create(index, image, shown)
        elif not self.lead_shape:
            self.layer.metadata[RESULT_KEY] = image
            self.layer.data = shown
        else:
            self.result[self._slot(index)] = image
            self.layer.data[self._slot(index)] = shown
            self.layer.refresh()

    @property
    def result(self) -> np.ndarray | None:
        """The float32 result in [0, 1] that the layer shows in 8 bits (held by the layer,
        not by the run, so that a finished run keeps no pixels)."""
        return None if self.layer is None else self.layer.metadata.get(RESULT_KEY)

    def in_viewer(self) -> bool:
        return self.layer is not None and any(self.is_it(lay) for lay in self.viewer.layers)

    def is_it(self, layer) -> bool:
        return self.layer is not None and unwrapped(layer) is unwrapped(self.layer)

    def record(self, params, step, history: list[dict], elapsed: float) -> None:
        """The run's record in the layer's metadata (read by Load settings and the writer)."""
        self.layer.metadata[METADATA_KEY] = {
            "params": params.to_dict(),
            "content": self.content_name,
            "styles": self.styles,
            "versions": {
                "napari-nst": __version__,
                "torch": importlib.metadata.version("torch"),
                "weights": f"{params.weights}@{step.weights_version}",
            },
            "device": step.device,
            "loss_history": history,
            "elapsed": elapsed,
        }

    def _create(self, index, image, shown):
        h, w = image.shape[:2]
        if self.lead_shape:
            result = np.zeros((*self.lead_shape, h, w, 3), dtype=np.float32)
            result[self._slot(index)] = image
            data = np.zeros(result.shape, dtype=np.uint8)
            data[self._slot(index)] = shown
        else:
            result, data = image, shown
        # Scale so that the output overlays the content exactly, whatever its size.
        yx_scale = self.layer_scale[-2:] * (np.asarray(self.source_hw) / np.asarray((h, w)))
        scale = np.concatenate([self.layer_scale[:-2], yx_scale])
        translate = self.layer_translate.copy()
        if self.n_planes == 1 and self.lead_shape:
            # One slice of a stack: place the 2-D result at that slice's position.
            lead = len(self.lead_shape)
            translate[:lead] += np.asarray(self.first_index) * self.layer_scale[:lead]
        self.layer = _added_without_selecting(
            self.viewer.layers,
            lambda: self.viewer.add_image(
                data,
                name=self.name,
                rgb=True,
                contrast_limits=(0, 255),
                scale=scale,
                translate=translate,
                metadata={METADATA_KEY: {}, RESULT_KEY: result},
            ),
        )

    def _slot(self, index):
        """Where a slice's result goes in the output stack (a one-slice run: its only slice)."""
        return index if self.n_planes > 1 else (0,) * len(self.lead_shape)


def pyramid(image: np.ndarray) -> list[np.ndarray]:
    """The image in 8 bits, then 2×2 means of it, down to ``SMALLEST_LEVEL`` px (its first
    level is the result itself: saving and Continue from output read level 0)."""
    levels = [image]
    while max(levels[-1].shape[:2]) > SMALLEST_LEVEL:
        top = levels[-1]
        h, w = top.shape[0] // 2 * 2, top.shape[1] // 2 * 2
        half = top[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3), dtype=np.float32)
        levels.append(half)
    return [to_uint8(level) for level in levels]


def _added_without_selecting(layers, add):
    """``add()`` a layer, then give the selection back as it was (napari selects a new
    layer, which would move the user's layer controls to the output)."""
    before = set(layers.selection)
    layer = add()
    layers.selection.clear()
    layers.selection.update(before)
    return layer
