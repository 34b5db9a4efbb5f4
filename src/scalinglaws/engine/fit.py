"""``fit(runs, law)``: the one entry point that turns runs into a :class:`Fit`.

It prepares the data (validated once, in :mod:`scalinglaws.data.runs`; what the law
declares of its variables checked in :mod:`scalinglaws.engine.prepare`: which must be
> 0, which to derive from other columns), builds the law (catalog name, formula,
function; pinned parameters; groups) there too, then runs the batched multi-start here,
bootstraps by resampling runs, and diagnoses the result.
It never looks at which law it fits. Its options are small values
(:mod:`scalinglaws.engine.options`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs
from scalinglaws.engine.diagnose import diagnose
from scalinglaws.engine.options import UNSET, Bootstrap, Objective, Starts
from scalinglaws.engine.prepare import (
    Prepared,
    Seed,
    _starts,  # noqa: F401  (re-exported: engine.batch reads engine.fit._starts)
    prepare,
)
from scalinglaws.engine.result import Diagnostics, Fit
from scalinglaws.engine.solver import (
    CONVERGED,
    Problem,
    Solution,
    curvature,
    levenberg_marquardt,
    multistart,
)
from scalinglaws.errors import FitError, ScalingLawsWarning
from scalinglaws.laws.law import Law

__all__ = ["Prepared", "Seed", "best_start", "finish", "fit", "prepare"]


def fit(
    runs: Runs | pd.DataFrame | str,
    law: str | Law | Callable[..., Any],
    *,
    objective: Objective | None = None,
    starts: Starts | Mapping[str, Sequence[float]] | np.ndarray | None = None,
    bootstrap: Bootstrap | int = 0,
    target: str | None = None,
    variables: Mapping[str, str] | None = None,
    fixed: Mapping[str, float] | None = None,
    fixed_source: str = "",
    weights: str | Sequence[float] | np.ndarray | None = None,
    groups: str | None = None,
    shared: Sequence[str] = (),
    progress: bool = False,
    law_options: Mapping[str, Any] | None = None,
    loss: str = UNSET,
    delta: float = UNSET,
    space: str = UNSET,
    asymmetry: float = UNSET,
    prune: bool = UNSET,
    seed: Seed = UNSET,
) -> Fit:
    """Fit a scaling law to runs.

    Parameters
    ----------
    runs : Runs, DataFrame or path
        The experiments; a DataFrame or path is read with :func:`load_runs`.
    law : str, Law or callable
        A catalog name (``"chinchilla"``), a formula (``"E + A / n_params**alpha"``;
        names of the runs' columns are variables too), a Python function or a
        :class:`Law`. (``"auto"``, the choice among candidate laws, is
        :func:`scalinglaws.fit`, one layer up in :mod:`scalinglaws.judge.auto`.)
        A variable the law declares derivable (``tokens_per_param``, ``flops``) that
        the runs lack is computed from its parts and listed in ``Runs.derived``.
    objective : Objective, optional
        What to minimise: ``Objective(loss="huber", delta=1e-3, space="log",
        asymmetry=1.0)`` by default, the recipe of Hoffmann et al. (2022). The penalty
        is summed (never averaged) over runs.
    starts : Starts, dict or array, optional
        ``Starts(grid=None, prune=True)``: the law's start grid, reduced by variable
        projection where the law is affine in some parameters and raced by successive
        halving when large. A dict or array alone is the grid (the older form).
    bootstrap : Bootstrap or int
        ``Bootstrap(n, seed=0)``: ``n`` resamples of the runs, each refitted from the
        optimum, all together; same data and seed give the same numbers. An int is
        ``n`` (the older form, with ``seed=``).
    target : str, optional
        The column the law predicts; default: the law's own (``loss`` for most laws,
        ``error`` for ``downstream_exp``, ``coverage`` for ``coverage``).
    variables : dict, optional
        Law variable -> runs column, e.g. ``{"x": "n_params"}`` to fit ``power`` in N.
    fixed : dict, optional
        Parameters pinned to values (``{"E": 1.69}``); ``fixed_source`` says where
        the values come from, and both are kept in the result.
    weights : str or array, optional
        Per-run weights: a column name or an array of shape (n_runs,).
    groups, shared : str, sequence of str
        Fit one law per value of the column ``groups``, with the parameters in
        ``shared`` common to all groups (e.g. one floor ``E`` for several data sets).
    progress : bool
        Show a progress bar.
    law_options : dict, optional
        Options of a catalog law's factory (``{"breaks": 2}`` for ``bnsl``).
    loss, delta, space, asymmetry, prune, seed
        The older keywords, still accepted: the fields of ``objective``, of
        ``starts`` (``prune``) and of ``bootstrap`` (``seed``). Giving one together with
        the value it belongs to is an error.

    Returns
    -------
    Fit

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e6, 1e9, 12)
    >>> df = pd.DataFrame({"x": x, "loss": 1.5 + 300 * x**-0.3})
    >>> f = fit(df, "power")
    >>> round(f.params["alpha"], 3)
    0.3
    >>> f = fit(df, "power", objective=Objective(loss="squared"), bootstrap=Bootstrap(20, seed=1))
    >>> f.options["loss"], f.options["bootstrap"]
    ('squared', 20)
    """
    prep = prepare(
        runs, law, objective=objective, starts=starts, bootstrap=bootstrap, target=target, variables=variables,
        fixed=fixed, fixed_source=fixed_source, weights=weights, groups=groups, shared=shared,
        law_options=law_options, loss=loss, delta=delta, space=space, asymmetry=asymmetry, prune=prune, seed=seed,
    )  # fmt: skip
    bar = _progress(progress, "fit")
    sol, refined = _race(prep.problem, prep.starts, prep.weights, prep.prune, bar)
    best = best_start(prep, sol)
    draws, n_failed = None, 0
    if prep.n_boot:
        draws, n_failed = _bootstrap(prep.problem, sol.theta[best], prep.weights, prep.n_boot, prep.seed, progress)
    return finish(prep, sol, refined, best, draws, n_failed)


def best_start(prep: Prepared, sol: Solution) -> int:
    """Index of the best finite start, or a FitError when none is finite."""
    finite = np.isfinite(sol.objective)
    if not finite.any():
        raise FitError(
            f"no start of {prep.law.name!r} gave a finite objective on these runs: the law cannot produce "
            f"{'positive ' if prep.options['space'] == 'log' else ''}predictions here; check the data, bounds and starts"
        )
    return int(np.argmin(np.where(finite, sol.objective, np.inf)))


def finish(prep: Prepared, sol: Solution, refined: np.ndarray, best: int, draws: np.ndarray | None, n_failed: int,
           provenance: Mapping[str, Any] | None = None, diagnostics: Diagnostics | None = None) -> Fit:
    """The :class:`Fit` of a prepared fit from its solution (diagnosed; warnings raised).

    ``diagnostics``: when the caller diagnosed the solution already
    (:func:`~scalinglaws.engine.batch.fit_each` does, for all groups at once)."""
    problem, theta = prep.problem, sol.theta[best]
    natural = problem.to_natural(theta[None, :])[0]
    if diagnostics is None:
        with np.errstate(all="ignore"):
            H = curvature(problem, theta, prep.weights)  # chunked over runs: no full Jacobian on huge tables
        diagnostics = diagnose(problem, sol.theta, sol.objective, sol.status, sol.iterations,
                               np.zeros(sol.theta.shape[0], dtype=np.intp), refined, np.array([best]), H[None],
                               [n_failed], prep.n_boot)[0]  # fmt: skip
    for message in diagnostics.warnings:
        warnings.warn(f"{prep.law.name}: {message}", ScalingLawsWarning, stacklevel=3)
    params = {p.name: float(v) for p, v in zip(prep.law.params, natural)}
    return Fit(
        law=prep.law,
        params={**params, **prep.fixed},
        fixed=dict(prep.fixed),
        fixed_source=prep.fixed_source,
        objective=float(sol.objective[best]),
        n_runs=int(problem.y.shape[-1]),
        draws=draws,
        diagnostics=diagnostics,
        options=dict(prep.options),
        provenance={**prep.provenance, **dict(provenance or {})},
    )




def _progress(enabled: bool, label: str) -> Callable[[int, int], None] | None:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    bar = tqdm(desc=label, unit="iter", leave=False)

    def update(iteration: int, active: int) -> None:
        bar.set_postfix(active=active, refresh=False)
        bar.update(1)

    return update


#: Above this many runs, the starts race on a random subsample of RACE_SAMPLE runs and
#: only the finalists are refined on all runs: the objective's landscape is the same up
#: to noise, at a fraction of the cost.
RACE_THRESHOLD = 50_000
RACE_SAMPLE = 4_000
#: How many of the race's finalists are refined on all runs.
RACE_FINALISTS = 2
#: Below RACE_THRESHOLD runs, the starts still race on the subsample when running every
#: start on every run would cost more than this many (start, run) pairs per iteration
#: (chinchilla's 4,500 starts on 10,000 runs are 4.5e7).
RACE_WORK = 20_000_000


def _race(problem: Problem, starts: np.ndarray, w: np.ndarray, prune: bool, bar: Any) -> tuple[Any, np.ndarray]:
    n = problem.y.shape[-1]
    if n <= 2 * RACE_SAMPLE or (n <= RACE_THRESHOLD and n * len(starts) <= RACE_WORK):
        return multistart(problem, starts, w, prune=prune, callback=bar)
    pick = np.sort(np.random.default_rng(0).choice(n, RACE_SAMPLE, replace=False))
    sample = Problem(
        law=problem.law,
        variables={k: v[pick] for k, v in problem.variables.items()},
        y=problem.y[pick],
        objective=problem.objective,
    )
    raced, finalists = multistart(sample, starts, w[pick], prune=prune, callback=bar)
    finalists = finalists[np.argsort(raced.objective[finalists], kind="stable")][:RACE_FINALISTS]
    full = levenberg_marquardt(problem, raced.theta[finalists], w, max_iter=300, ftol=1e-12, callback=bar)
    theta = raced.theta.copy()
    objective = np.full(len(starts), np.inf)  # subsample objectives are not comparable
    status, iters = raced.status.copy(), raced.iterations.copy()
    theta[finalists], objective[finalists] = full.theta, full.objective
    status[finalists], iters[finalists] = full.status, iters[finalists] + full.iterations

    return Solution(theta=theta, objective=objective, status=status, iterations=iters), finalists


#: Bootstrap resamples are drawn and refitted in blocks of at most this many weights.
BOOTSTRAP_BLOCK_ELEMENTS = 20_000_000


def _bootstrap(
    problem: Problem, theta: np.ndarray, w: np.ndarray, n_draws: int, seed: Seed, progress: bool
) -> tuple[np.ndarray, int]:
    """Resample runs with replacement; refit every resample from the optimum, together."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = problem.y.shape[-1]
    block = max(1, BOOTSTRAP_BLOCK_ELEMENTS // n)
    bar = _progress(progress, "bootstrap")
    parts = []
    for first in range(0, n_draws, block):
        size = min(block, n_draws - first)
        # a resample is a vector of counts: run i appears counts[i] times
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size).astype(float)
        start = np.repeat(theta[None, :], size, axis=0)
        parts.append(levenberg_marquardt(problem, start, counts * w, max_iter=200, ftol=1e-10, callback=bar))

    sol = Solution(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("theta", "objective", "status", "iterations")))
    ok = sol.status == CONVERGED
    draws = problem.to_natural(sol.theta)
    draws[~ok] = np.nan
    return draws, int((~ok).sum())
