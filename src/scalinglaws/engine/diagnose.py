"""Diagnostics of solved fits, for one fit or thousands at once.

:func:`diagnose` reads a multi-start solution (one or many independent fits stacked as
groups of rows, as :func:`scalinglaws.engine.batch.fit_each` solves them) and returns
one :class:`~scalinglaws.engine.result.Diagnostics` per fit: convergence, parameters at
a bound, identifiability from the curvature at the optimum, and the agreement of the
starts that reached the best objective. Every number is computed with array operations
over all fits together; a fit alone goes through the same code as a group of one, so
its diagnostics are the same either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scalinglaws.engine.result import Diagnostics
from scalinglaws.engine.solver import CONVERGED, FAILED, Problem


def conditioning(H: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, list[set[str]]]:
    """Condition number of each scaled curvature matrix ``H[k]`` (shape ``(n_fits,
    n_params, n_params)``) and the parameters in its weakest direction; ``inf`` (not a
    LinAlgError) where ``H[k]`` is singular or not finite."""
    G, P = H.shape[0], H.shape[1]
    cond = np.full(G, np.inf)
    poorly: list[set[str]] = [set() for _ in range(G)]
    diag = np.diagonal(H, axis1=1, axis2=2)
    finite = np.isfinite(H).all(axis=(1, 2))
    for k in np.flatnonzero(~finite):
        poorly[k] = {n for n, b in zip(names, ~np.isfinite(diag[k])) if b}
    ok = np.flatnonzero(finite)
    if ok.size == 0:
        return cond, poorly
    d = np.sqrt(np.maximum(diag[ok], 0.0))
    dead = d <= 1e-12 * np.maximum(d.max(axis=1, keepdims=True), 1e-300)
    dd = np.where(dead, 1.0, d)
    scaled = H[ok] / (dd[:, :, None] * dd[:, None, :])
    try:
        eig, vec = np.linalg.eigh(scaled)
        solved = np.ones(ok.size, dtype=bool)
    except np.linalg.LinAlgError:  # one matrix failed: the others one by one
        eig, vec = np.zeros((ok.size, P)), np.zeros((ok.size, P, P))
        solved = np.zeros(ok.size, dtype=bool)
        for i, m in enumerate(scaled):
            try:
                eig[i], vec[i] = np.linalg.eigh(m)
                solved[i] = True
            except np.linalg.LinAlgError:
                pass
    with np.errstate(all="ignore"):
        c = np.where(eig[:, -1] > 0, eig[:, -1] / np.maximum(eig[:, 0], 1e-300), np.inf)
    cond[ok] = np.where(solved, c, np.inf)
    weak = np.abs(vec[:, :, 0]) > 0.3
    for i, k in enumerate(ok):
        if not solved[i]:
            poorly[k] = set(names)
            continue
        poorly[k] = {n for n, b in zip(names, dead[i]) if b}
        if cond[k] > 1e8:
            poorly[k] |= {n for n, b in zip(names, weak[i]) if b}
    return cond, poorly


def diagnose(
    problem: Problem,
    theta: np.ndarray,
    objective: np.ndarray,
    status: np.ndarray,
    iterations: np.ndarray,
    groups: np.ndarray,
    refined: np.ndarray,
    best: np.ndarray,
    hessians: np.ndarray,
    n_failed: Sequence[int],
    n_boot: int,
) -> list[Diagnostics]:
    """One :class:`Diagnostics` per fit.

    ``theta``, ``objective``, ``status`` and ``iterations`` are the solution of every
    start (rows), ``groups`` the fit each row belongs to (``0 .. n_fits - 1``),
    ``refined`` the rows carried to convergence, ``best`` the best row of each fit,
    ``hessians`` the IRLS curvature at each fit's optimum (internal units) and
    ``n_failed`` each fit's bootstrap refits that did not converge.
    """
    names = problem.law.param_names
    G = best.size
    tb = theta[best]
    lo, hi = problem.bounds
    tol = 1e-6 * np.maximum(1.0, np.abs(tb))
    at_bound = (np.isfinite(lo) & (tb - lo <= tol)) | (np.isfinite(hi) & (hi - tb <= tol))
    cond, poorly = conditioning(hessians, names)

    # the spread of the refined starts that reached the best objective of their fit
    was_refined = np.zeros(objective.shape, dtype=bool)
    was_refined[refined] = True
    F_best = objective[best][groups]
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(np.isfinite(objective) & (objective <= F_best * (1 + 1e-4) + 1e-12) & was_refined)
    ref = problem.to_natural(tb)
    rg = ref[groups[near]]
    with np.errstate(all="ignore"):
        gap = np.abs(problem.to_natural(theta[near]) - rg) / np.maximum(np.abs(rg), 1e-12)
    spread = np.zeros((G, len(names)))
    np.maximum.at(spread, groups[near], gap)
    n_near = np.bincount(groups[near], minlength=G)
    n_starts = np.bincount(groups, minlength=G)
    n_refined = np.bincount(groups[refined], minlength=G)
    n_failed_starts = np.bincount(groups[status == FAILED], minlength=G)

    converged = (status[best] == CONVERGED).tolist()
    its = iterations[best].tolist()
    out = []
    for k in range(G):
        bounds_k = tuple(n for n, b in zip(names, at_bound[k]) if b)
        spread_k = dict(zip(names, spread[k].tolist()))
        poorly_k = tuple(n for n in names if n in poorly[k])
        messages = _messages(converged[k], its[k], bounds_k, float(cond[k]), poorly[k], poorly_k, spread_k,
                             int(n_failed[k]), n_boot)  # fmt: skip
        out.append(
            Diagnostics(
                converged=bool(converged[k]),
                iterations=int(its[k]),
                n_starts=int(n_starts[k]),
                n_refined=int(n_refined[k]),
                n_failed_starts=int(n_failed_starts[k]),
                at_bounds=bounds_k,
                condition_number=float(cond[k]),
                poorly_identified=poorly_k,
                start_spread=spread_k,
                n_near_best=int(n_near[k]),
                bootstrap_failed=int(n_failed[k]),
                warnings=tuple(messages),
            )
        )
    return out


def _messages(converged: bool, iterations: int, at_bounds: tuple[str, ...], cond: float, poorly: set[str],
              poorly_t: tuple[str, ...], spread: dict[str, Any], n_failed: int, n_boot: int) -> list[str]:
    """The plain-language statements of one fit's diagnostics."""
    messages: list[str] = []
    if not converged:
        messages.append(
            f"the best start did not converge in {iterations} iterations; "
            "the parameters may be off: try other starts or loosen the law's bounds"
        )
    if at_bounds:
        messages.append(f"parameters at a bound: {', '.join(at_bounds)}; the optimum may lie beyond it")
    finite = cond < np.inf
    if not finite:
        messages.append(
            "the curvature matrix at the optimum is singular or not finite (derivatives of "
            f"{', '.join(sorted(poorly)) or 'some parameters'} vanish or overflow): the fit has no unique optimum there"
        )
    if poorly_t and finite:
        messages.append(
            f"poorly identified: {', '.join(poorly_t)} (condition number {cond:.3g}); the data cannot pin them "
            "down together: fix one (fixed=...) or add runs that vary them"
        )
    flat = [n for n, s in spread.items() if s > 1e-2]
    if flat:
        messages.append(
            "starts within 0.01 % of the best objective disagree on "
            + ", ".join(f"{n} (by {_relative(spread[n])})" for n in flat)
            + ": the objective is flat there"
        )
    if n_boot and n_failed and n_failed / n_boot > 0.01:
        messages.append(f"{n_failed} of {n_boot} bootstrap refits did not converge; they are left out of intervals")
    return messages


def _relative(gap: float) -> str:
    """A relative difference as a reader takes it in: ``12.3%`` up to 1000 %, then a factor."""
    return f"{gap:.1%}" if gap < 10 else f"a factor {1 + gap:.3g}"
