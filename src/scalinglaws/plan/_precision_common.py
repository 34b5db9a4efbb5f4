"""Helpers shared by the precision planner and the critical-data-size search (not public)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError


def _j(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _pair(v: tuple[float, float] | None) -> list[float | None] | None:
    return None if v is None else [_j(v[0]), _j(v[1])]


def _thetas(fit: Fit) -> tuple[dict[str, np.ndarray], int]:
    """Parameters of the fit, row 0 the estimate and rows 1.. the valid bootstrap refits: (S, 1) arrays."""
    names = fit.law.param_names
    rows = [np.array([fit.params[n] for n in names], dtype=float)[None, :]]
    n_draws = 0
    if fit.draws is not None and np.isfinite(fit.draws).all(axis=1).sum() >= 2:
        d = fit._valid_draws()
        rows.append(d)
        n_draws = len(d)
    theta = np.vstack(rows)
    return {n: theta[:, i : i + 1] for i, n in enumerate(names)}, n_draws


def _others(fit: Fit, at: Mapping[str, Any] | None, skip: Sequence[str]) -> dict[str, float]:
    given = dict(at or {})
    out: dict[str, float] = {}
    for v in fit.law.variables:
        if v in skip:
            continue
        if v not in given:
            raise DataError(f"law {fit.law.name!r} also needs {v!r}: give it in at={{'{v}': ...}} (CLI: --at {v}=VALUE)")
        value = given[v]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DataError(f"{v} must be a finite number, got {value!r}")
        out[v] = float(value)
    unknown = sorted(set(given) - set(fit.law.variables))
    if unknown:
        raise DataError(f"law {fit.law.name!r} has no variable {unknown[0]!r}; its variables are {list(fit.law.variables)}")
    return out


def _refine(logx: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of y (S, G): the minimum over the grid, refined by a parabola; NaN at an edge."""
    y = np.where(np.isfinite(y), y, np.inf)
    i = np.argmin(y, axis=1)
    rows = np.arange(len(y))
    inner = (i > 0) & (i < len(logx) - 1)
    j = np.clip(i, 1, len(logx) - 2)
    y0, y1, y2 = y[rows, j - 1], y[rows, j], y[rows, j + 1]
    h = logx[1] - logx[0]
    with np.errstate(all="ignore"):
        denom = y0 - 2 * y1 + y2
        shift = np.where(denom > 0, 0.5 * h * (y0 - y2) / denom, 0.0)
        best = y1 - (y0 - y2) ** 2 / (8 * denom)
    x = np.where(inner, logx[j] + np.clip(shift, -h, h), np.nan)
    val = np.where(inner, np.where(denom > 0, best, y1), np.nan)
    return x, val


def _percentile(values: np.ndarray, level: float) -> tuple[float, float] | None:
    v = values[np.isfinite(values)]
    if len(v) < 2:
        return None
    lo, hi = np.percentile(v, [(1 - level) / 2 * 100, (1 + level) / 2 * 100], method="nearest")
    return float(lo), float(hi)

