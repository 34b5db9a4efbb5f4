"""The curve table: read and check logged loss curves, and a schedule's per-step variables.

A *curve table* is a long table with one row per logged evaluation: a run id, the step
(number of updates done), the loss, and the learning rate at that step
(:func:`load_curves`). :func:`curve_variables` turns one schedule into the per-step
columns a curve law reads (:data:`CURVE_VARIABLES`). :mod:`scalinglaws.dynamics.curves`
fits laws on them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.dynamics import schedules as _sched
from scalinglaws.errors import DataError, ScalingLawsWarning
from scalinglaws.laws.schedule_laws import register_schedule
from scalinglaws.data.where import evaluate_where
from scalinglaws.data.readers import check_table, read_table
from scalinglaws.data.runs import Runs

__all__ = ["CURVE_VARIABLES", "curve_variables", "load_curves"]

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
