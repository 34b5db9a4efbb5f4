"""Extrapolation tests: fit on the small runs, predict the large ones, and score the prediction.

A law is only as good as its extrapolation (Alabdulmohsin et al. 2022). :func:`validate`
holds out the runs of largest scale (by any column), or each scale group in turn
(leave-one-scale-out), fits the law on the rest with exactly the options of
:func:`scalinglaws.engine.fit`, and compares the prediction with what was measured, in log space.

Intervals of held-out predictions
---------------------------------
A held-out run is a new measurement, so its interval must cover both the uncertainty of
the fitted curve and the scatter of runs around it. In log space, with ``m`` the log
prediction of the fit on the training runs:

1. ``(lo_b, hi_b)``: the percentile band of the log prediction over the bootstrap refits
   (runs resampled with replacement, every resample refitted; ``bootstrap`` draws);
2. ``s``: the residual scatter of the training fit, ``sqrt(sum(r**2) / (n - p))`` over its
   ``n`` log residuals and ``p`` free parameters, and ``t`` the Student-t quantile at
   ``(1 + level) / 2`` with ``n - p`` degrees of freedom;
3. each side is widened in quadrature: ``lower = m - sqrt((m - lo_b)**2 + (t*s)**2)`` and
   ``upper = m + sqrt((hi_b - m)**2 + (t*s)**2)``.

With ``bootstrap=0`` only the scatter term is used. ``tests/test_validate.py`` checks on
seeded synthetic data that 90 % intervals cover between 80 % and 97 % of held-out runs.

The result class, :class:`~scalinglaws.judge.validation.Validation`, lives in
:mod:`scalinglaws.judge.validation` and is importable from here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import FitError, ScalingLawsWarning
from scalinglaws.laws.law import Law
from scalinglaws.laws import get_law
from scalinglaws.engine.result import Fit, check_level
from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.predict import law_inputs, predict_runs
from scalinglaws.judge.auto import choose_law, options_for
from scalinglaws.judge.auto import fit as fit_law
from scalinglaws.engine.predict import default_by
from scalinglaws.judge.holdout import _folds, holdout_mask, split_kwargs
from scalinglaws.judge.validation import Validation

Seed = int | np.random.Generator | None

#: holdout modes: the largest scales, or each scale group in turn.
HOLDOUTS = ("largest", "loso")


# ----------------------------------------------------------------------------- API


def validate(
    runs: Runs | pd.DataFrame | str,
    law: str | Law | Callable[..., Any],
    *,
    holdout: str | Sequence[bool] | np.ndarray = "largest",
    by: str | None = None,
    frac: float = 0.2,
    n: int | None = None,
    level: float = 0.9,
    bootstrap: int = 200,
    seed: Seed = 0,
    candidates: Sequence[str | Law] | None = None,
    **fit_kwargs: Any,
) -> Validation:
    """Fit on the smaller runs, predict the held-out larger ones, and score the prediction.

    Parameters
    ----------
    runs : Runs, DataFrame or path
    law : str, Law or callable
        Anything :func:`scalinglaws.engine.fit` accepts, or ``"auto"``: the law is then chosen
        by :func:`scalinglaws.judge.auto.choose_law` on each fold's training runs only.
    holdout : {"largest", "loso"} or boolean array of shape (n_runs,)
        ``"largest"``: hold out the runs of largest ``by`` (``frac`` or ``n`` of them;
        runs tied with the smallest held-out value are held out too, so training runs
        are strictly smaller). ``"loso"``: leave-one-scale-out, each distinct value of
        ``by`` held out in turn (interior groups test interpolation). An array: hold out
        exactly those runs.
    by : str, optional
        The column that orders runs by scale. Default: the column of a one-variable
        law's variable (``x`` or its mapping), else ``flops`` when present, else the
        law's first variable.
    frac, n : float, int
        Share (0 < frac < 1) or number of runs held out by ``"largest"``; ``n`` wins.
    level : float
        Level of the prediction intervals (see the module notes).
    bootstrap : int
        Bootstrap refits of each fold's fit, for the intervals (0: scatter only).
    seed : int or numpy Generator
        Seed of the bootstraps.
    candidates : sequence, optional
        Laws to choose from with ``law="auto"``.
    **fit_kwargs
        Passed to :func:`scalinglaws.engine.fit` (``loss``, ``delta``, ``variables``, ``fixed``,
        ``weights``, ``groups``...). A ``weights`` array is split with the runs.

    Returns
    -------
    Validation

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e6, 1e9, 15)
    >>> df = pd.DataFrame({"x": x, "loss": 1.5 + 300 * x**-0.3})
    >>> v = validate(df, "power", frac=0.2, bootstrap=0)
    >>> v.n_test, bool(v.rmse_log < 1e-6)
    (3, True)
    """
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    _check_options(level, bootstrap, fit_kwargs)
    is_auto = isinstance(law, str) and law.strip().lower() == "auto"
    base = None if is_auto else get_law(law, **dict(fit_kwargs.get("law_options") or {}))
    mapping = dict(fit_kwargs.get("variables") or {})
    by = by or default_by(base, runs, mapping, candidates)
    runs.require([by], purpose=f"ordering runs by scale ({by!r})")
    scale = runs.column(by)
    folds, mode = _folds(holdout, scale, frac, n)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    pieces: list[pd.DataFrame] = []
    fits: list[Fit] = []
    selections: list[Any] = []
    n_train: list[int] = []
    for k, test in enumerate(folds):
        train = ~test
        train_runs = runs.subset(train)
        kwargs = split_kwargs(fit_kwargs, train)
        fold_seed = int(rng.integers(2**31))
        if is_auto:
            selection = choose_law(train_runs, candidates, by=by, **kwargs)
            selections.append(selection)
            chosen: Any = selection.law
            kwargs = options_for(chosen, kwargs, inner=False)
        else:
            chosen = law
        f = fit_law(train_runs, chosen, bootstrap=bootstrap, seed=fold_seed, **kwargs)
        fits.append(f)
        n_train.append(int(train.sum()))
        target = f.options.get("target") or "loss"
        pieces.append(_score_fold(f, train_runs, runs.subset(test), np.flatnonzero(test), k, by, target, level))
    table = pd.concat(pieces, ignore_index=True)
    name = "auto" if is_auto else (base.name if base is not None else str(law))
    result = summarize(table, law=name, holdout=mode, by=by, level=level, fits=tuple(fits),
                       selections=tuple(selections), n_train=tuple(n_train), bootstrap=bootstrap)
    for message in result.warnings:
        warnings.warn(message, ScalingLawsWarning, stacklevel=2)
    return result


def prediction_interval(
    fit: Fit, train: Runs, test: Runs, level: float, target: str = "loss"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prediction, lower and upper bound for the runs ``test``: the fit's own predictive
    interval (:meth:`Fit.predict_interval`, the one users get), so validation measures the
    coverage of exactly what :func:`scalinglaws.fit` promises.

    Returns three arrays of shape (n_test,), in the units of the target.
    """
    pred = predict_runs(fit, test)
    X: dict[str, Any] = dict(law_inputs(fit, test))
    lower, upper = fit.predict_interval(level, check_range=False, **X)
    ones = np.ones(len(test))
    return pred, np.asarray(lower, dtype=float).reshape(-1) * ones, np.asarray(upper, dtype=float).reshape(-1) * ones


def summarize(
    table: pd.DataFrame,
    *,
    law: str,
    holdout: str,
    by: str,
    level: float,
    fits: tuple[Fit, ...],
    selections: tuple[Any, ...] = (),
    n_train: tuple[int, ...] = (),
    bootstrap: int = 0,
) -> Validation:
    """Metrics of a held-out table (see :class:`Validation`)."""
    e = table["log_error"].to_numpy(dtype=float)
    rel = table["rel_error"].to_numpy(dtype=float)
    inside = table["inside"].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        bad = ~np.isfinite(e)
        rmse = math.inf if bad.any() else float(np.sqrt(np.mean(e**2)))
        mae = math.inf if bad.any() else float(np.mean(np.abs(e)))
        bias = math.nan if bad.any() else float(np.mean(e))
        mx = math.inf if bad.any() else float(np.max(np.abs(e)))
        mrel = math.inf if not np.isfinite(rel).all() else float(np.max(np.abs(rel)))
    interval = (
        f"{level:.0%} predictive interval of each training fit (Fit.predict_interval): "
        + (fits[0].predictive_note if fits else "")
    )
    return Validation(
        law=law, holdout=holdout, by=by, level=level, table=table, rmse_log=rmse, mae_log=mae, bias_log=bias,
        max_abs_log_error=mx, max_abs_rel_error=mrel, coverage=float(np.mean(inside)) if len(inside) else math.nan,
        n_train=n_train, fits=fits, selections=selections, interval=interval,
    )


# ----------------------------------------------------------------------------- helpers


def _check_options(level: float, bootstrap: int, fit_kwargs: Mapping[str, Any]) -> None:
    check_level(level)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise FitError(f"bootstrap must be a non-negative integer, got {bootstrap!r}")
    if "progress" in fit_kwargs:
        raise FitError("validate does not show progress bars; drop progress=")


def _score_fold(
    f: Fit, train: Runs, test: Runs, rows: np.ndarray, fold: int, by: str, target: str, level: float
) -> pd.DataFrame:
    pred, lower, upper = prediction_interval(f, train, test, level, target)
    actual = test.column(target)
    with np.errstate(all="ignore"):
        log_error = np.log(pred) - np.log(actual)
        rel = pred / actual - 1.0
    table = pd.DataFrame({"row": rows, "fold": fold, by: test.column(by)})
    for v, values in law_inputs(f, test).items():
        col = dict(f.options.get("variables") or {}).get(v, v)
        if col not in table.columns:
            table[col] = values
    table["actual"] = actual
    table["predicted"] = pred
    table["lower"] = lower
    table["upper"] = upper
    table["log_error"] = log_error
    table["rel_error"] = rel
    table["inside"] = (actual >= lower) & (actual <= upper)
    return table


__all__ = [
    "HOLDOUTS",
    "Validation",
    "default_by",
    "holdout_mask",
    "law_inputs",
    "predict_runs",
    "prediction_interval",
    "validate",
]
