"""How much style: the strength slider, linked to α and β, and their ratio."""

from __future__ import annotations

from magicgui.widgets import Container, Label, LogSlider

from ..engine.front.params import StyleParams
from .knob_controls import KnobControl, number_text

STRENGTHS = (0.01, 100.0)  # the slider's range


class BalancePanel:
    """Style strength (β/α) in the simple view; α, β and α/β in the Advanced fold."""

    def __init__(self, alpha: KnobControl, beta: KnobControl):
        self.alpha, self.beta = alpha, beta
        default = StyleParams().style_strength
        self.strength = LogSlider(
            label="Style strength",
            value=default,
            min=STRENGTHS[0],
            max=STRENGTHS[1],
            tooltip="How much of the style to paint: to the right, more style and less of the "
            "content's layout. It sets β = strength × α and looks the same at every size.",
        )
        # magicgui's LogSlider reads out its internal position (57 for 2): show the value.
        for child in self.strength.native.children():
            if type(child).__name__ == "QLargeIntSpinBox":
                child.hide()
        self.strength_value = Label(value=number_text(default))
        self.ratio = Label(label="α/β")
        self.strength.changed.connect(self._apply_strength)
        alpha.widget.changed.connect(self._show_ratio)
        beta.widget.changed.connect(self._show_ratio)
        self._show_ratio()

    def row(self) -> Container:
        return Container(
            widgets=[self.strength, self.strength_value],
            layout="horizontal",
            labels=False,
            label="Style strength",
        )

    def show_strength(self, strength: float) -> None:
        """Put the slider at ``strength`` without changing β (Load settings)."""
        with self.strength.changed.blocked():
            self.strength.value = min(max(strength, STRENGTHS[0]), STRENGTHS[1])
        self._show_ratio()

    def _apply_strength(self, _value=None):
        # magicgui's LogSlider emits its internal linear position: read the value itself.
        try:
            alpha = self.alpha.read() or 1.0
        except ValueError:
            alpha = 1.0
        self.beta.write(float(f"{self.strength.value * alpha:.3g}"))

    def _show_ratio(self, _value=None):
        try:
            a, b = self.alpha.read(), self.beta.read()
        except ValueError:
            self.ratio.value = "–"
            return
        self.ratio.value = "∞ (no style)" if b == 0 else f"{a / b:.3g}"
        self.strength_value.value = "∞" if a == 0 else f"{b / a:.3g}"
