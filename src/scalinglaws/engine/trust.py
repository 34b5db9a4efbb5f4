"""Whether a fit can be trusted, and whether a question asked of it lies in its data.

:func:`fit_problems` lists what makes a fit unusable (no convergence, a parameter on a
search limit, a singular curvature matrix); :attr:`Fit.ok` is true when the list is
empty. :func:`check_range` refuses non-positive sizes and warns, with the factor, when a
prediction lies beyond the range of the runs the law was fitted to; :func:`check_budget`
does the same for a compute budget.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.engine.records import FitLike
from scalinglaws.errors import DataError, LawError, ScalingLawsWarning

#: Above this condition number the scaled curvature matrix is singular in double precision.
SINGULAR_CONDITION = 1e14
#: The key of ``Fit.options["ranges"]`` holding the training compute 6 * n_params * n_tokens.
COMPUTE_KEY = "compute_6nd"


def fit_problems(fit: FitLike) -> tuple[str, ...]:
    """Why ``fit`` should not be used as it is; empty when nothing is wrong.

    A bound at zero is physical (a floor or a coefficient of zero is a meaningful
    answer); any other bound is a search limit, and a parameter resting on it means the
    optimum lies beyond. Fits made from published values (no runs) have no problems.
    """
    if fit.n_runs == 0:
        return ()
    d = fit.diagnostics
    out: list[str] = []
    if not d.converged:
        out.append(f"the best start did not converge ({d.iterations} iterations)")
    for name in d.at_bounds:
        try:
            p = fit.law.param(name)
        except LawError:  # a fit file from another law version: report the name only
            out.append(f"{name} sits at a bound")
            continue
        value = fit.params.get(name, math.nan)
        bound = p.lower if abs(value - p.lower) <= abs(value - p.upper) else p.upper
        if bound != 0.0:
            out.append(f"{name} = {value:.6g} sits at the search limit {bound:g}, not a physical bound")
    cond = d.condition_number
    if math.isinf(cond) or (math.isfinite(cond) and cond > SINGULAR_CONDITION):
        out.append(f"the curvature matrix is singular (condition number {cond:.3g})")
    return tuple(out)


def training_ranges(X: Mapping[str, np.ndarray], categorical: tuple[str, ...] = ()) -> dict[str, list[float]]:
    """``{variable: [min, max]}`` of the fitted runs, plus the compute 6ND when both sizes are there."""
    out = {v: [float(np.min(a)), float(np.max(a))] for v, a in X.items() if v not in categorical and np.size(a)}
    if "n_params" in X and "n_tokens" in X and np.size(X["n_params"]):
        c = 6.0 * np.asarray(X["n_params"], dtype=float) * np.asarray(X["n_tokens"], dtype=float)
        out[COMPUTE_KEY] = [float(np.min(c)), float(np.max(c))]
    return out


def _factor(value: float, lo: float, hi: float) -> str | None:
    if value > hi * (1 + 1e-9):
        return f"{value:.3g} is {value / hi:.3g}x the largest fitted ({hi:.3g})" if hi > 0 else None
    if value < lo * (1 - 1e-9) and value > 0 and lo > 0:
        return f"{value:.3g} is 1/{lo / value:.3g} of the smallest fitted ({lo:.3g})"
    return None


def check_range(fit: FitLike, variables: Mapping[str, Any], stacklevel: int = 3) -> None:
    """Refuse non-positive sizes; warn when ``variables`` lie beyond the fitted runs.

    ``variables`` are keyed by the law's variable names. Fits saved before ranges were
    recorded are only checked for positivity.
    """
    ranges: Mapping[str, Any] = fit.options.get("ranges") or {}
    notes: list[str] = []
    values: dict[str, np.ndarray] = {}
    positive = set(fit.law.positive_variables)  # the law's own declarations
    for name, raw in variables.items():
        if name in fit.law.categorical or name not in fit.law.variables:
            continue
        try:
            v = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"{name} must be numbers, got {raw!r}") from None
        values[name] = v
        if name in positive and v.size:
            bad = ~(v > 0)
            if bad.any():
                raise DataError(f"{name} must be positive, got {v.reshape(-1)[np.argmax(bad.reshape(-1))]:g}")
        note = _beyond(name, v, ranges.get(name))
        if note:
            notes.append(note)
    if COMPUTE_KEY in ranges and "n_params" in values and "n_tokens" in values:
        c = 6.0 * values["n_params"] * values["n_tokens"]
        note = _beyond("compute 6ND", c, ranges[COMPUTE_KEY])
        if note:
            notes.append(note)
    if notes:
        warnings.warn("beyond the fitted range: " + "; ".join(notes), ScalingLawsWarning, stacklevel=stacklevel)


def _beyond(label: str, v: np.ndarray, span: Any) -> str | None:
    if span is None or v.size == 0:
        return None
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return None
    lo, hi = float(span[0]), float(span[1])
    top = _factor(float(finite.max()), lo, hi)
    if top and float(finite.max()) > hi:
        return f"{label} {top}"
    bottom = _factor(float(finite.min()), lo, hi)
    return f"{label} {bottom}" if bottom else None


def check_budget(fit: FitLike, flops: float, stacklevel: int = 3) -> None:
    """Warn, with the factor, when a compute budget lies beyond the fitted runs' compute."""
    ranges: Mapping[str, Any] = fit.options.get("ranges") or {}
    span = ranges.get(COMPUTE_KEY) or ranges.get("flops")
    note = _beyond("compute", np.asarray([float(flops)]), span)
    if note:
        warnings.warn(f"beyond the fitted range: {note}", ScalingLawsWarning, stacklevel=stacklevel)
