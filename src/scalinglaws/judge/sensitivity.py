"""How much does a prediction depend on the fitting choices? (Li et al. 2025, "(Mis)Fitting:
A Survey of Scaling Laws", ask every scaling-law paper to report it.)

:func:`sensitivity` refits a law under alternative, equally defensible choices (the
Huber threshold, squared error instead of Huber, residuals of the loss instead of its
log, a thinner start grid, dropping the smallest or the largest scale) and reports how
far the prediction at a target point moves from the baseline fit.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.fit import fit as fit_one
from scalinglaws.engine.predict import default_by
from scalinglaws.engine.result import Fit, finite_or_none
from scalinglaws.errors import DataError, ScalingLawsError
from scalinglaws.judge.holdout import frame_records, split_kwargs
from scalinglaws.laws import get_law
from scalinglaws.laws.law import Law

#: The alternatives tried, in order: (name, what it changes).
CHOICES: tuple[tuple[str, str], ...] = (
    ("baseline", "the options as given"),
    ("huber delta x10", "Huber threshold 10 times larger"),
    ("huber delta /10", "Huber threshold 10 times smaller"),
    ("squared error", "least squares instead of Huber"),
    ("raw residuals", "residuals of the target, not of its log"),
    ("thin start grid", "a random quarter of the start grid (seeded)"),
    ("drop smallest scale", "without the runs of the smallest scale"),
    ("drop largest scale", "without the runs of the largest scale"),
)


@dataclass(frozen=True)
class Sensitivity:
    """Predictions at ``at`` under alternative fitting choices.

    Attributes
    ----------
    law : str
    at : dict
        The target point (law variables).
    by : str
        The column whose smallest and largest values are dropped.
    table : pandas.DataFrame
        One row per choice: ``choice, change, prediction, log_change, objective,
        n_runs, error`` (``log_change``: log of prediction over the baseline's).
    baseline : float
        The baseline prediction.
    spread : float
        Largest ``|log_change|`` over the choices that could be fitted.
    """

    law: str
    at: Mapping[str, float]
    by: str
    table: pd.DataFrame = field(repr=False)
    baseline: float
    spread: float

    def summary(self) -> str:
        at = ", ".join(f"{k}={v:.4g}" for k, v in self.at.items())
        lines = [f"Sensitivity of {self.law} at {at}: baseline {self.baseline:.5g}; "
                 f"largest move {_pct(self.spread)} (log {self.spread:.3g})"]
        for r in self.table.itertuples():
            if r.error:
                lines.append(f"  {r.choice:<22} not fitted: {r.error}")
            else:
                lines.append(f"  {r.choice:<22} {r.prediction:>11.5g}  {_pct(r.log_change, signed=True):>8}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law, "at": dict(self.at), "by": self.by, "baseline": finite_or_none(self.baseline),
                "spread": finite_or_none(self.spread), "table": frame_records(self.table)}

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(r.choice))}</td><td>{html.escape(str(r.change))}</td>"
            f"<td>{'' if r.error else f'{r.prediction:.5g}'}</td>"
            f"<td>{html.escape(r.error) if r.error else _pct(r.log_change, signed=True)}</td></tr>"
            for r in self.table.itertuples())
        at = ", ".join(f"{html.escape(k)}={v:.4g}" for k, v in self.at.items())
        return (f"<p>Sensitivity of <b>{html.escape(self.law)}</b> at {at}: largest move "
                f"<b>{_pct(self.spread)}</b>.</p><table><thead><tr><th>choice</th><th>what changes</th>"
                f"<th>prediction</th><th>move</th></tr></thead><tbody>{rows}</tbody></table>")


def sensitivity(
    runs: Runs | pd.DataFrame | str,
    law: str | Law | Callable[..., Any],
    *,
    at: Mapping[str, float] | None = None,
    by: str | None = None,
    seed: int = 0,
    **fit_kwargs: Any,
) -> Sensitivity:
    """Refit ``law`` under each alternative of :data:`CHOICES` and predict at ``at``.

    Parameters
    ----------
    runs : Runs, DataFrame or path
    law : str, Law or callable
    at : dict, optional
        The target, in the law's variables (``{"n_params": 7e10, "n_tokens": 1.4e12}``);
        default: 10 times the largest training value of each variable.
    by : str, optional
        The column whose extreme scales are dropped (default: as :func:`scalinglaws.validate`).
    seed : int
        Seed of the thinned start grid.
    **fit_kwargs
        Options of the baseline fit (:func:`scalinglaws.fit`); each alternative changes one.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e3, 1e6, 12)
    >>> s = sensitivity(pd.DataFrame({"x": x, "loss": 1 + 20 * x**-0.35}), "power", at={"x": 1e7})
    >>> s.spread < 0.01
    True
    """
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    base_law = get_law(law, **dict(fit_kwargs.get("law_options") or {}))
    mapping = dict(fit_kwargs.get("variables") or {})
    by = by or default_by(base_law, runs, mapping)
    runs.require([by], purpose=f"ordering runs by scale ({by!r})")
    numeric = [v for v in base_law.variables if v not in base_law.categorical]
    if at is None:
        at = {v: 10 * float(np.max(runs.column(mapping.get(v, v)))) for v in numeric}
    at = {k: float(v) for k, v in at.items()}
    missing = [v for v in numeric if v not in at]
    if missing:
        raise DataError(f"at= must give every variable of {base_law.name}: missing {missing}")
    scale = runs.column(by)
    rng = np.random.default_rng(seed)
    rows = []
    for choice, change in CHOICES:
        kwargs = dict(fit_kwargs)
        subset = np.ones(len(runs), dtype=bool)
        if choice == "huber delta x10":
            kwargs.update(loss="huber", delta=10 * float(kwargs.get("delta", 1e-3)))
        elif choice == "huber delta /10":
            kwargs.update(loss="huber", delta=float(kwargs.get("delta", 1e-3)) / 10)
        elif choice == "squared error":
            kwargs["loss"] = "squared"
        elif choice == "raw residuals":
            kwargs["space"] = "linear"
        elif choice == "thin start grid":
            grid = base_law.start_grid()
            keep = rng.choice(len(grid), size=max(1, len(grid) // 4), replace=False)
            kwargs["starts"] = grid[np.sort(keep)]
        elif choice == "drop smallest scale":
            subset = scale > np.min(scale)
        elif choice == "drop largest scale":
            subset = scale < np.max(scale)
        rows.append(_one(runs, law, choice, change, subset, kwargs, at))
    table = pd.DataFrame(rows)
    base = float(table.prediction.iloc[0])
    with np.errstate(all="ignore"):
        table["log_change"] = np.log(table.prediction.astype(float) / base)
    ok = table.error.eq("") & np.isfinite(table.log_change)
    spread = float(np.max(np.abs(table.log_change[ok]))) if ok.any() else math.nan
    table = table[["choice", "change", "prediction", "log_change", "objective", "n_runs", "error"]]
    return Sensitivity(law=base_law.name, at=at, by=by, table=table, baseline=base, spread=spread)


def _one(runs: Runs, law: Any, choice: str, change: str, subset: np.ndarray, kwargs: dict[str, Any],
         at: Mapping[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {"choice": choice, "change": change, "prediction": math.nan, "objective": math.nan,
                           "n_runs": int(subset.sum()), "error": ""}
    if subset.sum() < 2:
        row["error"] = "too few runs left"
        return row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f: Fit = fit_one(runs.subset(subset) if not subset.all() else runs, law,
                             **split_kwargs({k: v for k, v in kwargs.items() if k not in ("bootstrap", "progress")},
                                            subset))
        row["prediction"] = float(np.asarray(f.predict(check_range=False, **at), dtype=float).reshape(-1)[0])
        row["objective"] = float(f.objective)
    except ScalingLawsError as err:
        row["error"] = str(err).splitlines()[0]
    return row


def _pct(x: float, signed: bool = False) -> str:
    if not math.isfinite(x):
        return "n/a"
    v = math.expm1(x) * 100
    return f"{v:+.2f} %" if signed else f"{abs(v):.2f} %"


__all__ = ["CHOICES", "Sensitivity", "sensitivity"]
