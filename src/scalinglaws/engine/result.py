"""The result of a fit: immutable, printable, serialisable, and able to predict.

:class:`Fit` lives here; its pieces live in sibling modules and are importable from here
too: :class:`~scalinglaws.engine.records.Diagnostics`, ``check_level``, ``finite_or_none``
and ``jsonable`` (:mod:`scalinglaws.engine.records`); the calibrated predictive interval
and ``extrapolation_distance`` (:mod:`scalinglaws.engine.extrapolation`); the text and
HTML reports (:mod:`scalinglaws.engine.fit_text`).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from scalinglaws.engine.extrapolation import (
    CALIBRATION_LEVELS,
    PRODUCT,
    extrapolation_distance,
    predictive_halfwidth,
    predictive_note,
)
from scalinglaws.engine.fit_text import fit_html, fit_report
from scalinglaws.engine.records import (
    Diagnostics,
    check_level,
    finite_or_none,
    jsonable,
)
from scalinglaws.engine.trust import check_range, fit_problems
from scalinglaws.errors import FitError, LawError
from scalinglaws.laws.law import Law

__all__ = [
    "CALIBRATION_LEVELS",
    "PRODUCT",
    "Diagnostics",
    "Fit",
    "check_level",
    "extrapolation_distance",
    "finite_or_none",
    "flat_len",
    "jsonable",
]

@dataclass(frozen=True)
class Fit:
    """A fitted law.

    Attributes
    ----------
    law : Law
        The law as fitted (with pinned parameters and groups applied).
    params : dict
        Every parameter's value, pinned ones included.
    fixed : dict
        The pinned parameters, with ``fixed_source`` saying where they come from.
    objective : float
        The objective at the optimum, summed over runs.
    n_runs : int
    draws : array of shape (n_bootstrap, n_free_params) or None
        Bootstrap estimates of the free parameters (NaN rows: refits that failed).
    diagnostics : Diagnostics
    options, provenance : dict
        How the fit was made, and from what (law, data fingerprint, seed, versions).
    """

    law: Law
    params: Mapping[str, float]
    objective: float
    n_runs: int
    diagnostics: Diagnostics
    fixed: Mapping[str, float] = field(default_factory=dict)
    fixed_source: str = ""
    draws: np.ndarray | None = field(default=None, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    provenance: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # a Fit is a value: its mappings are read-only views and its draws read-only
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))
        if self.draws is not None:
            draws = np.array(self.draws, dtype=float)
            draws.setflags(write=False)
            object.__setattr__(self, "draws", draws)

    # ---------------------------------------------------------------- uncertainty

    @property
    def free_params(self) -> tuple[str, ...]:
        return self.law.param_names

    def _valid_draws(self) -> np.ndarray:
        if self.draws is None or len(self.draws) == 0:
            raise FitError("this fit has no bootstrap draws: fit again with bootstrap=1000 (or any number > 0)")
        d = self.draws[np.all(np.isfinite(self.draws), axis=1)]
        if len(d) < 2:
            raise FitError("fewer than 2 bootstrap refits converged: intervals are not available")
        return d

    def intervals(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile bootstrap intervals of the free parameters at ``level``."""
        check_level(level)
        d = self._valid_draws()
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        lo, hi = np.percentile(d, q, axis=0)
        return {n: (float(a), float(b)) for n, a, b in zip(self.free_params, lo, hi)}

    def standard_errors(self) -> dict[str, float]:
        """Bootstrap standard deviation of each free parameter."""
        d = self._valid_draws()
        return {n: float(s) for n, s in zip(self.free_params, d.std(axis=0, ddof=1))}

    # ---------------------------------------------------------------- prediction

    def predict(self, **variables: Any) -> np.ndarray:
        """The law at the fitted parameters; arrays broadcast with numpy's rules.

        A non-positive size (``n_params``, ``n_tokens``, ``flops``, ...) is a
        :class:`~scalinglaws.errors.DataError`; a point beyond the range of the fitted
        runs gives a :class:`~scalinglaws.errors.ScalingLawsWarning` naming the factor
        per variable (and in compute 6ND). ``check_range=False`` skips both, for callers
        that extrapolate on purpose (held-out validation, plots).

        Examples
        --------
        ``fit.predict(n_params=7e10, n_tokens=1.4e12)``
        """
        check = bool(variables.pop("check_range", True))  # a keyword, not a variable of any law
        named = _rename(self, variables)
        if check:
            self._check_range(named)
        free = {n: self.params[n] for n in self.free_params}
        return self.law(free, **named)

    def _check_range(self, named: Mapping[str, Any]) -> None:
        check_range(self, named, stacklevel=4)

    @property
    def problems(self) -> tuple[str, ...]:
        """Why this fit should not be used: the best start did not converge, a parameter
        rests on a bound that is a search limit rather than a physical one (zero), or the
        curvature matrix is singular. Empty for a sound fit."""
        return fit_problems(self)

    @property
    def ok(self) -> bool:
        """True when :attr:`problems` is empty."""
        return not self.problems

    def predict_draws(self, **variables: Any) -> np.ndarray:
        """Predictions under every valid bootstrap draw: shape (n_draws, *broadcast shape)."""
        d = self._valid_draws()
        shape = np.broadcast_shapes(*(np.shape(v) for v in variables.values()))
        flat = {k: np.broadcast_to(np.asarray(v), shape).reshape(-1) for k, v in _rename(self, variables).items()}
        P = {n: d[:, i : i + 1] for i, n in enumerate(self.free_params)}
        X = {k: (v if k in self.law.categorical else v.astype(float)) for k, v in flat.items()}
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(self.law.function(X, P), dtype=float), (len(d), flat_len(flat)))
        return out.reshape((len(d), *shape))

    def predict_interval(
        self, level: float = 0.95, *, kind: str = "predictive", **variables: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """An interval at ``level`` around the prediction: (lower, upper).

        ``kind="predictive"`` (default): where a run at that point will measure. It
        holds the run-to-run noise (the fit's residual scatter) and the error of
        extrapolating the law, which grows with the distance beyond the training data at
        the rate measured by nested extrapolation tests on the training runs
        (:mod:`scalinglaws.judge.calibrate`), with a conformal quantile of their scores.
        Those refits on fewer runs carry the parameter error too (more of it than the
        full fit has), so the bootstrap band is not added. Without enough nested tests
        the quantile is Student-t and the bootstrap band (when the fit has draws) is
        added in quadrature.
        ``predictive_note`` says which applies to this fit.

        ``kind="parameters"``: the percentile bootstrap band of the law's prediction
        only (needs ``bootstrap > 0``): uncertainty of the curve, not of a run.
        """
        if bool(variables.pop("check_range", True)):
            self._check_range(_rename(self, variables))
        check_level(level)
        if kind == "parameters":
            p = self.predict_draws(**variables)
            lo, hi = np.nanpercentile(p, [(1 - level) / 2 * 100, (1 + level) / 2 * 100], axis=0)
            return lo, hi
        if kind != "predictive":
            raise FitError(f"kind must be 'predictive' or 'parameters', got {kind!r}")
        with np.errstate(all="ignore"):  # the range was checked above, once
            m = np.log(np.asarray(self.predict(check_range=False, **variables), dtype=float))
        lo_b = hi_b = m
        if self.draws is not None and np.isfinite(self.draws).all(axis=1).sum() >= 2:
            draws = self.predict_draws(**variables)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                logd = np.where(draws > 0, np.log(np.where(draws > 0, draws, 1.0)), np.nan)
                lo_b, hi_b = np.nanpercentile(logd, [(1 - level) / 2 * 100, (1 + level) / 2 * 100], axis=0)
            lo_b = np.where(np.isfinite(lo_b), np.minimum(lo_b, m), m)
            hi_b = np.where(np.isfinite(hi_b), np.maximum(hi_b, m), m)
        half = self._predictive_halfwidth(level, _rename(self, variables))
        if (self.options.get("calibration") or {}).get("quantiles"):
            # the conformal scores come from refits on fewer runs: they already hold the
            # parameter error (and more), so the bootstrap band adds nothing but its noise
            return np.exp(m - half), np.exp(m + half)
        return np.exp(m - np.sqrt((m - lo_b) ** 2 + half**2)), np.exp(m + np.sqrt((hi_b - m) ** 2 + half**2))

    @property
    def predictive_note(self) -> str:
        """How :meth:`predict_interval` builds its default (predictive) interval for this fit."""
        return predictive_note(self)

    def _predictive_halfwidth(self, level: float, variables: Mapping[str, Any]) -> np.ndarray:
        """Half-width, in log units, of the noise-plus-extrapolation part of the interval."""
        return predictive_halfwidth(self, level, variables)

    # ---------------------------------------------------------------- display

    def report(self, level: float = 0.95) -> str:
        """A plain-text report: parameters, intervals, objective and diagnostics."""
        return fit_report(self, level)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"Fit(law={self.law.name!r}, n_runs={self.n_runs}, objective={self.objective:.6g}, params={{{ps}}})"

    # ---------------------------------------------------------------- serialisation

    def _repr_html_(self, level: float = 0.9) -> str:
        """The fit as a notebook shows it: verdict, law, parameters with intervals, diagnostics."""
        return fit_html(self, level)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict holding everything needed to rebuild the fit."""
        return {
            "format": "scalinglaws.engine.fit/1",
            "law": {
                "name": self.law.name,
                "formula": self.law.formula,
                "variables": list(self.law.variables),
                "free_params": list(self.free_params),
                "source": self.law.source,
                "spec": jsonable(dict(self.law.spec)),
            },
            "params": dict(self.params),
            "fixed": dict(self.fixed),
            "fixed_source": self.fixed_source,
            "objective": finite_or_none(self.objective),
            "n_runs": self.n_runs,
            "draws": None if self.draws is None else [[finite_or_none(v) for v in row] for row in self.draws.tolist()],
            "diagnostics": self.diagnostics.to_dict(),
            "options": jsonable(dict(self.options)),
            "provenance": jsonable(dict(self.provenance)),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], law: Law | Any = None) -> Fit:
        """Rebuild a fit from :meth:`to_dict`; pass ``law`` for laws given as Python functions."""
        from scalinglaws.laws import get_law, law_from_spec

        if not isinstance(d, Mapping) or d.get("format") != "scalinglaws.engine.fit/1":
            raise LawError("this is not a scalinglaws fit (missing format 'scalinglaws.engine.fit/1')")
        try:
            spec = d["law"]["spec"]
            if law is None:
                rebuilt = law_from_spec(spec)
            else:
                rebuilt = get_law(law)
                if spec.get("groups"):
                    g = spec["groups"]
                    rebuilt = rebuilt.grouped(g["column"], g["labels"], g["shared"])
                if spec.get("fixed"):
                    rebuilt = rebuilt.with_fixed(spec["fixed"])
            draws = d.get("draws")
            return cls(
                law=rebuilt,
                params={k: float(v) for k, v in d["params"].items()},
                fixed={k: float(v) for k, v in d.get("fixed", {}).items()},
                fixed_source=d.get("fixed_source", ""),
                objective=math.nan if d["objective"] is None else float(d["objective"]),
                n_runs=int(d["n_runs"]),
                draws=None if draws is None else np.array([[np.nan if v is None else v for v in row] for row in draws], dtype=float).reshape(len(draws), -1),
                diagnostics=Diagnostics.from_dict(d["diagnostics"]),
                options=dict(d.get("options", {})),
                provenance=dict(d.get("provenance", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, LawError):
                raise
            raise LawError(f"this fit file is incomplete or corrupt: {type(err).__name__}: {err}") from None

    @classmethod
    def from_params(
        cls,
        law: Any,
        params: Mapping[str, float],
        *,
        draws: np.ndarray | None = None,
        source: str = "",
        law_options: Mapping[str, Any] | None = None,
    ) -> Fit:
        """A fit made from known parameter values (published constants), not from data.

        ``draws`` (shape (n_draws, n_params), columns like ``law.param_names``) carry
        intervals; ``source`` says where the values come from. The result has
        ``n_runs = 0`` and ``objective = 0``.

        Examples
        --------
        >>> f = Fit.from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28})
        >>> round(float(f.predict(n_params=7e10, n_tokens=1.4e12)), 3)
        1.937
        """
        from scalinglaws.laws import get_law

        the_law = get_law(law, **dict(law_options or {}))
        names = the_law.param_names
        missing = [n for n in names if n not in params]
        unknown = [k for k in params if k not in names]
        if missing or unknown:
            raise LawError(
                f"law {the_law.name!r} has parameters {list(names)}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and unknown else "")
                + (f"unknown {unknown}" if unknown else "")
                + (" (a variant of the law, chosen with law_options=, may have them)" if unknown and not law_options else "")
            )
        values = {n: float(params[n]) for n in names}
        bad = [n for n, v in values.items() if not math.isfinite(v)]
        if bad:
            raise LawError(f"parameters must be finite numbers; {bad[0]} is {values[bad[0]]}")
        if draws is not None:
            draws = np.asarray(draws, dtype=float)
            if draws.ndim != 2 or draws.shape[1] != len(names):
                raise LawError(f"draws must have shape (n_draws, {len(names)}), got {draws.shape}")
        diagnostics = Diagnostics(
            converged=True, iterations=0, n_starts=0, n_refined=0, n_failed_starts=0, at_bounds=(),
            condition_number=math.nan, poorly_identified=(), start_spread={}, n_near_best=0,
        )
        return cls(
            law=the_law,
            params=values,
            objective=0.0,
            n_runs=0,
            diagnostics=diagnostics,
            draws=draws,
            provenance={"constructed": "from given parameter values", "source": source},
        )

    @classmethod
    def from_json(cls, text: str, law: Law | Any = None) -> Fit:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise LawError(f"this fit file is not valid JSON: {err}") from None
        return cls.from_dict(d, law=law)



def flat_len(flat: Mapping[str, np.ndarray]) -> int:
    return max((v.size for v in flat.values()), default=1)


def _rename(fit: Fit, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Accept the runs' column names for mapped variables (``n_params`` for ``x``)."""
    mapping = dict(fit.options.get("variables") or {})
    inverse = {col: var for var, col in mapping.items()}
    return {inverse.get(k, k): v for k, v in variables.items()}
