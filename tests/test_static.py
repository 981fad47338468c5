"""Static checks of src/: no dead code, the dependencies declared as used, sizes kept small."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "napari_nst"
LIMITS = {"function": 50, "class": 300, "module": 400}
WIDGET_LINES = 250  # the dock widget only composes its panels


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[testing]'")
    return path


def test_vulture_finds_no_dead_code():
    done = subprocess.run(
        [_tool("vulture"), str(SRC), "--min-confidence", "80"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_deptry_finds_no_unused_or_missing_dependency():
    done = subprocess.run(
        [_tool("deptry"), str(ROOT / "src")], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _over_the_limits(path: Path) -> set[str]:
    text = path.read_text()
    over = {"module"} if len(text.splitlines()) > LIMITS["module"] else set()
    for node in ast.walk(ast.parse(text)):
        size = getattr(node, "end_lineno", 0) - getattr(node, "lineno", 0) + 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if size > LIMITS["function"]:
                over.add(f"def {node.name}")
        elif isinstance(node, ast.ClassDef) and size > LIMITS["class"]:
            over.add(f"class {node.name}")
    return over


def test_no_function_class_or_module_is_over_its_size():
    found = {
        str(path.relative_to(SRC)): over
        for path in sorted(SRC.rglob("*.py"))
        if (over := _over_the_limits(path))
    }
    assert found == {}
    assert len((SRC / "_qt" / "widget.py").read_text().splitlines()) < WIDGET_LINES
