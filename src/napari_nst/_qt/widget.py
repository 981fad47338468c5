"""The "Style Transfer" dock widget: two layers in, one output layer streamed live.

No maths here: values are validated by ``StyleParams`` and the run is a
``ViewerRun`` around the engine's ``stylize``.
"""

from __future__ import annotations

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    LogSlider,
    PushButton,
    SpinBox,
)

from .._inputs import gather_inputs
from .._layers import image_layers, styles_from_layers
from .._output_layer import METADATA_KEY
from ..engine.params import AUTO_STEPS_CAP, INITS, OPTIMIZERS, StyleParams, knob_of
from .fold import Fold
from .folder_run import FolderRun
from .loss_plot import LossPlot
from .viewer_run import RunState, ViewerRun
from .warm_up import start_warm_up

DEFAULTS = StyleParams()
# Quality → settle_levels (grey levels of change over 10 steps below which a stage ends).
QUALITY_LEVELS = {"Preview": 4.0, "Standard": DEFAULTS.settle_levels, "Fine": 1.0}


def _number_text(value: float) -> str:
    return f"{value:g}"


def _shown(name: str, note: str = "") -> dict:
    """A control's label and tooltip, as StyleParams declares them for ``name``."""
    knob = knob_of(name)
    return {"label": knob["label"], "tooltip": f"{knob['help']} {note}".strip()}


class StyleRow(Container):
    """One extra style layer with its blend weight."""

    def __init__(self, choices, on_remove):
        self.layer = ComboBox(label="Style", choices=choices, tooltip="An extra style image.")
        self.weight = FloatSpinBox(
            label="weight",
            value=1.0,
            min=0.0,
            max=1000.0,
            step=0.1,
            tooltip="Blend weight: the target Gram matrices are the weighted mix of the styles.",
        )
        self.remove = PushButton(text="✕", tooltip="Remove this style.")
        super().__init__(
            widgets=[self.layer, self.weight, self.remove], layout="horizontal", labels=False
        )
        self.remove.changed.connect(lambda: on_remove(self))


class StyleTransferWidget(Container):
    """Pick content and style layers, tune α/β, press Run, watch G evolve."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self.run: ViewerRun | None = None
        self.last_message = ""
        self._extra_rows: list[StyleRow] = []

        self._make_controls()
        self._lay_out()
        self._wire_signals()
        self._loaded, self._as_loaded = None, {}

    def _make_controls(self):
        """Every control, made once; the simple view and the folds place them."""
        self._make_input_controls()
        self._make_balance_controls()
        self._make_run_controls()
        self._make_action_controls()

    def _make_input_controls(self):
        """The layers: content, styles and their blend, regions."""
        choices = self._layer_choices
        self.content = ComboBox(
            label="Content", choices=choices, tooltip="The image whose layout is kept (C)."
        )
        self.style = ComboBox(
            label="Style",
            choices=choices,
            tooltip="The image whose textures and colours are taken (S).",
        )
        self.style_weight = FloatSpinBox(
            label="Style weight",
            value=1.0,
            min=0.0,
            max=1000.0,
            step=0.1,
            tooltip="Blend weight of this style when several styles are used.",
        )
        self.extra_styles = Container(labels=False, visible=False)
        self.add_style = PushButton(text="+ Add style", tooltip="Blend several style layers.")
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

    def _make_balance_controls(self):
        """How much style: the strength slider, α, β and the other weights."""
        self.strength = LogSlider(
            label="Style strength",
            value=DEFAULTS.style_strength,
            min=0.01,
            max=100.0,
            tooltip="How much of the style to paint: to the right, more style and less of the "
            "content's layout. It sets β = strength × α and looks the same at every size.",
        )
        # magicgui's LogSlider reads out its internal position (57 for 2): show the value.
        for child in self.strength.native.children():
            if type(child).__name__ == "QLargeIntSpinBox":
                child.hide()
        self.strength_value = Label(value=_number_text(DEFAULTS.style_strength))
        self.alpha = LineEdit(value=_number_text(DEFAULTS.alpha), **_shown("alpha"))
        self.beta = LineEdit(value=_number_text(DEFAULTS.beta), **_shown("beta"))
        self.ratio = Label(label="α/β")
        self.tv_weight = LineEdit(value=_number_text(DEFAULTS.tv_weight), **_shown("tv_weight"))
        self.temporal_weight = LineEdit(
            value=_number_text(DEFAULTS.temporal_weight), **_shown("temporal_weight")
        )

    def _make_run_controls(self):
        """How the run goes: steps, sizes, start, optimiser, device, precision, stacks."""
        self.auto_stop = CheckBox(
            label="Stop when settled",
            value=True,
            tooltip="End the run when the image has stopped changing visibly (at most "
            f"{AUTO_STEPS_CAP} steps). Off: run exactly Steps steps.",
        )
        self.steps = SpinBox(
            value=DEFAULTS.steps,
            min=1,
            max=100000,
            **_shown("steps", "Used when Stop when settled is off."),
        )
        self.size = SpinBox(
            value=DEFAULTS.size,
            # min 0, not 16: with a higher minimum, typing "256" over a selection became
            # 1656 (each digit below the minimum was completed). Run checks the range.
            min=0,
            max=8192,
            step=16,
            **_shown("size", "Here, 0 means the content's own size."),
        )
        self.scales = LineEdit(
            value="auto", **_shown("scales", "Here, empty means the size only.")
        )
        self.style_scale = FloatSpinBox(
            value=DEFAULTS.style_scale,
            min=0.0,  # as Size: typing must not be completed; Run refuses 0
            max=16.0,
            step=0.05,
            **_shown("style_scale"),
        )
        self.init = ComboBox(
            choices=[c for c in INITS if c != "array"], value=DEFAULTS.init, **_shown("init")
        )
        self.optimizer = ComboBox(
            choices=list(OPTIMIZERS), value=DEFAULTS.optimizer, **_shown("optimizer")
        )
        self.device = ComboBox(
            choices=self._device_choices,
            value=DEFAULTS.device,
            **_shown("device", "The list holds the devices that work on this machine."),
        )
        self.device_in_use = Label(label="In use", value="–")
        self.preserve_color = ComboBox(
            choices=[("off", None), *((c, c) for c in knob_of("preserve_color")["choices"])],
            value=None,
            **_shown("preserve_color"),
        )
        fast = _shown("precision")
        self.fast = CheckBox(text=fast["label"], value=False, tooltip=fast["tooltip"])
        self.seed = SpinBox(value=DEFAULTS.seed, min=0, max=2**31 - 1, **_shown("seed"))
        self.every = SpinBox(value=DEFAULTS.every, min=1, max=10000, **_shown("every"))
        self.memory_limit = FloatSpinBox(
            value=0.0, min=0.0, max=4096.0, step=0.5, **_shown("memory_limit", "Here, 0: auto.")
        )
        self.all_slices = CheckBox(
            text="All slices / frames",
            value=False,
            tooltip="Stylise every slice of a Z or T stack. With a temporal weight, each "
            "frame starts from the previous result; without one, slices run as batch jobs "
            "on Dask (see Apply to folder's Scheduler) where it is installed.",
        )
        self.frame_steps = SpinBox(
            value=0, min=0, max=100000, **_shown("frame_steps", "Here, 0 means the same.")
        )

    def _make_action_controls(self):
        """Run, Pause, Continue, Load settings, Apply to folder and the status line."""
        self.run_button = PushButton(text="Run")
        self.pause_button = PushButton(text="Pause", enabled=False)
        self.continue_button = PushButton(
            text="Continue from output",
            tooltip="Start a new run from the selected output layer's image.",
        )
        self.load_button = PushButton(
            text="Load settings", tooltip="Restore the parameters of the selected output layer."
        )
        self.folder_in = FileEdit(
            label="Folder in",
            mode="d",
            tooltip="Apply to folder: every image in this folder (a TIFF stack counts as "
            "its slices) is painted with the settings above and the style layers.",
        )
        self.folder_out = FileEdit(
            label="Folder out",
            mode="d",
            tooltip="Where Apply to folder writes <name>.png and <name>.json (the settings). "
            "Results already there with the same settings are skipped.",
        )
        self.scheduler = LineEdit(
            label="Scheduler",
            value="",
            tooltip="Empty: a Dask cluster on this machine, started for the batch (and for "
            "All slices without a temporal weight). Or the address of a running Dask "
            "scheduler, e.g. tcp://10.0.0.5:8786, where Apply to folder and All slices run "
            "(with a temporal weight, in two chains from the middle frame), and where an "
            "image too large for this machine's memory runs its blocks.",
        )
        self.apply_button = PushButton(
            text="Apply to folder…",
            tooltip="Run the current settings over every image in Folder in (needs "
            "napari-nst[batch]).",
        )
        self.folder_run: FolderRun | None = None
        self.status = Label(value="")
        self.quality = ComboBox(
            label="Quality",
            choices=list(QUALITY_LEVELS.items()),
            value=DEFAULTS.settle_levels,
            tooltip="When the run stops by itself: Preview stops as soon as the picture is "
            "recognisable, Fine keeps refining small details for longer.",
        )

    def _lay_out(self):
        """The simple view first (what most runs need), then the Advanced and batch folds."""
        super().__init__(
            widgets=[
                self.content,
                self.style,
                self.style_weight,
                self.extra_styles,
                self.add_style,
                Container(
                    widgets=[self.strength, self.strength_value],
                    layout="horizontal",
                    labels=False,
                    label="Style strength",
                ),
                self.size,
                self.quality,
                Container(
                    widgets=[self.run_button, self.pause_button], layout="horizontal", labels=False
                ),
                Container(
                    widgets=[self.continue_button, self.load_button],
                    layout="horizontal",
                    labels=False,
                ),
            ]
        )
        self.plot = LossPlot()
        layout = self.native.layout()
        layout.addWidget(self.status.native)  # here, not in a form row: it wraps to its height
        layout.addWidget(self.plot)
        self.advanced = Fold(
            "Advanced",
            Container(
                widgets=[
                    self.regions,
                    self.unlabelled,
                    self.alpha,
                    self.beta,
                    self.ratio,
                    self.tv_weight,
                    self.auto_stop,
                    self.steps,
                    self.scales,
                    self.style_scale,
                    self.init,
                    self.optimizer,
                    self.device,
                    self.device_in_use,
                    self.preserve_color,
                    self.fast,
                    self.memory_limit,
                    self.seed,
                    self.every,
                    self.all_slices,
                    self.temporal_weight,
                    self.frame_steps,
                ]
            ),
        )
        self.advanced.add_to(layout)
        self.batch = Fold(
            "Apply to folder",
            Container(
                widgets=[self.folder_in, self.folder_out, self.scheduler, self.apply_button]
            ),
        )
        self.batch.add_to(layout)
        self._wrap_status()
        self.style_weight.visible = False  # shown with a second style

    def _wire_signals(self):
        self.strength.changed.connect(self._apply_strength)
        self.auto_stop.changed.connect(self._show_steps)
        self._show_steps()
        self.alpha.changed.connect(self._show_ratio)
        self.beta.changed.connect(self._show_ratio)
        self.add_style.changed.connect(self._add_style_row)
        self.run_button.changed.connect(self._on_run_clicked)
        self.pause_button.changed.connect(self._on_pause_clicked)
        self.continue_button.changed.connect(self._on_continue_clicked)
        self.load_button.changed.connect(self._on_load_clicked)
        self.apply_button.changed.connect(self._on_apply_clicked)
        self._watch_layers()
        self._refresh_layers()
        self._show_ratio()
        # Stop the worker when the widget goes away (closing the viewer destroys it too).
        self.native.destroyed.connect(self._make_stopper())
        # torch's import would otherwise stall napari at the first Run (see warm_up).
        self.warm_up = start_warm_up()
        self._list_devices_when_warm()

    def reset_choices(self, *_):
        super().reset_choices()
        for fold in (getattr(self, "advanced", None), getattr(self, "batch", None)):
            if fold is not None:  # the folds sit outside this container's own widgets
                fold.container.reset_choices()

    def _wrap_status(self):
        """A long message wraps inside the dock instead of widening it over the canvas."""
        from qtpy.QtWidgets import QLabel, QSizePolicy

        label = self.status.native.findChild(QLabel) or self.status.native
        label.setWordWrap(True)
        label.setMinimumWidth(1)
        label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def _device_choices(self, _widget=None):
        """The devices that work here, once the warm-up thread has loaded torch."""
        return getattr(self, "_devices", None) or [("auto", "auto"), ("cpu", "cpu")]

    def _list_devices_when_warm(self):
        from qtpy.QtCore import QTimer

        self._device_timer = QTimer(self.native)  # dies with the widget
        self._device_timer.setInterval(200)

        def check():
            if self.warm_up.is_alive():
                return
            self._device_timer.stop()
            from ..engine.device import available_devices

            self._devices = available_devices()  # read once: labels stay put
            value = self.device.value
            self.device.native.clear()  # else changed labels would move to the end
            self.device.reset_choices()
            self.device.value = value if value in self.device.choices else "auto"

        self._device_timer.timeout.connect(check)
        self._device_timer.start()

    # -- layer choices ------------------------------------------------------------------
    def _layer_choices(self, _widget=None):
        return [(layer.name, layer) for layer in image_layers(self.viewer)]

    def _region_choices(self, _widget=None):
        from napari.layers import Labels, Shapes

        layers = [lay for lay in self.viewer.layers if isinstance(lay, (Labels, Shapes))]
        return [("none", None), *((lay.name, lay) for lay in layers)]

    def _watch_layers(self):
        events = self.viewer.layers.events
        for name in ("inserted", "removed", "moved", "reordered"):
            getattr(events, name).connect(self._refresh_layers)
        events.inserted.connect(self._watch_name)
        for layer in self.viewer.layers:
            layer.events.name.connect(self._refresh_layers)

    def _watch_name(self, event):
        event.value.events.name.connect(self._refresh_layers)

    def _refresh_layers(self, _event=None):
        self.reset_choices()
        layers = image_layers(self.viewer)
        if len(layers) >= 2 and self.content.value is self.style.value:
            # Prefer what the names say, else two different layers.
            styles = [layer for layer in layers if "(style)" in layer.name]
            contents = [layer for layer in layers if "(content)" in layer.name]
            if contents:
                self.content.value = contents[0]
            self.style.value = next(
                (s for s in styles + layers if s is not self.content.value), layers[-1]
            )

    def _add_style_row(self):
        row = StyleRow(self._layer_choices, self._remove_style_row)
        self._extra_rows.append(row)
        self.extra_styles.append(row)
        self.extra_styles.visible = True
        self.style_weight.visible = True

    def _remove_style_row(self, row):
        self._extra_rows.remove(row)
        self.extra_styles.remove(row)
        self.extra_styles.visible = bool(self._extra_rows)
        self.style_weight.visible = bool(self._extra_rows)

    # -- parameters ---------------------------------------------------------------------
    def params(self) -> StyleParams:
        """The widget's values as validated StyleParams (ValueError names the field).

        After Load settings, the loaded parameters are the base and only the controls
        the user changed since are applied on top: fields without a control (pooling,
        layers, learning rate …) and values a control cannot show (seed None,
        cuda:1, a start image) are kept.
        """
        controls = self._control_values()
        if self._loaded is None:
            return StyleParams(**controls)
        changed = {k: v for k, v in controls.items() if self._as_loaded.get(k) != v}
        if self._loaded.init == "array":  # the start image is not saved: Run starts afresh
            changed["init"] = controls["init"]
        return self._loaded.replace(**changed)

    def _control_values(self) -> dict:
        scales = self.scales.value.strip()
        if scales != "auto":
            label = knob_of("scales")["label"]
            sizes = scales.replace(",", " ").split()
            scales = tuple(_parse_int(label, s) for s in sizes) if sizes else None
        return dict(
            alpha=self._number("alpha"),
            beta=self._number("beta"),
            tv_weight=self._number("tv_weight"),
            temporal_weight=self._number("temporal_weight"),
            frame_steps=self.frame_steps.value or None,
            steps="auto" if self.auto_stop.value else self.steps.value,
            settle_levels=self.quality.value,
            size=self.size.value or None,
            scales=scales,
            style_scale=self.style_scale.value,
            init=self.init.value,
            optimizer=self.optimizer.value,
            device=self.device.value,
            preserve_color=self.preserve_color.value,
            precision="bf16" if self.fast.value else "fp32",
            memory_limit=self.memory_limit.value or None,
            seed=self.seed.value,
            every=self.every.value,
        )

    def _number(self, name: str) -> float:
        """The number typed in the text field of StyleParams field ``name``."""
        return _parse_float(knob_of(name)["label"], getattr(self, name).value)

    def set_params(self, params: StyleParams) -> None:
        with self.strength.changed.blocked():
            self.strength.value = min(max(params.style_strength, 0.01), 100.0)
        self.alpha.value = _number_text(params.alpha)
        self.beta.value = _number_text(params.beta)
        self.tv_weight.value = _number_text(params.tv_weight)
        self.temporal_weight.value = _number_text(params.temporal_weight)
        self.auto_stop.value = params.steps == "auto"
        if params.settle_levels in QUALITY_LEVELS.values():
            self.quality.value = params.settle_levels
        if params.steps != "auto":
            self.steps.value = params.steps
        self.frame_steps.value = params.frame_steps or 0
        self.size.value = params.size or 0
        self.scales.value = (
            params.scales
            if isinstance(params.scales, str)
            else ", ".join(str(s) for s in params.scales or ())
        )
        self.style_scale.value = params.style_scale
        self.init.value = params.init if params.init in ("noise", "content") else "noise"
        self.optimizer.value = params.optimizer
        self.device.value = params.device if params.device in self.device.choices else "auto"
        self.preserve_color.value = params.preserve_color
        self.fast.value = params.precision == "bf16"
        self.memory_limit.value = params.memory_limit or 0.0
        self.seed.value = params.seed or 0
        self.every.value = params.every
        self._loaded, self._as_loaded = params, self._control_values()

    def _apply_strength(self, _value=None):
        # magicgui's LogSlider emits its internal linear position: read the value itself.
        strength = self.strength.value
        try:
            alpha = self._number("alpha") or 1.0
        except ValueError:
            alpha = 1.0
        self.beta.value = _number_text(float(f"{strength * alpha:.3g}"))

    def _show_steps(self, _value=None):
        self.steps.enabled = not self.auto_stop.value
        self.quality.enabled = self.auto_stop.value  # Quality chooses when to stop

    def _show_ratio(self, _value=None):
        try:
            a, b = self._number("alpha"), self._number("beta")
            self.ratio.value = "∞ (no style)" if b == 0 else f"{a / b:.3g}"
            self.strength_value.value = "∞" if a == 0 else f"{b / a:.3g}"
        except ValueError:
            self.ratio.value = "–"

    def chosen_styles(self):
        styles = [(self.style.value, self.style_weight.value)]
        styles += [(row.layer.value, row.weight.value) for row in self._extra_rows]
        return styles

    # -- actions ------------------------------------------------------------------------
    def _on_run_clicked(self):
        if self.run is not None and self.run.running:
            self.run.stop()
            self.run_button.enabled = False  # until the worker has finished its step
            self._say("Stopping after this step…", error=False)
            return
        self.start()

    def start(self, init=None) -> ViewerRun | None:
        """Validate everything, then start a run; returns None after telling the user why not."""
        if self.run is not None and self.run.running:
            self._say("A run is already going: stop it first.")
            return None
        try:
            params = self.params()
            content = self.content.value
            if content is None:
                raise ValueError("Open two image layers and choose a content and a style layer.")
            styles = self._checked_styles()
            inputs = gather_inputs(
                self.viewer,
                content,
                styles,
                all_slices=self.all_slices.value,
                init=init,
                regions=self.regions.value,
                unlabelled=self.unlabelled.value,
            )
        except ValueError as err:
            self._say(str(err))
            return None
        self.plot.clear()
        if init is not None:  # the record says what the run started from
            params = params.replace(init="array")
        self.run = ViewerRun(self.viewer, inputs, params, scheduler=self.scheduler.value.strip())
        self._follow(self.run.status)
        self.run.start()
        self._set_running(True)
        self._say("Running…", error=False)
        return self.run

    def _on_apply_clicked(self):
        if self.folder_run is not None and self.folder_run.running:
            self.folder_run.cancel()
            self.apply_button.enabled = False  # until the batch has wound down
            self._say("Cancelling the batch: finished images are kept…", error=False)
            return
        self.apply_to_folder()

    def apply_to_folder(self) -> FolderRun | None:
        """Validate, then run the settings over Folder in; None after saying why not."""
        from pathlib import Path

        from ..engine.batch_jobs import jobs_from_inputs

        if self.folder_run is not None and self.folder_run.running:
            self._say("A batch is already going: cancel it first.")
            return None
        try:
            params = self.params()  # never init="array": Run starts afresh after a Continue
            styles = self._checked_styles()
            folder_in = self.folder_in.line_edit.value.strip()
            folder_out = self.folder_out.line_edit.value.strip()
            if not folder_in or not Path(folder_in).is_dir():
                raise ValueError("Choose the folder of images to paint (Folder in).")
            if not folder_out:
                raise ValueError("Choose a folder for the results (Folder out).")
            if Path(folder_out).resolve() == Path(folder_in).resolve():
                raise ValueError("Choose a Folder out other than Folder in.")
            style, limits = styles_from_layers(self.viewer, styles)
            jobs = jobs_from_inputs([folder_in], style, style_limits=limits)
            if not jobs:
                raise ValueError(f"There are no images in {folder_in}.")
        except ValueError as err:
            self._say(str(err))
            return None
        self.folder_run = FolderRun(
            jobs,
            params,
            Path(folder_out),
            scheduler=self.scheduler.value.strip(),
            on_news=self._on_folder_news,
            on_finish=self._on_folder_finish,
        )
        self.folder_run.start()
        self.apply_button.text = "Cancel batch"
        self._say(f"Applying to {len(jobs)} images…", error=False)
        return self.folder_run

    def _on_folder_news(self, run: FolderRun):
        self.status.value = f"Batch: {run.news}"

    def _on_folder_finish(self, run: FolderRun):
        self.apply_button.text = "Apply to folder…"
        self.apply_button.enabled = True
        if run.error:
            self._say(run.error)
            return
        failed = "".join(f"\n{r.name}: {r.reason}" for r in run.failures)
        self._say(run.summary() + failed, error=bool(run.failures))

    def _checked_styles(self):
        content = self.content.value
        styles = self.chosen_styles()
        if any(layer is None for layer, _ in styles):
            raise ValueError("Open an image layer and choose it as the style.")
        if content is not None and any(layer is content for layer, _ in styles):
            raise ValueError("Content and style are the same layer: choose two different layers.")
        if sum(w for _, w in styles) <= 0:
            raise ValueError("All style weights are 0: give a style a weight above 0.")
        return styles

    def _on_pause_clicked(self):
        if self.run is None or not self.run.running:
            return
        if self.run.state is RunState.RUNNING:
            self.run.pause()
        else:
            self.run.resume()

    def _selected_output(self):
        layer = self.viewer.layers.selection.active
        if layer is None or METADATA_KEY not in layer.metadata:
            raise ValueError("Select an output layer made by Style Transfer first.")
        return layer

    def _on_continue_clicked(self):
        try:
            layer = self._selected_output()
        except ValueError as err:
            self._say(str(err))
            return
        from .._layers import shown_plane

        self.start(init=shown_plane(layer, self.viewer))

    def _on_load_clicked(self):
        """Settings from the selected output layer, or from the file it was opened from."""
        try:
            layer = self.viewer.layers.selection.active
            if layer is None:
                raise ValueError("Select an output layer made by Style Transfer first.")
            record = layer.metadata.get(METADATA_KEY)
            if record is None and layer.source.path:
                from .._writer import read_record

                record = read_record(layer.source.path)
            if record is None:
                raise ValueError(
                    "Select an output layer made by Style Transfer, or a result saved from one."
                )
            saved = record.get("params")
            if not saved:
                raise ValueError("This output layer has no saved settings yet.")
            self.set_params(StyleParams.from_dict(saved))
        except ValueError as err:
            self._say(str(err))
            return
        self._say(f"Settings loaded from '{layer.name}'.", error=False)

    # -- run status -------------------------------------------------------------------
    def _follow(self, status):
        """Show a run's status: its line, its losses on the plot, its device, its end."""
        for name in ("steps_done", "blocks", "state"):
            getattr(status.events, name).connect(lambda _e: self._show_status(status))
        status.events.losses.connect(lambda _e: self._plot_losses(status))
        status.events.device.connect(lambda e: setattr(self.device_in_use, "value", e.value))
        status.events.state.connect(lambda e: self._on_state(status, e.value))

    def _show_status(self, status):
        if not status.ended:
            self.status.value = status.text

    def _plot_losses(self, status):
        losses = status.losses
        self.plot.add(
            status.steps_done,
            {
                "total": losses["total"],
                "content": losses["weighted content"],
                "style": losses["weighted style"],
            },
        )

    def _on_state(self, status, state: str):
        if state in ("done", "failed"):
            self._set_running(False)
            self._say(status.ended, error=False)  # a failed run has notified the user
        elif state == "paused":
            self.pause_button.text = "Resume"
        elif state == "running":
            self.pause_button.text = "Pause"

    def _set_running(self, running: bool):
        self.run_button.text = "Stop" if running else "Run"
        self.run_button.enabled = True
        self.pause_button.enabled = running
        self.pause_button.text = "Pause"
        self.continue_button.enabled = not running
        self.load_button.enabled = not running

    def _say(self, message: str, error: bool = True):
        self.last_message = message
        self.status.value = message
        if error:
            from napari.utils.notifications import show_warning

            show_warning(message)

    def _make_stopper(self):
        holder = self

        def stop(*_):
            run = holder.run
            if run is not None and run.running:
                run.shutdown()
            if holder.folder_run is not None and holder.folder_run.running:
                holder.folder_run.cancel()

        return stop


def _parse_float(name: str, text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number such as 1, 0.5 or 1e6, not {text!r}.") from None


def _parse_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be whole numbers such as 256, 512, not {text!r}.") from None
