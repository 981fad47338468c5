"""``stylize``: the optimisation loop, as an iterator of ``Step``s.

The console API, the CLI and the napari widget all drive this one loop.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .images import (
    fit_size,
    match_color_histogram,
    match_luminance,
    rgb_to_yiq,
    to_rgb01,
    yiq_to_rgb,
)
from .params import StyleParams

# torch.compile's mode per (device type, precision). A 512 px step on a GPU is bound
# by Python and kernel launches (H200 profile: the GPU busy ~2.7 of ~6 ms), and
# "reduce-overhead" replays the network's forward and backward as CUDA graphs:
# 500 bf16 steps 3.2-4.2 → 2.6-3.3 s over four H200 leases. In fp32 it failed with
# "accessing tensor output of CUDAGraphs that has been overwritten" (torch 2.11), so
# fp32 keeps the default mode.
COMPILE_MODES = {("cuda", "bf16"): "reduce-overhead"}
# Stacks: how still a pixel is falls linearly from 1 (content unchanged) to 0 (content
# changed by this fraction of its range or more). A soft mask also holds slowly
# varying parts of panning content, which a hard 2% threshold left free: on the
# panning photo of benchmarks/temporal.py the hard threshold reached −27% flicker at
# best, this mask −35% at weight 1.5e4 (docs/benchmarks.md).
STILL_RANGE = 0.1
# Eager steps before a step is captured as a CUDA graph (cuBLAS/cuDNN set-up).
GRAPH_WARMUP = 3


@dataclass
class Step:
    """One reported point of a run."""

    iteration: int  # gradient evaluations so far, over all stages
    image: np.ndarray  # float32 H×W×3 in [0, 1], on the CPU
    losses: dict[str, float]  # content, style, tv, total (= α·content + β·style + γ·tv)
    elapsed: float  # seconds since the run started
    total_steps: int = 0
    stage: int = 0  # index into params.stage_sizes
    params: StyleParams | None = field(default=None, repr=False)
    device: str = "cpu"  # where the run computes
    weights_version: str = ""  # short hash of the weights file


def last_step(steps: Iterator[Step]) -> Step | None:
    """Run ``steps`` to the end and return the final Step (None if there was none)."""
    from collections import deque

    tail = deque(steps, maxlen=1)
    return tail[0] if tail else None


class DivergedError(RuntimeError):
    """The loss became NaN or infinite; ``last_step`` holds the last finite result."""

    def __init__(self, message: str, last_step: Step | None):
        super().__init__(message)
        self.last_step = last_step


StyleInput = Any  # an array, or a sequence of (array, weight)


def stylize(
    content,
    style: StyleInput,
    params: StyleParams | None = None,
    *,
    content_limits: Sequence[float] | None = None,
    style_limits: Sequence[float] | Sequence[Sequence[float] | None] | None = None,
    guides=None,
    download_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    previous_frame: tuple | None = None,
    **overrides,
) -> Iterator[Step]:
    """Paint ``content`` in the style of ``style``; yield a ``Step`` every ``every`` steps.

    ``style`` is one image or a list of ``(image, weight)``; the target Gram
    matrices are the weighted mix. ``init`` may be "noise", "content" or an
    image. Parameters are those of ``StyleParams`` (given as ``params`` and/or as
    keywords). Everything is checked before any work: a bad value raises
    ``ValueError`` at the call. Closing the iterator stops the run at once.

    ``guides`` (a ``Guides``) restricts each style to a region of the content.
    ``should_stop`` is polled after every step: when it returns True, the current
    image is reported and the run ends (a GUI's Stop button).
    ``previous_frame`` = (previous content, previous result) of a stack: with
    ``temporal_weight`` > 0, G is kept close to the previous result wherever the
    content did not change between the frames.
    """
    init_image = None
    if "init" in overrides and not isinstance(overrides["init"], str):
        init = np.asarray(overrides.pop("init"))
        # A float init is taken as an image in [0, 1] (e.g. an earlier result), not stretched.
        limits = (0.0, 1.0) if init.dtype.kind == "f" else None
        init_image = to_rgb01(init, limits, name="init image")
        overrides["init"] = "array"
    if params is None:
        params = StyleParams(**overrides)
    elif overrides:
        params = params.replace(**overrides)
    if params.init == "array" and init_image is None:
        raise ValueError("init = 'array' needs the image itself: pass init=<array>.")

    content01 = to_rgb01(content, content_limits, name="content image")
    styles = _style_list(style, style_limits)
    stage_shapes = _stage_shapes(content01.shape[:2], styles, params)
    if guides is not None:
        guides.check(content01.shape[:2], len(styles))
    if previous_frame is not None:
        prev_content, prev_result = previous_frame
        previous_frame = (
            to_rgb01(prev_content, content_limits, name="previous content frame"),
            to_rgb01(prev_result, (0.0, 1.0), name="previous result"),
        )

    from .device import resolve_device  # the first torch import of a run
    from .memory import check_fits

    device = resolve_device(params.device)
    step_graph = uses_cuda_graph(params, device.type, guides is not None)
    if params.cuda_graph and not step_graph:
        raise ValueError(
            "cuda_graph needs a CUDA device and no region guides (they are read afresh "
            f"at every step); this run has device '{device}'"
            + (" and guides." if guides is not None else ".")
        )
    check_fits(stage_shapes, params, device)
    return _optimise(
        content01,
        styles,
        init_image,
        params,
        stage_shapes,
        device,
        guides,
        download_progress,
        should_stop or (lambda: False),
        previous_frame,
        step_graph,
    )


def uses_cuda_graph(params: StyleParams, device_type: str, guided: bool) -> bool:
    """Whether a run replays its steps as CUDA graphs: where it works, unless turned off.

    Measured on an H200, 500 steps at 512 px: 4.18 s eager against 1.60 s replayed
    (fp32/TF32), with the same J to the last digit.
    """
    possible = device_type == "cuda" and not guided and params.graphable
    return possible and params.cuda_graph is not False


def _style_list(style, limits) -> list[tuple[np.ndarray, float]]:
    is_pairs = (
        isinstance(style, (list, tuple))
        and all(isinstance(s, (list, tuple)) and len(s) == 2 and np.isscalar(s[1]) for s in style)
        and len(style) > 0
    )
    pairs = list(style) if is_pairs else [(style, 1.0)]
    if limits is None or (len(limits) == 2 and all(np.isscalar(v) for v in limits)):
        limits = [limits] * len(pairs)
    if len(limits) != len(pairs):
        raise ValueError(f"style_limits has {len(limits)} entries for {len(pairs)} style images.")
    out = []
    for i, ((image, weight), lim) in enumerate(zip(pairs, limits), start=1):
        if isinstance(weight, bool) or not np.isfinite(weight) or weight < 0:
            raise ValueError(f"style weight {i} = {weight!r} is out of range: it must be >= 0.")
        name = "style image" if len(pairs) == 1 else f"style image {i}"
        out.append((to_rgb01(image, lim, name=name), float(weight)))
    if sum(w for _, w in out) <= 0:
        raise ValueError("All style weights are 0: give at least one style a weight above 0.")
    return out


def _stage_shapes(content_hw, styles, params: StyleParams):
    """(content H×W, [style H×W]) per stage, refusing sizes VGG19 cannot take."""
    shapes = []
    need = params.min_size
    for size in params.stage_sizes:
        hw = fit_size(content_hw, size)
        if min(hw) < need:
            raise ValueError(
                f"The content image would be {hw[0]}×{hw[1]} px, too small: VGG19 needs at "
                f"least {need}×{need} px to reach {params.deepest_layer}. Use a larger image "
                "or size, or shallower layers."
            )
        style_side = max(1, round(max(hw) * params.style_scale))
        style_hws = []
        for i, (image, _) in enumerate(styles, start=1):
            shw = fit_size(image.shape[:2], style_side)
            if min(shw) < need:
                raise ValueError(
                    f"Style image {i} would be {shw[0]}×{shw[1]} px, too small: VGG19 needs at "
                    f"least {need}×{need} px to reach {params.deepest_layer}. Raise style_scale "
                    "or size, or use a larger style image."
                )
            style_hws.append(shw)
        shapes.append((hw, style_hws))
    return shapes


def _optimise(
    content01,
    styles,
    init_image,
    params,
    stage_shapes,
    device,
    guides,
    progress,
    should_stop,
    previous_frame,
    step_graph,
):
    """The generator behind ``stylize``."""
    from ._torch import torch
    from .allocator import REUSE_UP_TO_BYTES, reuse_freed_memory
    from .lbfgs import CompactLBFGS, lbfgs_history
    from .losses import content_loss, gram, style_layer_loss, temporal_loss, tv_loss
    from .memory import estimate_bytes, largest_stage
    from .network import cached_features
    from .weights import load_weights

    start = time.perf_counter()
    load_weights(params.weights, progress)  # downloads once, with progress, if needed
    bf16 = params.precision == "bf16"
    net, weights = cached_features(
        params.weights, params.deepest_layer, params.pooling, params.normalized, str(device), bf16
    )
    luminance = params.preserve_color == "luminance"
    coherence = params.temporal_weight > 0 and previous_frame is not None
    content_rgb = content01  # luminance mode takes its chroma from here
    if params.preserve_color == "histogram":
        styles = [(match_color_histogram(s, content01), w) for s, w in styles]
    elif luminance:
        content_y = rgb_to_yiq(content01)[..., 0]
        styles = [(match_luminance(rgb_to_yiq(s)[..., 0], content_y), w) for s, w in styles]
        content01 = content_y
        if init_image is not None:
            init_image = rgb_to_yiq(init_image)[..., 0]
        if previous_frame is not None:
            previous_frame = tuple(rgb_to_yiq(f)[..., 0] for f in previous_frame)

    alpha, beta, gamma = params.alpha, params.beta, params.tv_weight
    layer_weights = dict(zip(params.style_layers, params.layer_weights))
    total_weight = sum(w for _, w in styles)
    content_layers = [params.content_layer] if alpha > 0 else []
    style_layers = list(params.style_layers) if beta > 0 else []
    layers = list(dict.fromkeys(content_layers + style_layers))

    def to_tensor(image, hw):
        t = torch.from_numpy(np.ascontiguousarray(image))
        t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
        t = t.to(device)
        if tuple(t.shape[-2:]) != tuple(hw):
            t = torch.nn.functional.interpolate(
                t, size=hw, mode="bilinear", antialias=True, align_corners=False
            )
        return t.clamp(0, 1)

    def net_input(x):  # a luminance image enters VGG as grey RGB
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    mode = COMPILE_MODES.get((device.type, params.precision), "default")
    forward = torch.compile(net, mode=mode) if params.compile else net
    graphed = params.compile and mode == "reduce-overhead"

    def features(x, names):
        if graphed:  # each call is a new CUDA-graph step (targets are computed without backward)
            torch.compiler.cudagraph_mark_step_begin()
        # In fast mode the network runs in bf16 after conv1_1; Gram matrices and losses
        # stay fp32.
        return forward(net_input(x), names, checkpoint=params.checkpoint)

    def to_image(x, hw):
        arr = x.detach()[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        if luminance:
            iq = chroma_at(hw)
            return yiq_to_rgb(np.concatenate([arr, iq], axis=-1))
        return np.ascontiguousarray(arr, dtype=np.float32)

    chroma_cache = {}

    def chroma_at(hw):
        if hw not in chroma_cache:
            from skimage.transform import resize

            iq = rgb_to_yiq(content_rgb)[..., 1:]
            chroma_cache[hw] = resize(iq, hw, anti_aliasing=True).astype(np.float32)
        return chroma_cache[hw]

    g = None
    result = None  # the reported point of the stage before: the next stage starts from it
    iteration = 0
    last_step = None
    # On the CPU, each step's feature maps reuse the memory the last step freed,
    # for runs small enough that the heap's fragmentation does not matter.
    step_bytes = estimate_bytes(largest_stage(stage_shapes), params)
    small = device.type == "cpu" and step_bytes <= REUSE_UP_TO_BYTES
    keep_memory = reuse_freed_memory() if small else contextlib.nullcontext()
    try:
        with keep_memory, _reproducible_cudnn(device, params.seed is not None):
            for stage, (hw, style_hws) in enumerate(stage_shapes):
                # -- targets, computed once per stage ---------------------------------
                with torch.inference_mode():
                    c = to_tensor(content01, hw)
                    target_content = (
                        features(c, content_layers)[params.content_layer].float().clone()
                        if content_layers
                        else None
                    )
                    style_grams = []  # per style image: {layer: G/M}
                    for (image, _), shw in zip(styles, style_hws):
                        feats = features(to_tensor(image, shw), style_layers)
                        style_grams.append({n: gram(feats[n]).clone() for n in style_layers})
                    blended = {
                        n: sum(w * sg[n] for (_, w), sg in zip(styles, style_grams)) / total_weight
                        for n in style_layers
                    }

                # -- the image being optimised ------------------------------------------
                if result is None:
                    g0 = _initial_image(params, c, init_image, to_tensor, hw, torch)
                else:
                    g0 = torch.nn.functional.interpolate(
                        result().detach(), size=hw, mode="bicubic", align_corners=False
                    ).clamp(0, 1)
                g = g0.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
                if coherence:
                    prev_c = to_tensor(previous_frame[0], hw)
                    prev_g = to_tensor(previous_frame[1], hw)
                    change = (c - prev_c).abs().amax(dim=1, keepdim=True)
                    still = (1.0 - change / STILL_RANGE).clamp(0.0, 1.0)
                del c

                def evaluate():
                    # J of the image the user gets: L-BFGS is unconstrained, and pixels
                    # it pushes out of [0, 1] are clipped on output. Optimising J of
                    # the unclipped iterate let them drift: at 256 px, 300 steps from
                    # noise, its own J was 8.5e6 but its clipped image's 9.9e7.
                    x = g.clamp(0, 1)
                    feats = features(x, layers)
                    zero = g.new_zeros(())
                    lc = (
                        content_loss(feats[params.content_layer].float(), target_content)
                        if content_layers
                        else zero
                    )
                    if not style_layers:
                        ls = zero
                    elif guides is None:
                        ls = sum(
                            layer_weights[n] * style_layer_loss(gram(feats[n]), blended[n])
                            for n in style_layers
                        )
                    else:
                        ls = guides.style_loss(feats, style_grams, layer_weights, hw)
                    ltv = tv_loss(x) if gamma > 0 else zero
                    total = alpha * lc + beta * ls + gamma * ltv
                    if coherence:
                        lt = temporal_loss(x, prev_g, still)
                        return total + params.temporal_weight * lt, (lc, ls, ltv, lt)
                    return total, (lc, ls, ltv)

                # [total, content, style, tv(, temporal)] of the point the step reports.
                reported = torch.full(
                    (5 if coherence else 4,), torch.nan, dtype=torch.float64, device=device
                )

                def losses_of(total, parts):
                    return torch.stack([v.detach().double() for v in (total, *parts)])

                if params.optimizer == "lbfgs":
                    # torch.optim.LBFGS's iterates, backtracking from bad steps, without
                    # per-step host syncs. The step reports the last accepted point.
                    opt = CompactLBFGS(g, lr=params.lr, history=lbfgs_history(g.numel()))
                    result = opt.accepted_point

                    def one_step():
                        g.grad = None
                        total, parts = evaluate()
                        total.backward()
                        opt.step(g.grad, total)
                        # Until a point is accepted, the start's own losses.
                        take = opt.accepted | (opt.k == 0)
                        reported.copy_(torch.where(take, losses_of(total, parts), reported))
                else:
                    opt = torch.optim.Adam([g], lr=params.lr)

                    def result():
                        return g

                    def one_step():
                        opt.zero_grad(set_to_none=True)
                        total, parts = evaluate()
                        total.backward()
                        reported.copy_(losses_of(total, parts))
                        opt.step()
                        with torch.no_grad():
                            g.clamp_(0, 1)

                replay = None
                for local in range(1, params.steps + 1):
                    if not step_graph:
                        one_step()
                    elif local <= GRAPH_WARMUP:
                        _on_side_stream(one_step, torch)
                    else:
                        replay = replay or _captured(one_step, torch)
                        replay()
                    iteration += 1
                    stopping = should_stop()
                    report = stopping or local == params.steps or iteration % params.every == 0
                    # Read on the host only when reporting: a check every step would
                    # make a GPU wait for Python at every step.
                    if report and not torch.isfinite(reported[0]):
                        raise DivergedError(
                            _diverged_message(reported[0], iteration, last_step), last_step
                        )
                    if report:
                        total, lc, ls, ltv, *lt = reported.tolist()
                        last_step = Step(
                            iteration=iteration,
                            image=to_image(result(), hw),
                            losses={
                                "content": lc,
                                "style": ls,
                                "tv": ltv,
                                **({"temporal": lt[0]} if lt else {}),
                                "total": total,
                            },
                            elapsed=time.perf_counter() - start,
                            total_steps=params.total_steps,
                            stage=stage,
                            params=params,
                            device=str(device),
                            weights_version=weights.version,
                        )
                        yield last_step
                    if stopping:
                        return
    finally:
        # Runs on normal end, on error and when the caller closes the iterator.
        g = None
        if device.type == "cuda":
            torch.cuda.empty_cache()


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


def _on_side_stream(step, torch):
    """An eager step before capture, on a side stream as torch's CUDA-graph docs ask."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream().wait_stream(side)


def _captured(step, torch):
    """Record ``step`` (forward, losses, backward, L-BFGS update) as one CUDA graph.

    Capturing runs nothing; the returned replay does the step. Every tensor the
    step reads or writes (image, targets, optimiser state, losses) keeps its
    address between replays, which is what makes the replay valid.
    """
    graph = torch.cuda.CUDAGraph()
    # Only this thread's CUDA work is part of the graph: in napari the run is a worker
    # thread, and the rest of the process may use the GPU meanwhile.
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):
        step()
    return graph.replay


def _initial_image(params, content, init_image, to_tensor, hw, torch):
    channels = content.shape[1]
    if params.init == "content":
        return content.clone()
    if params.init == "array":
        return to_tensor(init_image, hw)
    generator = torch.Generator()
    if params.seed is None:
        generator.seed()
    else:
        generator.manual_seed(params.seed)
    # White noise, drawn on the CPU so a seed gives the same start on every device.
    noise = torch.rand((1, channels, *hw), generator=generator)
    return noise.to(content.device)


@contextlib.contextmanager
def _reproducible_cudnn(device, seeded: bool):
    """With a seed on CUDA, pick deterministic cuDNN kernels for the run's duration.

    Measured on an H200: without this, two runs with the same seed differed in
    the 7th digit (cuDNN's backward kernels accumulate in varying order).
    """
    if device.type != "cuda" or not seeded:
        yield
        return
    from ._torch import torch

    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved
