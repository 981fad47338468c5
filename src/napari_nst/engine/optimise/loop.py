"""The optimisation loop behind ``stylize``: stages of a pyramid, each a stepper on an
objective, reported as ``Step``s. Imported when a run starts (it imports torch).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from skimage.transform import resize

from ..front.errors import DivergedError
from ..front.images import match_color_histogram, match_luminance, rgb_to_yiq, yiq_to_rgb
from ..front.params import StyleParams
from ..front.request import RunHooks, RunRequest
from ..front.step import Step
from . import allocator
from ._torch import keep_triton_out_if_llvm_loaded, torch
from .blocks import BlockedImage, StopBetweenBlocks, WholeImage, halo_for
from .device import check_precision, resolve_device
from .memory import (
    estimate_bytes,
    largest_stage,
    plan_blocks,
    stage_evaluation,
)
from .network import cached_features, network_key, rgb_features
from .objective import Objective, stage_targets, style_grams, style_layers_used, with_range_wall
from .settle import SettleCheck
from .shallow_blocks import ShallowBlocks
from .start import initial_image
from .steppers import STEPPERS, captured, carried_scale, on_side_stream
from .style_cache import STYLE_GRAMS, digest
from .weights import load_weights

# torch.compile's mode per (device type, precision): "reduce-overhead" replays the
# network as CUDA graphs, faster in bf16 and failing in fp32 (docs/performance-notes.md).
COMPILE_MODES = {("cuda", "bf16"): "reduce-overhead"}
# Stacks: how still a pixel is falls linearly from 1 (content unchanged) to 0 (content
# changed by this fraction of its range or more); softer than a threshold, it also
# holds slowly varying parts of panning content (docs/performance-notes.md).
STILL_RANGE = 0.1
# Eager steps before a step is captured as a CUDA graph (cuBLAS/cuDNN set-up).
GRAPH_WARMUP = 3


@dataclass(frozen=True)
class Placement:
    """Where and how a run computes, chosen by ``start`` before any work."""

    device: torch.device
    step_graph: bool  # replay each step as a CUDA graph
    budget: int | None  # bytes a step may use (None: unknown); a larger one runs in blocks
    on_dask: Any  # blocked stages' passes as Dask tasks: on_dask.blocks.OnDask, or None


def start(request: RunRequest, hooks: RunHooks, on_dask=None) -> Iterator[Step]:
    """Choose the device, refuse a run that cannot fit, and return its steps.

    ``request`` has been checked by ``run.checked``."""
    params, guided = request.params, request.guides is not None
    # torch may have been imported before napari's window mapped libLLVM (see _torch.py).
    keep_triton_out_if_llvm_loaded()
    device = resolve_device(params.device)
    check_precision(device, params.precision)
    step_graph = uses_cuda_graph(params, device.type, guided)
    if params.cuda_graph and not step_graph:
        raise ValueError(
            "cuda_graph needs a CUDA device and no region guides (they are read afresh "
            f"at every step); this run has device '{device}'" + (" and guides." if guided else ".")
        )
    budget, blocks = plan_blocks(request.stage_shapes, params, device)
    # A blocked step runs Python between its blocks: it cannot be one CUDA graph.
    step_graph = step_graph and not any(blocks)
    return Run(request, hooks, Placement(device, step_graph, budget, on_dask)).steps()


def uses_cuda_graph(params: StyleParams, device_type: str, guided: bool) -> bool:
    """Whether a run replays its steps as CUDA graphs: where it works, unless turned off.

    The measured gain is in docs/benchmarks.md, section 6.
    """
    possible = device_type == "cuda" and not guided and params.graphable
    return possible and params.cuda_graph is not False


class Run:
    """One run's fixed set-up; ``steps()`` is the generator behind ``stylize``."""

    def __init__(self, request: RunRequest, hooks: RunHooks, place: Placement):
        self.request, self.hooks, self.place = request, hooks, place
        params, device = request.params, place.device
        content01, styles, init_image = request.content, request.style, request.init
        previous_frame = request.previous_frame
        self.start = time.perf_counter()
        # Downloads once, with progress, if needed.
        load_weights(params.weights, hooks.download_progress)
        self.network = network_key(params, device)
        self.net, self.weights = cached_features(*self.network)
        self.stage_steps = params.stage_steps(len(self.stage_shapes))
        self.final_hw = self.stage_shapes[-1][0]
        self.luminance = params.preserve_color == "luminance"
        self.content_rgb = content01  # luminance mode takes its chroma from here
        if params.preserve_color == "histogram":
            styles = [(match_color_histogram(s, content01), w) for s, w in styles]
        elif self.luminance:
            content_y = rgb_to_yiq(content01)[..., 0]
            styles = [(match_luminance(rgb_to_yiq(s)[..., 0], content_y), w) for s, w in styles]
            content01 = content_y
            if init_image is not None:
                init_image = rgb_to_yiq(init_image)[..., 0]
            if previous_frame is not None:
                previous_frame = tuple(rgb_to_yiq(f)[..., 0] for f in previous_frame)
        self.content01, self.styles, self.init_image = content01, styles, init_image
        self.style_digests = [digest(image) for image, _ in styles]  # once, for every stage
        self.coherence = params.temporal_weight > 0 and previous_frame is not None
        self.previous_frame = previous_frame
        mode = COMPILE_MODES.get((device.type, params.precision), "default")
        self.forward = torch.compile(self.net, mode=mode) if params.compile else self.net
        self.rgb_features = rgb_features(self.forward, params.checkpoint)
        self.graphed = params.compile and mode == "reduce-overhead"
        self.chroma = None

    # Read through to the request and the placement: nothing of theirs is copied.
    params = property(lambda self: self.request.params)
    device = property(lambda self: self.place.device)
    guides = property(lambda self: self.request.guides)
    stage_shapes = property(lambda self: self.request.stage_shapes)

    # -- images in and out ------------------------------------------------------------------
    def to_tensor(self, image, hw):
        t = torch.from_numpy(np.ascontiguousarray(image))
        t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
        t = t.to(self.device)
        if tuple(t.shape[-2:]) != tuple(hw):
            t = torch.nn.functional.interpolate(
                t, size=hw, mode="bilinear", antialias=True, align_corners=False
            )
        return t.clamp(0, 1)

    def features(self, x, names, **split):
        if self.graphed:  # each call is a new CUDA-graph step (targets need no backward)
            torch.compiler.cudagraph_mark_step_begin()
        return self.rgb_features(x, names, **split)

    def to_image(self, x):
        """The image the user sees: clipped to [0, 1], at the final size at every stage."""
        x = x.detach().float()
        if tuple(x.shape[-2:]) != tuple(self.final_hw):
            x = torch.nn.functional.interpolate(
                x, size=self.final_hw, mode="bicubic", align_corners=False
            )
        arr = x[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        if self.luminance:
            if self.chroma is None:
                iq = rgb_to_yiq(self.content_rgb)[..., 1:]
                self.chroma = resize(iq, self.final_hw, anti_aliasing=True).astype(np.float32)
            return yiq_to_rgb(np.concatenate([arr, self.chroma], axis=-1))
        return np.ascontiguousarray(arr, dtype=np.float32)

    # -- one stage ------------------------------------------------------------------------
    def style_grams(self, index, hw):
        """Style image ``index``'s Gram matrices at a stage: from this process's cache when
        an earlier run (a batch worker's last job) computed them with the same network."""
        image, layers = self.styles[index][0], style_layers_used(self.params)
        network = self.network_for(hw)
        key = (self.network, self.params.compile, tuple(layers), tuple(hw), network.blocks)
        return STYLE_GRAMS.get(
            (*key, self.style_digests[index]),
            lambda: style_grams(network, self.to_tensor(image, hw), layers),
        )

    def network_for(self, hw):
        """The network on an H×W image: whole, or in blocks where it does not fit the budget."""
        on_dask = self.place.on_dask
        plain_only = self.guides is not None or on_dask is not None
        how, side = stage_evaluation(hw, self.params, self.place.budget, plain_only)
        if how == "whole":
            return WholeImage(self.features)
        halo = halo_for(self.params.deepest_layer)
        if on_dask is not None:
            return on_dask(self.features, side, halo, self.between_blocks)
        blocks = ShallowBlocks if how == "fine blocks" else BlockedImage
        return blocks(self.features, side, halo, self.between_blocks)

    def between_blocks(self, stage_pass, done, count):
        if self.hooks.block_progress is not None:
            self.hooks.block_progress(stage_pass, done, count)
        if self.hooks.stopping():
            raise StopBetweenBlocks

    def stage_objective(self, hw, style_hws):
        c = self.to_tensor(self.content01, hw)
        styles = [self.style_grams(i, shw) for i, shw in enumerate(style_hws)]
        network = self.network_for(hw)
        previous = still = None
        if self.coherence:
            prev_c = self.to_tensor(self.previous_frame[0], hw)
            previous = self.to_tensor(self.previous_frame[1], hw)
            change = (c - prev_c).abs().amax(dim=1, keepdim=True)
            still = (1.0 - change / STILL_RANGE).clamp(0.0, 1.0)
        targets = stage_targets(
            network, c, styles, [w for _, w in self.styles], self.params, previous, still
        )
        return Objective(self.params, network, targets, self.guides), c

    def stepper(self, objective, x, scale=None):
        # "total" is the J minimised, the range wall included; "range" is the wall's share.
        names = ["total", *objective.terms, "range"]

        def evaluate(image):
            total, parts = objective(image)
            loss = with_range_wall(total, image)
            terms = [parts[n].detach().double() for n in objective.terms]
            wall = (loss - total).detach().double()
            return loss, torch.stack([loss.detach().double(), *terms, wall])

        stepper = STEPPERS[self.params.optimizer](x, evaluate, self.params.lr, len(names), scale)
        return stepper, names

    def steps(self) -> Iterator[Step]:
        iteration, last, previous_image, carried = 0, None, None, None
        try:
            with (
                self.memory_kept(),
                _reproducible_cudnn(self.device, self.params.seed is not None),
            ):
                for stage, ((hw, style_hws), budget) in enumerate(
                    zip(self.stage_shapes, self.stage_steps)
                ):
                    objective, c = self.stage_objective(hw, style_hws)
                    start = self.stage_start(previous_image, c, hw)
                    x = start.detach().clone(memory_format=torch.contiguous_format)
                    del c, start  # image-sized: a large stage keeps only what it needs
                    scale = carried_scale(carried, x.numel(), self.params.per_element_terms)
                    stepper, names = self.stepper(objective, x.requires_grad_(True), scale)
                    settle = self.settle_check(stepper)
                    final_stage = stage == len(self.stage_shapes) - 1
                    blocks = objective.network.count(hw)
                    for local, run_step in enumerate(self.step_calls(stepper, budget), start=1):
                        try:
                            run_step()
                            iteration += 1
                        except StopBetweenBlocks:  # the step is dropped: its trial not judged
                            pass
                        stopping = self.hooks.stopping()
                        settled = settle is not None and settle.after_step(local)
                        end_of_stage = settled or local == budget
                        reason = "stopped" if stopping else "settled" if settled else "steps"
                        done = stopping or (final_stage and end_of_stage)
                        if done or end_of_stage or iteration % self.params.every == 0:
                            last = self.report(
                                stepper, names, iteration, stage, last, reason if done else ""
                            )
                            last.blocks = blocks
                            yield last
                        if stopping:
                            return
                        if end_of_stage:
                            break
                    previous_image = stepper.current().detach()
                    gamma = stepper.step_scale() if self.params.carry_step_scale else None
                    carried = None if gamma is None else (gamma, x.numel())  # Adam has none
                    del stepper, objective
        finally:
            # Runs on normal end, on error and when the caller closes the iterator.
            if self.place.on_dask is not None:
                self.place.on_dask.close()
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    def stage_start(self, previous_image, c, hw):
        """A stage's first image: the run's start, or the last stage's result enlarged."""
        if previous_image is None:
            return initial_image(self.params, c, self.init_image, self.styles, self.to_tensor, hw)
        return torch.nn.functional.interpolate(
            previous_image, size=hw, mode="bicubic", align_corners=False
        ).clamp(0, 1)

    def settle_check(self, stepper) -> SettleCheck | None:
        """With steps="auto", what ends a stage once its image has settled."""
        if not self.params.stop_when_settled:
            return None
        return SettleCheck(stepper.current, self.params.settle_levels)

    def step_calls(self, stepper, budget):
        """What to call for each step: eager, or warm-up then one captured CUDA graph."""
        replay = None
        for local in range(1, budget + 1):
            if not self.place.step_graph:
                yield stepper.step
            elif local <= GRAPH_WARMUP:
                yield lambda: on_side_stream(stepper.step)
            else:
                replay = replay or captured(stepper.step)
                yield replay

    def report(self, stepper, names, iteration, stage, last, reason) -> Step:
        # Read on the host only when reporting: a check every step would make a GPU
        # wait for Python at every step.
        values = stepper.reported.tolist()
        if not np.isfinite(values[0]):
            raise DivergedError(_diverged_message(values[0], iteration, last), last)
        losses = dict(zip(names, values))
        losses = {**{k: v for k, v in losses.items() if k != "total"}, "total": losses["total"]}
        losses.setdefault("tv", 0.0)
        return Step(
            iteration=iteration,
            image=self.to_image(stepper.current()),
            losses=losses,
            elapsed=time.perf_counter() - self.start,
            total_steps=sum(self.stage_steps),  # a stage runs at least one step
            stage=stage,
            params=self.params,
            device=str(self.device),
            weights_version=self.weights.version,
            stop_reason=reason,
        )

    def memory_kept(self):
        """On the CPU, small runs' feature maps reuse the memory the last step freed."""
        step_bytes = estimate_bytes(largest_stage(self.stage_shapes), self.params)
        small = self.device.type == "cpu" and step_bytes <= allocator.REUSE_UP_TO_BYTES
        return allocator.reuse_freed_memory() if small else contextlib.nullcontext()


def _diverged_message(loss, iteration, last_step):
    if last_step is None:
        return (
            f"The loss is {float(loss)} from the start (step {iteration}), so there is "
            "nothing to optimise: lower alpha, beta or the TV weight."
        )
    return (
        f"The loss became {float(loss)} at step {iteration}: the optimisation diverged. "
        "The last finite result was kept. Try a smaller learning rate, the L-BFGS "
        "optimiser, or a lower beta."
    )


@contextlib.contextmanager
def _reproducible_cudnn(device, seeded: bool):
    """With a seed on CUDA, pick deterministic cuDNN kernels for the run's duration.

    cuDNN's backward kernels otherwise accumulate in varying order, and two runs
    with one seed differ (docs/performance-notes.md).
    """
    if device.type != "cuda" or not seeded:
        yield
        return
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved
