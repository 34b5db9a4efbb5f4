"""Precision planning: the best training precision for a budget, and the critical data size.

:func:`plan_precision` answers Kumar et al.'s (2024) question from a fitted precision law
(``kumar_precision``, ``fp_quant`` or any law with ``n_params``, ``n_tokens`` and a
precision variable): for a budget ``C = (6/16) N D P`` (FLOPs scale with the bits ``P``
of the training format), which ``(N, D, P)`` gives the lowest loss. For each candidate
``P`` every precision variable of the law is set to ``P`` (for ``fp_quant``, every split
``P = 1 + E + M`` into sign, exponent and mantissa bits is tried and the best kept), the
budget line is searched over ``log N`` on a fine grid (D/N from 1e-8 to 1e8) and the
minimum refined by a parabola through its neighbours. With ``N, D, P`` all free, a law
whose precision enters only through ``N_eff = N f(P)`` has a ``P*`` that maximises
``f(P)/P`` and does not depend on the budget, as Kumar et al. observe (Sec. 4.3.2). With
the model size fixed (``n_params=``), only ``D = C / ((6/16) N P)`` and ``P`` move along
the budget, and ``P*`` grows with compute (their Sec. 4.3.3). A candidate precision where
the law is undefined (``N_eff <= 0`` below the offsets of ``kumar_precision(offsets=True)``)
gets a NaN loss in the options table and is never chosen.

:func:`critical_data_size` finds the data size past which more tokens raise the loss
at a fixed model size and precision (Sun et al. 2025; also the PTQ law ``kumar_ptq``):
the argmin over ``D`` of the fitted law, with the closed form of
:func:`~scalinglaws.laws.precision.fp_quant_critical_data` beside it for ``fp_quant``.

(:func:`critical_data_size` and :class:`CriticalData` live in
:mod:`scalinglaws.plan.critical_data` and are importable from here.)

Intervals are percentiles over the fit's bootstrap refits (fit with ``bootstrap=``): the
same search is run under every refit's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.engine.result import Fit, check_level
from scalinglaws.engine.trust import check_range
from scalinglaws.errors import DataError
from scalinglaws.plan._precision_common import _j, _others, _pair, _percentile, _refine, _thetas
from scalinglaws.plan.critical_data import CriticalData, critical_data_size
from scalinglaws.plan.optimal_result import report_line

__all__ = ["FLOPS_PER_PARAM_TOKEN_BIT", "CriticalData", "PrecisionPlan", "critical_data_size", "plan_precision"]

#: Kumar et al.'s compute model: C = (6/16) N D P, i.e. 6 N D FLOPs at 16 bits.
FLOPS_PER_PARAM_TOKEN_BIT = 6.0 / 16.0
_INTEGER_PRECISION = ("precision", "precision_w", "precision_a", "precision_kv")
_FP_BITS = ("exponent_bits", "mantissa_bits")
_GRID = 801


@dataclass(frozen=True)
class PrecisionPlan:
    """The loss-minimising (N, D, precision) for a budget C = (6/16) N D P.

    Attributes
    ----------
    flops : float
        The budget.
    precision : float
        Best training precision, bits (for ``fp_quant``: 1 + exponent + mantissa bits).
    n_params, n_tokens, loss : float
        The best model size, data and predicted loss at that precision.
    exponent_bits, mantissa_bits : float or None
        The best split of ``precision`` (``fp_quant`` fits only).
    intervals : dict
        ``precision``, ``n_params``, ``n_tokens``, ``loss``: percentile intervals of the
        optimum over bootstrap refits (empty without draws).
    options : DataFrame
        One row per candidate precision: ``precision, n_params, n_tokens, loss,
        loss_lower, loss_upper, chosen`` (share of refits choosing it), and for
        ``fp_quant`` ``exponent_bits, mantissa_bits``.
    law : str
    level : float
    fixed_size : bool
        True when the model size was given (``n_params=``), not chosen.
    """

    flops: float
    precision: float
    n_params: float
    n_tokens: float
    loss: float
    exponent_bits: float | None
    mantissa_bits: float | None
    intervals: Mapping[str, tuple[float, float]]
    options: pd.DataFrame = field(repr=False)
    law: str = ""
    level: float = 0.95
    fixed_size: bool = False

    def __repr__(self) -> str:
        fmt = f", E{self.exponent_bits:g}M{self.mantissa_bits:g}" if self.exponent_bits is not None else ""
        text = (f"PrecisionPlan(flops={self.flops:.4g}: precision={self.precision:g} bits{fmt}, "
                f"n_params={self.n_params:.4g}, n_tokens={self.n_tokens:.4g}, loss={self.loss:.4g}")
        if "precision" in self.intervals:
            lo, hi = self.intervals["precision"]
            text += f"; {self.level:.0%} precision ({lo:g}, {hi:g})"
        return text + ")"

    def report(self) -> str:
        """A plain-text summary (what ``scalinglaws plan --precision`` prints)."""
        def line(label: str, key: str, value: float, fmt: str = ".4g") -> str:
            return report_line(label, value, self.intervals.get(key), self.level, fmt)

        size = f" at a fixed n_params={self.n_params:.4g}" if self.fixed_size else ""
        lines = [f"precision-optimal plan for {self.flops:.4g} FLOPs{size} ({self.law}; C = (6/16) N D P)"]
        lines.append(line("precision (bits)", "precision", self.precision, "g"))
        if self.exponent_bits is not None:
            lines.append(f"  format             E{self.exponent_bits:g}M{self.mantissa_bits:g} (+1 sign bit)")
        lines.append(line("parameters", "n_params", self.n_params))
        lines.append(line("tokens", "n_tokens", self.n_tokens))
        lines.append(line("predicted loss", "loss", self.loss, ".5g"))
        shown = self._shown().drop(columns=["loss_lower", "loss_upper"], errors="ignore")
        lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(repr(self))}</p>" + self._shown().to_html(index=False, float_format="{:.4g}".format)

    def _shown(self) -> pd.DataFrame:
        """The options table without the interval and 'chosen' columns when there were no
        bootstrap refits (all NaN: nothing chose, no interval)."""
        empty = [c for c in ("loss_lower", "loss_upper", "chosen") if c in self.options and self.options[c].isna().all()]
        return self.options.drop(columns=empty)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flops": self.flops, "precision": self.precision, "n_params": _j(self.n_params),
            "n_tokens": _j(self.n_tokens), "loss": _j(self.loss), "exponent_bits": self.exponent_bits,
            "mantissa_bits": self.mantissa_bits, "intervals": {k: _pair(v) for k, v in self.intervals.items()},
            "law": self.law, "level": self.level, "fixed_size": self.fixed_size,
            "options": [{k: (_j(v) if isinstance(v, float) else v) for k, v in row.items()}
                        for row in self.options.to_dict(orient="records")],
        }



# --------------------------------------------------------------------------- plan_precision


def plan_precision(
    fit: Fit,
    flops: float,
    *,
    precisions: Sequence[float] | None = None,
    at: Mapping[str, Any] | None = None,
    n_params: float | None = None,
    level: float = 0.95,
) -> PrecisionPlan:
    """The training precision, model size and data that minimise loss for ``flops`` FLOPs.

    Parameters
    ----------
    fit : Fit
        A fit of a law with ``n_params``, ``n_tokens`` and a training precision:
        ``precision`` (or ``precision_w``, ``precision_a``, ``precision_kv``: all set to
        the candidate) as in ``kumar_precision``, or ``exponent_bits`` and
        ``mantissa_bits`` as in ``fp_quant``. Fit with ``bootstrap=`` for intervals.
    flops : float
        Budget, counted as ``C = (6/16) N D P``.
    precisions : sequence of float, optional
        Candidate precisions in bits (default the integers 3 to 16).
    at : mapping, optional
        Values of the law's other variables (``block_size`` for ``fp_quant``).
    n_params : float, optional
        Fix the model size: only the data ``D = C / ((6/16) N P)`` and the precision are
        chosen (Kumar et al. Sec. 4.3.3, a model family of given sizes). Default: N free.
    level : float
        Interval level.

    Returns
    -------
    PrecisionPlan
        Candidates where the law gives no finite loss (an undefined region, or no optimum
        inside D/N from 1e-8 to 1e8) have NaN ``n_params, n_tokens, loss`` and are never chosen.
    """
    if isinstance(flops, bool) or not isinstance(flops, (int, float)) or not math.isfinite(flops) or flops <= 0:
        raise DataError(f"flops must be a positive number, got {flops!r}")
    level = check_level(level)
    law = fit.law
    if "n_params" not in law.variables or "n_tokens" not in law.variables:
        raise DataError(f"plan_precision needs a law in n_params and n_tokens; {law.name!r} has {list(law.variables)}")
    integer = [v for v in law.variables if v in _INTEGER_PRECISION]
    floating = all(v in law.variables for v in _FP_BITS)
    if not integer and not floating:
        raise DataError(f"law {law.name!r} has no training-precision variable (precision, precision_w/a/kv, or "
                        "exponent_bits and mantissa_bits): fit kumar_precision or fp_quant")
    cands = np.arange(3.0, 17.0) if precisions is None else np.asarray(precisions, dtype=float).ravel()
    if not cands.size or not np.all(np.isfinite(cands)) or np.any(cands < (3 if floating else 1)):
        raise DataError(f"precisions must be bits >= {3 if floating else 1}, got {precisions!r}")
    if at and ("n_params" in at or "n_tokens" in at):
        raise DataError("plan_precision chooses n_params and n_tokens itself: fix the model size with n_params=N "
                        "(CLI: --at n_params=N), not in at=")
    if n_params is not None and (isinstance(n_params, bool) or not isinstance(n_params, (int, float))
                                 or not math.isfinite(n_params) or n_params <= 0):
        raise DataError(f"n_params must be a positive number, got {n_params!r}")
    if n_params is not None and flops / (FLOPS_PER_PARAM_TOKEN_BIT * float(np.max(cands)) * n_params) < 1:
        raise DataError(f"n_params={n_params:.4g} leaves less than one training token at {flops:.4g} FLOPs "
                        "(C = (6/16) N D P): raise the budget or lower the model size")
    fixed = _others(fit, at, ["n_params", "n_tokens", *integer, *(_FP_BITS if floating else ())])
    if floating and np.any(cands != np.round(cands)):
        raise DataError(f"floating-point precisions are whole bits (1 sign + exponent + mantissa), got {precisions!r}")
    P, n_draws = _thetas(fit)
    table, loss_by_bits, n_by_bits = [], [], []
    for bits in dict.fromkeys(float(b) for b in cands):
        splits = ([{"exponent_bits": float(e), "mantissa_bits": bits - 1 - e} for e in range(1, int(bits))] if floating
                  else [dict.fromkeys(integer, bits)])
        if n_params is None:
            n0 = math.sqrt(flops / (FLOPS_PER_PARAM_TOKEN_BIT * bits))
            logn = np.linspace(math.log(n0) - 9.2, math.log(n0) + 9.2, _GRID)  # D/N from 1e8 to 1e-8
        else:
            logn = np.array([math.log(n_params)])
        found = []
        for values in splits:
            X = {"n_params": np.exp(logn), "n_tokens": flops / (FLOPS_PER_PARAM_TOKEN_BIT * bits * np.exp(logn)),
                 **{k: np.full(logn.size, v) for k, v in {**values, **fixed}.items()}}
            with np.errstate(all="ignore"):
                y = np.broadcast_to(np.asarray(law.function(X, P), dtype=float),
                                    (len(P[law.param_names[0]]), logn.size))
            if n_params is None:
                found.append(_refine(logn, y))
            else:  # nothing to search: the loss at (N, D) itself, NaN where the law is undefined
                ok_y = np.isfinite(y[:, 0])
                found.append((np.where(ok_y, logn[0], np.nan), np.where(ok_y, y[:, 0], np.nan)))
        losses = np.stack([f[1] for f in found])  # (splits, S): per refit, its own best split
        pick = np.argmin(np.where(np.isfinite(losses), losses, np.inf), axis=0)
        s_idx = np.arange(losses.shape[1])
        best_loss = np.where(np.isfinite(losses).any(axis=0), losses[pick, s_idx], np.nan)
        best_n = np.exp(np.stack([f[0] for f in found])[pick, s_idx])
        if n_params is not None:  # exactly the size given, not exp(log(N))
            best_n = np.where(np.isfinite(best_n), float(n_params), np.nan)
        loss_by_bits.append(best_loss)
        n_by_bits.append(best_n)
        row = {"precision": bits, "n_params": float(best_n[0]),
               "n_tokens": float(flops / (FLOPS_PER_PARAM_TOKEN_BIT * bits * best_n[0])), "loss": float(best_loss[0])}
        if floating:
            row.update(splits[int(pick[0])])
        band = _percentile(best_loss[1:], level) if n_draws else None
        row["loss_lower"], row["loss_upper"] = band if band else (math.nan, math.nan)
        table.append(row)
    L = np.stack(loss_by_bits)  # (n_bits, S)
    N = np.stack(n_by_bits)
    bits_arr = np.array([r["precision"] for r in table])
    if not np.isfinite(L[:, 0]).any():
        where = "inside D/N from 1e-8 to 1e8" if n_params is None else f"at n_params={n_params:.4g}"
        raise DataError(f"no finite loss {where} at {flops:.4g} FLOPs for any precision: "
                        "is the fit sensible (see fit.problems)?")
    choice = np.argmin(np.where(np.isfinite(L), L, np.inf), axis=0)
    ok = np.isfinite(L).any(axis=0)
    options = pd.DataFrame(table)
    options["chosen"] = [float(np.mean(choice[1:][ok[1:]] == k)) if n_draws else math.nan for k in range(len(bits_arr))]
    b0 = int(choice[0])
    s = np.arange(L.shape[1])
    chosen_bits = np.where(ok, bits_arr[choice], np.nan)
    chosen_n = np.where(ok, N[choice, s], np.nan)
    chosen_d = flops / (FLOPS_PER_PARAM_TOKEN_BIT * chosen_bits * chosen_n)
    chosen_l = np.where(ok, L[choice, s], np.nan)
    intervals: dict[str, tuple[float, float]] = {}
    if n_draws:
        keys = (("precision", chosen_bits), ("n_params", chosen_n), ("n_tokens", chosen_d), ("loss", chosen_l))
        for key, arr in keys:
            if key == "n_params" and n_params is not None:
                continue  # fixed, not estimated: no interval
            band = _percentile(arr[1:], level)
            if band is not None:
                intervals[key] = band
    best = table[b0]
    # the chosen run against the fitted runs: warns, with the factor, beyond them (N, D, bits, compute)
    check_range(fit, {"n_params": best["n_params"], "n_tokens": best["n_tokens"],
                      **({k: best[k] for k in _FP_BITS} if floating else dict.fromkeys(integer, float(bits_arr[b0]))),
                      **fixed}, stacklevel=3)
    return PrecisionPlan(
        flops=float(flops), precision=float(bits_arr[b0]), n_params=best["n_params"], n_tokens=best["n_tokens"],
        loss=best["loss"], exponent_bits=best.get("exponent_bits"), mantissa_bits=best.get("mantissa_bits"),
        intervals=intervals, options=options, law=law.name, level=level, fixed_size=n_params is not None,
    )
