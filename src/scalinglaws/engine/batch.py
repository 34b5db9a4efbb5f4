"""``fit_each(runs, law, by=...)``: many independent fits as one batched solve.

Per-task downstream laws over hundreds of benchmarks, thousands of learning curves,
one ladder per group: each group is an independent fit, and fitting them one by one
in a Python loop pays the per-call overhead of :func:`~scalinglaws.engine.fit.fit`
thousands of times. Here the whole table is prepared once, every start of every group
is one row of the same batched Levenberg–Marquardt solve, reading its group's data
(stored once per group, padded to one length with zero weights), the starts race
within their group only, and all groups are diagnosed together. Every row's
steps depend on that row alone, so each group ends where it would if fitted alone with
the same options: same starts, same race, same optimum, same diagnostics, and the same
bootstrap draws for an integer seed (each group draws from a fresh generator seeded
with it, as a fit alone does).
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

import scalinglaws.engine.fit  # noqa: F401  (the module, which the package's fit function shadows)
from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.diagnose import diagnose
from scalinglaws.engine.fit import Prepared, best_start, finish, prepare
from scalinglaws.engine.result import Fit
from scalinglaws.engine.solver import (
    CONVERGED,
    Problem,
    Solution,
    curvatures,
    levenberg_marquardt,
    multistart,
)
from scalinglaws.engine.trust import COMPUTE_KEY
from scalinglaws.errors import DataError, FitError, ScalingLawsError, ScalingLawsWarning
from scalinglaws.laws.law import Law

_fit = sys.modules["scalinglaws.engine.fit"]

#: Groups are solved in blocks of at most about this many (start, run) pairs, which
#: bounds the memory of the working arrays (a few dozen float64 arrays of this size).
BLOCK_ELEMENTS = 8_000_000


@dataclass(frozen=True)
class FitTable:
    """One :class:`Fit` per group, in the order of the sorted group labels.

    ``table[label]`` (or ``table[i]``) is a group's fit, ``len(table)`` the number of
    groups, iteration yields the fits, and :meth:`to_frame` gives one row per group
    with its parameters, objective and diagnostics.
    """

    by: str
    labels: tuple[Any, ...]
    fits: tuple[Fit, ...]

    def __len__(self) -> int:
        return len(self.fits)

    def __iter__(self) -> Iterator[Fit]:
        return iter(self.fits)

    def __getitem__(self, key: Any) -> Fit:
        if isinstance(key, (int, np.integer)) and key not in self.labels:
            return self.fits[int(key)]
        try:
            return self.fits[self.labels.index(key)]
        except ValueError:
            shown = ", ".join(map(repr, self.labels[:5])) + (", ..." if len(self.labels) > 5 else "")
            raise KeyError(f"no group {key!r} in {self.by!r}; groups: {shown}") from None

    def items(self) -> Iterator[tuple[Any, Fit]]:
        return zip(self.labels, self.fits)

    def to_frame(self) -> pd.DataFrame:
        """One row per group: the label, every parameter, objective, runs, diagnostics."""
        rows = []
        for label, f in self.items():
            d = f.diagnostics
            rows.append({
                self.by: label, **dict(f.params), "objective": f.objective, "n_runs": f.n_runs,
                "converged": d.converged, "warnings": len(d.warnings),
            })  # fmt: skip
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "fits": [{"group": _plain(k), "fit": f.to_dict()} for k, f in self.items()]}

    def __repr__(self) -> str:
        law = self.fits[0].law.name if self.fits else "?"
        bad = sum(not f.diagnostics.converged for f in self.fits)
        return f"FitTable({law!r} by {self.by!r}: {len(self)} groups, {bad} not converged)"

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.to_frame().head(50).to_html(index=False)


def _plain(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def fit_each(
    runs: Runs | pd.DataFrame | str,
    law: str | Law | Callable[..., Any],
    *,
    by: str = "curve",
    race: Mapping[str, int] | None = None,
    **options: Any,
) -> FitTable:
    """Fit ``law`` to every group of runs (one value of the column ``by``) separately.

    Takes the options of :func:`scalinglaws.engine.fit.fit` (not ``groups``/``shared``:
    for one law with parameters shared across groups use ``fit(..., groups=...)``). Each
    group is prepared exactly as ``fit(group_runs, law, **options)`` prepares it
    (:func:`~scalinglaws.engine.fit.prepare`), the starts of all groups are solved as rows
    of one batched solve, and each result is built as ``fit`` builds it, so the result
    equals the fits one by one. Diagnostics warnings are summarised in one warning;
    see ``to_frame()["warnings"]``.

    ``race`` changes how the starts of each group race (keywords of
    :func:`scalinglaws.engine.solver.multistart`: ``race_above``, ``screen_iter``), for
    callers that need many fits fast more than the certainty of converging every start of a
    small grid (the nested fits of :func:`scalinglaws.judge.choose.choose_law`); with it
    the results equal fits one by one under the same race, not ``fit``'s defaults.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e6, 1e9, 12)
    >>> df = pd.concat([pd.DataFrame({"curve": c, "x": x, "loss": 1.5 + a * x**-0.3})
    ...                 for c, a in (("a", 300.0), ("b", 600.0))])
    >>> table = fit_each(df, "power", by="curve")
    >>> [round(f.params["A"]) for f in table]
    [300, 600]
    """
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    for bad in ("groups", "shared", "progress"):
        if options.get(bad):
            raise FitError(f"fit_each fits each group alone: {bad}= does not apply (use fit(..., groups=...) for shared parameters)")
    seed = options.get("seed", 0)
    boot = options.get("bootstrap", 0)
    if isinstance(seed, np.random.Generator) or isinstance(getattr(boot, "seed", None), np.random.Generator):
        raise FitError("fit_each needs an integer seed (each group draws from a fresh generator seeded with it)")
    unknown = set(race or {}) - {"race_above", "screen_iter"}
    if unknown:
        raise FitError(f"race takes race_above and screen_iter, not {', '.join(sorted(unknown))}")
    if not isinstance(by, str) or by not in runs.columns:
        raise DataError(f"by={by!r} is not a column of the runs; columns: {', '.join(runs.columns)}")
    codes, uniques = pd.factorize(runs.data[by], sort=True)
    if (codes < 0).any():
        raise DataError(f"column {by!r} has missing values (row {int(np.argmax(codes < 0))}): every run needs a group")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    labels = tuple(_plain(u) for u in uniques)
    slices = [order[a:b] for a, b in itertools.pairwise(bounds)]
    prepared = _prepare_all(runs, law, options, slices)
    if prepared is None:  # some group cannot be fitted: prepare one by one to say which and why
        prepared = []
        for label, rows in zip(labels, slices):
            try:
                prepared.append(prepare(runs.subset(rows), law, **options))
            except ScalingLawsError as err:
                raise type(err)(f"group {by}={label!r}: {err}") from None
    groups = list(zip(slices, prepared))
    fits: list[Fit] = []
    for block in _blocks(groups):
        fits.extend(_fit_block([groups[i] for i in block], [labels[i] for i in block], runs, law, by, options,
                               dict(race or {})))
    noisy = [label for label, f in zip(labels, fits) if f.diagnostics.warnings]
    if noisy:
        warnings.warn(
            f"{fits[0].law.name}: {len(noisy)} of {len(fits)} groups have diagnostics warnings (first: {by}={noisy[0]!r}); "
            "see to_frame()['warnings'] and each fit's diagnostics",
            ScalingLawsWarning,
            stacklevel=2,
        )
    return FitTable(by=by, labels=labels, fits=tuple(fits))


def _prepare_all(runs: Runs, law: Any, options: Mapping[str, Any], slices: Sequence[np.ndarray]) -> list[Prepared] | None:
    """Every group's :class:`Prepared`, equal to ``prepare(runs.subset(rows), law, **options)``,
    from one preparation of all runs (the checks are value by value, so they pass on
    the whole exactly when they pass on every group) and slices of its arrays; None
    when the whole or some group would be refused (too few runs, no weight)."""
    try:
        whole = prepare(runs, law, **options)
    except ScalingLawsError:
        return None
    w = whole.weights
    if min(rows.size for rows in slices) < len(whole.law.params) or not all((w[rows] > 0).any() for rows in slices):
        return None
    problem, the_law = whole.problem, whole.law
    parts = [problem.on({k: v[rows] for k, v in problem.variables.items()}, problem.y[rows]) for rows in slices]
    if the_law.grid_fn is not None:  # starts the law chooses from each group's data
        natural = [_fit._starts(the_law, whole.grid, p.variables, p.y) for p in parts]
        sizes = np.cumsum([len(x) for x in natural])[:-1]
        starts = np.split(problem.to_internal(np.concatenate(natural)), sizes)
    else:
        starts = [whole.starts] * len(parts)
    ranges = _ranges(problem.variables, the_law.categorical, slices)
    fingerprints = runs.fingerprints(slices)
    return [
        Prepared(law=the_law, problem=part, starts=start, weights=w[rows], prune=whole.prune, n_boot=whole.n_boot,
                 seed=whole.seed, fixed=whole.fixed, fixed_source=whole.fixed_source,
                 options={**whole.options, "n_starts": int(start.shape[0]), "ranges": r},
                 provenance={**whole.provenance, "data_fingerprint": fp, "n_runs": int(rows.size)}, grid=whole.grid)
        for part, start, rows, r, fp in zip(parts, starts, slices, ranges, fingerprints)
    ]  # fmt: skip


def _ranges(X: Mapping[str, np.ndarray], categorical: tuple[str, ...], slices: Sequence[np.ndarray]) -> list[dict[str, list[float]]]:
    """``training_ranges`` of every group (the same numbers: minima and maxima of the
    same values), by one reduction per variable over the runs sorted by group."""
    rows = np.concatenate(slices)
    starts = np.concatenate([[0], np.cumsum([r.size for r in slices])[:-1]])
    columns = {v: a for v, a in X.items() if v not in categorical}
    if "n_params" in X and "n_tokens" in X:
        columns[COMPUTE_KEY] = 6.0 * np.asarray(X["n_params"], dtype=float) * np.asarray(X["n_tokens"], dtype=float)
    lows = {v: np.minimum.reduceat(a[rows], starts).tolist() for v, a in columns.items()}
    highs = {v: np.maximum.reduceat(a[rows], starts).tolist() for v, a in columns.items()}
    return [{v: [lows[v][k], highs[v][k]] for v in columns} for k in range(len(slices))]


def _alone(prep: Prepared) -> bool:
    """Whether a fit alone would race on a subsample of its runs (large groups)."""
    n = prep.problem.y.shape[-1]
    return not (n <= 2 * _fit.RACE_SAMPLE or (n <= _fit.RACE_THRESHOLD and n * len(prep.starts) <= _fit.RACE_WORK))


def _blocks(groups: list[tuple[np.ndarray, Prepared]]) -> Iterator[list[int]]:
    block: list[int] = []
    size = 0
    for i, (rows, prep) in enumerate(groups):
        cost = len(prep.starts) * rows.size
        if block and size + cost > BLOCK_ELEMENTS:
            yield block
            block, size = [], 0
        block.append(i)
        size += cost
    if block:
        yield block


def _stack(problems: Sequence[Problem], weights: Sequence[np.ndarray], repeats: Sequence[int]) -> tuple[Problem, np.ndarray]:
    """One per-row problem: group ``k``'s data repeated ``repeats[k]`` times, padded to
    the longest group with its first run at zero weight (gathered by one index array)."""
    lengths = np.array([p.y.shape[-1] for p in problems])
    n = int(lengths.max())
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cols = np.arange(n)
    real = cols < lengths[:, None]
    idx = np.repeat(first[:, None] + np.where(real, cols, 0), repeats, axis=0)
    variables = {k: np.concatenate([p.variables[k] for p in problems])[idx] for k in problems[0].variables}
    y = np.concatenate([p.y for p in problems])[idx]
    W = np.where(np.repeat(real, repeats, axis=0), np.concatenate(weights)[idx], 0.0)
    return Problem(law=problems[0].law, variables=variables, y=y, objective=problems[0].objective), W


def _fit_block(groups: list[tuple[np.ndarray, Prepared]], labels: list[Any], runs: Runs, law: Any, by: str,
               options: Mapping[str, Any], race: Mapping[str, int]) -> list[Fit]:
    """Fit a block of groups together; groups a fit alone would race on a subsample of
    their runs are fitted alone (they are large enough not to need batching)."""
    batched = [i for i, (_, prep) in enumerate(groups) if not _alone(prep)]
    out: dict[int, Fit] = {}

    def alone(i: int) -> Fit:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLawsWarning)
            f = _fit.fit(runs.subset(groups[i][0]), law, **options)
        return replace(f, provenance={**f.provenance, "group": {by: _plain(labels[i])}})

    for i in set(range(len(groups))) - set(batched):
        out[i] = alone(i)
    if batched:
        parts = [groups[i][1] for i in batched]
        sizes = [len(p.starts) for p in parts]
        # one data row per group; every start reads its group's row
        stacked, W = _stack([p.problem for p in parts], [p.weights for p in parts], [1] * len(parts))
        codes = np.repeat(np.arange(len(parts)), sizes)
        prune = parts[0].prune
        try:
            sol, refined = multistart(stacked, np.concatenate([p.starts for p in parts]), W, groups=codes, prune=prune,
                                      data_rows=codes, race_above=race.get("race_above"),
                                      screen_iter=int(race.get("screen_iter", 1)))
        except ValueError:  # a law whose inputs do not stack by rows (multi_power's schedules): one by one
            out.update({i: alone(i) for i in batched})
            return [out[i] for i in range(len(groups))]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        # each group's best start: the first of its smallest finite objectives (argmin's choice)
        F = np.where(np.isfinite(sol.objective), sol.objective, np.inf)
        best = np.lexsort((np.arange(F.size), F, codes))[offsets[:-1]]
        for k in np.flatnonzero(~np.isfinite(F[best]))[:1]:
            part = Solution(*(getattr(sol, f)[offsets[k] : offsets[k + 1]] for f in ("theta", "objective", "status", "iterations")))
            try:
                best_start(parts[k], part)
            except FitError as err:
                raise FitError(f"group {by}={labels[batched[k]]!r}: {err}") from None
        n_boot = parts[0].n_boot
        thetas = sol.theta[best]
        draws = _bootstrap(parts, list(thetas), n_boot, parts[0].seed) if n_boot else [(None, 0)] * len(parts)
        # the curvature at every group's optimum, and all diagnostics, in one evaluation
        with np.errstate(all="ignore"):
            hessians = curvatures(stacked, thetas, W)
        diagnostics = diagnose(parts[0].problem, sol.theta, sol.objective, sol.status, sol.iterations, codes, refined,
                               best, hessians, [d[1] for d in draws], n_boot)  # fmt: skip
        cut = np.searchsorted(refined, offsets)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLawsWarning)
            for k, i in enumerate(batched):
                lo, hi = offsets[k], offsets[k + 1]
                part = Solution(sol.theta[lo:hi], sol.objective[lo:hi], sol.status[lo:hi], sol.iterations[lo:hi])
                out[i] = finish(parts[k], part, refined[cut[k] : cut[k + 1]] - lo, int(best[k] - lo), draws[k][0],
                                draws[k][1], provenance={"group": {by: _plain(labels[i])}},
                                diagnostics=diagnostics[k])  # fmt: skip
    return [out[i] for i in range(len(groups))]


def _bootstrap(parts: list[Prepared], thetas: list[np.ndarray], n_draws: int, seed: Any) -> list[tuple[np.ndarray, int]]:
    """Every group's resamples, drawn as a fit alone draws them, refitted together (in
    sub-blocks of groups that keep the working arrays within ``BLOCK_ELEMENTS``)."""
    n = max(p.problem.y.shape[-1] for p in parts)
    step = max(1, BLOCK_ELEMENTS // (n_draws * n))
    out: list[tuple[np.ndarray, int]] = []
    for a in range(0, len(parts), step):
        out.extend(_bootstrap_block(parts[a : a + step], thetas[a : a + step], n_draws, seed))
    return out


def _bootstrap_block(parts: list[Prepared], thetas: list[np.ndarray], n_draws: int, seed: Any) -> list[tuple[np.ndarray, int]]:
    problems, counts = [], []
    for prep in parts:
        problem, w = prep.problem, prep.weights
        n = problem.y.shape[-1]
        rng = np.random.default_rng(seed)
        counts.append(rng.multinomial(n, np.full(n, 1.0 / n), size=n_draws).astype(float) * w)
        problems.append(problem)
    stacked, _ = _stack(problems, [np.ones(p.y.shape[-1]) for p in problems], [n_draws] * len(parts))
    n = stacked.y.shape[-1]
    W = np.concatenate([np.pad(c, ((0, 0), (0, n - c.shape[1]))) for c in counts])
    start = np.repeat(np.array(thetas), n_draws, axis=0)
    sol = levenberg_marquardt(stacked, start, W, max_iter=200, ftol=1e-10)
    out = []
    for k, problem in enumerate(problems):
        part = slice(k * n_draws, (k + 1) * n_draws)
        ok = sol.status[part] == CONVERGED
        draws = problem.to_natural(sol.theta[part])
        draws[~ok] = np.nan
        out.append((draws, int((~ok).sum())))
    return out
