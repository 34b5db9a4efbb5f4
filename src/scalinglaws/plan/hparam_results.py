"""The results of hyperparameter laws: :class:`HparamFit` (laws fitted to a sweep) and
:class:`HparamAdvice` (a recommendation for a target run).

:mod:`scalinglaws.plan.hparams` makes them and re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scalinglaws.plan.hparam_laws import HparamLaw

__all__ = ["HparamAdvice", "HparamFit"]


@dataclass(frozen=True, eq=False)
class HparamFit:
    """Learning-rate and batch-size laws fitted to a sweep.

    Attributes
    ----------
    lr, batch_size : HparamLaw or None
        ``None`` when the sweep does not vary that hyperparameter.
    optima : pandas.DataFrame
        One row per scale: the scale columns, ``lr_opt``, ``batch_size_opt``,
        ``loss_opt``, ``lr_edge``, ``batch_size_edge``, ``n_runs``.
    scale : tuple of str
    warnings : tuple of str
    """

    lr: HparamLaw | None
    batch_size: HparamLaw | None
    optima: pd.DataFrame
    scale: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    def laws(self) -> dict[str, HparamLaw]:
        return {k: v for k, v in (("lr", self.lr), ("batch_size", self.batch_size)) if v is not None}

    def to_dict(self) -> dict[str, Any]:
        table = self.optima.astype(object).where(pd.notna(self.optima), None)
        return {
            "scale": list(self.scale),
            "laws": {k: v.to_dict() for k, v in self.laws().items()},
            "optima": table.to_dict(orient="records"),
            "warnings": list(self.warnings),
        }

    def report(self) -> str:
        lines = [f"hyperparameter laws from {len(self.optima)} scales ({', '.join(self.scale)})"]
        for law in self.laws().values():
            lines.append(f"  {law.formula()}   (r2 {law.r2:.4f})" if law.r2 is not None else f"  {law.formula()}")
            for k, (a, b) in law.intervals.items():
                lines.append(f"    {k}: {a:.4g} to {b:.4g} ({law.level:.0%})")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        laws = "; ".join(law.formula() for law in self.laws().values())
        return f"HparamFit({len(self.optima)} scales; {laws})"


@dataclass(frozen=True)
class HparamAdvice:
    """Recommended hyperparameters for a target run, with intervals where available."""

    target: Mapping[str, float]
    lr: float | None
    batch_size: float | None
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    level: float = 0.95
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": dict(self.target),
            "lr": self.lr,
            "batch_size": self.batch_size,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "level": self.level,
            "source": self.source,
        }

    def report(self) -> str:
        where = ", ".join(f"{k}={v:.4g}" for k, v in self.target.items())
        lines = [f"hyperparameters for {where} ({self.source})"]
        for name, value in (("learning rate", self.lr), ("batch size (tokens)", self.batch_size)):
            key = "lr" if name.startswith("learning") else "batch_size"
            if value is None:
                continue
            text = f"  {name:<20} {value:.4g}"
            if key in self.intervals:
                a, b = self.intervals[key]
                text += f"   ({self.level:.0%} interval {a:.4g} to {b:.4g})"
            lines.append(text)
        return "\n".join(lines)

    def __repr__(self) -> str:
        parts = [f"{k}={v:.4g}" for k, v in (("lr", self.lr), ("batch_size", self.batch_size)) if v is not None]
        return f"HparamAdvice({', '.join(parts)}; for {dict(self.target)})"
