"""One control per StyleParams field, made from what ``knob`` declares, and read back.

A field with a ``label`` gets a control; ``KnobControl`` pairs it with reading and
writing the field's value, so the panels list, read and restore the parameters without
naming them one by one. Fields whose control the layout designs (the size, the steps
and when to stop, the scales, the start, the device, fast mode) are made here too, by
name; every other field gets a control by its kind: add a field with a label and it
appears in the Advanced fold, is read by Run and restored by Load settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, LineEdit, SpinBox

from ..engine.front import params as params_module
from ..engine.front.params import AUTO_STEPS_CAP, INITS, knob_kind

INT_MAX = 2**31 - 1
# Quality → settle_levels (grey levels of change over 10 steps below which a stage ends);
# Standard is the field's default.
QUALITY_LEVELS = {
    "Preview": 4.0,
    "Standard": params_module.StyleParams().settle_levels,
    "Fine": 1.0,
}


@dataclass
class KnobControl:
    """A field's control: ``widget`` shows it (``parts``, where it is several widgets,
    each its own row), ``read()`` gives the value (ValueError naming the control when it
    is not one), ``write(value)`` shows a value."""

    name: str
    widget: Any
    read: Callable[[], Any]
    write: Callable[[Any], None]
    parts: tuple = ()

    @property
    def rows(self) -> tuple:
        return self.parts or (self.widget,)


def number_text(value: float) -> str:
    return f"{value:g}"


def parse_number(label: str, text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(
            f"{label} must be a number such as 1, 0.5 or 1e6, not {text!r}."
        ) from None


def shown(field: dataclasses.Field, note: str = "") -> dict:
    """A control's label and tooltip, as the field declares them."""
    meta = field.metadata
    return {"label": meta["label"], "tooltip": f"{meta['help']} {note}".strip()}


def labelled_fields() -> list[dataclasses.Field]:
    """The fields that have a control, in their declared order (read at each call, so a
    field added to StyleParams has one)."""
    return [f for f in dataclasses.fields(params_module.StyleParams) if f.metadata.get("label")]


def make_controls(device_choices: Callable) -> dict[str, KnobControl]:
    """A control for every labelled field, by name."""
    made = {}
    for field in labelled_fields():
        special = _SPECIAL.get(field.name)
        if field.name == "device":
            made[field.name] = _device(field, device_choices)
        elif special is not None:
            made[field.name] = special(field)
        else:
            made[field.name] = generic_control(field)
    return made


def generic_control(field: dataclasses.Field) -> KnobControl:
    """A control by the field's kind: a choice, a check box, a whole number, a number."""
    name, default, kind, meta = field.name, field.default, knob_kind(field), field.metadata
    if meta.get("choices"):
        options = [(str(c), c) for c in meta["choices"]]
        if default is None:
            options = [("off", None), *options]
        widget = ComboBox(choices=options, value=default, **shown(field))
    elif kind == "bool":
        widget = CheckBox(text=meta["label"], value=bool(default), tooltip=meta["help"])
    elif kind == "int" or isinstance(default, int):
        return _whole_number(field)
    elif kind == "float" and default is None:
        widget = FloatSpinBox(
            value=0.0, min=0.0, max=1e6, step=0.5, **shown(field, "Here, 0: none.")
        )
        return KnobControl(name, widget, lambda: widget.value or None, _setter(widget, 0.0))
    elif kind == "float" or isinstance(default, float):
        widget = LineEdit(value=number_text(default), **shown(field))
        return KnobControl(
            name,
            widget,
            lambda: parse_number(meta["label"], widget.value),
            lambda v: setattr(widget, "value", number_text(v)),
        )
    else:
        widget = LineEdit(value=str(default), **shown(field))
    return KnobControl(name, widget, lambda: widget.value, lambda v: setattr(widget, "value", v))


def _setter(widget, none_as):
    return lambda value: setattr(widget, "value", none_as if value is None else value)


def _whole_number(field) -> KnobControl:
    """A spin box; where the field may be None (its default is), 0 stands for None."""
    optional = field.default is None
    note = "Here, 0 means none." if optional else ""
    # min 0 whatever the range: typing is never completed, and Run checks the range.
    widget = SpinBox(value=field.default or 0, min=0, max=INT_MAX, **shown(field, note))
    read = (lambda: widget.value or None) if optional else (lambda: widget.value)
    return KnobControl(field.name, widget, read, _setter(widget, 0))


def _size(field) -> KnobControl:
    widget = SpinBox(
        value=field.default,
        # min 0, not 16: with a higher minimum, typing "256" over a selection became
        # 1656 (each digit below the minimum was completed). Run checks the range.
        min=0,
        max=params_module.MAX_SIZE,
        step=16,
        **shown(field, "Here, 0 means the content's own size."),
    )
    return KnobControl("size", widget, lambda: widget.value or None, _setter(widget, 0))


def _steps(field) -> KnobControl:
    """Stop when settled (steps "auto") or exactly Steps steps."""
    auto = CheckBox(
        label="Stop when settled",
        value=True,  # the widget's first Run stops by itself; scripts default to fixed steps
        tooltip="End the run when the image has stopped changing visibly (at most "
        f"{AUTO_STEPS_CAP} steps). Off: run exactly Steps steps.",
    )
    count = SpinBox(
        value=300 if field.default == "auto" else field.default,
        min=1,
        max=1_000_000,
        **shown(field, "Used when Stop when settled is off."),
    )

    def write(value):
        auto.value = value == "auto"
        if value != "auto":
            count.value = value

    read = lambda: "auto" if auto.value else count.value  # noqa: E731
    return KnobControl("steps", count, read, write, parts=(auto, count))


def _quality(field) -> KnobControl:
    widget = ComboBox(
        label=field.metadata["label"],
        choices=list(QUALITY_LEVELS.items()),
        value=QUALITY_LEVELS["Standard"],
        tooltip="When the run stops by itself: Preview stops as soon as the picture is "
        "recognisable, Fine keeps refining small details for longer.",
    )

    def write(value):
        if value in QUALITY_LEVELS.values():
            widget.value = value

    return KnobControl("settle_levels", widget, lambda: widget.value, write)


def _scales(field) -> KnobControl:
    widget = LineEdit(value="auto", **shown(field, "Here, empty means the size only."))
    label = field.metadata["label"]

    def read():
        text = widget.value.strip()
        if text in ("auto", "none"):  # the words the help offers; StyleParams reads them
            return text
        sizes = text.replace(",", " ").split()
        try:
            return tuple(int(s) for s in sizes) if sizes else None
        except ValueError:
            raise ValueError(
                f"{label} must be whole numbers such as 256, 512, not {text!r}."
            ) from None

    def write(value):
        widget.value = value if isinstance(value, str) else ", ".join(map(str, value or ()))

    return KnobControl("scales", widget, read, write)


def _init(field) -> KnobControl:
    widget = ComboBox(
        choices=[c for c in INITS if c != "array"], value=field.default, **shown(field)
    )
    return KnobControl(
        "init",
        widget,
        lambda: widget.value,
        lambda v: setattr(widget, "value", v if v in widget.choices else "noise"),
    )


def _fast(field) -> KnobControl:
    meta = field.metadata
    widget = CheckBox(text=meta["label"], value=field.default == "bf16", tooltip=meta["help"])
    return KnobControl(
        "precision",
        widget,
        lambda: "bf16" if widget.value else "fp32",
        lambda v: setattr(widget, "value", v == "bf16"),
    )


def _device(field, choices) -> KnobControl:
    widget = ComboBox(
        choices=choices,
        value=field.default,
        **shown(field, "The list holds the devices that work on this machine."),
    )
    return KnobControl(
        "device",
        widget,
        lambda: widget.value,
        lambda v: setattr(widget, "value", v if v in widget.choices else "auto"),
    )


_SPECIAL = {
    "size": _size,
    "steps": _steps,
    "settle_levels": _quality,
    "scales": _scales,
    "init": _init,
    "precision": _fast,
}
