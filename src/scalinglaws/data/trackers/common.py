"""Shared by the tracker readers: CSV reading, the long metric table -> curve table, run names."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    try:
        return pd.read_csv(p, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: is empty") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as err:
        raise DataError(f"{p}: is not a readable CSV export ({str(err).splitlines()[0][:160]})") from None


def strip_prefixes(frame: pd.DataFrame) -> pd.DataFrame:
    """``config.lr`` / ``summary/loss`` -> ``lr`` / ``loss`` where that name is free."""
    rename: dict[str, str] = {}
    taken = set(frame.columns)
    for col in frame.columns:
        m = re.match(r"^(config|summary)[./](.+)$", str(col))
        if m and m.group(2) not in taken and m.group(2) not in rename.values():
            rename[col] = m.group(2)
    return frame.rename(columns=rename)


def number_or_text(value: Any) -> Any:
    """A tracker's param value as a float where it reads as one (MLflow stores params as text)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return value


def unique_names(names: Sequence[str], ids: Sequence[str]) -> list[str]:
    """Run names, with ``<name> (<id>)`` for a name that more than one run carries."""
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return [n if counts[n] == 1 else f"{n} ({i})" for n, i in zip(names, ids)]


def runs_from_records(
    records: list[dict[str, Any]],
    source: str,
    *,
    columns: Mapping[str, str] | None,
    where: str | None,
) -> Runs:
    """:class:`Runs` from one flat dict per run (``run`` and ``run_id`` among the keys)."""
    if not records:
        raise DataError(f"{source}: holds no runs")
    names = unique_names([str(r["run"]) for r in records], [str(r["run_id"]) for r in records])
    frame = pd.DataFrame.from_records([{**r, "run": n} for r, n in zip(records, names)])
    runs = load_runs(frame, columns=columns, where=where)
    return replace(runs, source=source)


def curves_from_long(table: pd.DataFrame, metric: str, lr: str | None, where: str) -> pd.DataFrame:
    """The long (run, step, metric, value) table as the curve table: run, step, loss, lr."""
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
