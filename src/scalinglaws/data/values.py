"""Column values as numbers: coercion that refuses what only looks numeric, and checks.

:func:`as_float` reads a column as float64 (booleans, dates and complex numbers are
not numbers here); :func:`check_values` raises a one-line
:class:`~scalinglaws.errors.DataError` for the first value that is not finite (or not
> 0 where asked), naming the row and the value; :func:`same_hash` finds the rows that may
repeat another, so the check for repeated runs looks at those few rows only.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import DataError

__all__ = ["as_float", "check_values", "more_rows", "not_a_number", "same_hash"]


def check_values(
    shown: str,
    values: np.ndarray,
    index: pd.Index,
    positive: bool,
    unit: str,
    at: str = "",
) -> None:
    """Raise a DataError for the first non-finite (or, if ``positive``, non-positive) value.

    ``unit`` (``"tokens"``) is named in the message about a value that is not > 0.
    """
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{at}{shown} needs finite numbers: row {index[first]} has {float(values[first])!r}"
            f"{more_rows(bad)}; fill in or drop the run (where=)"
        )
    if positive:
        bad = values <= 0
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{at}{shown} must be > 0{f' (in {unit}, not millions or logs)' if unit else ''}: "
                f"row {index[first]} has {float(values[first])!r}{more_rows(bad)}"
            )


def more_rows(bad: np.ndarray) -> str:
    """``" (and 3 more rows)"`` for a mask with four bad rows; empty for one."""
    extra = int(bad.sum()) - 1
    return f" (and {extra} more row{'s' if extra > 1 else ''})" if extra else ""


_REFUSED = (bool, np.bool_, complex, np.complexfloating, datetime.date, datetime.timedelta,
            np.datetime64, np.timedelta64)  # fmt: skip


def as_float(series: pd.Series, strict: bool) -> np.ndarray:
    """A column as float64, shape (n,); entries that are not numbers become NaN.

    Missing entries are NaN too (callers tell them apart with ``series.notna()``).
    Integers beyond the float range become +-inf. Complex numbers are never numbers
    here (pandas would drop the imaginary part). With ``strict``, neither are booleans,
    dates and durations (pandas would read True as 1.0 and a date as nanoseconds): a
    loss or a size given as one is a mistake, while a weight column of booleans is not.
    """
    dtype = series.dtype
    api = pd.api.types
    if api.is_complex_dtype(dtype) or (
        strict
        and (
            api.is_bool_dtype(dtype)
            or api.is_datetime64_any_dtype(dtype)
            or api.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype | pd.IntervalDtype)
        )
    ):
        return np.full(len(series), np.nan)
    if api.is_numeric_dtype(dtype) or api.is_bool_dtype(dtype):
        return np.array(
            series.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64
        )
    if dtype == object:
        refused = _REFUSED if strict else (complex, np.complexfloating)
        odd = series.map(lambda v: isinstance(v, refused)).to_numpy(dtype=bool)
        if odd.any():
            series = series.where(~odd, None)
    try:
        coerced = pd.to_numeric(series, errors="coerce")
    except (OverflowError, TypeError, ValueError):
        coerced = series.map(_one_float)
    return np.array(
        coerced.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64
    )


def _one_float(value: Any) -> float:
    """One entry as a float: huge integers as +-inf, anything unreadable as NaN."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    try:
        out = pd.to_numeric(pd.Series([value], dtype=object), errors="coerce").iloc[0]
        return float(out) if np.isreal(out) else math.nan
    except (OverflowError, TypeError, ValueError):
        return math.nan


def not_a_number(value: Any) -> str:
    """Why a value that pandas could read as a number is not one here."""
    if isinstance(value, bool | np.bool_):
        return " (a boolean, not a number)"
    if isinstance(value, complex | np.complexfloating):
        return " (a complex number)"
    if isinstance(
        value, datetime.date | datetime.timedelta | np.datetime64 | np.timedelta64
    ):
        return " (a date or duration, not a number)"
    return ""


def same_hash(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Positions of the rows whose hash of the (float64, finite) ``keys`` columns another
    row shares, in order: every repeated row is among them, so ``duplicated`` runs on these
    few instead of building hash tables of all rows (about 70 bytes a run at 10^6 runs)."""
    h = np.zeros(len(frame), dtype=np.uint64)
    for key in keys:
        bits = (frame[key].to_numpy(dtype=np.float64) + 0.0).view(np.uint64)  # + 0.0: -0.0 is 0.0
        h ^= bits
        h *= np.uint64(0x9E3779B97F4A7C15)  # wraps around: a multiplicative hash
        h ^= h >> np.uint64(29)
    order = np.argsort(h, kind="stable")
    h = h[order]
    tie = h[1:] == h[:-1]
    del h
    shared = np.zeros(len(frame), dtype=bool)
    shared[order[1:][tie]] = True
    shared[order[:-1][tie]] = True
    return np.flatnonzero(shared)
