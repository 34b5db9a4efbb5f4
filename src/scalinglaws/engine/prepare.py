"""Everything :func:`~scalinglaws.engine.fit.fit` does before solving: a :class:`Prepared` fit.

:func:`prepare` checks the arguments, loads and validates the runs, builds the law
(catalog name, formula, function; pinned parameters; groups), derives and checks the
variables the law declares, and turns the starts and weights into the solver's units.
:func:`scalinglaws.engine.fit.fit` solves one prepared fit;
:func:`scalinglaws.engine.batch.fit_each` stacks many. Both names are importable from
:mod:`scalinglaws.engine.fit` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws._version import __version__
from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.options import UNSET, Bootstrap, Objective, Starts, resolve
from scalinglaws.engine.predict import derive_variables
from scalinglaws.engine.solver import Objective as Penalty
from scalinglaws.engine.solver import (
    Problem,
)
from scalinglaws.engine.trust import training_ranges
from scalinglaws.errors import DataError, FitError, LawError
from scalinglaws.laws import CATALOG, get_law
from scalinglaws.laws.law import Law

Seed = int | np.random.Generator | None


@dataclass(frozen=True)
class Prepared:
    """A fit ready to solve: the law as fitted, the problem (data and objective), the
    starts in internal units, the weights, and what the :class:`Fit` will record.
    :func:`fit` solves one; :func:`scalinglaws.engine.batch.fit_each` stacks many."""

    law: Law
    problem: Problem
    starts: np.ndarray
    weights: np.ndarray
    prune: bool
    n_boot: int
    seed: Any
    fixed: Mapping[str, float]
    fixed_source: str
    options: Mapping[str, Any]
    provenance: Mapping[str, Any]
    #: the starts as the caller gave them (None: the law's grid), before the data chose any
    grid: Any = None


def prepare(
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
    law_options: Mapping[str, Any] | None = None,
    loss: str = UNSET,
    delta: float = UNSET,
    space: str = UNSET,
    asymmetry: float = UNSET,
    prune: bool = UNSET,
    seed: Seed = UNSET,
) -> Prepared:
    """Everything :func:`fit` does before solving (same arguments): check the options,
    build the law, derive and check the data, choose the starts."""
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    _check_arguments(variables, fixed, law_options)
    if isinstance(law, str) and law.strip().lower() == "auto":
        raise FitError('law="auto" chooses among laws: call scalinglaws.fit, not scalinglaws.engine.fit')
    chosen, start, boot = resolve(
        objective=objective, starts=starts, bootstrap=bootstrap,
        loss=loss, delta=delta, space=space, asymmetry=asymmetry, prune=prune, seed=seed,
    )  # fmt: skip
    options = dict(law_options or {})
    if not _is_catalog(law) and not isinstance(law, Law) and "variables" not in options:
        options.setdefault("columns", runs.columns)  # a formula's names that are columns are data
    base = get_law(law, **options)
    mapping = dict(variables or {})
    for v in mapping:
        if v not in base.variables:
            raise LawError(f"law {base.name!r} has no variable {v!r} to map; its variables are {list(base.variables)}")

    the_law = base
    if groups is not None:
        if groups not in runs.columns:
            raise DataError(f"groups={groups!r} is not a column of the runs; columns: {', '.join(runs.columns)}")
        labels = sorted({str(v) for v in runs.data[groups]})
        the_law = the_law.grouped(groups, labels, shared)
    elif shared:
        raise FitError("shared parameters need groups=<column>")
    if fixed:
        the_law = the_law.with_fixed(dict(fixed))

    # ------------------------------------------------------------------ data
    fingerprint = runs.fingerprint()
    runs = derive_variables(runs, base, mapping)
    target = target or the_law.target
    numeric = [mapping.get(v, v) for v in base.variables]
    positive = {mapping.get(v.name, v.name): v.unit for v in base.variable_info if v.positive}
    if chosen.space == "log":
        positive.setdefault(target, "")
    runs.require(numeric + [target], positive=positive,
                 min_rows=len(the_law.params), purpose=f"fitting {the_law.name!r} ({len(the_law.params)} free parameters)")
    # read-only views of the table's columns, not copies: at 10^6 runs every copy is 8 MB
    X: dict[str, np.ndarray] = {v: runs.values(mapping.get(v, v)) for v in base.variables}
    if groups is not None:
        X[groups] = runs.data[groups].astype(str).to_numpy()
    y = runs.values(target)
    n = len(y)
    w = _weights(runs, weights, n)

    penalty = Penalty(kind=chosen.loss, delta=chosen.delta, space=chosen.space, asymmetry=chosen.asymmetry)
    problem = Problem(law=the_law, variables=X, y=y, objective=penalty)
    start_nat = _starts(the_law, start.grid, X, y)
    start_int = problem.to_internal(start_nat)

    provenance = {
        "scalinglaws": __version__,
        "numpy": np.__version__,
        "data": runs.source,
        "data_fingerprint": fingerprint,
        "n_runs": n,
        "seed": boot.to_dict()["seed"],
    }
    if runs.derived:
        provenance["derived"] = list(runs.derived)
    fit_options = {
        "loss": chosen.loss,
        "delta": chosen.delta,
        "space": chosen.space,
        "target": target,
        "variables": mapping,
        "weights": weights if isinstance(weights, str) else (None if weights is None else "array"),
        "asymmetry": chosen.asymmetry,
        "groups": groups,
        "shared": list(shared),
        "prune": start.prune,
        "bootstrap": boot.n,
        "n_starts": int(start_int.shape[0]),
        # the training range of each variable, for the range checks of predictions and plans
        "ranges": training_ranges(X, the_law.categorical),
    }
    return Prepared(
        law=the_law, problem=problem, starts=start_int, weights=w, prune=start.prune, n_boot=boot.n, seed=boot.seed,
        fixed={k: float(v) for k, v in (fixed or {}).items()}, fixed_source=fixed_source, options=fit_options,
        provenance=provenance, grid=start.grid,
    )


def _is_catalog(law: Any) -> bool:
    return isinstance(law, str) and (law.strip() in CATALOG or law.strip().lower() in CATALOG)


def _check_arguments(variables: Any, fixed: Any, law_options: Any) -> None:
    """Refuse arguments of the wrong type before numpy sees them."""
    if variables is not None and not (
        isinstance(variables, Mapping) and all(isinstance(c, str) for c in variables.values())
    ):
        raise DataError(f"variables must map law variables to column names, e.g. {{'x': 'n_params'}}; got {variables!r}")
    if fixed is not None:
        if not isinstance(fixed, Mapping):
            raise LawError(f"fixed must map parameters to numbers, e.g. {{'E': 1.69}}; got {fixed!r}")
        for name, value in fixed.items():
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise LawError(f"fixed value for {name} must be a number, got {value!r}")
    if law_options is not None and not isinstance(law_options, Mapping):
        raise LawError(f"law_options must map option names to values, e.g. {{'breaks': 2}}; got {law_options!r}")


def _weights(runs: Runs, weights: Any, n: int) -> np.ndarray:
    if weights is None:  # one read-only row of ones broadcast to all runs: no array of n ones
        return np.broadcast_to(1.0, (n,))
    if isinstance(weights, str):
        runs.require([weights], purpose="weights")
        w = runs.column(weights)
    else:
        try:
            w = np.asarray(weights, dtype=float)
        except (TypeError, ValueError):
            raise DataError(
                f"weights must be a column name or one number per run, got {type(weights).__name__}"
            ) from None
    if w.shape != (n,):
        raise DataError(f"weights must have one value per run ({n}), got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"weights must be finite and >= 0; row {i} has {w[i]!r}")
    if not (w > 0).any():
        raise DataError("weights are all zero: no run would count")
    return w


def _starts(law: Law, starts: Any, X: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray:
    if starts is None:
        return law.start_grid(X, y)
    if isinstance(starts, Mapping):
        unknown = set(starts) - set(law.param_names)
        if unknown:
            raise LawError(f"starts given for unknown parameters {sorted(unknown)}; the law has {list(law.param_names)}")
        from dataclasses import replace

        try:
            params = tuple(
                replace(p, grid=tuple(float(v) for v in starts[p.name])) if p.name in starts else p
                for p in law.params
            )
        except (TypeError, ValueError):
            raise LawError(f"starts must give numbers for each parameter, e.g. {{'E': [1.0, 2.0]}}; got {starts!r}") from None
        base_fn = law.grid_fn

        def grid_fn(variables: Mapping[str, Any], values: Any) -> dict[str, Any]:
            # the user's starts win over the starts the law would choose from the data
            chosen = dict(base_fn(variables, values)) if base_fn is not None else {}
            return {k: v for k, v in chosen.items() if k not in starts}

        return replace(law, params=params, grid_fn=grid_fn).start_grid(X, y)
    try:
        arr = np.asarray(starts, dtype=float)
    except (TypeError, ValueError):
        raise LawError("starts must be a mapping of parameter -> values or an array of numbers") from None
    if arr.ndim != 2 or arr.shape[1] != len(law.params):
        raise LawError(f"starts must have shape (n_starts, {len(law.params)}), got {arr.shape}")
    return arr
