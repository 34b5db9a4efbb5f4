"""The critical batch size: the steps-examples trade-off of McCandlish et al. (2018)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError
from scalinglaws.plan.powerlaw import Seed, rng_of


@dataclass(frozen=True)
class CriticalBatch:
    """McCandlish et al.'s trade-off ``(S/S_min - 1)(E/E_min - 1) = 1`` at one target loss.

    Attributes
    ----------
    s_min : float
        Fewest optimizer steps that reach the loss (infinite batch).
    e_min : float
        Fewest examples (or tokens) that reach it (tiny batch).
    b_crit : float
        Critical batch size ``E_min / S_min``: at it, training costs ``2 S_min`` steps
        and ``2 E_min`` examples.
    intervals : dict
        Bootstrap intervals of the three (resampling the batch sizes).
    rmse : float
        Root mean square of the log-steps residuals.
    """

    s_min: float
    e_min: float
    b_crit: float
    n_points: int
    rmse: float
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    level: float = 0.95

    def steps(self, batch_size: Any) -> Any:
        """Steps to reach the loss at a batch size: ``S_min (1 + B_crit / B)``."""
        return self.s_min * (1.0 + self.b_crit / np.asarray(batch_size, dtype=float))

    def examples(self, batch_size: Any) -> Any:
        """Examples to reach the loss: ``E_min (1 + B / B_crit)``."""
        return self.e_min * (1.0 + np.asarray(batch_size, dtype=float) / self.b_crit)

    def to_dict(self) -> dict[str, Any]:
        return {"s_min": self.s_min, "e_min": self.e_min, "b_crit": self.b_crit, "n_points": self.n_points,
                "rmse": self.rmse, "intervals": {k: list(v) for k, v in self.intervals.items()}, "level": self.level}

    def __repr__(self) -> str:
        ci = ""
        if "b_crit" in self.intervals:
            a, b = self.intervals["b_crit"]
            ci = f" [{a:.4g}, {b:.4g}]"
        return (f"CriticalBatch(b_crit={self.b_crit:.4g}{ci}, s_min={self.s_min:.4g}, e_min={self.e_min:.4g}, "
                f"{self.n_points} points, rmse={self.rmse:.3g})")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def _fit_hyperbola(S: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    """Least squares of log S on log(S_min + E_min / B), in log parameters."""
    A = np.column_stack([np.ones_like(B), 1.0 / B])
    c, *_ = np.linalg.lstsq(A, S, rcond=None)
    s0 = max(c[0], S.min() * 0.1)
    e0 = max(c[1], (S * B).min() * 0.1)

    def resid(p: np.ndarray) -> np.ndarray:
        return np.log(np.exp(p[0]) + np.exp(p[1]) / B) - np.log(S)

    from scipy.optimize import (
        least_squares,  # scipy.optimize is slow to import; only this needs it
    )

    res = least_squares(resid, np.log([s0, e0]), method="lm", xtol=1e-12, ftol=1e-12)
    return float(np.exp(res.x[0])), float(np.exp(res.x[1]))


def critical_batch_size(
    data: Runs | pd.DataFrame | str,
    *,
    steps: str = "steps",
    examples: str | None = "examples",
    batch_size: str | None = None,
    bootstrap: int = 200,
    seed: Seed = 0,
    level: float = 0.95,
) -> CriticalBatch:
    """Fit the steps-examples trade-off of McCandlish et al. (2018) at one target loss.

    Parameters
    ----------
    data : Runs, DataFrame or path
        One row per batch size: the steps and the examples (or tokens) it took to reach
        the same loss. Give ``batch_size=COLUMN`` instead of ``examples`` when the table
        has the batch size (examples are then ``steps * batch_size``).
    bootstrap : int
        Resamples of the rows for intervals (0: none).

    Returns
    -------
    CriticalBatch
        ``S = S_min + E_min / B`` fitted by least squares on log S (equivalent to
        ``(S/S_min - 1)(E/E_min - 1) = 1`` with ``B = E / S``).

    Examples
    --------
    >>> B = np.geomspace(32, 32768, 8)
    >>> df = pd.DataFrame({"steps": 1000 * (1 + 2048 / B), "examples": 1000 * (1 + 2048 / B) * B})
    >>> round(critical_batch_size(df, bootstrap=0).b_crit)
    2048
    """
    if not isinstance(data, Runs):
        data = load_runs(data)
    # a column the loader renamed (e.g. "tokens" -> "n_tokens") is still found by its own name
    back = {original: canonical for canonical, original in data.renamed.items()}
    steps = back.get(steps, steps)
    examples = back.get(examples, examples) if examples is not None else None
    batch_size = back.get(batch_size, batch_size) if batch_size is not None else None
    if batch_size is not None:
        data.require([steps, batch_size], positive=[steps, batch_size], min_rows=3, purpose="the critical batch size")
        S, B = data.column(steps), data.column(batch_size)
    else:
        if examples is None:
            raise DataError("give the examples column (examples=...) or the batch-size column (batch_size=...)")
        data.require([steps, examples], positive=[steps, examples], min_rows=3, purpose="the critical batch size")
        S = data.column(steps)
        B = data.column(examples) / S
    if np.unique(B).size < 3:
        raise DataError(f"the critical batch size needs at least 3 distinct batch sizes; got {np.unique(B).size}")
    s_min, e_min = _fit_hyperbola(S, B)
    rmse = float(np.sqrt(np.mean((np.log(s_min + e_min / B) - np.log(S)) ** 2)))
    intervals: dict[str, tuple[float, float]] = {}
    if bootstrap:
        rng = rng_of(seed)
        rows = []
        for _ in range(bootstrap):
            idx = rng.integers(0, len(S), len(S))
            if np.unique(B[idx]).size < 3:
                continue
            a, b = _fit_hyperbola(S[idx], B[idx])
            rows.append((a, b, b / a))
        if len(rows) >= 2:
            q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
            lo, hi = np.percentile(np.array(rows), q, axis=0)
            intervals = {k: (float(a), float(b)) for k, a, b in zip(("s_min", "e_min", "b_crit"), lo, hi)}
    return CriticalBatch(s_min=s_min, e_min=e_min, b_crit=e_min / s_min, n_points=len(S), rmse=rmse,
                         intervals=intervals, level=level)


__all__ = ["CriticalBatch", "critical_batch_size"]


# --------------------------------------------------------------------------- B_crit(L) from curves


#: Kaplan et al. (2020) Eq. 1.4: B_crit(L) = B_* / L^(1/alpha_B), B in tokens, L in nats
#: (WebText2, BPE 50,257). Table 5 prints B_* = 2.1e8; the text of Eq. 1.4 rounds it to 2e8.
KAPLAN_B_STAR = 2.1e8
KAPLAN_ALPHA_B = 0.21


def kaplan_critical_batch(loss: Any, *, b_star: float = KAPLAN_B_STAR, alpha_b: float = KAPLAN_ALPHA_B) -> Any:
    """Kaplan et al.'s critical batch (tokens) at a loss: ``B_* / L**(1 / alpha_B)`` (Kaplan et al. 2020, Table 5).

    Examples
    --------
    >>> f"{kaplan_critical_batch(3.0):.3g}"
    '1.12e+06'
    """
    L = np.asarray(loss, dtype=float)
    if np.any(~np.isfinite(L)) or np.any(L <= 0):
        raise DataError(f"loss must be positive numbers, got {loss!r}")
    out = b_star / L ** (1.0 / alpha_b)
    return out if np.ndim(out) else float(out)


def to_minimal_steps(steps: Any, batch_size: Any, b_crit: Any) -> Any:
    """McCandlish's fewest steps for the same loss: ``S_min = S / (1 + B_crit / B)`` (Kaplan Eq. 5.4)."""
    out = np.asarray(steps, dtype=float) / (1.0 + np.asarray(b_crit, dtype=float) / np.asarray(batch_size, dtype=float))
    return out if np.ndim(out) else float(out)


def to_minimal_tokens(tokens: Any, batch_size: Any, b_crit: Any) -> Any:
    """McCandlish's fewest tokens (examples) for the same loss: ``E_min = E / (1 + B / B_crit)`` (Kaplan Eq. 5.5)."""
    out = np.asarray(tokens, dtype=float) / (1.0 + np.asarray(batch_size, dtype=float) / np.asarray(b_crit, dtype=float))
    return out if np.ndim(out) else float(out)


@dataclass(frozen=True)
class CriticalBatchFit:
    """Critical batch sizes fitted from loss curves at several batch sizes.

    Attributes
    ----------
    targets : pandas.DataFrame
        One row per target loss: ``loss``, ``s_min``, ``e_min``, ``b_noise``
        (= ``E_min / S_min``, McCandlish's B_crit at that loss), ``n_batches``, ``rmse``.
    b_star, alpha_b : float
        Kaplan's form through the rows: ``B_crit(L) = b_star / L**(1 / alpha_b)``.
    law : PowerLawFit
        The regression of ``b_noise`` on ``loss`` in log-log space it comes from.
    """

    targets: pd.DataFrame
    b_star: float
    alpha_b: float
    law: Any = field(repr=False)

    def b_crit(self, loss: Any) -> Any:
        """The critical batch at a loss (tokens, or the unit of the batch column)."""
        return kaplan_critical_batch(loss, b_star=self.b_star, alpha_b=self.alpha_b)

    def to_minimal_steps(self, steps: Any, batch_size: Any, loss: Any) -> Any:
        """Steps a run at ``batch_size`` took to reach ``loss``, as the fewest possible (B >> B_crit)."""
        return to_minimal_steps(steps, batch_size, self.b_crit(loss))

    def to_minimal_tokens(self, tokens: Any, batch_size: Any, loss: Any) -> Any:
        """Tokens a run at ``batch_size`` took to reach ``loss``, as the fewest possible (B << B_crit)."""
        return to_minimal_tokens(tokens, batch_size, self.b_crit(loss))

    def to_dict(self) -> dict[str, Any]:
        return {"b_star": self.b_star, "alpha_b": self.alpha_b, "law": self.law.to_dict(),
                "targets": self.targets.to_dict(orient="records")}

    def __repr__(self) -> str:
        return (f"CriticalBatchFit(B_crit(L) = {self.b_star:.4g} / L**(1/{self.alpha_b:.4g}); "
                f"{len(self.targets)} target losses)")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def _steps_to(step: np.ndarray, loss: np.ndarray, target: float) -> float:
    """First step at which the running-best loss reaches ``target`` (log-linear between logs); NaN if never."""
    best = np.minimum.accumulate(loss)
    hit = np.flatnonzero(best <= target)
    if hit.size == 0:
        return math.nan
    i = int(hit[0])
    if i == 0 or best[i - 1] == best[i]:
        return float(step[i])
    u = (best[i - 1] - target) / (best[i - 1] - best[i])
    return float(np.exp(np.log(step[i - 1]) + u * (np.log(step[i]) - np.log(step[i - 1]))))


def fit_critical_batch(
    curves: Runs | pd.DataFrame | str,
    *,
    targets: Any = None,
    run: str = "run",
    batch_size: str = "batch_size",
    step: str = "step",
    loss: str = "loss",
) -> CriticalBatchFit:
    """Fit B_crit(L) from loss curves trained at several batch sizes (McCandlish 2018; Kaplan 2020 §5).

    For each target loss, the steps every run took to reach it give McCandlish's
    ``S = S_min (1 + B_noise / B)`` (:func:`critical_batch_size`, examples ``E = S B``);
    then ``B_noise`` against the target loss gives Kaplan's ``B_crit(L) = B_* / L^(1/alpha_B)``
    by the shared log-log regression.

    Parameters
    ----------
    curves : Runs, DataFrame or path
        Long table: one row per logged evaluation, with the run id, its batch size
        (tokens per step; constant within a run), the step and the loss.
    targets : sequence of float, optional
        Target losses; by default 6 values spread between the worst final loss and
        a little above the best one, so that at least 3 batch sizes reach each.

    Raises
    ------
    DataError
        Missing columns, a batch size that changes within a run, fewer than 3 batch
        sizes, or a target that fewer than 3 batch sizes reach.

    Examples
    --------
    Curves whose steps follow ``S = S_min(L) (1 + B_crit(L) / B)`` with Kaplan's constants:

    >>> L = np.linspace(2.6, 5.0, 40)
    >>> rows = [(b, (2.1e3 / (L - 2.0)) ** (1 / 0.76) * (1 + kaplan_critical_batch(L) / b), L)
    ...         for b in (2.0**17, 2.0**19, 2.0**21, 2.0**23)]
    >>> df = pd.concat([pd.DataFrame({"run": str(b), "batch_size": b, "step": s, "loss": l}) for b, s, l in rows])
    >>> cb = fit_critical_batch(df, targets=[2.8, 3.2, 3.6])
    >>> round(cb.alpha_b, 3), f"{cb.b_star:.3g}"
    (0.21, '2.1e+08')
    """
    from scalinglaws.plan.powerlaw import fit_power_law

    if not isinstance(curves, Runs):
        curves = load_runs(curves)
    curves.require([batch_size, step, loss], positive=[batch_size, step, loss], purpose="the critical batch size")
    if run not in curves.columns:
        raise DataError(f"the curves have no run column {run!r} (columns: {', '.join(curves.columns)}); name it with run=")
    frame = pd.DataFrame({"run": curves.data[run].astype(str).to_numpy(), "B": curves.column(batch_size),
                          "step": curves.column(step), "loss": curves.column(loss)})
    per_run = frame.groupby("run")["B"].nunique()
    if (per_run > 1).any():
        raise DataError(f"run {per_run.index[int(np.argmax(per_run.to_numpy() > 1))]!r} changes its batch size; "
                        "each run must keep one batch size")
    runs = [(float(g["B"].iloc[0]), g.sort_values("step")) for _, g in frame.groupby("run", sort=True)]
    if len({b for b, _ in runs}) < 3:
        raise DataError(f"the critical batch size needs runs at 3 or more batch sizes; got {len({b for b, _ in runs})}")
    if targets is None:
        # the third-worst best loss: at least three runs reach every loss above it
        lo = float(np.sort([float(g["loss"].min()) for _, g in runs])[-3])
        hi = float(np.median([float(g["loss"].iloc[0]) for _, g in runs]))
        targets = np.geomspace(lo * 1.01, lo + 0.5 * (hi - lo), 6)
    rows = []
    for target in np.atleast_1d(np.asarray(targets, dtype=float)):
        S = np.array([_steps_to(g["step"].to_numpy(), g["loss"].to_numpy(), target) for _, g in runs])
        B = np.array([b for b, _ in runs])
        ok = np.isfinite(S)
        if np.unique(B[ok]).size < 3:
            raise DataError(f"only {np.unique(B[ok]).size} batch sizes reach loss {target:.4g}; "
                            "pick higher targets (3 or more batch sizes must reach each)")
        cb = critical_batch_size(pd.DataFrame({"steps": S[ok], "examples": S[ok] * B[ok]}), bootstrap=0)
        rows.append({"loss": float(target), "s_min": cb.s_min, "e_min": cb.e_min, "b_noise": cb.b_crit,
                     "n_batches": int(ok.sum()), "rmse": cb.rmse})
    table = pd.DataFrame(rows)
    law = fit_power_law(table["loss"], table["b_noise"], x_name="loss", y_name="b_crit")
    if not law.exponent < 0:
        raise DataError(f"the fitted critical batch grows with the loss (exponent {law.exponent:.3g}); "
                        "Kaplan's B_crit(L) needs it to grow as the loss falls")
    return CriticalBatchFit(targets=table, b_star=law.coefficient, alpha_b=-1.0 / law.exponent, law=law)


__all__ += [
    "KAPLAN_ALPHA_B",
    "KAPLAN_B_STAR",
    "CriticalBatchFit",
    "fit_critical_batch",
    "kaplan_critical_batch",
    "to_minimal_steps",
    "to_minimal_tokens",
]
