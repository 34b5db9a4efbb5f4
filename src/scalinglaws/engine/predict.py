"""Predictions of a fit at the runs of a table: the law's variables read from the runs
(mapped columns, group labels), then evaluated; and which column orders runs by scale.
No fitting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scalinglaws.data.runs import Runs
from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError, LawError
from scalinglaws.laws import get_law
from scalinglaws.laws.law import Law


def law_inputs(fit: Fit, runs: Runs) -> dict[str, np.ndarray]:
    """The fitted law's variables read from ``runs`` (mapped columns, group labels)."""
    mapping = dict(fit.options.get("variables") or {})
    X: dict[str, np.ndarray] = {}
    for v in fit.law.variables:
        if v in fit.law.categorical:
            X[v] = runs.data[v].astype(str).to_numpy()
        else:
            X[v] = runs.column(mapping.get(v, v))
    return X


def predict_runs(fit: Fit, runs: Runs) -> np.ndarray:
    """The fit's prediction at every run, shape (n_runs,)."""
    X = law_inputs(fit, runs)
    try:
        return np.asarray(fit.predict(check_range=False, **X), dtype=float).reshape(-1) * np.ones(len(runs))
    except LawError as err:
        raise DataError(f"cannot predict the held-out runs: {err}") from None


def default_by(
    law: Law | None, runs: Runs, mapping: Mapping[str, str] | None = None, candidates: Sequence[Any] | None = None
) -> str:
    """The column that orders runs by scale for ``law`` (see :func:`validate`)."""
    mapping = dict(mapping or {})
    variables: tuple[str, ...] = ()
    if law is not None:
        variables = tuple(v for v in law.variables if v not in law.categorical)
    elif candidates:
        variables = tuple(get_law(candidates[0]).variables)
    elif "x" in mapping or "x" in runs.columns:
        variables = ("x",)
    if len(variables) == 1:
        return mapping.get(variables[0], variables[0])
    if "flops" in runs.columns:
        return "flops"
    if variables:
        return mapping.get(variables[0], variables[0])
    raise DataError("cannot tell which column orders the runs by scale: pass by=<column>")
