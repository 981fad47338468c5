"""Apply to folder: the current settings and style layers over a folder of images, on Dask."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from magicgui.widgets import Container, FileEdit, LineEdit, PushButton

from .._napari.inputs import check_styles
from .._napari.layers import styles_from_layers
from .fold import Fold
from .folder_run import FolderRun


class FolderPanel:
    """Folder in, Folder out, Scheduler and Apply to folder…, in their fold.

    ``params()`` and ``styles()`` are the widget's; ``say(message, error)`` its status.
    """

    def __init__(self, viewer, params: Callable, styles: Callable, say: Callable):
        self.viewer, self._params, self._styles, self._say = viewer, params, styles, say
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
        self.apply_button.changed.connect(self.on_apply_clicked)
        self.folder_run: FolderRun | None = None
        widgets = [self.folder_in, self.folder_out, self.scheduler, self.apply_button]
        self.fold = Fold("Apply to folder", Container(widgets=widgets))

    def on_apply_clicked(self):
        if self.folder_run is not None and self.folder_run.running:
            self.folder_run.cancel()
            self.apply_button.enabled = False  # until the batch has wound down
            self._say("Cancelling the batch: finished images are kept…", error=False)
            return
        self.apply_to_folder()

    def apply_to_folder(self) -> FolderRun | None:
        """Validate, then run the settings over Folder in; None after saying why not."""
        from ..engine.jobs.batch_jobs import jobs_from_inputs

        if self.folder_run is not None and self.folder_run.running:
            self._say("A batch is already going: cancel it first.")
            return None
        try:
            params = self._params()  # never init="array": Run starts afresh after a Continue
            styles = check_styles(None, self._styles())
            folder_in, folder_out = self._folders()
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
            folder_out,
            scheduler=self.scheduler.value.strip(),
            on_news=lambda run: self._say(f"Batch: {run.news}", error=False),
            on_finish=self._on_finish,
        )
        self.folder_run.start()
        self.apply_button.text = "Cancel batch"
        self._say(f"Applying to {len(jobs)} images…", error=False)
        return self.folder_run

    def _folders(self) -> tuple[str, Path]:
        folder_in = self.folder_in.line_edit.value.strip()
        folder_out = self.folder_out.line_edit.value.strip()
        if not folder_in or not Path(folder_in).is_dir():
            raise ValueError("Choose the folder of images to paint (Folder in).")
        if not folder_out:
            raise ValueError("Choose a folder for the results (Folder out).")
        if Path(folder_out).resolve() == Path(folder_in).resolve():
            raise ValueError("Choose a Folder out other than Folder in.")
        return folder_in, Path(folder_out)

    def _on_finish(self, run: FolderRun):
        self.apply_button.text = "Apply to folder…"
        self.apply_button.enabled = True
        if run.error:
            self._say(run.error)
            return
        failed = "".join(f"\n{r.name}: {r.reason}" for r in run.failures)
        self._say(run.summary() + failed, error=bool(run.failures))

    def cancel(self) -> None:
        if self.folder_run is not None and self.folder_run.running:
            self.folder_run.cancel()
