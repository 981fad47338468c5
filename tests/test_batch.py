"""Batch runs on a real distributed.LocalCluster: results, faults, resume."""

import json
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
import tifffile
from skimage import io

distributed = pytest.importorskip("distributed")

from napari_nst import StyleParams, stylize  # noqa: E402
from napari_nst.engine.jobs.batch import stylize_batch  # noqa: E402
from napari_nst.engine.jobs.batch_jobs import BatchJob, jobs_from_inputs  # noqa: E402
from napari_nst.engine.jobs.planes import (  # noqa: E402
    can_run_on_cluster,
    frame_chains,
    stylize_planes,
)
from napari_nst.engine.jobs.stack import stylize_stack  # noqa: E402
from napari_nst.engine.on_dask.cluster import MISSING_DASK  # noqa: E402

PARAMS = StyleParams(size=32, steps=3, seed=0)


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):
        io.imsave(folder / f"{name}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    style = tmp_path / "style.png"
    io.imsave(style, rng.integers(0, 255, (36, 36, 3), dtype=np.uint8))
    return folder, style


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_inputs_expand_to_jobs(tmp_path, images):
    folder, style = images
    tifffile.imwrite(folder / "stack.tif", np.zeros((3, 20, 24), np.float32))
    tifffile.imwrite(folder / "rgb.tif", np.zeros((20, 24, 3), np.uint8))
    (folder / "notes.txt").write_text("not an image")
    names = [(job.name, job.plane) for job in jobs_from_inputs([folder], style)]
    assert names == [
        ("a", None), ("b", None), ("c", None), ("d", None), ("rgb", None),
        ("stack_0", 0), ("stack_1", 1), ("stack_2", 2),
    ]  # fmt: skip
    assert [job.name for job in jobs_from_inputs([str(folder / "[ab].png")], style)] == ["a", "b"]
    plane = jobs_from_inputs([folder / "stack.tif"], style)[1].read_content()
    assert plane.shape == (20, 24)


def test_one_image_is_identical_to_stylize(tmp_path, images, client):
    import torch

    folder, style = images
    job = BatchJob(folder / "a.png", str(style), "a", style_limits=(10, 200))
    (result,) = stylize_batch(
        [job],
        PARAMS,
        output_dir=tmp_path / "out",
        client=client,
        threads_per_worker=torch.get_num_threads(),
        file_format="tif",
    )
    assert result.status == "done" and result.output == tmp_path / "out" / "a.tif"
    *_, last = stylize(
        io.imread(folder / "a.png"), io.imread(style), PARAMS, style_limits=(10, 200)
    )
    assert np.array_equal(tifffile.imread(result.output), last.image)
    sidecar = json.loads((tmp_path / "out" / "a.json").read_text())
    assert sidecar["params"] == PARAMS.to_dict() and sidecar["steps"] == 3
    assert set(sidecar["losses"]) >= {"content", "style", "total"}
    assert sidecar["weights"].startswith("vgg19-original@") and sidecar["elapsed_s"] > 0


def test_the_tally_hears_the_steps_before_the_first_result(tmp_path, images, client):
    from napari_nst.engine.front.progress import BatchTally

    folder, style = images
    jobs = jobs_from_inputs([folder / "a.png", folder / "b.png"], str(style))
    heard = []
    tally = BatchTally(len(jobs), report=heard.append)
    batch = stylize_batch(
        jobs, PARAMS.replace(steps=40, size=64), output_dir=tmp_path / "out", client=client,
        tally=tally,
    )  # fmt: skip
    first = next(batch)
    before_first = list(heard)
    rest = list(batch)
    assert before_first[0] == "Sending the jobs to the cluster…"
    assert before_first[1] == "2 workers ready: painting 2 images…"
    # A worker's news of its job's steps came before any job had ended.
    assert any("images done · painting " in s and "(step " in s for s in before_first[2:])
    assert first.status == "done" and [r.status for r in rest] == ["done"]
    assert tally.counts == {"done": 2, "skipped": 0, "failed": 0} and not tally.running
    assert heard[-1] == "2 of 2 images done"
    assert tally.summary("out") == "2 written, 0 already there, 0 failed, into out."


def test_each_worker_computes_a_styles_targets_once(tmp_path, images, client):
    def cache_counts(clear=False):  # runs on each worker (sent by value: a nested function)
        from napari_nst.engine.optimise.style_cache import STYLE_GRAMS

        if clear:
            STYLE_GRAMS.clear()
        return STYLE_GRAMS.misses, STYLE_GRAMS.hits

    folder, style = images
    client.run(cache_counts, True)
    jobs = jobs_from_inputs([folder], style)
    results = list(stylize_batch(jobs, PARAMS, output_dir=tmp_path / "out", client=client))
    assert [r.status for r in results] == ["done"] * len(jobs)
    counts = client.run(cache_counts)
    worked = [c for c in counts.values() if sum(c) > 0]
    stages = min(misses for misses, _ in worked)  # one stage's targets per worker's first job
    assert all(misses == stages for misses, _ in worked)
    assert sum(misses + hits for misses, hits in worked) == stages * len(jobs)


def test_bad_inputs_fail_alone_with_a_reason(tmp_path, images, client):
    folder, style = images
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "empty.png").write_bytes(b"")
    tifffile.imwrite(folder / "line.tif", np.zeros(10, np.float32))
    jobs = jobs_from_inputs([folder, folder / "missing.png"], style)
    results = {
        r.name: r for r in stylize_batch(jobs, PARAMS, output_dir=tmp_path / "out", client=client)
    }
    failed = {name: r.reason for name, r in results.items() if r.status == "failed"}
    assert set(failed) == {"broken", "empty", "line", "missing"}, failed
    assert "could not be read" in failed["broken"] and "is not a file" in failed["missing"]
    assert "shape (10,)" in failed["line"]
    assert all("Traceback" not in reason and "\n" not in reason for reason in failed.values())
    assert {r.name for r in results.values() if r.status == "done"} == {"a", "b", "c", "d"}
    assert _files(tmp_path / "out") == [f"{n}.{e}" for n in "abcd" for e in ("json", "png")]
    # each worker process loaded the network once, however many jobs it ran
    loads = client.run(
        lambda: __import__(
            "napari_nst.engine.optimise.network", fromlist=["cached_features"]
        ).cached_features.cache_info()
    )
    assert all(info.misses <= 1 for info in loads.values()), loads
    assert sum(info.hits for info in loads.values()) >= 2


def test_resume_computes_only_what_is_missing(tmp_path, images, client):
    folder, style = images
    jobs = jobs_from_inputs([folder], style)
    out = tmp_path / "out"
    # Jobs long enough (30 steps) that those started after the first two are still running.
    params = PARAMS.replace(steps=30)
    batch = stylize_batch(jobs, params, output_dir=out, client=client)
    first = [next(batch), next(batch)]
    batch.close()  # cancelled halfway, as by Ctrl-C or the widget's Cancel
    assert not [p for p in out.iterdir() if ".partial-" in p.name]
    # A job already running when the batch was closed may still finish and be written.
    kept = {p.stem: p.stat().st_mtime_ns for p in out.glob("*.png")}
    assert {r.name for r in first} <= set(kept) and len(kept) < len(jobs)
    again = {r.name: r.status for r in stylize_batch(jobs, params, output_dir=out, client=client)}
    assert {name for name, status in again.items() if status == "skipped"} == set(kept)
    assert {name for name, status in again.items() if status == "done"} == set(again) - set(kept)
    assert all((out / f"{name}.png").stat().st_mtime_ns == t for name, t in kept.items())
    changed = {
        r.status
        for r in stylize_batch(jobs, params.replace(seed=1), output_dir=out, client=client)
    }
    assert changed == {"done"}  # other parameters: nothing is skipped


def _wait_until(condition, timeout=60.0):
    """Poll ``condition`` (as qtbot.waitUntil does) until it holds."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        done.wait(0.02)


def test_a_killed_worker_has_its_job_rerun(tmp_path, images, client):
    folder, style = images
    job = BatchJob(folder / "a.png", str(style), "slow")
    params = PARAMS.replace(steps=60, size=64)
    batch = stylize_batch([job], params, output_dir=tmp_path / "out", client=client)
    killed = []

    def kill_its_worker():
        _wait_until(lambda: any(client.processing().values()))
        (busy,) = [w for w, keys in client.processing().items() if keys]
        pid = client.run(os.getpid, workers=[busy])[busy]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_its_worker)
    killer.start()
    (result,) = batch
    killer.join()
    assert killed and result.status == "done", result
    assert _files(tmp_path / "out") == ["slow.json", "slow.png"]  # no partial file
    _wait_until(lambda: len(client.scheduler_info()["workers"]) == 2)  # the nanny restarted it


def test_an_unwritable_output_folder_is_refused_first(tmp_path, images, client):
    folder, style = images
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="cannot be written"):
        next(
            stylize_batch(
                jobs_from_inputs([folder], style),
                PARAMS,
                output_dir=tmp_path / "file" / "out",
                client=client,
            )
        )


def test_without_distributed_one_sentence_says_what_to_install(tmp_path, images, monkeypatch):
    folder, style = images
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ValueError) as err:
        next(stylize_batch(jobs_from_inputs([folder], style), PARAMS, output_dir=tmp_path))
    assert str(err.value) == MISSING_DASK and "napari-nst[batch]" in str(err.value)


def test_the_slurm_example_asks_for_one_image_at_a_time_per_job(capsys):
    pytest.importorskip("dask_jobqueue")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "docs" / "examples" / "slurm_batch.py"
    spec = importlib.util.spec_from_file_location("slurm_batch", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["in", "s.png", "out", "--dry-run", "--cores", "6"]) == 0
    script = capsys.readouterr().out
    assert "--cpus-per-task=6" in script and "--gres=gpu:1" in script
    assert "--nthreads 1" in script


def test_with_several_gpus_each_worker_takes_its_own(monkeypatch):
    from types import SimpleNamespace

    from napari_nst.engine.on_dask import cluster

    monkeypatch.setattr(cluster, "cuda_count", lambda: 3)
    monkeypatch.setattr(distributed, "get_worker", lambda: SimpleNamespace(name=4))
    assert cluster._worker_device("auto") == "cuda:1"
    assert cluster._worker_device("cpu") == "cpu"  # an explicit device is kept
    monkeypatch.setattr(cluster, "cuda_count", lambda: 1)
    assert cluster._worker_device("auto") == "auto"


def _planes_on(client, frames, style, params, limits, **options):
    """Every plane's last Step, by frame, with this process's torch threads (bit for bit)."""
    import torch

    threads = torch.get_num_threads()
    return dict(
        stylize_planes(
            frames,
            style,
            params,
            content_limits=limits,
            client=client,
            threads_per_worker=threads,
            **options,
        )
    )


def test_a_stacks_planes_run_apart_as_their_own_runs(client):
    rng = np.random.default_rng(3)
    frames = rng.random((3, 30, 40)).astype(np.float32) * 500  # microscopy-like floats
    style = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
    found = _planes_on(client, frames, style, PARAMS, (0, 500))
    assert sorted(found) == [0, 1, 2]
    for n, step in found.items():
        *_, alone = stylize(frames[n], style, PARAMS, content_limits=(0, 500))
        assert np.array_equal(step.image, alone.image) and step.iteration == 3
        assert step.losses == pytest.approx(alone.losses) and step.stop_reason == "steps"


def test_stacks_go_to_the_cluster_only_where_that_helps():
    plain, coherent = PARAMS, PARAMS.replace(temporal_weight=1.0)
    assert can_run_on_cluster(plain, 2) and not can_run_on_cluster(plain, 1)
    assert not can_run_on_cluster(plain, 3, init=np.zeros((4, 4)))  # a start image: in turn
    # With a temporal weight, chains only on a named scheduler (on one machine's
    # cores they are slower than the frames in turn), and two chains' worth of frames.
    assert not can_run_on_cluster(coherent, 12)
    assert can_run_on_cluster(coherent, 4, scheduler="tcp://10.0.0.5:8786")
    assert not can_run_on_cluster(coherent, 3, scheduler="tcp://10.0.0.5:8786")


def test_frame_chains_start_each_span_in_its_middle():
    assert frame_chains(5, 2) == [[2, 3, 4], [2, 1, 0]]  # one span: no seam
    assert frame_chains(5, 1) == [[0, 1, 2, 3, 4]]  # one worker: in turn
    assert frame_chains(4, 8) == [[2, 3], [2, 1, 0]]  # at least MIN_CHAIN frames a chain
    assert frame_chains(9, 3) == [[0, 1, 2], [6, 7, 8], [6, 5, 4, 3]]
    for frames in range(2, 40):
        for workers in range(1, 9):
            chains = frame_chains(frames, workers)
            ran = [n for chain in chains for n in chain]
            starts = [chain[0] for chain in chains]
            assert sorted(set(ran)) == list(range(frames))
            # only a shared start runs twice, once per direction
            assert len(ran) - frames == len(starts) - len(set(starts))
            for chain in chains:
                assert np.all(np.abs(np.diff(chain)) == 1)  # each frame after a neighbour
                assert len(chain) >= min(frames, 2) and len(chains) <= workers
            lengths = [len(chain) for chain in chains]
            assert max(lengths) - min(lengths) <= 2


def test_a_stacks_frames_run_in_chains_as_the_stack_runs_them(client):
    """With a temporal weight, each chain's frames equal ``stylize_stack`` over the same
    frames in the same order, bit for bit: chained from the span's middle frame."""
    rng = np.random.default_rng(4)
    frames = rng.random((5, 30, 40)).astype(np.float32)
    style = rng.integers(0, 255, (36, 36, 3), dtype=np.uint8)
    params = PARAMS.replace(temporal_weight=1.0, frame_steps=2)
    found = _planes_on(client, frames, style, params, (0, 1))
    assert sorted(found) == [0, 1, 2, 3, 4]
    for chain in frame_chains(5, 2):  # the fixture's two workers
        in_turn = dict(stylize_stack(frames[chain], style, params, content_limits=(0, 1)))
        for position, n in enumerate(chain):
            assert np.array_equal(found[n].image, in_turn[position].image), (chain, n)
            assert found[n].iteration == (3 if position == 0 else 2)
    # One chain: the whole stack in turn, from its first frame.
    alone = _planes_on(client, frames, style, params, (0, 1), chains=1)
    in_turn = dict(stylize_stack(frames, style, params, content_limits=(0, 1)))
    assert all(np.array_equal(alone[n].image, in_turn[n].image) for n in range(5))
