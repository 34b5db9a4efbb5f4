"""A law's parameters: name, bounds, whether to optimise its log, start values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.errors import LawError

__all__ = ["Param", "default_start", "describe_param"]


@dataclass(frozen=True)
class Param:
    """One parameter of a law.

    Parameters
    ----------
    name : str
        Its name in the formula.
    lower, upper : float
        Bounds, in natural units. ``log=True`` needs ``lower >= 0``.
    log : bool
        Optimise ``log(value)`` instead of the value: for positive scale constants
        (A, B, E) whose plausible range spans orders of magnitude.
    grid : tuple of float
        Start values for the multi-start grid, in natural units.
    doc : str
        What the parameter means.
    """

    name: str
    lower: float = -math.inf
    upper: float = math.inf
    log: bool = False
    grid: tuple[float, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise LawError(f"parameter name {self.name!r} is not a valid identifier")
        if not self.lower < self.upper:
            raise LawError(
                f"parameter {self.name}: lower bound {self.lower} is not below upper {self.upper}"
            )
        if self.log and self.lower < 0:
            raise LawError(
                f"parameter {self.name}: log=True needs a lower bound >= 0, got {self.lower}"
            )
        for g in self.grid:
            if not (self.lower <= g <= self.upper) or (self.log and g <= 0):
                raise LawError(
                    f"parameter {self.name}: start {g} lies outside its bounds"
                )

    def to_internal(self, value: Any) -> Any:
        return np.log(value) if self.log else np.asarray(value, dtype=float)

    def to_natural(self, value: Any) -> Any:
        return np.exp(value) if self.log else value

    @property
    def internal_bounds(self) -> tuple[float, float]:
        if self.log:
            lo = math.log(self.lower) if self.lower > 0 else -math.inf
            hi = math.log(self.upper) if math.isfinite(self.upper) else math.inf
            return lo, hi
        return self.lower, self.upper


def default_start(p: Param) -> float:
    """A start inside the bounds for a parameter that has no grid."""
    lo, hi = p.lower, p.upper
    if p.log:
        if math.isfinite(hi):
            return math.sqrt(max(lo, hi * 1e-6) * hi) if lo > 0 else hi / 10
        return max(1.0, lo * 10) if lo > 0 else 1.0
    if math.isfinite(lo) and math.isfinite(hi):
        return (lo + hi) / 2
    if math.isfinite(lo):
        return lo + 1.0
    if math.isfinite(hi):
        return hi - 1.0
    return 0.0


def describe_param(p: Param) -> str:
    """``"alpha in [0, 10]"``, with ``(log)`` for a log-scale parameter."""
    lo = "-inf" if p.lower == -math.inf else f"{p.lower:g}"
    hi = "inf" if p.upper == math.inf else f"{p.upper:g}"
    return f"{p.name} in [{lo}, {hi}]" + (" (log)" if p.log else "")
