"""The Gauss–Newton normal equations of a batch of starts, formed chunk by chunk over runs.

:func:`_normal` gives the objective, the IRLS matrix and gradient each solver step needs;
:func:`curvature` and :func:`curvatures` the curvature the diagnostics read. Runs are
taken :data:`RUN_CHUNK` at a time, so memory stays bounded on huge tables. The solver
(:mod:`scalinglaws.engine.solver`) calls these, and re-exports the public names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scalinglaws.engine.problem import Problem

#: Runs per pass in problems with more runs than this: the Jacobian is formed and
#: reduced to the normal equations chunk by chunk, so its memory stays bounded (a
#: million runs of chinchilla would otherwise hold several 80 MB Jacobian arrays).
RUN_CHUNK = 65_536


def _normal(
    problem: Problem, theta: np.ndarray, W: np.ndarray, jacobian: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Objective per start, and the Gauss–Newton matrix and gradient of the IRLS
    majoriser (None without ``jacobian``), summed over chunks of runs."""
    n = problem.y.shape[-1]
    if n <= RUN_CHUNK:
        return _normal_chunk(problem, theta, W, jacobian)
    F: Any = 0.0
    H: Any = 0.0
    g: Any = 0.0
    for a in range(0, n, RUN_CHUNK):
        cols = slice(a, a + RUN_CHUNK)
        Fc, Hc, gc = _normal_chunk(problem.runs(cols), theta, W[:, cols], jacobian)
        F, H, g = F + Fc, (H + Hc if jacobian else None), (g + gc if jacobian else None)
    return F, H, g


def _normal_chunk(
    problem: Problem, theta: np.ndarray, W: np.ndarray, jacobian: bool
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    obj = problem.objective
    r, J = problem.residuals(theta, jacobian=jacobian)
    if J is None:
        return obj.total(r, W), None, None
    F, w_grad, w_curv = obj.evaluate(r, W)
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite systems are caught by the caller
        # stacked matmul works matrix by matrix, so a row's numbers never depend on the
        # other rows of the batch (einsum's buffered reductions can, in the last bit)
        H = (J * w_curv[:, None, :]) @ J.transpose(0, 2, 1)
        g = (J @ (w_grad * r)[:, :, None])[..., 0]
    return F, H, g


def curvature(problem: Problem, theta: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``J diag(w psi(r)/r) J^T`` at one point (internal units): the IRLS curvature the
    diagnostics read identifiability from, summed over chunks of runs."""
    n = problem.y.shape[-1]
    H = np.zeros((theta.size, theta.size))
    for a in range(0, n, RUN_CHUNK):
        cols = slice(a, a + RUN_CHUNK)
        part = problem if n <= RUN_CHUNK else problem.runs(cols)
        Hc = curvatures(part, theta[None, :], np.asarray(weights)[..., cols][None])[0]
        H = H + Hc if n > RUN_CHUNK else Hc
    return H


def curvatures(problem: Problem, theta: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`curvature` at every row of ``theta`` (one chunk of runs), shape
    ``(n_rows, n_params, n_params)``: row by row the same numbers as one row alone."""
    r, J = problem.residuals(theta)
    assert J is not None
    omega = weights * problem.objective.irls_weight(r)
    return (J * omega[:, None, :]) @ J.transpose(0, 2, 1)


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(A) @ b[..., None])[..., 0]
