"""L-BFGS with a fixed step length, computed in compact form and without host syncs.

The iterates are those of ``torch.optim.LBFGS(max_iter=1, line_search_fn=None)``
called once per step (one loss and gradient per step), which is how a style
transfer run is usually driven. What differs is how the direction −H·g is formed:

- torch runs the two-loop recursion, 4·m small kernels and m Python iterations
  per step, and reads several tolerances back to the host (a device sync each);
- here the history lives in one (2m × n) matrix and H·g uses the compact
  representation of Byrd, Nocedal & Schnabel (1994, eq. 3.13 for the inverse):

      H·g = γ·g + [S  γY] · [[R⁻ᵀ(D + γYᵀY)R⁻¹, −R⁻ᵀ], [−R⁻¹, 0]] · [Sᵀg; γYᵀg]

  with R the upper triangle of SᵀY in chronological order and D its diagonal:
  two reads of the history per step (as the two-loop recursion), a handful of
  kernels, and an m × m solve done in float64. Nothing is read back to the host,
  so a GPU is never left waiting for Python.

One deliberate difference: a pair with sᵀy ≤ 1e-10 (torch skips it) still takes
a history slot here, zeroed, rather than keeping the oldest pair one step longer;
this keeps the step free of data-dependent host decisions.
"""

from __future__ import annotations

from ._torch import torch


class CompactLBFGS:
    """Minimise by fixed-step L-BFGS over one tensor ``x`` (updated in place)."""

    def __init__(self, x, lr: float = 1.0, history: int = 20):
        n, m = x.numel(), history
        self.x, self.lr, self.m = x, lr, m
        self.k = 0  # steps taken
        self.history = x.new_zeros(2 * m, n)  # rows [0, m): s_i, rows [m, 2m): y_i
        small = {"dtype": torch.float64, "device": x.device}
        self.s_dot_y = torch.zeros(m, m, **small)  # s_i · y_j
        self.y_dot_y = torch.zeros(m, m, **small)
        self.age = torch.full((m,), -1.0, **small)  # step of each pair; −1: empty/skipped
        self.gamma = torch.ones((), **small)  # initial inverse-Hessian scale, sᵀy / yᵀy
        self.prev_grad = None
        self.prev_step = None

    @torch.no_grad()
    def step(self, grad) -> None:
        """Take one step from the gradient at the current ``x``."""
        g = grad.reshape(-1).to(self.history.dtype)
        if self.k > 0:
            self._remember(self.prev_step, g - self.prev_grad)
        direction = -self._inverse_hessian_times(g)
        # torch's first step has length min(1, 1/‖g‖₁)·lr, later ones lr.
        t = (1.0 / g.abs().sum()).clamp(max=1.0) * self.lr if self.k == 0 else self.lr
        step = direction * t
        self.x.add_(step.view_as(self.x))
        self.prev_grad, self.prev_step = g, step
        self.k += 1

    def _remember(self, s, y) -> None:
        m, slot = self.m, (self.k - 1) % self.m
        ys, yy = torch.dot(y, s).double(), torch.dot(y, y).double()
        keep = ys > 1e-10
        weight = keep.to(s.dtype)
        self.history[slot] = s * weight
        self.history[m + slot] = y * weight
        s_rows, y_rows = self.history[:m], self.history[m:]
        # Fill the new pair's row and column of the small matrices.
        s_new_y = (y_rows @ self.history[slot]).double()  # s_new · y_j
        s_y_new = (s_rows @ self.history[m + slot]).double()  # s_i · y_new
        y_y_new = (y_rows @ self.history[m + slot]).double()
        self.s_dot_y[slot, :] = s_new_y
        self.s_dot_y[:, slot] = s_y_new
        self.y_dot_y[slot, :] = y_y_new
        self.y_dot_y[:, slot] = y_y_new
        self.age[slot] = torch.where(keep, float(self.k), -1.0)
        self.gamma = torch.where(keep, ys / yy, self.gamma)

    def _inverse_hessian_times(self, g):
        m = self.m
        valid = self.age >= 0
        both = valid[:, None] & valid[None, :]
        older_or_same = self.age[:, None] <= self.age[None, :]
        # R: sᵢ·yⱼ for i no newer than j; empty slots get 1 on the diagonal (and no
        # coupling), so R stays invertible and their zero rows contribute nothing.
        r = torch.where(both & older_or_same, self.s_dot_y, 0.0) + torch.diag((~valid).double())
        d = torch.diag(torch.where(valid, torch.diagonal(self.s_dot_y), 0.0))
        y_dot_y = torch.where(both, self.y_dot_y, 0.0)
        proj = (self.history @ g).double()  # [Sᵀg; Yᵀg]
        p_s, p_y = proj[:m], proj[m:]
        gamma = self.gamma
        r_inv_p_s = torch.linalg.solve(r, p_s)
        q_s = torch.linalg.solve(r.T, (d + gamma * y_dot_y) @ r_inv_p_s - gamma * p_y)
        q_y = -r_inv_p_s
        coeffs = torch.cat([q_s, gamma * q_y]).to(g.dtype)
        return gamma.to(g.dtype) * g + self.history.T @ coeffs
