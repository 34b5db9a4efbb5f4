"""``fit_each(runs, law, by=...)``: many independent fits as one batched solve.

Per-task downstream laws over hundreds of benchmarks, thousands of learning curves,
one ladder per group: each group is an independent fit, and fitting them one by one
in a Python loop pays the per-call overhead of :func:`~scalinglaws.engine.fit.fit`
thousands of times. Here every start of every group is one row of the same batched
Levenberg–Marquardt solve; the rows carry their own group's data (padded to one
length with zero weights), and the starts race within their group only. Every row's
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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import scalinglaws.engine.fit  # noqa: F401  (the module, which the package's fit function shadows)
from scalinglaws._version import __version__
from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.result import Fit
from scalinglaws.engine.solver import (
    CONVERGED,
    Objective,
    Problem,
    Solution,
    levenberg_marquardt,
    multistart,
)
from scalinglaws.errors import DataError, FitError, ScalingLawsWarning
from scalinglaws.laws import get_law
from scalinglaws.laws.law import Law

_fit = sys.modules["scalinglaws.engine.fit"]

#: Groups are solved in blocks of at most about this many (start, run) pairs, which
#: bounds the memory of the working arrays (a few dozen float64 arrays of this size).
BLOCK_ELEMENTS = 2_000_000


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
    loss: str = "huber",
    delta: float = 1e-3,
    space: str = "log",
    target: str | None = None,
    variables: Mapping[str, str] | None = None,
    fixed: Mapping[str, float] | None = None,
    fixed_source: str = "",
    weights: str | Sequence[float] | np.ndarray | None = None,
    asymmetry: float = 1.0,
    starts: Mapping[str, Sequence[float]] | np.ndarray | None = None,
    prune: bool = True,
    bootstrap: int = 0,
    seed: int | None = 0,
    law_options: Mapping[str, Any] | None = None,
) -> FitTable:
    """Fit ``law`` to every group of runs (one value of the column ``by``) separately.

    Same options as :func:`scalinglaws.engine.fit.fit` (no ``groups``/``shared``: for
    one law with shared parameters across groups use ``fit(..., groups=...)``). The
    result equals ``fit(group_runs, law, ...)`` for every group, computed together.
    Diagnostics warnings are summarised in one warning; see ``to_frame()["warnings"]``.

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
    _fit._check_arguments(variables, fixed, seed, law_options)
    if isinstance(seed, np.random.Generator):
        raise FitError("fit_each needs an integer seed (each group draws from a fresh generator seeded with it)")
    if not isinstance(by, str) or by not in runs.columns:
        raise DataError(f"by={by!r} is not a column of the runs; columns: {', '.join(runs.columns)}")
    base = get_law(law, **dict(law_options or {}))
    _check_options(loss, space, delta, asymmetry, bootstrap)
    mapping = dict(variables or {})
    the_law = base.with_fixed(dict(fixed)) if fixed else base
    target = target or the_law.target
    numeric = [mapping.get(v, v) for v in base.variables]
    positive = [c for c in numeric if c in _fit._POSITIVE_COLUMNS or space == "log" and c == target]
    runs.require(numeric + [target], positive=positive + ([target] if space == "log" else []),
                 purpose=f"fitting {the_law.name!r} by {by!r}")  # fmt: skip
    X = {v: runs.column(mapping.get(v, v)) for v in base.variables}
    y, w = runs.column(target), _fit._weights(runs, weights, len(runs))
    codes, uniques = pd.factorize(runs.data[by], sort=True)
    if (codes < 0).any():
        raise DataError(f"column {by!r} has missing values (row {int(np.argmax(codes < 0))}): every run needs a group")
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    members = [order[a:b] for a, b in itertools.pairwise(bounds)]
    labels = tuple(_plain(u) for u in uniques)
    n_params = len(the_law.params)
    for label, rows in zip(labels, members):
        if rows.size < n_params:
            raise DataError(f"group {by}={label!r} has {rows.size} runs; fitting {the_law.name!r} needs at least {n_params}")
        if not (w[rows] > 0).any():
            raise DataError(f"group {by}={label!r} has only zero weights: no run would count")

    objective = Objective(kind=loss, delta=float(delta), space=space, asymmetry=float(asymmetry))
    options = {"loss": loss, "delta": float(delta), "space": space, "target": target, "variables": mapping,
                   "weights": weights if isinstance(weights, str) else (None if weights is None else "array"),
                   "asymmetry": float(asymmetry), "groups": None, "shared": [], "prune": prune, "bootstrap": bootstrap}  # fmt: skip
    groups = []
    for rows in members:
        Xg = {k: v[rows] for k, v in X.items()}
        problem = Problem(law=the_law, variables=Xg, y=y[rows], objective=objective)
        groups.append((rows, problem, w[rows], problem.to_internal(_fit._starts(the_law, starts, Xg, y[rows]))))

    fits: list[Fit] = []
    common = {"law": the_law, "fixed": fixed, "fixed_source": fixed_source, "options": options, "runs": runs, "seed": seed, "by": by,
                  "fingerprint": runs.fingerprint()}  # fmt: skip
    for block in _blocks(groups):
        fits.extend(_fit_block([groups[i] for i in block], [labels[i] for i in block], prune, bootstrap, common))
    noisy = [label for label, f in zip(labels, fits) if f.diagnostics.warnings]
    if noisy:
        warnings.warn(
            f"{the_law.name}: {len(noisy)} of {len(fits)} groups have diagnostics warnings (first: {by}={noisy[0]!r}); "
            "see to_frame()['warnings'] and each fit's diagnostics",
            ScalingLawsWarning,
            stacklevel=2,
        )
    return FitTable(by=by, labels=labels, fits=tuple(fits))


def _check_options(loss: str, space: str, delta: Any, asymmetry: Any, bootstrap: Any) -> None:
    import math

    if loss not in ("huber", "squared"):
        raise FitError(f"loss must be 'huber' or 'squared', got {loss!r}")
    if space not in ("log", "linear"):
        raise FitError(f"space must be 'log' or 'linear', got {space!r}")
    if not (isinstance(delta, (int, float)) and delta > 0 and math.isfinite(delta)):
        raise FitError(f"delta must be a positive number, got {delta!r}")
    if not (isinstance(asymmetry, (int, float)) and asymmetry > 0 and math.isfinite(asymmetry)):
        raise FitError(f"asymmetry must be a positive number, got {asymmetry!r}")
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise FitError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")


def _alone(problem: Problem, starts: np.ndarray) -> bool:
    """Whether a fit alone would race on a subsample of its runs (large groups)."""
    n = problem.y.shape[-1]
    return not (n <= 2 * _fit.RACE_SAMPLE or (n <= _fit.RACE_THRESHOLD and n * len(starts) <= _fit.RACE_WORK))


def _blocks(groups: list[Any]) -> Iterator[list[int]]:
    block: list[int] = []
    size = 0
    for i, (rows, _, _, starts) in enumerate(groups):
        cost = len(starts) * rows.size
        if block and size + cost > BLOCK_ELEMENTS:
            yield block
            block, size = [], 0
        block.append(i)
        size += cost
    if block:
        yield block


def _stack(problems: Sequence[Problem], weights: Sequence[np.ndarray], repeats: Sequence[int]) -> tuple[Problem, np.ndarray]:
    """One per-row problem: group ``k``'s data repeated ``repeats[k]`` times, padded to
    the longest group with its first run at zero weight."""
    n = max(p.y.shape[-1] for p in problems)
    pad = [np.concatenate([np.arange(p.y.shape[-1]), np.zeros(n - p.y.shape[-1], dtype=int)]) for p in problems]

    def rows(values: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.broadcast_to(v[i], (k, n)) for v, i, k in zip(values, pad, repeats)])

    names = problems[0].variables
    variables = {k: rows([p.variables[k] for p in problems]) for k in names}
    y = rows([p.y for p in problems])
    W = np.concatenate([
        np.broadcast_to(np.where(np.arange(n) < p.y.shape[-1], w[i], 0.0), (k, n))
        for p, w, i, k in zip(problems, weights, pad, repeats)
    ])  # fmt: skip
    return Problem(law=problems[0].law, variables=variables, y=y, objective=problems[0].objective), W


def _fit_block(groups: list[Any], labels: list[Any], prune: bool, n_boot: int, common: dict[str, Any]) -> list[Fit]:
    """Fit a block of groups together; groups a fit alone would race on a subsample of
    their runs are fitted alone (they are large enough not to need batching)."""
    batched = [i for i, g in enumerate(groups) if not _alone(g[1], g[3])]
    out: dict[int, Fit] = {}
    for i in set(range(len(groups))) - set(batched):
        rows, _problem, _w, _ = groups[i]
        out[i] = _fit.fit(common["runs"].subset(rows), common["law"], prune=prune, bootstrap=n_boot, seed=common["seed"],
                          **_fit_kwargs(common))  # fmt: skip
    if batched:
        parts = [groups[i] for i in batched]
        sizes = [len(g[3]) for g in parts]
        stacked, W = _stack([g[1] for g in parts], [g[2] for g in parts], sizes)
        codes = np.repeat(np.arange(len(parts)), sizes)
        sol, refined = multistart(stacked, np.concatenate([g[3] for g in parts]), W, groups=codes, prune=prune)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        thetas, solutions = [], []
        for k, (a, b) in enumerate(itertools.pairwise(offsets)):
            part = Solution(*(getattr(sol, f)[a:b] for f in ("theta", "objective", "status", "iterations")))
            mine = refined[(refined >= a) & (refined < b)] - a
            finite = np.isfinite(part.objective)
            if not finite.any():
                raise FitError(f"group {common['by']}={labels[batched[k]]!r}: no start of {common['law'].name!r} gave a "
                               "finite objective on these runs; check the data, bounds and starts")  # fmt: skip
            best = int(np.argmin(np.where(finite, part.objective, np.inf)))
            thetas.append(part.theta[best])
            solutions.append((part, mine, best))
        draws = _bootstrap(parts, thetas, n_boot, common["seed"]) if n_boot else [(None, 0)] * len(parts)
        for k, i in enumerate(batched):
            part, mine, best = solutions[k]
            out[i] = _result(parts[k], labels[i], part, mine, best, draws[k][0], draws[k][1], n_boot, common)
    return [out[i] for i in range(len(groups))]


def _fit_kwargs(common: dict[str, Any]) -> dict[str, Any]:
    o = common["options"]
    return {"loss": o["loss"], "delta": o["delta"], "space": o["space"], "target": o["target"], "variables": o["variables"] or None,
                "fixed": common["fixed"], "fixed_source": common["fixed_source"], "asymmetry": o["asymmetry"]}  # fmt: skip


def _bootstrap(parts: list[Any], thetas: list[np.ndarray], n_draws: int, seed: int | None) -> list[tuple[np.ndarray, int]]:
    """Every group's resamples, drawn as a fit alone draws them, refitted together (in
    sub-blocks of groups that keep the working arrays within ``BLOCK_ELEMENTS``)."""
    n = max(g[1].y.shape[-1] for g in parts)
    step = max(1, BLOCK_ELEMENTS // (n_draws * n))
    out: list[tuple[np.ndarray, int]] = []
    for a in range(0, len(parts), step):
        out.extend(_bootstrap_block(parts[a : a + step], thetas[a : a + step], n_draws, seed))
    return out


def _bootstrap_block(parts: list[Any], thetas: list[np.ndarray], n_draws: int, seed: int | None) -> list[tuple[np.ndarray, int]]:
    problems, counts = [], []
    for rows, problem, w, _ in parts:
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


def _result(group: Any, label: Any, sol: Solution, refined: np.ndarray, best: int, draws: Any, n_failed: int,
            n_boot: int, common: dict[str, Any]) -> Fit:  # fmt: skip
    """The group's :class:`Fit`, built as :func:`scalinglaws.engine.fit.fit` builds it."""
    rows, problem, w, starts = group
    law, fixed = common["law"], common["fixed"] or {}
    diagnostics = _fit._diagnose(problem, sol, refined, best, w, n_failed, n_boot)
    natural = problem.to_natural(sol.theta[best][None, :])[0]
    params = {p.name: float(v) for p, v in zip(law.params, natural)}
    runs = common["runs"]
    seed = common["seed"]
    provenance = {
        "scalinglaws": __version__, "numpy": np.__version__, "data": runs.source,
        "data_fingerprint": common["fingerprint"], "group": {common["by"]: _plain(label)}, "n_runs": int(rows.size),
        "seed": seed,
    }  # fmt: skip
    return Fit(
        law=law,
        params={**params, **{k: float(v) for k, v in fixed.items()}},
        fixed={k: float(v) for k, v in fixed.items()},
        fixed_source=common["fixed_source"],
        objective=float(sol.objective[best]),
        n_runs=int(rows.size),
        draws=draws,
        diagnostics=diagnostics,
        options={**common["options"], "n_starts": int(starts.shape[0])},
        provenance=provenance,
    )
