"""Held-out splits shared by validation, comparison and ``auto``: which runs are held
out, which column orders runs by scale, and options subset to the training runs."""

from __future__ import annotations
import math
from collections.abc import Mapping
from typing import Any
import numpy as np
import pandas as pd
from scalinglaws.errors import DataError
from scalinglaws.engine.result import jsonable


_LOSO_ALIASES = {"loso", "leave-one-scale-out", "leave_one_scale_out", "each"}


def holdout_mask(scale: np.ndarray, frac: float = 0.2, n: int | None = None) -> np.ndarray:
    """Boolean mask of the runs of largest ``scale``: ``n`` or ``ceil(frac * n_runs)`` of
    them, plus any run tied with the smallest value held out.

    Examples
    --------
    >>> holdout_mask(np.array([1.0, 2.0, 3.0, 3.0, 4.0]), n=2).tolist()
    [False, False, True, True, True]
    """
    scale = np.asarray(scale, dtype=float)
    total = scale.size
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n < total:
            raise DataError(f"n must be an integer between 1 and {total - 1} (the number of runs minus one), got {n!r}")
        k = int(n)
    else:
        if not (isinstance(frac, (int, float)) and 0 < frac < 1):
            raise DataError(f"frac must lie strictly between 0 and 1, got {frac!r}")
        k = max(1, math.ceil(frac * total - 1e-9))
    threshold = np.sort(scale)[total - k]
    mask = scale >= threshold
    if mask.all():
        raise DataError(
            f"holding out the {k} largest runs leaves none to fit: the smallest held-out scale "
            f"{threshold:g} is the smallest scale; lower frac or n"
        )
    return mask


def same_for_every_subset(fit_kwargs: Mapping[str, Any]) -> bool:
    """Whether the fit options apply unchanged to any subset of the runs (no ``groups``, no
    per-run ``weights`` array), so that fits on several subsets can be one batched solve."""
    w = fit_kwargs.get("weights")
    return not fit_kwargs.get("groups") and (w is None or isinstance(w, str))


def split_kwargs(fit_kwargs: Mapping[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """``fit_kwargs`` for a subset of the runs: a per-run ``weights`` array is subset too."""
    out = dict(fit_kwargs)
    w = out.get("weights")
    if w is not None and not isinstance(w, str):
        arr = np.asarray(w, dtype=float)
        if arr.shape != (rows.size,):
            raise DataError(f"weights must have one value per run ({rows.size}), got shape {arr.shape}")
        out["weights"] = arr[rows]
    return out


def _folds(holdout: Any, scale: np.ndarray, frac: float, n: int | None) -> tuple[list[np.ndarray], str]:
    if isinstance(holdout, str):
        key = holdout.strip().lower()
        if key == "largest":
            return [holdout_mask(scale, frac, n)], "largest"
        if key in _LOSO_ALIASES:
            values = np.unique(scale)
            if values.size < 2:
                raise DataError(f"leave-one-scale-out needs at least two distinct scales, got {values.size}")
            return [scale == v for v in values], "loso"
        raise DataError(f"holdout must be 'largest', 'loso' or a boolean mask, got {holdout!r}")
    mask = np.asarray(holdout)
    if mask.dtype != bool or mask.shape != scale.shape:
        raise DataError(f"a holdout mask must be boolean with one entry per run ({scale.size}), got {mask.dtype} {mask.shape}")
    if not mask.any() or mask.all():
        raise DataError("a holdout mask must hold out some runs and keep some to fit")
    return [mask], "mask"


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a DataFrame as JSON-ready dicts (NaN and infinities as None)."""
    out = []
    for rec in frame.to_dict(orient="records"):
        out.append({str(k): jsonable(v) for k, v in rec.items()})
    return out
