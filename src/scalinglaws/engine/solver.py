"""The numerical core: a robust objective and a batched Levenberg–Marquardt solver.

Every start of a multi-start fit and every bootstrap resample is one row of a
``(n_starts, n_params)`` array, and all rows take their steps together: one call of the
law's function per iteration evaluates every start on every run. Huber losses are
minimised by iteratively reweighted least squares (Huber's own algorithm): each
iteration solves a damped Gauss–Newton system whose weights are ``psi(r)/r``, a
majoriser of the Huber objective, so accepted steps always decrease it.

Nothing here knows which law it is fitting: a :class:`~scalinglaws.engine.problem.Problem`
only needs the law's function (and its Jacobian, when the law has one; otherwise forward
differences). ``Objective``, ``Problem`` and the status codes live in
:mod:`scalinglaws.engine.problem` and are importable from here too, as are ``curvature``,
``curvatures`` and ``RUN_CHUNK`` from :mod:`scalinglaws.engine.normal` (the normal
equations, chunked over runs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.engine.normal import RUN_CHUNK, _normal, _solve, curvature, curvatures
from scalinglaws.engine.problem import (
    CONVERGED,
    CURVATURE_SHARE,
    FAILED,
    MAX_ITER,
    RUNNING,
    Objective,
    Problem,
)
from scalinglaws.engine.projection import linear_mask, project


@dataclass(frozen=True)
class Solution:
    """Where each start ended: internal coordinates, objective, status, iterations."""

    theta: np.ndarray
    objective: np.ndarray
    status: np.ndarray
    iterations: np.ndarray


def levenberg_marquardt(
    problem: Problem,
    theta0: np.ndarray,
    weights: np.ndarray,
    *,
    max_iter: int = 200,
    ftol: float = 1e-12,
    callback: Callable[[int, int], None] | None = None,
    threads: int | None = None,
) -> Solution:
    """Minimise the objective from every row of ``theta0`` at once.

    Parameters
    ----------
    problem : Problem
    theta0 : array of shape (n_starts, n_params)
        Starts, internal coordinates.
    weights : array of shape (n_runs,) or (n_starts, n_runs)
        Per-run weights; a 2-D array gives every start its own (bootstrap counts).
    max_iter : int
        Iterations per start.
    ftol : float
        A start has converged when an accepted step lowers its objective by less than
        ``ftol`` relative, or when no step helps any more (damping exhausted).
    callback : callable, optional
        Called as ``callback(iteration, n_active)`` after each iteration.
    threads : int, optional
        Starts are independent, so large batches are split into contiguous chunks
        solved in parallel threads (numpy releases the GIL in array loops). Every
        start follows the same path whatever the split, so results do not depend on
        the thread count. Default: ``SCALINGLAWS_THREADS`` or the usable CPUs, at most 4.
    """
    S, n = theta0.shape[0], problem.y.shape[-1]
    n_threads = _thread_count(threads, S * n)
    W = np.broadcast_to(np.asarray(weights, dtype=float), (S, n))
    # chunks: one per thread, and small enough that a chunk's arrays stay within memory
    per_chunk = max(1, min(-(-S // n_threads), MAX_CHUNK_ELEMENTS // max(1, n * (theta0.shape[1] + 8))))
    if per_chunk >= S:
        return _lm(problem, theta0, W, max_iter=max_iter, ftol=ftol, callback=callback)
    chunks = [(a, min(a + per_chunk, S)) for a in range(0, S, per_chunk)]
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        parts = list(
            pool.map(
                lambda ab: _lm(
                    problem.take(slice(ab[0], ab[1])), theta0[ab[0] : ab[1]], W[ab[0] : ab[1]], max_iter=max_iter, ftol=ftol,
                    callback=callback if ab[0] == 0 else None,
                ),
                chunks,
            )
        )
    return Solution(
        theta=np.concatenate([p.theta for p in parts]),
        objective=np.concatenate([p.objective for p in parts]),
        status=np.concatenate([p.status for p in parts]),
        iterations=np.concatenate([p.iterations for p in parts]),
    )


#: Below this many (start, run) pairs per thread, threads cost more than they save.
MIN_WORK_PER_THREAD = 50_000
#: Grids up to this many starts always run every start to convergence: it is cheap, and a
#: start far from the optimum can look poor after a few iterations yet be the one that
#: gets there (henighan's C_0 grid on data whose C_0 lies decades away does exactly that).
PRUNE_MIN_STARTS = 512
#: At most this many float64 values in one chunk's working arrays (about 256 MB).
MAX_CHUNK_ELEMENTS = 32_000_000


def _thread_count(threads: int | None, work: int) -> int:
    if threads is None:
        env = os.environ.get("SCALINGLAWS_THREADS")
        if env and env.isdigit():
            threads = int(env)
        else:
            try:
                threads = min(4, len(os.sched_getaffinity(0)))
            except AttributeError:  # pragma: no cover - not on Linux
                threads = min(4, os.cpu_count() or 1)
    return max(1, min(int(threads), work // MIN_WORK_PER_THREAD))


def _lm(
    problem: Problem,
    theta0: np.ndarray,
    weights: np.ndarray,
    *,
    max_iter: int = 200,
    ftol: float = 1e-12,
    callback: Callable[[int, int], None] | None = None,
) -> Solution:
    """The batched Levenberg–Marquardt iteration on one chunk of starts.

    The working arrays hold the running starts only; they are compacted when starts
    finish, so no iteration copies the Jacobians of every start.
    """
    lo, hi = problem.bounds
    theta = np.clip(np.array(theta0, dtype=float), lo, hi)
    S, P = theta.shape
    n = problem.y.shape[-1]
    W_all = np.broadcast_to(np.asarray(weights, dtype=float), (S, n))
    # weights shared by all starts stay one row (a broadcast), never a copy per start
    shared = W_all.strides[0] == 0

    def rows_of(W: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if not shared:
            return W[idx]
        return np.broadcast_to(W_all[0], (int(np.count_nonzero(idx)) if idx.dtype == bool else idx.size, n))

    F_out = np.full(S, np.inf)
    status = np.full(S, RUNNING)
    iters = np.zeros(S, dtype=int)
    eye = np.eye(P)

    F, H0, g0 = _normal(problem, theta, W_all, jacobian=True)
    assert H0 is not None and g0 is not None
    H: np.ndarray = H0
    g: np.ndarray = g0
    ids = np.flatnonzero(np.isfinite(F))
    status[np.isfinite(F) == 0] = FAILED
    F_out[:] = F
    th, H, g, W, F = theta[ids], H[ids], g[ids], rows_of(W_all, ids), F[ids]
    prob = problem.take(ids)  # per-row data follow their rows as starts finish
    lam = np.full(ids.size, 1e-3)
    for it in range(max_iter):
        if ids.size == 0:
            break
        # damped Gauss-Newton: (J C J^T + lam D) step = J psi(r), with H = J C J^T and
        # g = J psi(r) kept from the last accepted point
        Hs, gs = H, g
        sane = np.isfinite(Hs).all(axis=(1, 2)) & np.isfinite(gs).all(axis=1)
        if not sane.all():
            Hs, gs = Hs.copy(), gs.copy()
            Hs[~sane], gs[~sane] = eye, 0.0
        # pin parameters sitting on a bound whose step would leave it
        free = ~(((th <= lo) & (gs < 0)) | ((th >= hi) & (gs > 0)))
        Hs = Hs * (free[:, :, None] & free[:, None, :]) + eye * (~free)[:, :, None]
        gs = gs * free
        d = np.diagonal(Hs, axis1=1, axis2=2)
        scale = d.mean(axis=1, keepdims=True) * 1e-12 + 1e-300
        A = Hs + (lam[:, None] * (d + scale))[:, :, None] * eye
        trial = np.clip(th + _solve(A, gs), lo, hi)
        last = it == max_iter - 1  # no Jacobian needed after the last step
        Ft, Ht_, gt_ = _normal(prob, trial, W, jacobian=not last)
        Ht: Any = Ht_
        gt: Any = gt_
        better = Ft < F
        if Ht is None:
            Ht, gt = H, g
        if better.all():
            th, H, g = trial, Ht, gt
        else:
            keep = ~better
            trial[keep] = th[keep]
            if Ht is not H:
                Ht[keep], gt[keep] = H[keep], g[keep]
            th, H, g = trial, Ht, gt
        small = better & ((F - Ft) <= ftol * np.maximum(F, 1e-300))
        F = np.where(better, Ft, F)
        lam = np.where(better, np.maximum(lam * 0.2, 1e-12), lam * 10.0)
        stalled = (~better) & (lam > 1e12)
        iters[ids] += 1
        done = small | stalled
        if callback is not None:
            callback(it, ids.size)
        if done.any():
            fin = ids[done]
            theta[fin], F_out[fin], status[fin] = th[done], F[done], CONVERGED
            go = ~done
            ids, th, H, g, W, F, lam = ids[go], th[go], H[go], g[go], rows_of(W, go), F[go], lam[go]
            prob = prob.take(go)
    theta[ids], F_out[ids], status[ids] = th, F, MAX_ITER
    return Solution(theta=theta, objective=F_out, status=status, iterations=iters)


def multistart(
    problem: Problem,
    starts: np.ndarray,
    weights: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    screen_iter: int = 1,
    final_keep: int = 8,
    keep_fraction: float = 0.25,
    max_iter: int = 300,
    ftol: float = 1e-13,
    prune: bool = True,
    callback: Callable[[int, int], None] | None = None,
    data_rows: np.ndarray | None = None,
    race_above: int | None = None,
) -> tuple[Solution, np.ndarray]:
    """Optimise every start; returns the solution for all starts and the indices of
    the starts carried to convergence.

    With ``prune`` (the default), grids are first reduced by variable projection when
    the law is affine in some parameters (:mod:`scalinglaws.engine.projection`: one
    start per distinct combination of the other parameters, its linear coefficients
    solved by least squares; chinchilla's 4,500 starts become 25, ``power``'s 36
    become 3); the starts it replaces are not run (they keep their start values and
    an infinite objective). A grid whose starts all differ in the other parameters
    (nothing to replace) is kept as given. Then grids of more than ``PRUNE_MIN_STARTS``
    starts (or, with ``race_above``, grids still holding more than ``race_above`` starts
    after the projection) race by
    successive halving: every start takes ``screen_iter`` iterations, the best
    ``keep_fraction`` of the distinct ones takes twice as many more, and so on until
    ``final_keep`` remain, which run to convergence. Starts dropped on the way keep the
    objective they had reached (an upper bound of where they would end). The
    remaining starts of smaller grids all run to convergence; ``prune=False`` runs
    every start of the grid to convergence, as the paper recipe does.

    ``groups`` (one integer code per start, for a per-row ``problem``) runs several
    independent fits as one batch: every group races on its own, exactly as it would
    alone (every row's steps depend on that row only), and all groups share each
    solver call. ``data_rows`` (with ``groups``) gives, for every start, the row of the
    per-row ``problem`` and ``weights`` holding its data, so that a group's data are
    stored once rather than once per start (default: every start has its own row).
    """
    S = starts.shape[0]
    per_row_w = np.ndim(weights) == 2
    rows_of = np.arange(S) if data_rows is None else np.asarray(data_rows, dtype=np.intp)

    def data(rows: np.ndarray) -> tuple[Problem, np.ndarray]:
        """The problem and weights of some starts."""
        return problem.take(rows_of[rows]), (weights[rows_of[rows]] if per_row_w else weights)

    g = np.zeros(S, dtype=np.intp) if groups is None else np.asarray(groups, dtype=np.intp)
    counts = np.bincount(g)
    above = PRUNE_MIN_STARTS if race_above is None else int(race_above)
    racing = (counts > max(final_keep, above)) & prune
    mask = linear_mask(problem) if prune else None
    if not racing.any() and mask is None:
        part, w = data(np.arange(S))
        sol = levenberg_marquardt(part, starts, w, max_iter=max_iter, ftol=ftol, callback=callback)
        return sol, np.arange(S)

    def solve(rows: np.ndarray, budget: int) -> Solution:
        part, w = data(rows)
        return levenberg_marquardt(part, theta[rows], w, max_iter=budget, ftol=ftol, callback=callback)

    theta = np.array(starts, dtype=float)
    F = np.full(S, np.inf)
    status = np.full(S, MAX_ITER)
    iters = np.zeros(S, dtype=int)
    active = np.arange(S)
    if mask is not None:
        # variable projection: one start per distinct combination of the nonlinear
        # parameters, its linear coefficients solved by least squares; the rest of the
        # grid (other guesses of those coefficients) is not run. Only grids it reduces
        # (a group whose starts all differ in the other parameters keeps them as given)
        first = _first_rows(np.column_stack([g, theta[:, np.flatnonzero(~mask)]]))
        reduced = np.bincount(g[first], minlength=counts.size) < counts
        first = np.sort(first)
        projected = first[reduced[g[first]]]
        active = np.sort(np.concatenate([projected, np.flatnonzero(~reduced[g])]))
        if projected.size:
            part, w = data(projected)
            theta[projected] = project(part, theta[projected], w, mask)
    if race_above is not None:  # an explicit threshold counts the starts left after projection
        racing = (np.bincount(g[active], minlength=counts.size) > max(final_keep, above)) & prune
    settled = active[~racing[g[active]]]  # small grids go straight to convergence
    active = active[racing[g[active]]]
    n_active = np.bincount(g[active], minlength=counts.size)
    budget = screen_iter
    while True:
        in_race = active[n_active[g[active]] > final_keep]
        if in_race.size == 0:
            break
        sol = solve(in_race, budget)
        theta[in_race], F[in_race], iters[in_race] = sol.theta, sol.objective, iters[in_race] + sol.iterations
        status[in_race] = np.where(sol.status == RUNNING, MAX_ITER, sol.status)
        # by group, then objective (stable: ties keep their order, as in a fit alone)
        order = in_race[np.lexsort((F[in_race], g[in_race]))]
        order = order[np.isfinite(F[order])]
        # distinct starts only: starts of a group that reached the same point count once
        first = _first_rows(np.column_stack([g[order], np.round(theta[order], 6)]))
        order = order[np.sort(first)]
        go = g[order]
        rank = np.arange(order.size) - np.searchsorted(go, go, side="left")
        kept = order[rank < np.maximum(final_keep, (n_active[go] * keep_fraction).astype(int))]
        raced = np.unique(g[in_race])
        n_active[raced] = np.bincount(g[kept], minlength=counts.size)[raced]
        active = np.concatenate([active[~np.isin(g[active], raced)], kept])
        budget *= 2
    final = np.concatenate([settled, active])
    sol = solve(final, max_iter)
    theta[final], F[final], iters[final] = sol.theta, sol.objective, iters[final] + sol.iterations
    status[final] = sol.status
    return Solution(theta=theta, objective=F, status=status, iterations=iters), np.sort(final)


def _first_rows(key: np.ndarray) -> np.ndarray:
    """Index of the first occurrence of each distinct row of ``key`` (what
    ``np.unique(key, axis=0, return_index=True)`` gives, in its order, without sorting
    rows as byte strings): each column is coded by its distinct values and the codes
    combined into one integer per row."""
    if key.shape[0] == 0:
        return np.zeros(0, dtype=np.intp)
    code = np.zeros(key.shape[0], dtype=np.int64)
    for col in key.T:
        values, inverse = np.unique(col, return_inverse=True)
        code = code * values.size + inverse
        # renumber before the mixed-radix code could overflow
        code = np.unique(code, return_inverse=True)[1].astype(np.int64)
    _, first = np.unique(code, return_index=True)
    return first


__all__ = [
    "CONVERGED",
    "CURVATURE_SHARE",
    "FAILED",
    "MAX_CHUNK_ELEMENTS",
    "MAX_ITER",
    "MIN_WORK_PER_THREAD",
    "PRUNE_MIN_STARTS",
    "RUNNING",
    "RUN_CHUNK",
    "Objective",
    "Problem",
    "Solution",
    "curvature",
    "curvatures",
    "levenberg_marquardt",
    "multistart",
]
