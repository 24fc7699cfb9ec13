"""Limited-memory BFGS over flat float32 parameter vectors.

Written here rather than taken from scipy.optimize because the models have up to millions of
parameters: scipy's L-BFGS-B works in float64 and its per-iteration bookkeeping cost more than
the gradient itself in the classifier benchmark.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]  # x -> (value, gradient)

_MEMORY = 10
_ARMIJO = 1e-4


def minimize(objective: Objective, x0: np.ndarray, *, max_iter: int, tol: float) -> np.ndarray:
    """Minimise ``objective`` from ``x0``.

    Stops after ``max_iter`` iterations, when the largest gradient component is at most
    ``tol``, or when a step no longer lowers the value.
    """
    x = x0.copy()
    value, gradient = objective(x)
    steps: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=_MEMORY)
    for _ in range(max_iter):
        if not np.any(gradient) or np.abs(gradient).max() <= tol:
            break
        direction = -_inverse_hessian_times(gradient, steps)
        slope = float(np.vdot(gradient, direction))
        if slope >= 0:  # not a descent direction: restart from steepest descent
            steps.clear()
            direction = -gradient
            slope = -float(np.vdot(direction, direction))
        step = 1.0 if steps else 1.0 / max(1.0, float(np.linalg.norm(direction)))
        while True:
            candidate = x + step * direction
            new_value, new_gradient = objective(candidate)
            if new_value <= value + _ARMIJO * step * slope or step < 1e-10:
                break
            step *= 0.5
        if new_value >= value:
            break  # no progress at float32 precision: converged
        s, y = candidate - x, new_gradient - gradient
        curvature = float(np.vdot(s, y))
        if curvature > 1e-10:
            steps.append((s, y, 1.0 / curvature))
        x, value, gradient = candidate, new_value, new_gradient
    return x


def _inverse_hessian_times(
    gradient: np.ndarray, steps: deque[tuple[np.ndarray, np.ndarray, float]]
) -> np.ndarray:
    """The two-loop recursion: the L-BFGS estimate of H^-1 @ gradient."""
    q = gradient.copy()
    alphas = []
    for s, y, rho in reversed(steps):
        alpha = rho * float(np.vdot(s, q))
        alphas.append(alpha)
        q -= alpha * y
    if steps:
        s, y, _ = steps[-1]
        q *= float(np.vdot(s, y)) / float(np.vdot(y, y))
    for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
        beta = rho * float(np.vdot(y, q))
        q += (alpha - beta) * s
    return q
