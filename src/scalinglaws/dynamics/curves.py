"""Loss curves under learning-rate schedules: fit on a few curves, predict any schedule.

A *curve table* is a long table with one row per logged evaluation: a run id, the step
(number of updates done), the loss, and the learning rate at that step. :func:`fit_curves`
turns each run's schedule into the per-step areas S1 and S2
(:func:`scalinglaws.dynamics.schedules.areas`), attaches them to the rows with the key of
the run's whole schedule (``schedule``, for laws of the full history such as Luo et
al.'s ``multi_power``), and fits an ordinary law of those columns (by default Tissue
et al.'s ``lr_annealing``) with :func:`scalinglaws.engine.fit`; nothing in the engine
knows about curves.

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

import json
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.dynamics import schedules as _sched
from scalinglaws.errors import DataError, FitError, LawError, ScalingLawsWarning
from scalinglaws.engine.fit import fit as _fit
from scalinglaws.laws.law import Law, formula_law
from scalinglaws.laws import CATALOG, get_law
from scalinglaws.laws.schedule_laws import register_schedule
from scalinglaws.engine.result import Fit
from scalinglaws.data.where import evaluate_where
from scalinglaws.data.readers import check_table, read_table
from scalinglaws.data.runs import Runs, load_runs

__all__ = ["CURVE_VARIABLES", "Cooldown", "CurveFit", "best_cooldown", "curve_variables", "fit_curves", "load_curves", "read_table"]

#: The per-step columns :func:`fit_curves` offers to a curve law: the areas, the step,
#: the LR, and ``schedule``, the key of the whole history (laws that need more than
#: running sums, such as ``multi_power``, look the schedule up by it).
CURVE_VARIABLES = ("s1", "s2", "steps", "lr", "schedule")


# --------------------------------------------------------------------------- the curve table


def load_curves(
    source: str | os.PathLike[str] | pd.DataFrame | Runs,
    *,
    columns: Mapping[str, str] | None = None,
    where: str | None = None,
    format: str | None = None,  # noqa: A002
) -> pd.DataFrame:
    """Read and check a long curve table: one row per (run, step).

    Parameters
    ----------
    source : path, DataFrame or Runs
        A file in any format :func:`scalinglaws.load_runs` reads (CSV or TSV, also
        compressed; JSONL; JSON; Parquet), read by the same door
        (:func:`scalinglaws.data.readers.read_table`) with the same checks, or a table
        (e.g. from :mod:`scalinglaws.data.trackers`).
    columns : dict, optional
        Where the table keeps ``run``, ``step``, ``loss`` and ``lr``, e.g.
        ``{"run": "sweep", "step": "current_steps"}``. The ``lr`` column may be absent
        when schedules are given to :func:`fit_curves`.
    where : str, optional
        Row filter, as in :func:`scalinglaws.load_runs` (e.g. ``"run != 'bad'"``).
    format : str, optional
        Overrides the file extension.

    Returns
    -------
    pandas.DataFrame
        Columns ``run`` (str), ``step`` (int), ``loss`` (float) and ``lr`` (float, NaN
        where not logged), sorted by run and step; other columns are kept. Rows with a
        learning rate but no loss (a schedule logged more often than the loss) are
        kept: they define the schedule and are not fitted.

    Raises
    ------
    DataError
        Naming the column and row of a missing, non-numeric or negative value, or a
        step logged twice in one run.
    """
    names = {"run": "run", "step": "step", "loss": "loss", "lr": "lr", **dict(columns or {})}
    unknown = sorted(set(names) - {"run", "step", "loss", "lr"})
    if unknown:
        raise DataError(f"columns= names {unknown}; a curve table has the columns run, step, loss and lr")
    if isinstance(source, Runs):
        frame, label = source.data, "<DataFrame>"
    elif isinstance(source, pd.DataFrame):
        frame, label = source, "<DataFrame>"
    elif isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        frame = read_table(label, format)
    else:
        raise DataError(f"a curve table is a path or a DataFrame, got {type(source).__name__}")
    at = "" if label == "<DataFrame>" else f"{label}: "
    frame = check_table(frame, label, rows="evaluations")
    for key, what in (("run", "run id"), ("step", "step"), ("loss", "loss")):
        if names[key] not in frame.columns:
            raise DataError(
                f"{at}the curve table has no {what} column {names[key]!r} (columns: {', '.join(frame.columns)}); "
                f"name it with columns={{{key!r}: '<its name>'}}"
            )
    rename = {names[k]: k for k in ("run", "step", "loss", "lr") if names[k] in frame.columns and names[k] != k}
    clash = [k for k in rename.values() if k in frame.columns and k not in rename]
    out = frame.drop(columns=clash).rename(columns=rename)
    if where is not None:
        mask = evaluate_where(where, out)
        if not mask.any():
            raise DataError(f"{at}where expression {where!r} selects none of the {len(out)} rows")
        out = out.loc[mask.to_numpy()]
    out = out.reset_index(drop=True)
    out["run"] = out["run"].astype(str)
    steps = pd.to_numeric(out["step"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(steps) | (steps < 0) | (steps != np.round(steps))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{at}column {names['step']!r} must hold whole numbers of steps >= 0; row {i} has {out['step'].iloc[i]!r}")
    out["step"] = steps.astype(np.int64)
    for key in ("loss", "lr"):
        if key not in out.columns:
            out[key] = np.nan
            continue
        raw = out[key]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = (raw.notna().to_numpy() & ~np.isfinite(values)) | (values < 0) | ((values == 0) & (key == "loss"))
        if bad.any():
            i = int(np.argmax(bad))
            need = "losses > 0" if key == "loss" else "learning rates >= 0"
            raise DataError(f"{at}column {names[key]!r} must hold finite {need}; row {i} has {raw.iloc[i]!r}")
        out[key] = values
    orphan = np.isnan(out["loss"].to_numpy()) & np.isnan(out["lr"].to_numpy())
    if orphan.all():
        raise DataError(f"{at}column {names['loss']!r} holds no loss values")
    out = out[~orphan]
    dup = out.duplicated(subset=["run", "step"]).to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise DataError(
            f"{at}run {out['run'].iloc[i]!r} logs step {int(out['step'].iloc[i])} more than once; "
            "keep one evaluation per step"
        )
    return out.sort_values(["run", "step"], kind="stable").reset_index(drop=True)


def _schedule_of(run: str, rows: pd.DataFrame, schedules: Mapping[str, Any] | None) -> tuple[np.ndarray, bool]:
    """The per-step LRs of one run, and whether they were interpolated from a sparser log."""
    last = int(rows["step"].max())
    if schedules is not None and run in schedules:
        lrs = _sched.as_schedule(schedules[run], name=f"schedule of run {run!r}")
        if lrs.size < last:
            raise DataError(f"the schedule of run {run!r} has {lrs.size} steps but the run logs step {last}")
        return lrs, False
    logged = rows[np.isfinite(rows["lr"].to_numpy()) & (rows["step"].to_numpy() >= 1)]
    if logged.empty:
        raise DataError(
            f"run {run!r} has no learning rates: add an lr column to the curve table or pass "
            f"schedules={{{run!r}: array of per-step LRs}}"
        )
    at = logged["step"].to_numpy(dtype=float)
    full = np.interp(np.arange(1, last + 1, dtype=float), at, logged["lr"].to_numpy(dtype=float))
    interpolated = not (len(at) == last and at[0] == 1)
    if interpolated:
        warnings.warn(
            f"run {run!r} logs its learning rate at {len(at)} of its {last} steps; the per-step rates were "
            "interpolated linearly (and held before the first logged step), so S1 and S2 are approximate, "
            "most of all during warmup: pass schedules= for exact areas",
            ScalingLawsWarning,
            stacklevel=3,
        )
    return full, interpolated


def curve_variables(lrs: Any, *, decay: float = _sched.DEFAULT_DECAY, warmup: int | None = None) -> dict[str, np.ndarray]:
    """Per-step variables of a schedule: ``s1``, ``s2``, ``steps``, ``lr`` and ``schedule``, each of shape (n_steps,).

    ``schedule`` is the schedule's key (:func:`scalinglaws.laws.schedule_laws.register_schedule`,
    which this calls), the same at every step: laws of the whole history read it.
    """
    arr = _sched.as_schedule(lrs)
    s1, s2 = _sched.areas(arr, decay=decay, warmup=warmup)
    key = register_schedule(arr)
    return {"s1": s1, "s2": s2, "steps": np.arange(1, arr.size + 1, dtype=float), "lr": arr,
            "schedule": np.full(arr.size, key)}


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


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CurveFit:
    """A loss-curve law fitted on curves; predicts the whole curve of any schedule.

    Attributes
    ----------
    fit : Fit
        The ordinary fit of the curve law on the rows (variables ``s1``, ``s2``, ...).
    decay : float
        Momentum decay factor used for S2 (the same is used to predict).
    warmup : int or None
        Warmup rule for S2 (None: steps before the LR peak, per schedule).
    runs : tuple of str
        The curves fitted.
    n_points : int
        Rows fitted.
    dropped : int
        Rows left out (before ``min_step``, or at step 0).
    interpolated : tuple of str
        Runs whose per-step LR was interpolated from a sparser lr log.
    """

    fit: Fit
    decay: float
    warmup: int | None
    runs: tuple[str, ...]
    n_points: int
    dropped: int = 0
    interpolated: tuple[str, ...] = ()
    min_step: int = 1
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def params(self) -> Mapping[str, float]:
        return self.fit.params

    @property
    def law(self) -> Law:
        return self.fit.law

    def _variables(self, schedule: Any, steps: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
        per_step = curve_variables(schedule, decay=self.decay, warmup=self.warmup)
        n = per_step["s1"].size
        if steps is None:
            index = np.arange(n)
        else:
            s = np.atleast_1d(np.asarray(steps))
            if s.size == 0 or not np.issubdtype(s.dtype, np.number) or (s < 1).any() or (s > n).any() or (s != np.round(s)).any():
                raise DataError(f"steps must be whole numbers between 1 and the schedule's length {n}")
            index = s.astype(int) - 1
        return {v: per_step[v][index] for v in self.fit.law.variables}, index + 1

    def predict_curve(self, schedule: Any, *, steps: Any = None) -> np.ndarray:
        """The predicted loss after each step of ``schedule`` (or at the given ``steps``).

        Parameters
        ----------
        schedule : array of shape (n_steps,)
            Per-step learning rates, e.g. ``sl.schedules.cosine(3e-4, 10_000, warmup=500)``.
        steps : int or array of int, optional
            1-based steps to predict at; all steps by default.

        Returns
        -------
        array of shape (n_steps,) or (len(steps),)
        """
        X, _ = self._variables(schedule, steps)
        return self.fit.predict(**X, check_range="schedule" not in X)

    def predict_final(self, schedule: Any) -> float:
        """The predicted loss at the end of ``schedule``."""
        return float(self.predict_curve(schedule, steps=len(_sched.as_schedule(schedule)))[0])

    def predict_interval(self, schedule: Any, *, level: float = 0.95, steps: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Bootstrap band of the predicted curve (needs ``bootstrap=`` in :func:`fit_curves`)."""
        X, _ = self._variables(schedule, steps)
        named: dict[str, Any] = dict(X)
        return self.fit.predict_interval(level, kind="parameters", check_range="schedule" not in X, **named)

    def report(self) -> str:
        head = (
            f"Loss-curve fit on {len(self.runs)} curve{'s' if len(self.runs) != 1 else ''} "
            f"({self.n_points} points; decay {self.decay:g}; warmup "
            f"{'to the LR peak' if self.warmup is None else self.warmup})"
        )
        lines = [head, self.fit.report()]
        if self.dropped:
            lines.append(f"  {self.dropped} rows before step {self.min_step} left out")
        if self.interpolated:
            lines.append(f"  per-step LRs interpolated from the lr log for: {', '.join(self.interpolated)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"CurveFit(law={self.law.name!r}, curves={len(self.runs)}, points={self.n_points}, params={{{ps}}})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "scalinglaws.curvefit/1",
            "fit": self.fit.to_dict(),
            "decay": self.decay,
            "warmup": self.warmup,
            "runs": list(self.runs),
            "n_points": self.n_points,
            "dropped": self.dropped,
            "interpolated": list(self.interpolated),
            "min_step": self.min_step,
            "options": dict(self.options),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], law: Any = None) -> CurveFit:
        if not isinstance(d, Mapping) or d.get("format") != "scalinglaws.curvefit/1":
            raise LawError("this is not a scalinglaws curve fit (missing format 'scalinglaws.curvefit/1')")
        try:
            return cls(
                fit=Fit.from_dict(d["fit"], law=law),
                decay=float(d["decay"]),
                warmup=None if d.get("warmup") is None else int(d["warmup"]),
                runs=tuple(d["runs"]),
                n_points=int(d["n_points"]),
                dropped=int(d.get("dropped", 0)),
                interpolated=tuple(d.get("interpolated", ())),
                min_step=int(d.get("min_step", 1)),
                options=dict(d.get("options", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise LawError(f"this curve-fit file is incomplete or corrupt: {type(err).__name__}: {err}") from None

    @classmethod
    def from_json(cls, text: str, law: Any = None) -> CurveFit:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise LawError(f"this curve-fit file is not valid JSON: {err}") from None
        return cls.from_dict(d, law=law)


@dataclass(frozen=True)
class Cooldown:
    """The best cooldown fraction of a WSD schedule for a fixed budget of steps.

    Attributes
    ----------
    fraction : float
        Share of the steps spent cooling down that minimises the predicted final loss.
    final_loss : float
        The predicted final loss there.
    fractions, final_losses : tuple of float
        Every fraction tried, and its predicted final loss.
    steps, peak, warmup, shape, final :
        The schedule searched over.
    """

    fraction: float
    final_loss: float
    fractions: tuple[float, ...] = field(repr=False)
    final_losses: tuple[float, ...] = field(repr=False)
    steps: int = 0
    peak: float = 0.0
    warmup: int = 0
    shape: str = "sqrt"
    final: float = 0.0

    def __repr__(self) -> str:
        return (
            f"Cooldown(fraction={self.fraction:.4g}, final_loss={self.final_loss:.6g}, steps={self.steps}, "
            f"shape={self.shape!r}, tried={len(self.fractions)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "final_loss": self.final_loss,
            "fractions": list(self.fractions),
            "final_losses": list(self.final_losses),
            "steps": self.steps,
            "peak": self.peak,
            "warmup": self.warmup,
            "shape": self.shape,
            "final": self.final,
        }


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
