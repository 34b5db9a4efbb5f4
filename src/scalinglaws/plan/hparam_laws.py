"""Hyperparameter laws as values: :class:`HparamLaw` and the presets of DeepSeek LLM, Step Law, Porian et al."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglaws.errors import DataError, FitError


@dataclass(frozen=True)
class HparamLaw:
    """``target = coefficient * prod(variable ** exponent)``.

    Attributes
    ----------
    target : str
        ``"lr"`` (peak learning rate) or ``"batch_size"`` (tokens per batch).
    coefficient : float
    exponents : dict
        Variable (``n_params``, ``n_tokens`` or ``flops``) -> exponent.
    intervals : dict
        ``"coefficient"`` and each variable -> (lower, upper) at ``level``.
    r2 : float or None
        In log space (fitted laws).
    n_points : int
        Scales the law was fitted on (0 for presets).
    source : str
        Where the law comes from, and its conventions.
    draws : array of shape (n_draws, 1 + n_variables) or None
        Bootstrap refits: ``log coefficient`` then the exponents.
    """

    target: str
    coefficient: float
    exponents: Mapping[str, float]
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    level: float = 0.95
    r2: float | None = None
    n_points: int = 0
    source: str = ""
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self.exponents)

    def _values(self, variables: Mapping[str, Any]) -> list[np.ndarray]:
        missing = [v for v in self.exponents if v not in variables]
        if missing:
            raise DataError(f"the {self.target} law needs {list(self.exponents)}; missing {missing}")
        out = []
        for v in self.exponents:
            a = np.asarray(variables[v], dtype=float)
            if np.any(~np.isfinite(a)) or np.any(a <= 0):
                raise DataError(f"{v} must be positive numbers, got {variables[v]!r}")
            out.append(a)
        return out

    def predict(self, **variables: Any) -> Any:
        """The law at the given scale (numpy broadcasting); extra keywords are ignored."""
        vals = self._values(variables)
        out = self.coefficient * np.prod([v**e for v, e in zip(vals, self.exponents.values())], axis=0)
        return out if np.ndim(out) else float(out)

    def predict_interval(self, level: float | None = None, **variables: Any) -> tuple[Any, Any]:
        """Percentile band over the bootstrap refits: (lower, upper)."""
        if self.draws is None or len(self.draws) < 2:
            raise FitError(f"the {self.target} law has no bootstrap draws: no interval")
        lvl = self.level if level is None else level
        vals = self._values(variables)
        shape = np.broadcast_shapes(*(v.shape for v in vals))
        logs = np.stack([np.broadcast_to(np.log(v), shape).ravel() for v in vals])  # (k, m)
        pred = np.exp(self.draws[:, :1] + self.draws[:, 1:] @ logs)  # (n, m)
        lo, hi = np.percentile(pred, [(1 - lvl) / 2 * 100, (1 + lvl) / 2 * 100], axis=0)
        if not shape:
            return float(lo[0]), float(hi[0])
        return lo.reshape(shape), hi.reshape(shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "coefficient": self.coefficient,
            "exponents": dict(self.exponents),
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "level": self.level,
            "r2": self.r2,
            "n_points": self.n_points,
            "source": self.source,
        }

    def formula(self) -> str:
        terms = " * ".join(f"{v}**{e:.4g}" for v, e in self.exponents.items())
        return f"{self.target} = {self.coefficient:.4g} * {terms}"

    def __repr__(self) -> str:
        ci = ", ".join(f"{k} [{a:.4g}, {b:.4g}]" for k, (a, b) in self.intervals.items() if k != "coefficient")
        where = f"; {self.n_points} scales" if self.n_points else ""
        return f"HparamLaw({self.formula()}{'; ' + ci if ci else ''}{where})"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


_DEEPSEEK = (
    "DeepSeek LLM (Bi et al. 2024, arXiv 2401.02954), §3.1: C = M * D in FLOPs with M the "
    "non-embedding FLOPs per token including attention (flops.flops_per_token(arch, 'deepseek')); "
    "batch size in tokens"
)
_STEP = (
    "Step Law (Li et al. 2025, arXiv 2503.04715): N non-embedding parameters, "
    "D training tokens, batch size in tokens"
)
_PORIAN = (
    "Porian et al. 2024 (arXiv 2406.19146), from a secondary source: N parameters "
    "(with head), batch 0.00037 N^0.703 sequences of 2048 tokens"
)

#: name -> {"lr": law, "batch_size": law}
PRESETS: dict[str, dict[str, HparamLaw]] = {
    "deepseek": {
        "lr": HparamLaw("lr", 0.3118, {"flops": -0.1250}, source=_DEEPSEEK),
        "batch_size": HparamLaw("batch_size", 0.2920, {"flops": 0.3271}, source=_DEEPSEEK),
    },
    "step_law": {
        "lr": HparamLaw("lr", 1.79, {"n_params": -0.713, "n_tokens": 0.307}, source=_STEP),
        "batch_size": HparamLaw("batch_size", 0.58, {"n_tokens": 0.571}, source=_STEP),
    },
    "porian": {
        "lr": HparamLaw("lr", 3.7, {"n_params": -0.36}, source=_PORIAN),
        "batch_size": HparamLaw("batch_size", 0.00037 * 2048, {"n_params": 0.703}, source=_PORIAN),
    },
}


def hparam_preset(name: str) -> dict[str, HparamLaw]:
    """The published learning-rate and batch-size laws of ``name`` (see :data:`PRESETS`).

    Examples
    --------
    >>> laws = hparam_preset("deepseek")
    >>> f"{laws['lr'].predict(flops=1e22):.3g}"
    '0.000554'
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in PRESETS:
        raise DataError(f"unknown hyperparameter preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    return dict(PRESETS[key])


__all__ = ["PRESETS", "HparamLaw", "hparam_preset"]
