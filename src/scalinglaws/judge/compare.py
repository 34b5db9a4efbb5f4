"""Comparing several laws on the same runs: a held-out test and in-sample AIC/BIC.

:func:`compare` runs the same held-out test (:func:`scalinglaws.judge.validate.validate`) for
several laws and adds in-sample criteria of a fit on all runs: the objective, and AIC/BIC
from a likelihood approximation of the log residuals (Gaussian, or Laplace when the
Huber fit works mostly on its linear part).

Limits of AIC/BIC here: the fit does not maximise either likelihood (it minimises Huber),
the runs of a ladder or the checkpoints of a curve are not independent draws, parameters
on a bound do not count as a full degree of freedom, and in-sample criteria say nothing
about extrapolation. Rank laws by the held-out columns; read AIC/BIC as a tie-breaker.

:func:`compare_ladders` (in :mod:`scalinglaws.judge.ladders`, importable from here) fits
one law to a baseline ladder and a variant ladder and reports the effective-compute
multiplier ``k(C)`` with ``variant(C) = baseline(k * C)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.errors import FitError, LawError
from scalinglaws.laws.law import Law
from scalinglaws.laws import get_law
from scalinglaws.engine.result import Fit
from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.engine.fit import fit
from scalinglaws.engine.predict import predict_runs
from scalinglaws.judge.auto import fit_auto, options_for
from scalinglaws.engine.predict import default_by
from scalinglaws.judge.holdout import frame_records
from scalinglaws.judge.validate import Validation, validate
from scalinglaws.judge.ladders import LadderComparison, compare_ladders

Seed = int | np.random.Generator | None


# ----------------------------------------------------------------------------- several laws


@dataclass(frozen=True, eq=False)
class Comparison:
    """Several laws judged by the same held-out test and by in-sample criteria.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per law, best held-out ``rmse_log`` first: ``law``, ``n_params``,
        ``rmse_log``, ``max_abs_log_error``, ``max_abs_rel_error``, ``coverage`` (held
        out), ``objective``, ``log_likelihood``, ``aic``, ``bic`` (in sample, all runs),
        ``likelihood`` (``"gaussian"`` or ``"laplace"``).
    best : str
        The law with the lowest held-out log RMSE.
    validations : dict
        Law name -> :class:`~scalinglaws.judge.validate.Validation`.
    fits : dict
        Law name -> :class:`~scalinglaws.engine.result.Fit` on all runs.
    by, holdout : str
        How runs were ordered and held out.
    """

    table: pd.DataFrame = field(repr=False)
    best: str
    by: str
    holdout: str
    validations: Mapping[str, Validation] = field(default_factory=dict, repr=False)
    fits: Mapping[str, Fit] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        cols = ["law", "n_params", "rmse_log", "max_abs_rel_error", "coverage", "objective", "aic", "bic"]
        text = self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}")
        return (
            f"Comparison of {len(self.table)} laws (held out: {self.holdout} by {self.by}); best extrapolation: "
            f"{self.best}\n{text}\n(AIC/BIC: in sample, {self.table.likelihood.iloc[0]} likelihood of log residuals; "
            "a tie-breaker, not a test of extrapolation)"
        )

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        scores = ", ".join(f"{r.law}={r.rmse_log:.4g}" for r in self.table.itertuples())
        return f"Comparison(best={self.best!r}, by={self.by!r}, holdout={self.holdout!r}, rmse_log={{{scores}}})"

    def _repr_html_(self) -> str:
        """The comparison as a notebook shows it: one row per law, the best first."""
        import html

        cols = {"law": "law", "n_params": "free parameters", "rmse_log": "held-out log RMSE",
                "max_abs_rel_error": "largest relative error", "coverage": "coverage", "aic": "AIC", "bic": "BIC"}
        t = self.table[[c for c in cols if c in self.table.columns]].rename(columns=cols)
        table = t.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="n/a", border=0)
        return (f"<div><b>Comparison of {len(self.table)} laws</b> (held out: {html.escape(self.holdout)} by "
                f"{html.escape(self.by)}); best extrapolation: <b>{html.escape(self.best)}</b>{table}"
                "<p>AIC/BIC: in sample, a tie-breaker, not a test of extrapolation.</p></div>")

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "by": self.by,
            "holdout": self.holdout,
            "table": frame_records(self.table),
            "validations": {k: v.to_dict() for k, v in self.validations.items()},
        }


def compare(
    runs: Runs | pd.DataFrame | str,
    laws: Sequence[str | Law | Callable[..., Any]],
    *,
    holdout: Any = "largest",
    by: str | None = None,
    frac: float = 0.2,
    n: int | None = None,
    level: float = 0.9,
    bootstrap: int = 200,
    seed: Seed = 0,
    likelihood: str = "auto",
    candidates: Sequence[str | Law] | None = None,
    **fit_kwargs: Any,
) -> Comparison:
    """The same extrapolation test for several laws, plus in-sample AIC/BIC.

    Parameters
    ----------
    runs : Runs, DataFrame or path
    laws : sequence
        Laws as :func:`scalinglaws.engine.fit` takes them (``"auto"`` included).
    holdout, by, frac, n, level, bootstrap, seed
        As in :func:`scalinglaws.judge.validate.validate`. ``by`` defaults to the first law's
        scale column and is then shared by all laws.
    likelihood : {"auto", "gaussian", "laplace"}
        Approximation behind AIC/BIC. ``"auto"``: Gaussian for ``loss="squared"`` or
        when the median absolute log residual is within the Huber ``delta``; Laplace
        otherwise (Huber then behaves like absolute error).
    candidates : sequence, optional
        Candidates of ``"auto"`` when it is among ``laws``.
    **fit_kwargs
        Options of :func:`scalinglaws.engine.fit`, the same for every law (``variables``,
        dict ``starts`` and ``law_options`` go to the laws they apply to).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> x = np.geomspace(1e6, 1e9, 15)
    >>> df = pd.DataFrame({"x": x, "loss": 1.5 + 300 * x**-0.3})
    >>> compare(df, ["power", "m1"], bootstrap=0).best
    'power'
    """
    if not isinstance(runs, Runs):
        runs = load_runs(runs)
    if isinstance(laws, (str, Law)) or not len(laws):
        raise LawError("compare needs a list of laws, e.g. ['chinchilla', 'kaplan']")
    if likelihood not in ("auto", "gaussian", "laplace"):
        raise FitError(f"likelihood must be 'auto', 'gaussian' or 'laplace', got {likelihood!r}")

    first = laws[0]
    first_law = None if isinstance(first, str) and first.strip().lower() == "auto" else get_law(first, **dict(fit_kwargs.get("law_options") or {}))
    by = by or default_by(first_law, runs, fit_kwargs.get("variables"))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows = []
    validations: dict[str, Validation] = {}
    fits: dict[str, Fit] = {}
    for law in laws:
        auto = isinstance(law, str) and law.strip().lower() == "auto"
        kwargs = dict(fit_kwargs) if auto else options_for(law, fit_kwargs)  # type: ignore[arg-type]
        if not auto:
            kwargs = _one_variable_on(by, law, runs, kwargs)
        v = validate(runs, law, holdout=holdout, by=by, frac=frac, n=n, level=level, bootstrap=bootstrap,
                     seed=int(rng.integers(2**31)), candidates=candidates, **kwargs)
        if auto:

            full = fit_auto(runs, candidates, by=by, **kwargs)
        else:
            full = fit(runs, law, **kwargs)
        name = _unique(v.law, validations)
        validations[name], fits[name] = v, full
        ll, kind = log_likelihood(full, runs, likelihood)
        k = len(full.free_params) + 1  # the scale of the residuals counts too
        m = full.n_runs
        rows.append({
            "law": name,
            "n_params": len(full.free_params),
            "rmse_log": v.rmse_log,
            "max_abs_log_error": v.max_abs_log_error,
            "max_abs_rel_error": v.max_abs_rel_error,
            "coverage": v.coverage,
            "objective": full.objective,
            "log_likelihood": ll,
            "aic": 2 * k - 2 * ll,
            "bic": k * math.log(m) - 2 * ll,
            "likelihood": kind,
        })
    table = pd.DataFrame(rows).sort_values(["rmse_log", "n_params"], kind="stable").reset_index(drop=True)
    return Comparison(table=table, best=str(table.law.iloc[0]), by=by, holdout=validations[table.law.iloc[0]].holdout,
                      validations=validations, fits=fits)


def _one_variable_on(by: str, law: Any, runs: Runs, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A law of one variable the runs lack (``power``'s ``x``) is fitted along ``by``:
    ``compare(runs, ["chinchilla", "power"], by="flops")`` compares L(N, D) with L(C)."""
    the_law = get_law(law, **dict(kwargs.get("law_options") or {}))
    free = [v for v in the_law.variables if v not in the_law.categorical]
    mapped = dict(kwargs.get("variables") or {})
    if len(free) == 1 and free[0] not in runs.columns and free[0] not in mapped and by in runs.columns:
        return {**kwargs, "variables": {**mapped, free[0]: by}}
    return kwargs


def log_likelihood(fit: Fit, runs: Runs, likelihood: str = "auto") -> tuple[float, str]:
    """Maximised Gaussian or Laplace log-likelihood of the fit's log residuals on ``runs``.

    Returns ``(log_likelihood, kind)``; see :func:`compare` for ``"auto"``.
    """
    target = (fit.options.get("target") or "loss")
    with np.errstate(all="ignore"):
        r = np.log(runs.column(target)) - np.log(predict_runs(fit, runs))
    if not np.all(np.isfinite(r)):
        return -math.inf, likelihood if likelihood != "auto" else "gaussian"
    n = r.size
    if likelihood == "auto":
        small = float(np.median(np.abs(r))) <= float(fit.options.get("delta", 1e-3))
        likelihood = "gaussian" if fit.options.get("loss") == "squared" or small else "laplace"
    if likelihood == "gaussian":
        s2 = max(float(np.mean(r**2)), 1e-300)
        return -0.5 * n * (math.log(2 * math.pi * s2) + 1), "gaussian"
    b = max(float(np.mean(np.abs(r))), 1e-300)
    return -n * (math.log(2 * b) + 1), "laplace"


def _unique(name: str, seen: Mapping[str, Any]) -> str:
    out, i = name, 2
    while out in seen:
        out, i = f"{name}#{i}", i + 1
    return out


__all__ = ["Comparison", "LadderComparison", "compare", "compare_ladders", "log_likelihood"]
