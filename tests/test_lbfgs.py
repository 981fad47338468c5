"""The compact, sync-free L-BFGS takes torch.optim.LBFGS's steps."""

import pytest
import torch

from napari_nst.engine.optimise.lbfgs import CompactLBFGS


def _problem(n=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    a = a @ a.T / n + 0.1 * torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    x0 = torch.randn(n, generator=gen, dtype=torch.float64)
    return (lambda x: 0.5 * x @ a @ x - b @ x + 0.1 * (x**4).sum()), x0


@pytest.mark.parametrize("history", [3, 20])
def test_iterates_match_torch_lbfgs_one_evaluation_per_step(history):
    f, x0 = _problem()
    xa = x0.clone().requires_grad_(True)
    reference = torch.optim.LBFGS([xa], lr=0.8, max_iter=1, history_size=history)
    xb = x0.clone().requires_grad_(True)
    ours = CompactLBFGS(xb, lr=0.8, history=history)

    def closure():
        reference.zero_grad()
        loss = f(xa)
        loss.backward()
        return loss

    for _ in range(15):  # with history=3 the history wraps around several times
        reference.step(closure)
        xb.grad = None
        loss = f(xb)
        loss.backward()
        ours.step(xb.grad, loss)
        assert ours.accepted  # every step lowers J enough: nothing is taken back
        assert torch.allclose(xa.detach(), xb.detach(), rtol=1e-9, atol=1e-11)
    assert f(xb) < f(x0) - 1.0  # and it really minimises


def test_a_pair_without_positive_curvature_is_left_out():
    # A concave direction gives sᵀy < 0: that pair must not enter the history.
    x = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = CompactLBFGS(x, lr=0.1, history=4)
    for _ in range(3):
        x.grad = None
        loss = -(x**2).sum()
        loss.backward()
        opt.step(x.grad, loss)
    assert torch.all(opt.age < 0)  # nothing remembered
    assert torch.all(torch.isfinite(x))


def test_history_shrinks_for_large_images_within_its_memory_cap():
    from napari_nst.engine.optimise.lbfgs import LBFGS_HISTORY_BYTES, lbfgs_history

    assert lbfgs_history(3 * 512 * 512) == 20
    assert lbfgs_history(3 * 1024 * 1024) == 10
    assert lbfgs_history(3 * 4096 * 4096) == 5  # never fewer
    for values in (3 * 800 * 800, 3 * 1024 * 1024):
        assert 2 * 4 * values * lbfgs_history(values) <= LBFGS_HISTORY_BYTES


def _run(opt, x, f, steps):
    accepted = []
    for _ in range(steps):
        x.grad = None
        loss = f(x)
        loss.backward()
        opt.step(x.grad, loss)
        accepted.append(float(opt.accepted_loss))
    return accepted


def test_a_step_that_raises_j_is_taken_back_where_fixed_steps_diverge():
    # With a step length of 10 on a quadratic, every fixed L-BFGS step overshoots the
    # minimum ninefold; backtracking takes each back to a shorter step on its line.
    def f(x):
        return 0.5 * (x**2).sum()

    x0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    xa = x0.clone().requires_grad_(True)
    fixed = torch.optim.LBFGS([xa], lr=10.0, max_iter=1, history_size=5)

    def closure():
        fixed.zero_grad()
        loss = f(xa)
        loss.backward()
        return loss

    for _ in range(12):
        fixed.step(closure)
    assert f(xa) > 1e6  # torch's fixed step diverges

    xb = x0.clone().requires_grad_(True)
    accepted = _run(CompactLBFGS(xb, lr=10.0, history=5), xb, f, 12)
    assert accepted == sorted(accepted, reverse=True)  # J of the accepted points never rises
    assert accepted[-1] < 1e-8


def test_a_trial_with_a_nan_loss_is_shortened_until_j_is_finite():
    # J is NaN outside |x| < 1 (log of a negative number): the first long steps land there.
    def f(x):
        return (x**2).sum() - torch.log1p(-(x**2)).sum()

    x = torch.tensor([0.5, -0.3], dtype=torch.float64, requires_grad=True)
    opt = CompactLBFGS(x, lr=50.0, history=4)
    accepted = _run(opt, x, f, 30)
    assert torch.all(torch.isfinite(opt.accepted_point()))
    assert accepted == sorted(accepted, reverse=True)
    assert accepted[-1] < 1e-6  # the minimum, at 0


_STEP_MEMORY = """
import resource, torch
from napari_nst.engine.optimise.lbfgs import CompactLBFGS
image = torch.rand(1, 3, 1024, 2048)  # 24 MiB
opt = CompactLBFGS(image, history=3)
for part in (opt.history, opt.prev_grad, opt.prev_step):
    part.fill_(0)  # touched: counted before the steps
grads = [torch.randn_like(image) for _ in range(3)]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for k, grad in enumerate(grads):
    opt.step(grad, (image * image).sum() * (1 - 0.1 * k))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - before) * 1024 / (image.numel() * 4))
"""


def test_a_step_holds_few_image_sized_temporaries():
    # At 4096 px an image is 192 MiB: the step's temporaries decide its peak memory (3.45
    # images with this harness; 5.45 when each expression made its own). A fixed mmap
    # threshold makes glibc return each freed image at once: with its moving threshold the
    # peak varied from 4.4 to 8.4 images run to run.
    import os
    import subprocess
    import sys

    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(2**20)}
    done = subprocess.run(
        [sys.executable, "-c", _STEP_MEMORY], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    extra = float(done.stdout)
    assert extra < 4.0, f"a step held {extra:.1f} images beyond the optimiser's state"


@pytest.mark.parametrize("scale", [None, 0.5])
def test_a_known_scale_makes_the_first_step_a_full_one(scale):
    # A later pyramid stage knows γ from the stage before (carry_step_scale): its first
    # step is −lr·γ·g, not torch's min(1, 1/‖g‖₁)·lr·g, which barely moves the image.
    f, x0 = _problem()
    x = x0.clone().requires_grad_(True)
    opt = CompactLBFGS(x, lr=0.8, history=5, scale=None if scale is None else torch.tensor(scale))
    loss = f(x)
    loss.backward()
    g = x.grad.clone()
    opt.step(x.grad, loss)
    t = 0.8 * (min(1.0, 1.0 / g.abs().sum().item()) if scale is None else scale)
    assert torch.allclose(x.detach(), x0 - t * g, rtol=1e-12, atol=1e-14)


def test_a_later_stage_takes_the_scale_grown_by_its_size_where_the_losses_are_means():
    # Per-element losses (the default scales) are means over the image: a four times
    # larger stage has a quarter of the curvature per value (measured: γ per value
    # 2.2–2.7 at the end of a 128 px stage, 2.3–2.9 at 256 px once learnt).
    from napari_nst.engine.optimise.steppers import AdamStepper, LBFGSStepper, carried_scale

    small = LBFGSStepper(torch.zeros(1, 3, 8, 8), None, 1.0, 1)
    small.opt.gamma.fill_(2.0)
    carried = (small.step_scale(), small.x.numel())
    large = LBFGSStepper(
        torch.zeros(1, 3, 16, 16), None, 1.0, 1, carried_scale(carried, 768, True)
    )
    assert float(large.opt.gamma) == pytest.approx(8.0)
    assert float(carried_scale(carried, 768, False)) == pytest.approx(2.0)  # the paper's sums
    assert carried_scale(None, 768, True) is None  # the first stage
    assert AdamStepper(torch.zeros(1, 3, 8, 8), None, 0.1, 1).step_scale() is None
