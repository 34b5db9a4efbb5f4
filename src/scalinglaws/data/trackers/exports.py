"""Tracker files read without the trackers' packages: W&B CSV exports and MLflow's ``mlruns/`` file store.

Weights & Biases
    - the *runs table* export (project page, "Export as CSV"): one row per run, with
      ``Name``, ``State``, config and summary columns;
    - a *panel* export of a line plot ("Export panel data as CSV"): a ``Step`` column and
      one ``<run name> - <metric>`` column per run (with ``__MIN``/``__MAX`` companions),
      or a *history* export (``run.history()`` to CSV: ``_step`` and one column per metric).

MLflow file store (deprecated by MLflow, which now defaults to a database)
    ``mlruns/<experiment id>/<run id>/{meta.yaml, params/, metrics/, tags/}``, read with
    the standard library. The public readers in :mod:`scalinglaws.data.trackers` choose
    these functions for CSV files and ``mlruns`` folders.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglaws.data.trackers.common import read_csv, strip_prefixes
from scalinglaws.errors import DataError

__all__ = ["STEP_NAMES", "mlruns_records", "wandb_export_frame", "wandb_export_long"]

_PANEL = re.compile(r"^(?P<run>.+?) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")
STEP_NAMES = ("_step", "step", "Step", "trainer/global_step", "global_step", "train/global_step")
_RUN_NAMES = ("run", "Name", "name", "run_name", "run_id", "Run")
_MLFLOW_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}


# --------------------------------------------------------------------------- Weights & Biases


def wandb_export_frame(path: str | os.PathLike[str], *, finished_only: bool) -> pd.DataFrame:
    """A W&B runs-table export: ``Name`` -> ``run``, ``config.``/``summary.`` prefixes dropped."""
    frame = strip_prefixes(read_csv(path))
    if "Name" in frame.columns and "run" not in frame.columns:
        frame = frame.rename(columns={"Name": "run"})
    if finished_only:
        if "State" not in frame.columns:
            raise DataError(f"{path}: finished_only=True needs the State column of the W&B export")
        frame = frame[frame["State"].astype(str).str.lower() == "finished"]
        if frame.empty:
            raise DataError(f"{path}: no run has State 'finished'")
    return frame


def _panel_long(frame: pd.DataFrame, step: str) -> pd.DataFrame | None:
    """A panel export as (run, step, metric, value), or None if it is not one."""
    parts = []
    for col in frame.columns:
        if col == step:
            continue
        m = _PANEL.match(str(col))
        if not m or m.group("agg"):
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        keep = values.notna().to_numpy()
        parts.append(pd.DataFrame({"run": m.group("run"), "step": frame[step].to_numpy()[keep],
                                   "metric": m.group("metric"), "value": values.to_numpy()[keep]}))
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True)


def wandb_export_long(path: str | os.PathLike[str], run: str | None) -> pd.DataFrame:
    """A W&B panel or history CSV export as the long (run, step, metric, value) table."""
    frame = read_csv(path)
    step = next((s for s in STEP_NAMES if s in frame.columns), None)
    if step is None:
        raise DataError(
            f"{path}: no step column (looked for {', '.join(STEP_NAMES)}); columns: {', '.join(map(str, frame.columns))}"
        )
    panel = _panel_long(frame, step)
    if panel is not None:
        return panel
    frame = strip_prefixes(frame)
    run_col = next((r for r in _RUN_NAMES if r in frame.columns), None)
    wanted = [c for c in frame.columns if c not in (step, run_col) and pd.to_numeric(frame[c], errors="coerce").notna().any()]
    ids = frame[run_col].astype(str) if run_col else pd.Series([run or Path(path).stem] * len(frame))
    long = []
    for m in wanted:
        values = pd.to_numeric(frame[m], errors="coerce")
        keep = values.notna().to_numpy()
        long.append(pd.DataFrame({"run": ids.to_numpy()[keep], "step": frame[step].to_numpy()[keep],
                                  "metric": m, "value": values.to_numpy()[keep]}))
    if not long:
        raise DataError(f"{path}: no numeric metric columns")
    return pd.concat(long, ignore_index=True)


# --------------------------------------------------------------------------- MLflow file store


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


def _read_history(p: Path) -> list[tuple[int, int, float]]:
    """A metric file's lines ``timestamp value [step]`` as (step, timestamp, value)."""
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
    return rows


def _experiments(base: Path, experiment: str | None) -> list[tuple[Path, str]]:
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
    return [(e[0], e[1]) for e in experiments]


def mlruns_records(root: str | os.PathLike[str], experiment: str | None) -> Iterator[dict[str, Any]]:
    """Each live run of an ``mlruns`` folder: run, run_id, experiment, status, params, histories.

    ``histories`` maps each metric to its (step, timestamp, value) rows.
    """
    base = Path(root)
    if not base.is_dir():
        raise DataError(f"{base}: no such MLflow tracking directory")
    for exp_dir, exp_name in _experiments(base, experiment):
        for run_dir in sorted(exp_dir.iterdir()):
            meta_path = run_dir / "meta.yaml"
            if not run_dir.is_dir() or not meta_path.is_file():
                continue
            run_meta = _read_meta(meta_path)
            if run_meta.get("lifecycle_stage", "active") == "deleted":
                continue
            tags = {k: p.read_text(encoding="utf-8").strip() for k, p in _walk_values(run_dir / "tags")}
            params = {k: p.read_text(encoding="utf-8").strip() for k, p in _walk_values(run_dir / "params")}
            histories = {key: _read_history(p) for key, p in _walk_values(run_dir / "metrics")}
            run_id = run_meta.get("run_id") or run_meta.get("run_uuid") or run_dir.name
            status = run_meta.get("status", "")
            yield {
                "run": run_meta.get("run_name") or tags.get("mlflow.runName") or run_id,
                "run_id": run_id,
                "experiment": exp_name,
                "status": _MLFLOW_STATUS.get(int(status), status) if status.isdigit() else status,
                "params": params,
                "histories": histories,
            }
