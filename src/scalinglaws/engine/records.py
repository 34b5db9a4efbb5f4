"""The small values a fit is made of, and the checks and conversions every result shares.

:class:`Diagnostics` (what the optimiser saw), :class:`FitLike` (the shape of a
:class:`~scalinglaws.engine.result.Fit` that :mod:`~scalinglaws.engine.trust`,
:mod:`~scalinglaws.engine.extrapolation` and :mod:`~scalinglaws.engine.fit_text` read,
so that none of them imports the class), :func:`check_level`, :func:`finite_or_none`
and :func:`jsonable`. All are importable from :mod:`scalinglaws.engine.result` too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from scalinglaws.errors import FitError
from scalinglaws.laws.law import Law


@dataclass(frozen=True)
class Diagnostics:
    """What the optimiser saw: convergence, bounds, identifiability, agreement of starts.

    Attributes
    ----------
    converged : bool
        The best start met the convergence test.
    iterations : int
        Iterations the best start took.
    n_starts, n_refined, n_failed_starts : int
        Starts tried, starts carried to convergence, starts with no finite objective.
    at_bounds : tuple of str
        Parameters that ended on one of their bounds.
    condition_number : float
        Of the scaled curvature matrix at the optimum; above ~1e8 some combination of
        parameters is not determined by the data.
    poorly_identified : tuple of str
        Parameters taking part in the least determined direction.
    start_spread : dict
        Per parameter, the largest relative distance from the optimum among the starts
        that reached an objective within 0.01 % of the best.
    n_near_best : int
        How many refined starts reached that objective.
    bootstrap_failed : int
        Bootstrap refits that did not converge (left out of the intervals).
    warnings : tuple of str
        Plain-language statements of the problems above.
    """

    converged: bool
    iterations: int
    n_starts: int
    n_refined: int
    n_failed_starts: int
    at_bounds: tuple[str, ...]
    condition_number: float
    poorly_identified: tuple[str, ...]
    start_spread: Mapping[str, float]
    n_near_best: int
    bootstrap_failed: int = 0
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "converged": self.converged,
            "iterations": self.iterations,
            "n_starts": self.n_starts,
            "n_refined": self.n_refined,
            "n_failed_starts": self.n_failed_starts,
            "at_bounds": list(self.at_bounds),
            "condition_number": finite_or_none(self.condition_number),
            "poorly_identified": list(self.poorly_identified),
            "start_spread": dict(self.start_spread),
            "n_near_best": self.n_near_best,
            "bootstrap_failed": self.bootstrap_failed,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnostics:
        return cls(
            converged=bool(d["converged"]),
            iterations=int(d["iterations"]),
            n_starts=int(d["n_starts"]),
            n_refined=int(d["n_refined"]),
            n_failed_starts=int(d["n_failed_starts"]),
            at_bounds=tuple(d["at_bounds"]),
            condition_number=float(d["condition_number"]) if d["condition_number"] is not None else math.inf,
            poorly_identified=tuple(d["poorly_identified"]),
            start_spread=dict(d["start_spread"]),
            n_near_best=int(d["n_near_best"]),
            bootstrap_failed=int(d.get("bootstrap_failed", 0)),
            warnings=tuple(d.get("warnings", ())),
        )


def finite_or_none(x: float | None) -> float | None:
    """``float(x)``, or None for a missing or non-finite number (JSON has no NaN)."""
    return float(x) if x is not None and math.isfinite(x) else None


class FitLike(Protocol):
    """What the helpers of :class:`~scalinglaws.engine.result.Fit` read from a fit."""

    @property
    def law(self) -> Law: ...
    @property
    def params(self) -> Mapping[str, float]: ...
    @property
    def objective(self) -> float: ...
    @property
    def n_runs(self) -> int: ...
    @property
    def diagnostics(self) -> Diagnostics: ...
    @property
    def fixed(self) -> Mapping[str, float]: ...
    @property
    def fixed_source(self) -> str: ...
    @property
    def draws(self) -> np.ndarray | None: ...
    @property
    def options(self) -> Mapping[str, Any]: ...
    @property
    def problems(self) -> tuple[str, ...]: ...
    @property
    def provenance(self) -> Mapping[str, Any]: ...
    def intervals(self, level: float = 0.95) -> dict[str, tuple[float, float]]: ...


def observations(fit: FitLike) -> str:
    """What a fit's rows are, for its reports: ``"runs"``, or what its provenance says
    (``"points"`` for the points of learning curves)."""
    return str(fit.provenance.get("observations") or "runs")


def check_level(level: float) -> float:
    """``level`` as a float strictly between 0 and 1, or a FitError."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise FitError(f"level must lie strictly between 0 and 1, got {level!r}")
    return float(level)


def jsonable(x: Any) -> Any:
    """A JSON-ready copy: mappings and sequences recursed, numpy scalars and arrays made
    plain, non-finite floats None."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (np.floating, float)):
        return finite_or_none(float(x))
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    return x
