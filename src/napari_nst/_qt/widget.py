"""The "Style Transfer" dock widget: its panels, composed; Run, Continue, Load and Save.

No maths here: values come from one control per StyleParams field (``knob_controls``)
and are validated by ``StyleParams``; a run is a ``ViewerRun`` around the engine, and
its ``RunStatus`` is shown by the run panel.
"""

from __future__ import annotations

from magicgui.widgets import CheckBox, Container, Label

from .._napari.inputs import check_styles, gather_inputs
from .._napari.output_layer import METADATA_KEY
from ..engine.front import params as params_module
from .balance_panel import BalancePanel
from .cpu_first_run import fit_to_devices
from .fold import Fold
from .folder_panel import FolderPanel
from .inputs_panel import InputsPanel
from .knob_controls import make_controls
from .result_actions import ResultActions
from .run_panel import RunPanel
from .viewer_run import RunState, ViewerRun
from .warm_up import DeviceList, start_warm_up

SIMPLE = ("size", "settle_levels")  # the fields whose controls the simple view shows
# Old names of controls that are parts of a field's control (scripts use them).
ALIASES = {"auto_stop": ("steps", 0), "quality": ("settle_levels", -1), "fast": ("precision", -1)}


class StyleTransferWidget(Container):
    """Pick content and style layers, set how much style, press Run, watch G evolve."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self.run: ViewerRun | None = None
        self._loaded, self._as_loaded = None, {}
        self.inputs = InputsPanel(napari_viewer)
        self.devices = DeviceList()
        self.controls = make_controls(self.devices.choices)
        self.balance = BalancePanel(self.controls["alpha"], self.controls["beta"])
        self.actions = RunPanel()
        self.folder = FolderPanel(napari_viewer, self.params, self.inputs.chosen_styles, self._say)
        self.results = ResultActions(self)
        self.device_in_use = Label(label="In use", value="–")
        self.all_slices = CheckBox(
            text="All slices / frames",
            value=False,
            tooltip="Stylise every slice of a Z or T stack. With a temporal weight, each "
            "frame starts from the previous result; without one, slices run as batch jobs "
            "on Dask (see Apply to folder's Scheduler) where it is installed.",
        )
        simple = [*self.inputs.rows(), self.balance.row()]
        simple += [row for name in SIMPLE for row in self.controls[name].rows]
        super().__init__(widgets=[*simple, *self.actions.rows()])
        layout = self.native.layout()
        self.actions.add_below(layout)
        self.advanced = Fold("Advanced", Container(widgets=self._advanced_rows()))
        self.advanced.add_to(layout)
        self.folder.fold.add_to(layout)
        self._wire()

    def _advanced_rows(self) -> list:
        """Regions, then every control not in the simple view, in the fields' order."""
        rows = [self.inputs.regions, self.inputs.unlabelled, self.all_slices]
        for name, control in self.controls.items():
            if name not in SIMPLE:
                rows += control.rows
            if name == "beta":
                rows.append(self.balance.ratio)
            elif name == "device":
                rows.append(self.device_in_use)
        return rows

    def _wire(self):
        steps = self.controls["steps"]
        steps.parts[0].changed.connect(self._show_steps)
        self._show_steps()
        self.actions.run_button.changed.connect(self._on_run_clicked)
        self.actions.pause_button.changed.connect(self._on_pause_clicked)
        self.actions.continue_button.changed.connect(self.results.continue_from_output)
        self.actions.load_button.changed.connect(self.results.load_settings)
        self.actions.save_button.changed.connect(self.results.ask_where_to_save)
        events = self.viewer.layers.events
        for name in ("inserted", "removed", "moved", "reordered"):
            getattr(events, name).connect(self._refresh_layers)
        events.inserted.connect(lambda e: e.value.events.name.connect(self._refresh_layers))
        for layer in self.viewer.layers:
            layer.events.name.connect(self._refresh_layers)
        self._refresh_layers()
        # Stop the worker when the widget goes away (closing the viewer destroys it too).
        self.native.destroyed.connect(self._make_stopper())
        # torch's import would otherwise stall napari at the first Run (see warm_up).
        self.warm_up = start_warm_up()
        self._size_chosen = False
        self.size.changed.connect(lambda *_: setattr(self, "_size_chosen", True))
        combo = self.controls["device"].widget
        self.devices.list_when_warm(
            self.warm_up, combo, self.native, lambda devices: fit_to_devices(self, devices)
        )

    def __getattr__(self, name):
        """A control or panel part by its name (``widget.size``, ``widget.run_button``)."""
        d = self.__dict__
        if name in ALIASES and "controls" in d:
            field, part = ALIASES[name]
            return d["controls"][field].rows[part]
        if name in d.get("controls", {}):
            return d["controls"][name].widget
        for panel in ("inputs", "balance", "actions", "folder"):
            if panel in d and name in vars(d[panel]):
                return getattr(d[panel], name)
        return super().__getattr__(name)

    def reset_choices(self, *_):
        super().reset_choices()
        for fold in (getattr(self, "advanced", None), getattr(self, "folder", None)):
            if fold is not None:  # the folds sit outside this container's own widgets
                (fold if isinstance(fold, Fold) else fold.fold).container.reset_choices()

    def _refresh_layers(self, _event=None):
        self.reset_choices()
        self.inputs.pick_two()

    # -- parameters ---------------------------------------------------------------------
    def params(self) -> params_module.StyleParams:
        """The widget's values as validated StyleParams (ValueError names the field).

        After Load settings, the loaded parameters are the base and only the controls
        the user changed since are applied on top: fields without a control (pooling,
        layers, learning rate …) and values a control cannot show (seed None,
        cuda:1, a start image) are kept.
        """
        controls = self._control_values()
        if self._loaded is None:
            return params_module.StyleParams(**controls)
        changed = {k: v for k, v in controls.items() if self._as_loaded.get(k) != v}
        if self._loaded.init == "array":  # the start image is not saved: Run starts afresh
            changed["init"] = controls["init"]
        return self._loaded.replace(**changed)

    def _control_values(self) -> dict:
        return {name: control.read() for name, control in self.controls.items()}

    def set_params(self, params) -> None:
        for name, control in self.controls.items():
            control.write(getattr(params, name))
        self.balance.show_strength(params.style_strength)
        self._loaded, self._as_loaded = params, self._control_values()

    def _show_steps(self, _value=None):
        auto = self.auto_stop.value
        self.steps.enabled = not auto
        self.quality.enabled = auto  # Quality chooses when to stop

    # -- actions ------------------------------------------------------------------------
    def _on_run_clicked(self):
        if self.run is not None and self.run.running:
            self.run.stop()
            self.actions.run_button.enabled = False  # until the worker has finished its step
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
            content = self.inputs.content.value
            if content is None:
                raise ValueError("Open two image layers and choose a content and a style layer.")
            styles = check_styles(content, self.inputs.chosen_styles())
            inputs = gather_inputs(
                self.viewer,
                content,
                styles,
                all_slices=self.all_slices.value,
                init=init,
                regions=self.inputs.regions.value,
                unlabelled=self.inputs.unlabelled.value,
            )
        except ValueError as err:
            self._say(str(err))
            return None
        if init is not None:  # the record says what the run started from
            params = params.replace(init="array")
        scheduler = self.folder.scheduler.value.strip()
        self.run = ViewerRun(self.viewer, inputs, params, scheduler=scheduler)
        self.actions.follow(self.run.status, self.device_in_use)
        self.run.start()
        self.actions.set_running(True)
        self._say("Starting…", error=False)
        return self.run

    def apply_to_folder(self):
        return self.folder.apply_to_folder()

    def save_result(self, path: str) -> str | None:
        return self.results.save(path)

    def _on_pause_clicked(self):
        if self.run is None or not self.run.running:
            return
        if self.run.state is RunState.RUNNING:
            self.run.pause()
        else:
            self.run.resume()

    def selected_output(self):
        layer = self.viewer.layers.selection.active
        if layer is None or METADATA_KEY not in layer.metadata:
            raise ValueError("Select an output layer made by Style Transfer first.")
        return layer

    def _say(self, message: str, error: bool = True):
        self.actions.say(message, error)

    @property
    def last_message(self) -> str:
        return self.actions.last_message

    def _make_stopper(self):
        holder = self

        def stop(*_):
            run = holder.run
            if run is not None and run.running:
                run.shutdown()
            holder.folder.cancel()

        return stop
