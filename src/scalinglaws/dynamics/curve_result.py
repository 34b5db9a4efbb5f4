"""The results of curve fitting: :class:`CurveFit` (predicts any schedule's curve) and :class:`Cooldown`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglaws.dynamics import schedules as _sched
from scalinglaws.dynamics.curve_table import curve_variables
from scalinglaws.errors import DataError, LawError
from scalinglaws.laws.law import Law
from scalinglaws.engine.result import Fit

__all__ = ["Cooldown", "CurveFit"]


@dataclass(frozen=True)
class CurveFit:
    """A loss-curve law fitted on curves; predicts the whole curve of any schedule.

    Attributes
    ----------
    fit : Fit
        The ordinary fit of the curve law on the rows (variables ``s1``, ``s2``, ...).
    decay : float
        Momentum decay factor used for S2 (the same is used to predict).
    warmup : int or None
        Warmup rule for S2 (None: steps before the LR peak, per schedule).
    runs : tuple of str
        The curves fitted.
    n_points : int
        Rows fitted.
    dropped : int
        Rows left out (before ``min_step``, or at step 0).
    interpolated : tuple of str
        Runs whose per-step LR was interpolated from a sparser lr log.
    """

    fit: Fit
    decay: float
    warmup: int | None
    runs: tuple[str, ...]
    n_points: int
    dropped: int = 0
    interpolated: tuple[str, ...] = ()
    min_step: int = 1
    options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def params(self) -> Mapping[str, float]:
        return self.fit.params

    @property
    def law(self) -> Law:
        return self.fit.law

    def _variables(self, schedule: Any, steps: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
        per_step = curve_variables(schedule, decay=self.decay, warmup=self.warmup)
        n = per_step["s1"].size
        if steps is None:
            index = np.arange(n)
        else:
            s = np.atleast_1d(np.asarray(steps))
            if s.size == 0 or not np.issubdtype(s.dtype, np.number) or (s < 1).any() or (s > n).any() or (s != np.round(s)).any():
                raise DataError(f"steps must be whole numbers between 1 and the schedule's length {n}")
            index = s.astype(int) - 1
        return {v: per_step[v][index] for v in self.fit.law.variables}, index + 1

    def predict_curve(self, schedule: Any, *, steps: Any = None) -> np.ndarray:
        """The predicted loss after each step of ``schedule`` (or at the given ``steps``).

        Parameters
        ----------
        schedule : array of shape (n_steps,)
            Per-step learning rates, e.g. ``sl.schedules.cosine(3e-4, 10_000, warmup=500)``.
        steps : int or array of int, optional
            1-based steps to predict at; all steps by default.

        Returns
        -------
        array of shape (n_steps,) or (len(steps),)
        """
        X, _ = self._variables(schedule, steps)
        return self.fit.predict(**X, check_range="schedule" not in X)

    def predict_final(self, schedule: Any) -> float:
        """The predicted loss at the end of ``schedule``."""
        return float(self.predict_curve(schedule, steps=len(_sched.as_schedule(schedule)))[0])

    def predict_interval(self, schedule: Any, *, level: float = 0.95, steps: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Bootstrap band of the predicted curve (needs ``bootstrap=`` in :func:`fit_curves`)."""
        X, _ = self._variables(schedule, steps)
        named: dict[str, Any] = dict(X)
        return self.fit.predict_interval(level, kind="parameters", check_range="schedule" not in X, **named)

    def report(self) -> str:
        head = (
            f"Loss-curve fit on {len(self.runs)} curve{'s' if len(self.runs) != 1 else ''} "
            f"({self.n_points} points; decay {self.decay:g}; warmup "
            f"{'to the LR peak' if self.warmup is None else self.warmup})"
        )
        lines = [head, self.fit.report()]
        if self.dropped:
            lines.append(f"  {self.dropped} rows before step {self.min_step} left out")
        if self.interpolated:
            lines.append(f"  per-step LRs interpolated from the lr log for: {', '.join(self.interpolated)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"CurveFit(law={self.law.name!r}, curves={len(self.runs)}, points={self.n_points}, params={{{ps}}})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "scalinglaws.curvefit/1",
            "fit": self.fit.to_dict(),
            "decay": self.decay,
            "warmup": self.warmup,
            "runs": list(self.runs),
            "n_points": self.n_points,
            "dropped": self.dropped,
            "interpolated": list(self.interpolated),
            "min_step": self.min_step,
            "options": dict(self.options),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], law: Any = None) -> CurveFit:
        if not isinstance(d, Mapping) or d.get("format") != "scalinglaws.curvefit/1":
            raise LawError("this is not a scalinglaws curve fit (missing format 'scalinglaws.curvefit/1')")
        try:
            return cls(
                fit=Fit.from_dict(d["fit"], law=law),
                decay=float(d["decay"]),
                warmup=None if d.get("warmup") is None else int(d["warmup"]),
                runs=tuple(d["runs"]),
                n_points=int(d["n_points"]),
                dropped=int(d.get("dropped", 0)),
                interpolated=tuple(d.get("interpolated", ())),
                min_step=int(d.get("min_step", 1)),
                options=dict(d.get("options", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise LawError(f"this curve-fit file is incomplete or corrupt: {type(err).__name__}: {err}") from None

    @classmethod
    def from_json(cls, text: str, law: Any = None) -> CurveFit:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise LawError(f"this curve-fit file is not valid JSON: {err}") from None
        return cls.from_dict(d, law=law)


@dataclass(frozen=True)
class Cooldown:
    """The best cooldown fraction of a WSD schedule for a fixed budget of steps.

    Attributes
    ----------
    fraction : float
        Share of the steps spent cooling down that minimises the predicted final loss.
    final_loss : float
        The predicted final loss there.
    fractions, final_losses : tuple of float
        Every fraction tried, and its predicted final loss.
    steps, peak, warmup, shape, final :
        The schedule searched over.
    """

    fraction: float
    final_loss: float
    fractions: tuple[float, ...] = field(repr=False)
    final_losses: tuple[float, ...] = field(repr=False)
    steps: int = 0
    peak: float = 0.0
    warmup: int = 0
    shape: str = "sqrt"
    final: float = 0.0

    def __repr__(self) -> str:
        return (
            f"Cooldown(fraction={self.fraction:.4g}, final_loss={self.final_loss:.6g}, steps={self.steps}, "
            f"shape={self.shape!r}, tried={len(self.fractions)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "final_loss": self.final_loss,
            "fractions": list(self.fractions),
            "final_losses": list(self.final_losses),
            "steps": self.steps,
            "peak": self.peak,
            "warmup": self.warmup,
            "shape": self.shape,
            "final": self.final,
        }
