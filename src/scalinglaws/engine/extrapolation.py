"""How far a prediction lies beyond the data, and how wide that makes its interval.

:func:`extrapolation_distance` measures the distance in decades; :func:`predictive_halfwidth`
and :func:`predictive_note` are the calibrated part of
:meth:`Fit.predict_interval <scalinglaws.engine.result.Fit.predict_interval>` and
:attr:`Fit.predictive_note <scalinglaws.engine.result.Fit.predictive_note>`, which call them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from scalinglaws.engine.records import FitLike

#: Levels at which a calibration stores its conformal quantiles (interpolated between).
CALIBRATION_LEVELS: tuple[float, ...] = tuple(round(x, 3) for x in np.arange(0.5, 0.995, 0.01)) + (0.995,)


#: Key of the training range's largest product of all positive variables (e.g. N * D).
PRODUCT = "*"


def ratios(law: Any) -> dict[str, str]:
    """``{variable: the variable it is a ratio to}`` for ``law``'s ratio variables whose
    denominator the law also has (``tokens_per_param``: ``n_params``), from the
    declarations (:attr:`Variable.per <scalinglaws.laws.variables.Variable>`)."""
    names = set(law.variables)
    return {v.name: v.per for v in law.variable_info if v.per and v.per in names}


def _log10(values: Any) -> np.ndarray:
    with np.errstate(all="ignore"):
        x = np.asarray(values, dtype=float)
        return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), -np.inf)


def scale_log10(values: Mapping[str, Any], names: Iterable[str], per: Mapping[str, str]) -> np.ndarray:
    """``log10`` of the product of the ``names`` variables of ``values`` (N * D: compute), a
    ratio variable of ``per`` counting times its denominator (N * M * N); -inf where a value
    is <= 0. The run's scale that :func:`extrapolation_distance` compares with the largest
    training one (the calibration's ``top["*"]``)."""
    total: Any = 0.0
    for v in names:
        total = total + _log10(values[v])
        if v in per and per[v] in values:
            total = total + _log10(values[per[v]])
    return np.asarray(total, dtype=float)


def extrapolation_distance(
    top: Mapping[str, float], variables: Mapping[str, Any], per: Mapping[str, str] | None = None
) -> np.ndarray:
    """Decades beyond the training data: the largest ``log10(value / largest training
    value)`` over the variables in ``top``, and over their product (``top["*"]``: the
    largest training product, so that N and D each in range but N * D beyond, i.e. more
    compute, counts as beyond; a ratio variable of ``per``, e.g. tokens per parameter,
    counts there times its denominator); 0 inside the data."""
    d: Any = 0.0
    names = [v for v in top if v != PRODUCT]
    complete = True
    for v in names:
        hi = top[v]
        if v not in variables or not (hi and hi > 0):
            complete = False
            continue
        d = np.maximum(d, _log10(variables[v]) - math.log10(hi))
    if complete and top.get(PRODUCT) and len(top) > 2:
        d = np.maximum(d, scale_log10(variables, names, per or {}) - float(top[PRODUCT]))
    return np.maximum(np.nan_to_num(np.asarray(d, dtype=float), neginf=0.0), 0.0)


def predictive_note(fit: FitLike) -> str:
    """How :meth:`predict_interval` builds its default (predictive) interval for this fit."""
    cal = fit.options.get("calibration")
    if not cal:
        return "noise only (residual scatter, Student-t): this fit carries no extrapolation calibration"
    how = (f"conformal quantiles of {cal['n_scores']} nested extrapolation errors" if cal.get("quantiles")
           else "Student-t quantiles")
    return (f"noise {cal['noise']:.3g} (log) plus extrapolation error growing {cal['growth']:.3g} per decade "
            f"beyond the data, {how}" + (f"; {cal['note']}" if cal.get("note") else "")
            + ("; with the bootstrap band" if fit.draws is not None and not cal.get("quantiles") else ""))


def predictive_halfwidth(fit: FitLike, level: float, variables: Mapping[str, Any]) -> np.ndarray:
    """Half-width, in log units, of the noise-plus-extrapolation part of the interval."""
    from scipy import (
        stats,  # imported here: scipy.stats costs half a second at start-up
    )

    cal = fit.options.get("calibration") or {}
    noise = cal.get("noise")
    if noise is None or not np.isfinite(noise):
        noise = 0.0
    growth = float(cal.get("growth") or 0.0)
    d = extrapolation_distance(dict(cal.get("top") or {}), variables, ratios(fit.law))
    sd = np.sqrt(float(noise) ** 2 + (growth * d) ** 2)
    q = cal.get("quantiles")
    if q:
        levels = np.asarray(CALIBRATION_LEVELS)
        z = float(np.interp(level, levels, np.asarray(q, dtype=float)))
        if level > levels[-1]:
            z = float(q[-1]) * float(stats.norm.ppf((1 + level) / 2) / stats.norm.ppf((1 + levels[-1]) / 2))
    else:
        z = float(stats.t.ppf((1 + level) / 2, max(int(cal.get("dof") or 1), 1)))
    return np.asarray(z * sd)
