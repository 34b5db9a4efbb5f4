"""Runs and loss curves from MLflow: a tracking store through the ``mlflow`` client, or an ``mlruns/`` folder.

A *tracking store* is anything ``mlflow.MlflowClient(tracking_uri=...)`` opens: a
database (``sqlite:///mlflow.db``, MLflow's default backend since the file store was
deprecated; a bare ``.db`` file path means the same), a tracking server
(``http://host:5000``) or Databricks. It is read with the client's public API
(``search_experiments``, ``search_runs``, ``get_metric_history``), so it needs the
optional extra: ``pip install 'scalinglaws[mlflow]'``. A local ``mlruns/`` folder in
the old file-store layout is still read without ``mlflow`` (see
:mod:`scalinglaws.data.trackers.exports`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglaws.data.runs import Runs
from scalinglaws.data.trackers.common import (
    curves_from_long,
    number_or_text,
    runs_from_records,
    unique_names,
)
from scalinglaws.data.trackers.exports import mlruns_records
from scalinglaws.errors import DataError

__all__ = ["read_mlflow_curves", "read_mlflow_runs", "tracking_uri"]

_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_PAGE = 1000


def tracking_uri(store: str | os.PathLike[str]) -> str | None:
    """The tracking URI ``store`` names, or None for an ``mlruns/`` folder read by hand.

    ``sqlite:///...``, ``postgresql://...``, ``http(s)://...``, ``databricks`` are URIs; a
    path to an existing ``.db``/``.sqlite`` file is the SQLite store ``sqlite:///<path>``.
    """
    text = os.fspath(store)
    if "://" in text or text == "databricks" or text.startswith("databricks://"):
        return text
    p = Path(text)
    if p.suffix.lower() in _DB_SUFFIXES and not p.is_dir():
        if not p.is_file():
            raise DataError(f"{p}: no such MLflow database")
        return f"sqlite:///{p.resolve()}"
    return None


def _check_sqlite(uri: str) -> None:
    """Refuse a SQLite URI whose file is missing or holds no MLflow tables (the client would create them)."""
    path = Path(uri[len("sqlite:///"):])
    if not path.is_file():
        raise DataError(f"{uri}: no such MLflow database file")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as err:
        raise DataError(f"{path}: is not an SQLite database ({err})") from None
    if not {"experiments", "runs"} <= tables:
        raise DataError(f"{path}: is not an MLflow tracking database (no experiments and runs tables)")


def _client(uri: str) -> Any:
    try:
        import mlflow
    except ImportError:
        raise DataError(
            f"{uri}: reading an MLflow tracking store needs the mlflow client: pip install 'scalinglaws[mlflow]'"
        ) from None
    if uri.startswith("sqlite:///"):
        _check_sqlite(uri)
    return mlflow.MlflowClient(tracking_uri=uri)


def _client_records(uri: str, experiment: str | None) -> Iterator[dict[str, Any]]:
    """Each live run of the store: run, run_id, experiment, status, params, latest, history."""
    client = _client(uri)  # first: it says so in one line if mlflow is missing
    from mlflow.exceptions import MlflowException

    try:
        experiments = {e.experiment_id: e.name for e in client.search_experiments()}
        if not experiments:
            raise DataError(f"{uri}: no MLflow experiments")
        if experiment is not None:
            chosen = {i: n for i, n in experiments.items() if experiment in (i, n)}
            if not chosen:
                names = ", ".join(f"{n!r} (id {i})" for i, n in sorted(experiments.items()))
                raise DataError(f"{uri}: no experiment named or numbered {experiment!r}; experiments: {names}")
            experiments = chosen
        token = None
        while True:
            page = client.search_runs(list(experiments), max_results=_PAGE, page_token=token, order_by=["attributes.start_time ASC"])
            for r in page:
                run_id = r.info.run_id

                def history(key: str, run_id: str = run_id) -> list[tuple[int, int, float]]:
                    return [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]

                yield {
                    "run": r.info.run_name or run_id,
                    "run_id": run_id,
                    "experiment": experiments[r.info.experiment_id],
                    "status": r.info.status,
                    "params": dict(r.data.params),
                    "latest": dict(r.data.metrics),
                    "history": history,
                }
            token = page.token
            if not token:
                break
    except MlflowException as err:
        raise DataError(f"{uri}: the MLflow client failed: {str(err).splitlines()[0][:200]}") from None


def _file_records(root: str | os.PathLike[str], experiment: str | None) -> Iterator[dict[str, Any]]:
    for r in mlruns_records(root, experiment):
        histories = r.pop("histories")
        # the latest value, as MLflow shows it: highest step, then latest time
        r["latest"] = {k: max(rows)[2] for k, rows in histories.items() if rows}
        r["history"] = lambda key, h=histories: h.get(key, [])
        yield r


def _records(store: str | os.PathLike[str], experiment: str | None) -> Iterator[dict[str, Any]]:
    uri = tracking_uri(store)
    return _client_records(uri, experiment) if uri is not None else _file_records(store, experiment)


def read_mlflow_runs(
    store: str | os.PathLike[str],
    *,
    experiment: str | None = None,
    columns: Mapping[str, str] | None = None,
    where: str | None = None,
) -> Runs:
    """Runs from MLflow: one row per run, its params and the latest value of each metric.

    Columns: ``run`` (run name; ``name (run id)`` where names repeat), ``run_id``,
    ``experiment``, ``status``, every param (numbers where they parse) and every metric's
    latest value (highest step, then latest time). Map canonical columns with
    ``columns=`` as in :func:`scalinglaws.load_runs`.

    Parameters
    ----------
    store : str or path
        A tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, ...) or a ``.db``
        file, read with the ``mlflow`` client; or an ``mlruns`` folder (the deprecated
        file store), read without it.
    experiment : str, optional
        Keep one experiment, by name or id.
    """
    records = []
    for r in _records(store, experiment):
        row: dict[str, Any] = {k: r[k] for k in ("run", "run_id", "experiment", "status")}
        row.update({k: number_or_text(v) for k, v in r["params"].items()})
        row.update(r["latest"])
        records.append(row)
    return runs_from_records(records, os.fspath(store), columns=columns, where=where)


def read_mlflow_curves(
    store: str | os.PathLike[str],
    *,
    metric: str = "loss",
    lr: str | None = "lr",
    experiment: str | None = None,
) -> pd.DataFrame:
    """Loss curves from MLflow: each run's ``metric`` and ``lr`` histories (``store`` as in :func:`read_mlflow_runs`).

    Returns
    -------
    pandas.DataFrame
        Columns ``run`` (run name), ``step``, ``loss``, ``lr`` (NaN where not logged),
        ready for :func:`scalinglaws.fit_curves`.
    """
    records = list(_records(store, experiment))
    logged = set().union(*(r["latest"] for r in records)) if records else set()
    if metric not in logged:
        raise DataError(f"{store}: no run logs the metric {metric!r}; metrics logged: {', '.join(sorted(logged)) or 'none'}")
    names = unique_names([str(r["run"]) for r in records], [str(r["run_id"]) for r in records])
    parts = []
    for r, name in zip(records, names):
        get: Callable[[str], list[tuple[int, int, float]]] = r["history"]
        for m in (metric, lr):
            if m and m in r["latest"]:
                rows = sorted(get(m), key=lambda t: (t[0], t[1]))
                parts.append(pd.DataFrame({"run": name, "step": [t[0] for t in rows],
                                           "metric": m, "value": [t[2] for t in rows]}))
    return curves_from_long(pd.concat(parts, ignore_index=True), metric, lr, f"the MLflow runs in {store}")
