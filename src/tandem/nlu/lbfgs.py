"""Limited-memory BFGS, with OWL-QN for an L1 penalty, over flat float32 parameter vectors.

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


def minimize(
    objective: Objective,
    x0: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    l1: float = 0.0,
) -> np.ndarray:
    """Minimise ``objective(x) + l1 * |x|_1`` from ``x0``.

    Stops after ``max_iter`` iterations, when the largest (pseudo-)gradient component is at
    most ``tol``, or when a step no longer lowers the value.
    """
    x = x0.copy()
    value, gradient = objective(x)
    value += l1 * float(np.abs(x).sum())
    steps: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=_MEMORY)
    for _ in range(max_iter):
        direction_gradient = _pseudo_gradient(x, gradient, l1) if l1 else gradient
        if not np.any(direction_gradient) or np.abs(direction_gradient).max() <= tol:
            break
        direction = -_inverse_hessian_times(direction_gradient, steps)
        if l1:
            # OWL-QN: never move against the pseudo-gradient's sign, stay in one orthant.
            direction[np.sign(direction) == np.sign(direction_gradient)] = 0.0
            orthant = np.where(x != 0, np.sign(x), -np.sign(direction_gradient))
        slope = float(np.vdot(direction_gradient, direction))
        if slope >= 0:  # not a descent direction: restart from steepest descent
            steps.clear()
            direction = -direction_gradient
            slope = -float(np.vdot(direction, direction))
        step = 1.0 if steps else 1.0 / max(1.0, float(np.linalg.norm(direction)))
        while True:
            candidate = x + step * direction
            if l1:
                candidate[np.sign(candidate) != orthant] = 0.0
            new_value, new_gradient = objective(candidate)
            new_value += l1 * float(np.abs(candidate).sum())
            decrease = float(np.vdot(direction_gradient, candidate - x)) if l1 else step * slope
            if new_value <= value + _ARMIJO * decrease or step < 1e-10:
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


def _pseudo_gradient(x: np.ndarray, gradient: np.ndarray, l1: float) -> np.ndarray:
    """The steepest-descent direction of f + l1*|x| (its subgradient of least magnitude)."""
    result = np.where(x > 0, gradient + l1, np.where(x < 0, gradient - l1, 0.0)).astype(x.dtype)
    at_zero = x == 0
    result[at_zero & (gradient + l1 < 0)] = (gradient + l1)[at_zero & (gradient + l1 < 0)]
    result[at_zero & (gradient - l1 > 0)] = (gradient - l1)[at_zero & (gradient - l1 > 0)]
    return result
