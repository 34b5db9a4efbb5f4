"""Read runs and loss curves from experiment trackers: Weights & Biases CSV exports, MLflow ``mlruns/``.

Weights & Biases
    - the *runs table* export (project page, "Export as CSV"): one row per run, with
      ``Name``, ``State``, config and summary columns -> :func:`read_wandb_runs`;
    - a *panel* export of a line plot ("Export panel data as CSV"): a ``Step`` column and
      one ``<run name> - <metric>`` column per run (with ``__MIN``/``__MAX`` companions),
      or a *history* export (``run.history()`` to CSV: ``_step`` and one column per
      metric) -> :func:`read_wandb_curves`.

MLflow
    A local tracking directory in MLflow's file-store layout
    (``mlruns/<experiment id>/<run id>/{meta.yaml, params/, metrics/, tags/}``) is read
    directly with the standard library, so the ``mlflow`` package is not needed:
    :func:`read_mlflow_runs` and :func:`read_mlflow_curves`. A database backend
    (``mlflow.db``) is not read: export it with ``mlflow.search_runs(...).to_csv(...)``.

Curves come back as the long table of :func:`scalinglaws.dynamics.curves.load_curves` (columns
``run``, ``step``, ``loss``, ``lr``), runs as :class:`scalinglaws.Runs`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError
from scalinglaws.data.runs import Runs, load_runs

__all__ = ["read_mlflow_curves", "read_mlflow_runs", "read_wandb_curves", "read_wandb_runs"]

_PANEL = re.compile(r"^(?P<run>.+?) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")
_STEP_NAMES = ("_step", "step", "Step", "trainer/global_step", "global_step", "train/global_step")
_RUN_NAMES = ("run", "Name", "name", "run_name", "run_id", "Run")
_MLFLOW_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


def _read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    try:
        return pd.read_csv(p, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: is empty") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{p}: is not a readable CSV export ({str(err).splitlines()[0][:160]})") from None


def _strip_prefixes(frame: pd.DataFrame) -> pd.DataFrame:
    """``config.lr`` / ``summary/loss`` -> ``lr`` / ``loss`` where that name is free."""
    rename: dict[str, str] = {}
    taken = set(frame.columns)
    for col in frame.columns:
        m = re.match(r"^(config|summary)[./](.+)$", str(col))
        if m and m.group(2) not in taken and m.group(2) not in rename.values():
            rename[col] = m.group(2)
    return frame.rename(columns=rename)


# --------------------------------------------------------------------------- Weights & Biases


def read_wandb_runs(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    where: str | None = None,
    finished_only: bool = False,
) -> Runs:
    """Runs from a W&B runs-table CSV export (one row per run).

    ``Name`` becomes ``run``; ``config.``/``summary.`` prefixes are dropped where the
    plain name is free. Map the canonical columns with ``columns=`` as in
    :func:`scalinglaws.load_runs` (e.g. ``{"n_params": "params", "loss": "val/loss"}``).

    Parameters
    ----------
    finished_only : bool
        Keep only runs whose ``State`` is ``finished``.
    """
    frame = _strip_prefixes(_read_csv(path))
    if "Name" in frame.columns and "run" not in frame.columns:
        frame = frame.rename(columns={"Name": "run"})
    if finished_only:
        if "State" not in frame.columns:
            raise DataError(f"{path}: finished_only=True needs the State column of the W&B export")
        frame = frame[frame["State"].astype(str).str.lower() == "finished"]
        if frame.empty:
            raise DataError(f"{path}: no run has State 'finished'")
    runs = load_runs(frame, columns=columns, where=where)
    return replace(runs, source=os.fspath(path))


def _panel_long(frame: pd.DataFrame, step: str) -> pd.DataFrame | None:
    """A panel export as (run, step, metric, value), or None if it is not one."""
    parts = []
    for col in frame.columns:
        if col == step:
            continue
        m = _PANEL.match(str(col))
        if not m:
            continue
        if m.group("agg"):
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        keep = values.notna().to_numpy()
        parts.append(pd.DataFrame({"run": m.group("run"), "step": frame[step].to_numpy()[keep],
                                   "metric": m.group("metric"), "value": values.to_numpy()[keep]}))
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True)


def read_wandb_curves(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    metric: str = "loss",
    lr: str | None = "lr",
    run: str | None = None,
) -> pd.DataFrame:
    """Loss curves from W&B CSV exports: panel exports and/or history exports.

    Parameters
    ----------
    paths : path or list of paths
        One or more CSV files. A panel export holds one metric for several runs (give
        the loss panel and the learning-rate panel); a history export holds several
        metrics of one run (its run id is the file's ``run``/``name`` column, or the
        file name).
    metric : str
        The loss metric's name (``loss``, ``val/loss``, ...).
    lr : str or None
        The learning-rate metric's name; None if not logged.
    run : str, optional
        Run id for history exports without a run column (default: the file's stem).

    Returns
    -------
    pandas.DataFrame
        Columns ``run``, ``step``, ``loss``, ``lr`` (NaN where not logged), sorted.
    """
    files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not files:
        raise DataError("read_wandb_curves needs at least one CSV file")
    long = []
    for path in files:
        frame = _read_csv(path)
        step = next((s for s in _STEP_NAMES if s in frame.columns), None)
        if step is None:
            raise DataError(
                f"{path}: no step column (looked for {', '.join(_STEP_NAMES)}); columns: {', '.join(map(str, frame.columns))}"
            )
        panel = _panel_long(frame, step)
        if panel is not None:
            long.append(panel)
            continue
        frame = _strip_prefixes(frame)
        run_col = next((r for r in _RUN_NAMES if r in frame.columns), None)
        wanted = [c for c in frame.columns if c not in (step, run_col) and pd.to_numeric(frame[c], errors="coerce").notna().any()]
        ids = frame[run_col].astype(str) if run_col else pd.Series([run or Path(path).stem] * len(frame))
        for m in wanted:
            values = pd.to_numeric(frame[m], errors="coerce")
            keep = values.notna().to_numpy()
            long.append(pd.DataFrame({"run": ids.to_numpy()[keep], "step": frame[step].to_numpy()[keep],
                                      "metric": m, "value": values.to_numpy()[keep]}))
    table = pd.concat(long, ignore_index=True)
    return _curves_from_long(table, metric, lr, "the W&B exports")


def _curves_from_long(table: pd.DataFrame, metric: str, lr: str | None, where: str) -> pd.DataFrame:
    metrics = sorted(set(table["metric"]))
    if metric not in metrics:
        raise DataError(f"{where} have no metric {metric!r}; metrics found: {', '.join(metrics)}")
    steps = pd.to_numeric(table["step"], errors="coerce")
    if steps.isna().any():
        i = int(np.argmax(steps.isna().to_numpy()))
        raise DataError(f"{where}: step {table['step'].iloc[i]!r} is not a number")
    table = table.assign(step=steps.round().astype(np.int64))
    # the last value logged at a step wins, as in the trackers' own views
    wide = table.pivot_table(index=["run", "step"], columns="metric", values="value", aggfunc="last")
    out = pd.DataFrame({"run": wide.index.get_level_values(0).astype(str), "step": wide.index.get_level_values(1)})
    out["loss"] = wide[metric].to_numpy()
    out["lr"] = wide[lr].to_numpy() if lr and lr in wide.columns else np.nan
    has_loss = np.isfinite(out["loss"].to_numpy())
    lr_rows = out[~has_loss & np.isfinite(out["lr"].to_numpy())]
    out = out[has_loss]
    if out.empty:
        raise DataError(f"{where}: metric {metric!r} has no numeric values")
    if not lr_rows.empty:
        # learning rates logged at steps without a loss still define the schedule
        out = pd.concat([out, lr_rows.assign(loss=np.nan)], ignore_index=True)
    return out.sort_values(["run", "step"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- MLflow


def _read_meta(path: Path) -> dict[str, str]:
    """Top-level ``key: value`` pairs of an MLflow meta.yaml (scalars only; enough here)."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot be read ({err})") from None
    for line in lines:
        if not line or line[0] in " \t#-":
            continue
        key, sep, value = line.partition(":")
        if sep:
            v = value.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            out[key.strip()] = v
    return out


def _walk_values(folder: Path) -> Iterator[tuple[str, Path]]:
    """Files under ``folder`` with their MLflow key (keys with '/' are sub-folders)."""
    if not folder.is_dir():
        return
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            yield p.relative_to(folder).as_posix(), p


def _mlflow_runs(root: str | os.PathLike[str], experiment: str | None) -> Iterator[dict[str, Any]]:
    base = Path(root)
    if base.is_file() and base.suffix in (".db", ".sqlite"):
        raise DataError(
            f"{base}: an MLflow database backend is not read here; export the runs with "
            "mlflow.search_runs(...).to_csv(...) or use a file store (mlruns/)"
        )
    if not base.is_dir():
        raise DataError(f"{base}: no such MLflow tracking directory")
    experiments = []
    for exp_dir in sorted(base.iterdir()):
        meta = exp_dir / "meta.yaml"
        if exp_dir.is_dir() and not exp_dir.name.startswith(".") and meta.is_file():
            info = _read_meta(meta)
            if info.get("lifecycle_stage", "active") == "deleted":
                continue
            experiments.append((exp_dir, info.get("name", exp_dir.name), info.get("experiment_id", exp_dir.name)))
    if not experiments:
        raise DataError(f"{base}: no MLflow experiments (expected <experiment id>/meta.yaml folders, as in mlruns/)")
    if experiment is not None:
        chosen = [e for e in experiments if experiment in (e[1], e[2])]
        if not chosen:
            names = ", ".join(f"{e[1]!r} (id {e[2]})" for e in experiments)
            raise DataError(f"{base}: no experiment named or numbered {experiment!r}; experiments: {names}")
        experiments = chosen
    for exp_dir, exp_name, _exp_id in experiments:
        for run_dir in sorted(exp_dir.iterdir()):
            meta_path = run_dir / "meta.yaml"
            if not run_dir.is_dir() or not meta_path.is_file():
                continue
            run_meta = _read_meta(meta_path)
            if run_meta.get("lifecycle_stage", "active") == "deleted":
                continue
            tags = {k: p.read_text(encoding="utf-8").strip() for k, p in _walk_values(run_dir / "tags")}
            params = {k: p.read_text(encoding="utf-8").strip() for k, p in _walk_values(run_dir / "params")}
            metrics: dict[str, list[tuple[int, int, float]]] = {}
            for key, p in _walk_values(run_dir / "metrics"):
                rows = []
                for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
                    parts = line.split()
                    if not parts:
                        continue
                    if len(parts) not in (2, 3):
                        raise DataError(f"{p}: line {number} is not 'timestamp value [step]': {line!r}")
                    try:
                        rows.append((int(parts[2]) if len(parts) == 3 else 0, int(parts[0]), float(parts[1])))
                    except ValueError:
                        raise DataError(f"{p}: line {number} is not 'timestamp value [step]': {line!r}") from None
                metrics[key] = rows
            run_id = run_meta.get("run_id") or run_meta.get("run_uuid") or run_dir.name
            status = run_meta.get("status", "")
            yield {
                "run": run_meta.get("run_name") or tags.get("mlflow.runName") or run_id,
                "run_id": run_id,
                "experiment": exp_name,
                "status": _MLFLOW_STATUS.get(int(status), status) if status.isdigit() else status,
                "params": params,
                "metrics": metrics,
            }


def read_mlflow_runs(
    root: str | os.PathLike[str],
    *,
    experiment: str | None = None,
    columns: Mapping[str, str] | None = None,
    where: str | None = None,
) -> Runs:
    """Runs from an MLflow tracking directory: one row per run, params and last metric values.

    Columns: ``run`` (run name), ``run_id``, ``experiment``, ``status``, every param
    (numbers where they parse) and every metric's last logged value (highest step, then
    latest time). Map canonical columns with ``columns=`` as in
    :func:`scalinglaws.load_runs`.

    Parameters
    ----------
    root : path
        The ``mlruns`` directory.
    experiment : str, optional
        Keep one experiment, by name or id.
    """
    records = []
    for r in _mlflow_runs(root, experiment):
        row: dict[str, Any] = {k: r[k] for k in ("run", "run_id", "experiment", "status")}
        for k, v in r["params"].items():
            num = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
            row[k] = v if pd.isna(num) else float(num)
        for k, rows in r["metrics"].items():
            if rows:
                row[k] = max(rows)[2]
        records.append(row)
    if not records:
        raise DataError(f"{root}: the MLflow experiments hold no runs")
    runs = load_runs(pd.DataFrame.from_records(records), columns=columns, where=where)
    return replace(runs, source=os.fspath(root))


def read_mlflow_curves(
    root: str | os.PathLike[str],
    *,
    metric: str = "loss",
    lr: str | None = "lr",
    experiment: str | None = None,
) -> pd.DataFrame:
    """Loss curves from an MLflow tracking directory: the ``metric`` and ``lr`` histories.

    Returns
    -------
    pandas.DataFrame
        Columns ``run`` (run name), ``step``, ``loss``, ``lr`` (NaN where not logged),
        ready for :func:`scalinglaws.fit_curves`.
    """
    parts = []
    logged: set[str] = set()
    for r in _mlflow_runs(root, experiment):
        logged |= set(r["metrics"])
        for m in (metric, lr):
            if m and m in r["metrics"]:
                rows = sorted(r["metrics"][m], key=lambda t: (t[0], t[1]))
                parts.append(pd.DataFrame({"run": r["run"], "step": [t[0] for t in rows],
                                           "metric": m, "value": [t[2] for t in rows]}))
    if metric not in logged:
        raise DataError(f"{root}: no run logs the metric {metric!r}; metrics logged: {', '.join(sorted(logged)) or 'none'}")
    return _curves_from_long(pd.concat(parts, ignore_index=True), metric, lr, f"the MLflow runs in {root}")
