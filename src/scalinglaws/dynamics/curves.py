"""Loss curves under learning-rate schedules: fit on a few curves, predict any schedule.

A *curve table* is a long table with one row per logged evaluation: a run id, the step
(number of updates done), the loss, and the learning rate at that step. :func:`fit_curves`
turns each run's schedule into the per-step areas S1 and S2
(:func:`scalinglaws.dynamics.schedules.areas`), attaches them to the rows with the key of
the run's whole schedule (``schedule``, for laws of the full history such as Luo et
al.'s ``multi_power``), and fits an ordinary law of those columns (by default Tissue
et al.'s ``lr_annealing``) with :func:`scalinglaws.engine.fit`; nothing in the engine
knows about curves.

Reading the table and the per-step variables live in :mod:`scalinglaws.dynamics.curve_table`,
the :class:`CurveFit` and :class:`Cooldown` results in :mod:`scalinglaws.dynamics.curve_result`;
every public name is importable from here as well.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from scalinglaws import schedules
>>> truth = {"L0": 2.0, "A": 1.0, "alpha": 0.5, "C": 0.5}
>>> scheds = {"const": schedules.constant(1e-3, 2000, warmup=100),
...           "cos": schedules.cosine(1e-3, 2000, warmup=100)}
>>> rows = []
>>> for run, lrs in scheds.items():
...     s1, s2 = schedules.areas(lrs)
...     for s in range(100, 2001, 50):
...         loss = truth["L0"] + truth["A"] * s1[s - 1] ** -0.5 - truth["C"] * s2[s - 1]
...         rows.append({"run": run, "step": s, "loss": loss})
>>> cf = fit_curves(pd.DataFrame(rows), schedules=scheds)
>>> round(cf.params["alpha"], 3)
0.5
>>> wsd = schedules.wsd(1e-3, 2000, warmup=100, cooldown=0.2)
>>> round(float(cf.predict_curve(wsd)[-1]), 3)
2.656
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.dynamics import schedules as _sched
from scalinglaws.dynamics.curve_result import Cooldown, CurveFit
from scalinglaws.dynamics.curve_table import CURVE_VARIABLES, _schedule_of, curve_variables, load_curves
from scalinglaws.errors import DataError, FitError, LawError
from scalinglaws.engine.fit import fit as _fit
from scalinglaws.laws.law import Law, formula_law
from scalinglaws.laws import CATALOG, get_law
from scalinglaws.data.readers import read_table
from scalinglaws.data.runs import Runs, load_runs

__all__ = ["CURVE_VARIABLES", "Cooldown", "CurveFit", "best_cooldown", "curve_variables", "fit_curves", "load_curves", "read_table"]


def _curve_law(law: str | Law | Any) -> Law:
    if isinstance(law, str) and law.strip() not in CATALOG and not law.strip().isidentifier():
        return formula_law(law, variables=list(CURVE_VARIABLES))
    resolved = get_law(law)
    unknown = [v for v in resolved.variables if v not in CURVE_VARIABLES]
    if unknown:
        raise LawError(
            f"law {resolved.name!r} has variables {unknown} that a curve does not provide; "
            f"a curve law may use {', '.join(CURVE_VARIABLES)}"
        )
    return resolved


# --------------------------------------------------------------------------- verbs


def fit_curves(
    curves: str | os.PathLike[str] | pd.DataFrame | Runs,
    law: str | Law | Any = "lr_annealing",
    *,
    schedules: Mapping[str, Any] | None = None,
    decay: float = _sched.DEFAULT_DECAY,
    warmup: int | None = None,
    min_step: int = 1,
    columns: Mapping[str, str] | None = None,
    **fit_options: Any,
) -> CurveFit:
    """Fit a loss-curve law on one or more curves trained with different schedules.

    Parameters
    ----------
    curves : path, DataFrame or Runs
        Long table, one row per logged evaluation (see :func:`load_curves`), or a tracker
        export read by :mod:`scalinglaws.data.trackers`.
    law : str or Law
        ``"lr_annealing"`` (Tissue et al. 2024), ``"multi_power"`` (Luo et al. 2025, which
        reads each run's whole schedule through the ``schedule`` key) or any law,
        catalog name or formula whose variables are among ``s1``, ``s2``, ``steps``,
        ``lr``, ``schedule``. The multi-power law costs rows x LR changes per
        evaluation: fit it on logged evaluations, not on every step.
    schedules : dict, optional
        Run id -> array of per-step LRs. Runs not given here take their schedule from
        the table's ``lr`` column, interpolated linearly between logged steps.
    decay : float
        Momentum decay factor lambda of the annealing area (0.999, the paper's value).
    warmup : int, optional
        Warmup rule of the annealing area (see :func:`scalinglaws.dynamics.schedules.areas`).
    min_step : int
        Rows before this step are left out (early steps rarely follow the law).
    columns : dict, optional
        Where the table keeps ``run``, ``step``, ``loss`` and ``lr`` (see :func:`load_curves`).
    **fit_options
        Passed to :func:`scalinglaws.engine.fit`: ``loss`` ("huber" or "squared"), ``space``,
        ``delta``, ``fixed``, ``starts``, ``bootstrap``, ``seed``, ...

    Returns
    -------
    CurveFit
    """
    if "target" in fit_options or "variables" in fit_options or "groups" in fit_options:
        raise FitError("fit_curves sets target, variables and groups itself; fit the table with sl.fit for those")
    if isinstance(min_step, bool) or not isinstance(min_step, (int, np.integer)) or min_step < 1:
        raise DataError(f"min_step must be an integer >= 1, got {min_step!r}")
    the_law = _curve_law(law)
    table = load_curves(curves, columns=columns)
    if schedules is not None:
        unknown = sorted(set(map(str, schedules)) - set(table["run"]))
        if unknown:
            raise DataError(f"schedules given for runs not in the table: {unknown}; runs: {sorted(set(table['run']))}")
        schedules = {str(k): v for k, v in schedules.items()}
    parts = []
    interpolated = []
    for name, rows in table.groupby("run", sort=True):
        lrs, interp = _schedule_of(str(name), rows, schedules)
        if interp:
            interpolated.append(str(name))
        per_step = curve_variables(lrs, decay=decay, warmup=warmup)
        keep = rows[(rows["step"] >= min_step) & np.isfinite(rows["loss"].to_numpy())]
        idx = keep["step"].to_numpy() - 1
        part = pd.DataFrame({v: per_step[v][idx] for v in CURVE_VARIABLES})
        part["loss"] = keep["loss"].to_numpy(dtype=float)
        part["run"] = str(name)
        part["step"] = keep["step"].to_numpy()
        parts.append(part)
    data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    dropped = int(np.isfinite(table["loss"].to_numpy()).sum()) - len(data)
    if len(data) == 0:
        raise DataError(f"no rows at or after step {min_step}: nothing to fit")
    result = _fit(load_runs(data), the_law, **fit_options)
    # the fit's rows are points of learning curves, not runs: its reports say so
    result = dataclasses.replace(result, provenance={**result.provenance, "observations": "points"})
    return CurveFit(
        fit=result,
        decay=float(decay),
        warmup=warmup,
        runs=tuple(sorted(set(data["run"]))),
        n_points=len(data),
        dropped=dropped,
        interpolated=tuple(interpolated),
        min_step=int(min_step),
        options={k: v for k, v in fit_options.items() if isinstance(v, (int, float, str, bool)) or v is None},
    )


def best_cooldown(
    curve_fit: CurveFit,
    *,
    peak: float,
    steps: int,
    warmup: int = 0,
    shape: str = "sqrt",
    final: float = 0.0,
    fractions: Sequence[float] | None = None,
) -> Cooldown:
    """The WSD cooldown fraction that minimises the predicted final loss for a budget of steps.

    Tries every fraction of ``fractions`` (default 0 to 1 by 0.01), then every whole
    number of cooldown steps between the neighbours of the best one.

    Examples
    --------
    ``best_cooldown(cf, peak=3e-4, steps=10_000, warmup=500)``
    """
    grid = np.linspace(0.0, 1.0, 101) if fractions is None else np.asarray(fractions, dtype=float)
    if grid.ndim != 1 or grid.size == 0 or not np.all((grid >= 0) & (grid <= 1)):
        raise DataError("fractions must be a non-empty list of numbers in [0, 1]")
    steps = int(steps)
    limit = (steps - int(warmup)) / steps

    def final_loss(fraction: float) -> float:
        lrs = _sched.wsd(peak, steps, warmup=warmup, cooldown=min(fraction, limit), shape=shape, final=final)
        return curve_fit.predict_final(lrs)

    with warnings.catch_warnings(record=True) as caught:  # one warning per kind, not one per fraction
        warnings.simplefilter("always")
        tried = {float(min(f, limit)): final_loss(float(f)) for f in grid}
        order = sorted(tried)
        best = min(order, key=lambda f: (tried[f], f))
        i = order.index(best)
        lo, hi = order[max(i - 1, 0)], order[min(i + 1, len(order) - 1)]
        for n in range(int(round(lo * steps)), int(round(hi * steps)) + 1):
            f = n / steps
            if f not in tried and f <= limit:
                tried[f] = final_loss(f)
    _warn_once_per_kind(caught, "cooldown fractions")
    order = sorted(tried)
    values = [tried[f] for f in order]
    finite = [f for f in order if math.isfinite(tried[f])]
    if not finite:
        raise FitError("the curve law predicts no finite final loss for any cooldown fraction")
    best = min(finite, key=lambda f: (tried[f], f))
    return Cooldown(
        fraction=float(best),
        final_loss=float(tried[best]),
        fractions=tuple(order),
        final_losses=tuple(values),
        steps=steps,
        peak=float(peak),
        warmup=int(warmup),
        shape=shape,
        final=float(final),
    )


def _warn_once_per_kind(caught: Sequence[warnings.WarningMessage], over: str) -> None:
    """Re-issue recorded warnings once per kind (category and text before the first colon)."""
    kinds: dict[tuple[type[Warning], str], list[str]] = {}
    for w in caught:
        text = str(w.message)
        kinds.setdefault((w.category, text.split(":")[0]), []).append(text)
    for (category, _), texts in kinds.items():
        more = f" (and {len(texts) - 1} similar over the {over} tried)" if len(texts) > 1 else ""
        warnings.warn(texts[0] + more, category, stacklevel=3)
