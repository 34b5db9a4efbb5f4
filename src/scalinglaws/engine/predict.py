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
from scalinglaws.laws.variables import standard


#: Runs predicted at once by :func:`predict_runs`: a law's temporaries are a few arrays of
#: this length, not of all runs (about 60 MB at 10^6 runs for ``chinchilla`` in one go).
PREDICT_CHUNK = 1 << 16


def law_inputs(fit: Fit, runs: Runs) -> dict[str, np.ndarray]:
    """The fitted law's variables read from ``runs`` (mapped columns, group labels); numeric
    ones are read-only views of the table (:meth:`Runs.values`), not copies."""
    mapping = dict(fit.options.get("variables") or {})
    runs = derive_variables(runs, fit.law, mapping)
    X: dict[str, np.ndarray] = {}
    for v in fit.law.variables:
        if v in fit.law.categorical:
            X[v] = runs.data[v].astype(str).to_numpy()
        else:
            X[v] = runs.values(mapping.get(v, v))
    return X


def derive_variables(runs: Runs, law: Law, mapping: Mapping[str, str]) -> Runs:
    """The runs with the variables the law declares derivable and the runs lack computed
    from their parts (``tokens_per_param = n_tokens / n_params``), listed in ``derived``."""
    for v in law.variable_info:
        if v.derive is None or v.name in mapping or v.name in runs.columns:
            continue
        parts = [mapping.get(p, p) for p in v.derive.parts]
        if all(p in runs.columns for p in parts):
            positive = {p: standard(q).unit for p, q in zip(parts, v.derive.parts) if standard(q).positive}
            runs.require(parts, positive=positive, purpose=f"deriving {v.name} = {v.derive.text}")
            runs = runs.derive(v.name, parts, v.derive, text=v.derive.text)
    return runs


def predict_runs(fit: Fit, runs: Runs) -> np.ndarray:
    """The fit's prediction at every run, shape (n_runs,), computed :data:`PREDICT_CHUNK`
    runs at a time (a prediction at a run depends on that run alone)."""
    X = law_inputs(fit, runs)
    n = len(runs)
    out = np.empty(n)
    try:
        for lo in range(0, n, PREDICT_CHUNK):
            part = {k: v[lo : lo + PREDICT_CHUNK] for k, v in X.items()}
            out[lo : lo + PREDICT_CHUNK] = np.asarray(fit.predict(check_range=False, **part), dtype=float).reshape(-1)
    except LawError as err:
        raise DataError(f"cannot predict the held-out runs: {err}") from None
    return out


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
