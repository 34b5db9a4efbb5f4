"""Write runs and their loss curves to a tracker: an MLflow tracking store or W&B offline run files.

``to`` names the destination:

- ``"mlflow:<tracking uri>"``, e.g. ``"mlflow:sqlite:///mlflow.db"`` or
  ``"mlflow:http://host:5000"``: one MLflow run per row, through
  ``mlflow.MlflowClient`` (``create_run``, ``log_batch``, ``set_terminated``);
- ``"wandb:offline"`` or ``"wandb:offline:<folder>"``: one offline W&B run per row,
  through ``wandb.init(mode="offline")``, under ``<folder>/wandb/`` (default: the working
  directory); ``wandb sync`` uploads them later.

What is read back by :func:`~scalinglaws.data.trackers.read_mlflow_runs` /
:func:`~scalinglaws.data.trackers.read_wandb_runs` (and the ``*_curves`` readers) is what
was written.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglaws.data.runs import Runs
from scalinglaws.errors import DataError

__all__ = ["log_runs"]

_BATCH = 1000  # MLflow's limit on metrics per log_batch call
_PARAM_BATCH = 100  # and on params


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (trackers serialise plain values)."""
    return value.item() if hasattr(value, "item") else value


def _rows(runs: Runs | pd.DataFrame, metrics: Sequence[str]) -> list[tuple[str, dict[str, Any], dict[str, float]]]:
    frame = runs.data if isinstance(runs, Runs) else runs
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise DataError("log_runs needs a non-empty runs table (scalinglaws.Runs or a DataFrame)")
    names = frame["run"].astype(str).tolist() if "run" in frame.columns else [str(i) for i in frame.index]
    if len(set(names)) != len(names):
        raise DataError("log_runs: run names repeat; give each run a unique 'run' value")
    out = []
    for name, (_, row) in zip(names, frame.iterrows()):
        params = {str(k): _plain(v) for k, v in row.items() if k != "run" and k not in metrics and _present(v)}
        values = {str(k): float(row[k]) for k in metrics if k in row.index and _present(row[k])}
        out.append((name, params, values))
    return out


def _curve_groups(curves: pd.DataFrame | None, names: list[str]) -> dict[str, pd.DataFrame]:
    if curves is None:
        return {}
    missing = {"run", "step"} - set(curves.columns)
    if missing:
        raise DataError(f"log_runs: the curves table lacks the column(s) {', '.join(sorted(missing))}")
    groups = {str(k): g.sort_values("step", kind="stable") for k, g in curves.groupby(curves["run"].astype(str))}
    extra = sorted(set(groups) - set(names))
    if extra:
        raise DataError(f"log_runs: the curves name runs not in the runs table: {', '.join(extra[:5])}")
    return groups


def _steps(curve: pd.DataFrame | None) -> list[tuple[int, dict[str, float]]]:
    if curve is None:
        return []
    keys = [c for c in curve.columns if c not in ("run", "step")]
    return [(int(r["step"]), {k: float(r[k]) for k in keys if _present(r[k])}) for _, r in curve.iterrows()]


def _to_mlflow(uri: str, experiment: str, rows: list, groups: dict[str, pd.DataFrame]) -> list[str]:
    try:
        import mlflow
        from mlflow.entities import Metric, Param
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise DataError("logging to MLflow needs the mlflow client: pip install 'scalinglaws[mlflow]'") from None
    client = mlflow.MlflowClient(tracking_uri=uri)
    ids = []
    try:
        found = client.get_experiment_by_name(experiment)
        exp_id = found.experiment_id if found is not None else client.create_experiment(experiment)
        for name, params, values in rows:
            run_id = client.create_run(exp_id, run_name=name).info.run_id
            now = int(time.time() * 1000)
            steps = _steps(groups.get(name))
            last = steps[-1][0] if steps else 0
            history = [Metric(k, v, now, step) for step, vals in steps for k, v in vals.items()]
            # the row's values are the run's final ones: at its last step, logged after the curve
            history += [Metric(k, v, now + 1, last) for k, v in values.items()]
            plist = [Param(k, str(v)) for k, v in params.items()]
            for i in range(0, len(plist), _PARAM_BATCH):
                client.log_batch(run_id, params=plist[i:i + _PARAM_BATCH])
            for i in range(0, len(history), _BATCH):
                client.log_batch(run_id, metrics=history[i:i + _BATCH])
            client.set_terminated(run_id, "FINISHED")
            ids.append(run_id)
    except MlflowException as err:
        raise DataError(f"{uri}: the MLflow client failed: {str(err).splitlines()[0][:200]}") from None
    return ids


def _to_wandb(folder: str, project: str, rows: list, groups: dict[str, pd.DataFrame]) -> list[str]:
    try:
        import wandb
    except ImportError:
        raise DataError("logging to W&B needs wandb: pip install 'scalinglaws[wandb]'") from None
    Path(folder).mkdir(parents=True, exist_ok=True)
    settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, x_disable_meta=True,
                              save_code=False, disable_git=True)
    ids = []
    for name, params, values in rows:
        run = wandb.init(mode="offline", dir=folder, project=project, name=name, config=params,
                         settings=settings, reinit="create_new")
        try:
            for step, vals in _steps(groups.get(name)):
                run.log(vals, step=step)
            run.summary.update(values)
        finally:
            run.finish()
        ids.append(run.id)
    return ids


def log_runs(
    runs: Runs | pd.DataFrame,
    to: str,
    *,
    experiment: str = "scalinglaws",
    curves: pd.DataFrame | None = None,
    metrics: Sequence[str] = ("loss",),
) -> list[str]:
    """Log each run (one row of ``runs``) to MLflow or W&B; return the tracker's run ids.

    Parameters
    ----------
    runs : scalinglaws.Runs or pandas.DataFrame
        One row per run; the ``run`` column names it (else the index).
    to : str
        ``"mlflow:<tracking uri>"`` or ``"wandb:offline[:<folder>]"`` (see the module).
    experiment : str
        The MLflow experiment or W&B project (created if missing).
    curves : pandas.DataFrame, optional
        Per-step values: ``run``, ``step`` and metric columns (``loss``, ``lr``, ... as
        :func:`scalinglaws.load_curves` returns), logged as each run's history.
    metrics : sequence of str
        Columns of ``runs`` logged as metrics (at the run's last curve step, else 0); every
        other column is a param (MLflow) or config value (W&B).
    """
    kind, sep, rest = to.partition(":")
    if not sep or kind not in ("mlflow", "wandb") or not rest:
        raise DataError(f"log_runs: to={to!r} is not 'mlflow:<tracking uri>' or 'wandb:offline[:<folder>]'")
    rows = _rows(runs, metrics)
    groups = _curve_groups(curves, [r[0] for r in rows])
    if kind == "mlflow":
        return _to_mlflow(rest, experiment, rows, groups)
    mode, _, folder = rest.partition(":")
    if mode != "offline":
        raise DataError(f"log_runs: to={to!r}: only offline W&B runs are written here ('wandb:offline[:<folder>]')")
    return _to_wandb(folder or os.getcwd(), experiment, rows, groups)
