"""The layers a run reads: content, styles and their blend, and regions."""

from __future__ import annotations

from magicgui.widgets import ComboBox, Container, FloatSpinBox, PushButton

from .._napari.layers import image_layers


class StyleRow(Container):
    """One extra style layer with its blend weight."""

    def __init__(self, choices, on_remove):
        self.layer = ComboBox(label="Style", choices=choices, tooltip="An extra style image.")
        self.weight = _weight("weight", "Blend weight: the target Gram matrices are the "
                              "weighted mix of the styles.")  # fmt: skip
        self.remove = PushButton(text="✕", tooltip="Remove this style.")
        super().__init__(
            widgets=[self.layer, self.weight, self.remove], layout="horizontal", labels=False
        )
        self.remove.changed.connect(lambda: on_remove(self))


def _weight(label: str, tooltip: str) -> FloatSpinBox:
    return FloatSpinBox(label=label, value=1.0, min=0.0, max=1000.0, step=0.1, tooltip=tooltip)


class InputsPanel:
    """Content, style (+ more styles with weights), regions; follows the layer list."""

    def __init__(self, viewer):
        self.viewer = viewer
        self.content = ComboBox(
            label="Content",
            choices=self.layer_choices,
            tooltip="The image whose layout is kept (C).",
        )
        self.style = ComboBox(
            label="Style",
            choices=self.layer_choices,
            tooltip="The image whose textures and colours are taken (S).",
        )
        self.style_weight = _weight(
            "Style weight", "Blend weight of this style when several styles are used."
        )
        self.style_weight.visible = False  # shown with a second style
        self.extra_styles = Container(labels=False, visible=False)
        self.add_style = PushButton(text="+ Add style", tooltip="Blend several style layers.")
        self.add_style.changed.connect(self.add_style_row)
        self.regions = ComboBox(
            label="Regions",
            choices=self._region_choices,
            value=None,
            tooltip="Optional Labels or Shapes layer: label k gets style k (1 = the first "
            "style). Paint while it runs: the styles move at the next step.",
        )
        self.unlabelled = ComboBox(
            label="Unlabelled",
            choices=[("content only", None), ("first style", 0)],
            value=None,
            tooltip="What label 0 (unpainted) gets when Regions is set.",
        )
        self._extra_rows: list[StyleRow] = []

    def rows(self) -> list:
        """The simple view's rows (regions go to the Advanced fold)."""
        return [self.content, self.style, self.style_weight, self.extra_styles, self.add_style]

    def chosen_styles(self) -> list[tuple]:
        styles = [(self.style.value, self.style_weight.value)]
        return styles + [(row.layer.value, row.weight.value) for row in self._extra_rows]

    # -- layer choices ------------------------------------------------------------------
    def layer_choices(self, _widget=None):
        return [(layer.name, layer) for layer in image_layers(self.viewer)]

    def _region_choices(self, _widget=None):
        from napari.layers import Labels, Shapes

        layers = [lay for lay in self.viewer.layers if isinstance(lay, (Labels, Shapes))]
        return [("none", None), *((lay.name, lay) for lay in layers)]

    def pick_two(self) -> None:
        """Two different layers, where content and style are the same one: what the names
        say ("(content)", "(style)"), else the last layer for the style."""
        layers = image_layers(self.viewer)
        if len(layers) >= 2 and self.content.value is self.style.value:
            styles = [layer for layer in layers if "(style)" in layer.name]
            contents = [layer for layer in layers if "(content)" in layer.name]
            if contents:
                self.content.value = contents[0]
            self.style.value = next(
                (s for s in styles + layers if s is not self.content.value), layers[-1]
            )

    def add_style_row(self):
        row = StyleRow(self.layer_choices, self.remove_style_row)
        self._extra_rows.append(row)
        self.extra_styles.append(row)
        self.extra_styles.visible = self.style_weight.visible = True

    def remove_style_row(self, row):
        self._extra_rows.remove(row)
        self.extra_styles.remove(row)
        self.extra_styles.visible = self.style_weight.visible = bool(self._extra_rows)
