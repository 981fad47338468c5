"""Importing the package must not import torch (napari's start-up stays fast)."""

import subprocess
import sys


def _printed(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (nothing imported before it)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_import_napari_nst_does_not_import_torch():
    code = "import sys, napari_nst; print('torch' in sys.modules, 'napari' in sys.modules)"
    assert _printed(code).split() == ["False", "False"]


def test_the_engine_front_does_not_import_torch():
    code = (
        "import sys; import napari_nst.engine.front.params, napari_nst.engine.front.images, "
        "napari_nst.engine.front.errors, napari_nst.engine.front.step, napari_nst.engine.run, "
        "napari_nst.engine.front.guides, napari_nst.engine.jobs.stack, "
        "napari_nst.engine.jobs.batch_jobs, napari_nst.engine.jobs.result_files, "
        "napari_nst.engine.front.progress, napari_nst.engine.engine_thread, "
        "napari_nst.engine.front.param_rules; "
        "print('torch' in sys.modules)"
    )
    assert _printed(code) == "False"


def test_engine_imports_neither_napari_nor_qt():
    code = (
        "import sys; import napari_nst.engine.run, napari_nst.engine.optimise.network, "
        "napari_nst.engine.jobs.batch; "
        "print(any(m.split('.')[0] in ('napari', 'qtpy', 'PyQt6', 'PyQt5', 'PySide6') "
        "for m in sys.modules))"
    )
    assert _printed(code) == "False"


def test_public_names_load_lazily():
    """Each public name's module loads at its first use, not at ``import napari_nst``."""
    code = (
        "import sys, napari_nst\n"
        "before = [m in sys.modules for m in ('napari_nst.engine.run', "
        "'napari_nst.engine.jobs.batch', 'napari_nst._qt.viewer_api')]\n"
        "napari_nst.stylize\n"
        "print(before, 'napari_nst.engine.run' in sys.modules, 'napari_nst.engine.jobs.batch' in "
        "sys.modules, sorted(set(napari_nst.__all__) - set(dir(napari_nst))))"
    )
    assert _printed(code) == "[False, False, False] True False []"
