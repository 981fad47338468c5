"""A study for issue 26: the first step of each later pyramid stage, tiny or at scale.

    python benchmarks/step_scale.py     # write docs/results/settings/carry_step_scale.json

A new stage used to start L-BFGS afresh: its first step is torch's min(1, 1/‖g‖₁)·lr,
which barely moves the image, and only the second learns the scale γ. With
``carry_step_scale`` the stage starts with the last stage's γ (per value) and its first
step is a full one. Each run here is the time to good of ``picture.py`` (512 px from
noise, steps "auto", every top-stage step judged) on its ``TTG_PAIRS``, in fp32 and in
fast mode (bf16), without and with the option, one after the other so that both see
the same machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE.parent / "docs" / "results" / "settings" / "carry_step_scale.json"
SIZE = 512


def rows() -> list[dict]:
    import picture_set
    from picture import TTG_PAIRS, judged, ours

    out = []
    for content_name, style_name in TTG_PAIRS:
        content, style = picture_set.load(content_name), picture_set.load(style_name)
        for precision in ("fp32", "bf16"):
            for carry in (False, True):
                last, seconds, good = ours(
                    content,
                    style,
                    SIZE,
                    "auto",
                    judge_each=True,
                    precision=precision,
                    carry_step_scale=carry,
                )
                out.append(
                    {
                        "pair": f"{content_name} × {style_name}",
                        "held_out": (content_name, style_name) in picture_set.HELD_OUT,
                        "precision": precision,
                        "carry_step_scale": carry,
                        "first_good": good,
                        "steps_run": last.iteration,
                        "run_seconds": round(seconds, 1),
                        "final": judged(last.image, content, style),
                    }
                )
                print(json.dumps(out[-1]), flush=True)
    return out


def main() -> None:
    from common import measured_with

    record = {**measured_with(), "size": SIZE, "steps": "auto", "rows": rows()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
