"""The critical data size: past it, more tokens raise the loss at a fixed model size and precision.

:func:`critical_data_size` finds it for a fitted law whose loss turns up in D (Sun et al.
2025's ``fp_quant``; Kumar et al. 2024's PTQ law ``kumar_ptq``): the argmin over ``D`` of
the fitted law, with the closed form of
:func:`~scalinglaws.laws.precision.fp_quant_critical_data` beside it for ``fp_quant``.
The interval is a percentile over the fit's bootstrap refits (fit with ``bootstrap=``).
Also importable from :mod:`scalinglaws.plan.precision`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import DataError
from scalinglaws.laws.precision import fp_quant_critical_data
from scalinglaws.plan._precision_common import _j, _others, _pair, _percentile, _refine, _thetas

__all__ = ["CriticalData", "critical_data_size"]


@dataclass(frozen=True)
class CriticalData:
    """The data size past which more tokens raise the loss, at a fixed model size and precision.

    Attributes
    ----------
    n_params : float
    at : dict
        The values of the law's other variables (precision, format, block size).
    n_tokens : float
        The critical data size: argmin over D of the fitted law (inf when the loss still
        falls at the top of the searched range, D/N = 1e12: no turn; NaN when it rises
        from the bottom, D/N = 1e-2).
    loss : float
        The loss there.
    interval : (lower, upper) or None
        Percentile interval of the critical size over bootstrap refits.
    closed_form : float or None
        The closed form at the fitted parameters, where the law has one (``fp_quant``).
    law : str
    level : float
    """

    n_params: float
    at: Mapping[str, float]
    n_tokens: float
    loss: float
    interval: tuple[float, float] | None
    closed_form: float | None
    law: str = ""
    level: float = 0.95

    def __repr__(self) -> str:
        text = f"CriticalData(n_params={self.n_params:.4g}, n_tokens={self.n_tokens:.4g}, loss={self.loss:.4g}"
        if self.interval is not None:
            text += f"; {self.level:.0%} ({self.interval[0]:.4g}, {self.interval[1]:.4g})"
        if self.closed_form is not None:
            text += f"; closed form {self.closed_form:.4g}"
        return text + ")"

    def report(self) -> str:
        at = ", ".join(f"{k}={v:g}" for k, v in self.at.items())
        text = f"critical data size at n_params={self.n_params:.4g}{', ' + at if at else ''} ({self.law}): "
        if math.isnan(self.n_tokens):
            return text + "below D/N = 1e-2: the loss rises with D over the whole range"
        if math.isinf(self.n_tokens):
            return text + "none: the loss still falls at D/N = 1e12"
        text += f"{self.n_tokens:.4g} tokens (loss {self.loss:.5g})"
        if self.interval is not None:
            text += f", {self.level:.0%} interval {self.interval[0]:.4g} to {self.interval[1]:.4g}"
        if self.closed_form is not None:
            text += f"; closed form {self.closed_form:.4g}"
        return text

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(self.report())}</p>"

    def to_dict(self) -> dict[str, Any]:
        return {"n_params": self.n_params, "at": dict(self.at), "n_tokens": _j(self.n_tokens), "loss": _j(self.loss),
                "interval": _pair(self.interval), "closed_form": _j(self.closed_form), "law": self.law,
                "level": self.level}



def critical_data_size(
    fit: Fit, n_params: float, *, at: Mapping[str, Any] | None = None, level: float = 0.95
) -> CriticalData:
    """The data size beyond which the fitted law says more tokens *raise* the loss.

    Parameters
    ----------
    fit : Fit
        A fit of a law in ``n_params`` and ``n_tokens`` whose loss turns up in D
        (``fp_quant``; ``kumar_ptq`` at a post-training precision).
    n_params : float
        Model size.
    at : mapping
        The law's other variables (``exponent_bits``, ``mantissa_bits``, ``block_size``;
        or ``post_precision``).
    level : float
        Interval level (over the fit's bootstrap refits).

    Returns
    -------
    CriticalData
    """
    if isinstance(n_params, bool) or not isinstance(n_params, (int, float)) or not math.isfinite(n_params) or n_params <= 0:
        raise DataError(f"n_params must be a positive number, got {n_params!r}")
    level = check_level(level)
    law = fit.law
    if "n_params" not in law.variables or "n_tokens" not in law.variables:
        raise DataError(f"critical_data_size needs a law in n_params and n_tokens; {law.name!r} has {list(law.variables)}")
    fixed = _others(fit, at, ["n_params", "n_tokens"])
    P, n_draws = _thetas(fit)
    logd = np.linspace(math.log(n_params) - 4.6, math.log(n_params) + 27.6, 2001)  # D/N from 1e-2 to 1e12
    X = {"n_params": np.full(len(logd), float(n_params)), "n_tokens": np.exp(logd),
         **{k: np.full(len(logd), v) for k, v in fixed.items()}}
    with np.errstate(all="ignore"):
        y = np.broadcast_to(np.asarray(law.function(X, P), dtype=float), (len(next(iter(P.values()))), len(logd)))
    x, _ = _refine(logd, y)
    at_top = np.argmin(np.where(np.isfinite(y), y, np.inf), axis=1) == len(logd) - 1
    d = np.where(at_top, np.inf, np.exp(x))
    point = {k: v[0, 0] for k, v in P.items()}

    def loss_at(logD: float) -> float:
        one = {"n_params": float(n_params), "n_tokens": math.exp(logD), **fixed}
        return float(law(point, **one))

    d0, l0 = float(d[0]), math.nan
    if math.isfinite(x[0]):
        h = logd[1] - logd[0]
        from scipy.optimize import minimize_scalar  # imported on use: it is heavy to import
        res = minimize_scalar(loss_at, bounds=(x[0] - h, x[0] + h), method="bounded", options={"xatol": 1e-10})
        d0, l0 = float(math.exp(res.x)), float(res.fun)
    closed = None
    if law.name == "fp_quant" and all(k in fixed for k in ("exponent_bits", "mantissa_bits", "block_size")):
        closed = float(fp_quant_critical_data(dict(fit.params), n_params, fixed["exponent_bits"],
                                              fixed["mantissa_bits"], fixed["block_size"]))
    interval = _percentile(d[1:], level) if n_draws else None
    if n_draws and np.mean(np.isinf(d[1:])) > (1 - level) / 2:
        interval = (interval[0] if interval else math.nan, math.inf)
    return CriticalData(n_params=float(n_params), at=fixed, n_tokens=d0, loss=l0, interval=interval,
                        closed_form=closed, law=law.name, level=level)
