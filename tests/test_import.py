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
        "import sys; import napari_nst.engine.params, napari_nst.engine.images, "
        "napari_nst.engine.errors, napari_nst.engine.step, napari_nst.engine.run, "
        "napari_nst.engine.guides, napari_nst.engine.stack, napari_nst.engine.batch_jobs, "
        "napari_nst.engine.result_files, napari_nst.engine.progress, "
        "napari_nst.engine.engine_thread, napari_nst.engine.param_rules; "
        "print('torch' in sys.modules)"
    )
    assert _printed(code) == "False"


def test_engine_imports_neither_napari_nor_qt():
    code = (
        "import sys; import napari_nst.engine.run, napari_nst.engine.network, "
        "napari_nst.engine.batch; "
        "print(any(m.split('.')[0] in ('napari', 'qtpy', 'PyQt6', 'PyQt5', 'PySide6') "
        "for m in sys.modules))"
    )
    assert _printed(code) == "False"


def test_public_names_load_lazily():
    """Each public name's module loads at its first use, not at ``import napari_nst``."""
    code = (
        "import sys, napari_nst\n"
        "before = [m in sys.modules for m in ('napari_nst.engine.run', "
        "'napari_nst.engine.batch', 'napari_nst._viewer_api')]\n"
        "napari_nst.stylize\n"
        "print(before, 'napari_nst.engine.run' in sys.modules, 'napari_nst.engine.batch' in "
        "sys.modules, sorted(set(napari_nst.__all__) - set(dir(napari_nst))))"
    )
    assert _printed(code) == "[False, False, False] True False []"
