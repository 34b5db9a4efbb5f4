"""Variable projection for starts: the linear coefficients solved, not searched.

Most laws are affine in some parameters once the others are fixed (chinchilla is
``E + A * N**-alpha + B * D**-beta``: affine in E, A and B given the exponents). A start
grid's values for those coefficients are then a guess where a least-squares solve gives
the answer: for every distinct combination of the nonlinear parameters on the grid, the
coefficients that fit the runs best (weighted linear least squares on relative
residuals, which approximate log residuals) are one start, in place of the whole
block of grid points that share those exponents. Golub and Pereyra's variable projection;
the start is refined by the full robust fit afterwards, so only where it starts changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scalinglaws.laws.formula import linear_params, split_names

if TYPE_CHECKING:
    from scalinglaws.engine.problem import Problem


def linear_mask(problem: Problem) -> np.ndarray | None:
    """Which parameters the law is affine in; None when projection does not apply
    (laws written as Python functions, laws with pinned or per-group parameters, laws
    with no linear parameter or nothing else to search)."""
    law = problem.law
    if not law.formula or law.value_and_grad is None:
        return None
    try:
        _, declared = split_names(law.formula, tuple(law.variables))
        if set(declared) != set(law.param_names):
            return None  # a wrapped law (pinned or grouped parameters) evaluates something else
        linear = set(linear_params(law.formula, law.param_names))
    except Exception:  # noqa: BLE001 - a formula SymPy cannot analyse simply is not projected
        return None
    mask = np.array([p.name in linear for p in law.params])
    return mask if 0 < mask.sum() < mask.size else None


def project(problem: Problem, theta: np.ndarray, weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Starts ``theta`` (internal units, one per row) with their linear coefficients
    replaced by the weighted least-squares ones given their nonlinear parameters.

    A coefficient the solve puts outside its bounds keeps its start value and the others
    are solved again with it held; a row whose solve fails keeps its start.
    """
    law = problem.law
    S, n = theta.shape[0], problem.y.shape[-1]
    natural = problem.to_natural(theta)
    natural[:, mask] = 0.0  # the law at zero coefficients is the part they do not scale
    P = {p.name: natural[:, i : i + 1] for i, p in enumerate(law.params)}
    with np.errstate(all="ignore"):
        f0, grads = law.value_and_grad(problem._inputs, P)  # type: ignore[misc]
        f0 = np.broadcast_to(np.asarray(f0, dtype=float), (S, n))
        basis = np.stack([np.broadcast_to(np.asarray(grads[k], dtype=float), (S, n)) for k in np.flatnonzero(mask)], axis=-1)
        y = np.broadcast_to(problem.y, (S, n))
        scale = np.sqrt(np.broadcast_to(weights, (S, n))) / (y if problem.objective.space == "log" else 1.0)
        M, b = basis * scale[..., None], (y - f0) * scale
        # a start whose law overflows has no finite least-squares problem: it keeps its start
        finite = np.isfinite(M).all(axis=(1, 2)) & np.isfinite(b).all(axis=1)
        M, b = np.where(finite[:, None, None], M, 0.0), np.where(finite[:, None], b, 0.0)
        start = problem.to_natural(theta)[:, mask]
        lo = np.array([p.lower for p in law.params])[mask]
        hi = np.array([p.upper for p in law.params])[mask]
        strict = np.array([p.log for p in law.params])[mask]  # log parameters must stay > lower
        held = np.zeros(start.shape, dtype=bool)
        coef = start
        for _ in range(2):
            # solve for the free coefficients with the held ones at their start values
            rhs = b - np.einsum("snk,sk->sn", M, np.where(held, start, 0.0))
            free_M = M * (~held)[:, None, :]
            try:
                coef = np.einsum("skn,sn->sk", np.linalg.pinv(free_M), rhs)
            except np.linalg.LinAlgError:  # no SVD: every row keeps its start
                coef = start
                break
            coef = np.where(held, start, coef)
            bad = (coef < lo) | (coef > hi) | (strict & (coef <= lo)) | ~np.isfinite(coef)
            if not bad.any():
                break
            held |= bad
        coef = np.where(held | ~finite[:, None], start, coef)
    out = np.array(theta, dtype=float, copy=True)
    ok = np.isfinite(coef).all(axis=1)
    internal = np.array([law.params[i].to_internal(coef[:, j]) for j, i in enumerate(np.flatnonzero(mask))]).T
    out[np.ix_(ok, np.flatnonzero(mask))] = internal[ok]
    lo_i, hi_i = problem.bounds
    return np.clip(out, lo_i, hi_i)
