"""docs/large-images.md, rendered from the large-image benchmarks' results.

    python benchmarks/large_report.py

Reads docs/results/large_images.json (memory and step time, ``large_images.py``),
large_pictures.json (judged pictures and seams, ``large_pictures.py``) and
large_in_viewer.json (the 3000×4000 run in a viewer, ``large_in_viewer.py``); every
figure on the page comes from them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import template_environment

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "large-images.md.j2"
REPORT = ROOT / "docs" / "large-images.md"


def _load(name: str):
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def render() -> str:
    from napari_nst.engine.optimise.blocks import RETURN_MEMORY_ABOVE, halo_for

    env = template_environment(
        TEMPLATE.parent, gib=lambda mib: f"{mib / 1024:.1f} GiB", halo=halo_for
    )
    return env.get_template(TEMPLATE.name).render(
        return_memory_above=RETURN_MEMORY_ABOVE,
        memory=_load("large_images.json"),
        pictures=_load("large_pictures.json"),
        viewer=_load("large_in_viewer.json"),
    )


def main():
    REPORT.write_text(render())
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
