"""Downstream error from loss in two stages: (N, M) -> L -> Err.

:func:`predict_downstream` chains a loss fit (e.g. Gadre et al.'s ``overtraining``) and a
loss-to-error fit (``downstream_exp``), with an interval from both fits' bootstrap draws
taken together. :mod:`scalinglaws.dynamics.downstream` re-exports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglaws.engine.result import Fit, check_level
from scalinglaws.errors import LawError

__all__ = ["DownstreamPrediction", "predict_downstream"]


def _scalar_or_array(x: np.ndarray) -> Any:
    return float(x) if np.ndim(x) == 0 else x


def _fmt(x: Any) -> str:
    arr = np.asarray(x, dtype=float)
    return f"{float(arr):.6g}" if arr.ndim == 0 else np.array2string(arr, precision=6, separator=", ")



# --------------------------------------------------------------------------- two-stage prediction


@dataclass(frozen=True)
class DownstreamPrediction:
    """Loss and downstream error predicted in two stages, with bootstrap intervals.

    Attributes
    ----------
    inputs : dict
        The point(s) predicted at (law variables of the loss fit).
    loss, error : float or array
        Point predictions: the loss fit at ``inputs``, then the error fit at that loss.
    loss_interval, error_interval : (lower, upper) or None
        Percentile intervals at ``level`` over paired bootstrap draws of both fits
        (None when neither fit has draws).
    level : float
    n_draws : int
        Draws used for the intervals.
    target : str
        What ``error`` holds: the downstream fit's target (``"error"``, ``"accuracy"``, ...).
    """

    inputs: Mapping[str, Any]
    loss: Any
    error: Any
    loss_interval: tuple[Any, Any] | None = None
    error_interval: tuple[Any, Any] | None = None
    level: float = 0.95
    n_draws: int = 0
    target: str = "error"

    def __repr__(self) -> str:
        point = ", ".join(f"{k}={_fmt(v)}" for k, v in self.inputs.items())
        text = f"DownstreamPrediction({point}: loss={_fmt(self.loss)}, {self.target}={_fmt(self.error)}"
        if self.error_interval is not None and self.loss_interval is not None:
            pct = f"{self.level:.0%}"
            text += (
                f"; {pct} loss ({_fmt(self.loss_interval[0])}, {_fmt(self.loss_interval[1])})"
                f", {self.target} ({_fmt(self.error_interval[0])}, {_fmt(self.error_interval[1])}); {self.n_draws} draws"
            )
        return text + ")"

    def to_dict(self) -> dict[str, Any]:
        def j(x: Any) -> Any:
            arr = np.asarray(x, dtype=float)
            return float(arr) if arr.ndim == 0 else arr.tolist()

        return {
            "inputs": {k: j(v) if not isinstance(v, str) else v for k, v in self.inputs.items()},
            "loss": j(self.loss),
            "error": j(self.error),
            "loss_interval": None if self.loss_interval is None else [j(v) for v in self.loss_interval],
            "error_interval": None if self.error_interval is None else [j(v) for v in self.error_interval],
            "level": self.level,
            "n_draws": self.n_draws,
            "target": self.target,
        }


_DERIVED = {
    "tokens_per_param": (("n_tokens", "n_params"), lambda v: v["n_tokens"] / v["n_params"]),
    "n_tokens": (("tokens_per_param", "n_params"), lambda v: v["tokens_per_param"] * v["n_params"]),
    "flops": (("n_params", "n_tokens"), lambda v: 6.0 * v["n_params"] * v["n_tokens"]),
}


def _inputs(fit: Fit, given: Mapping[str, Any]) -> dict[str, Any]:
    """The loss fit's variables from what the caller gave: column names, or derived
    (tokens_per_param = n_tokens / n_params, n_tokens = tokens_per_param * n_params)."""
    inverse = {col: var for var, col in dict(fit.options.get("variables") or {}).items()}
    values = {inverse.get(k, k): v for k, v in given.items()}
    out: dict[str, Any] = {}
    for var in fit.law.variables:
        if var in values:
            out[var] = values[var]
            continue
        need, make = _DERIVED.get(var, ((), None))
        pool = dict(values)
        if "n_tokens" in need and "n_tokens" not in pool and {"tokens_per_param", "n_params"} <= set(pool):
            pool["n_tokens"] = np.asarray(pool["tokens_per_param"], dtype=float) * np.asarray(pool["n_params"], dtype=float)
        if make is not None and set(need) <= set(pool):
            out[var] = make({k: np.asarray(pool[k], dtype=float) for k in need})
            continue
        raise LawError(
            f"the loss fit ({fit.law.name!r}) needs {var!r}; give it, e.g. {var}=..., "
            f"(got {', '.join(given) or 'nothing'})"
        )
    extra = sorted(set(values) - set(out) - {"n_tokens", "n_params", "tokens_per_param", "flops"})
    if extra:
        raise LawError(f"the loss fit ({fit.law.name!r}) has no variable {extra[0]!r}; its variables are {list(fit.law.variables)}")
    return out


def _loss_variable(fit: Fit) -> str:
    free = [v for v in fit.law.variables if v not in fit.law.categorical]
    if len(free) != 1:
        raise LawError(f"the downstream fit must be a law of one variable (the loss); {fit.law.name!r} has {free}")
    return free[0]


def predict_downstream(
    loss_fit: Fit,
    downstream_fit: Fit,
    *,
    level: float = 0.95,
    **variables: Any,
) -> DownstreamPrediction:
    """Predict loss, then downstream error from it; intervals from both fits' bootstrap draws.

    Parameters
    ----------
    loss_fit : Fit
        A loss law, e.g. ``sl.fit(runs, "overtraining")``.
    downstream_fit : Fit
        An error-from-loss law, e.g. ``sl.fit(pairs, "downstream_exp", target="err")``.
    level : float
        Interval level.
    **variables
        Where to predict: the loss fit's variables (or the columns they were mapped
        from). ``tokens_per_param`` and ``n_tokens`` are derived from each other with
        ``n_params``. Arrays broadcast.

    Returns
    -------
    DownstreamPrediction

    Notes
    -----
    Draw i of the interval evaluates downstream draw i at the loss of loss draw i (the
    two bootstraps are independent, so pairing by index samples their joint
    distribution); with draws in only one fit, the other's point estimate is used.

    Examples
    --------
    ``sl.predict_downstream(ot, ds, n_params=6.9e9, tokens_per_param=20)``
    """
    level = check_level(level)
    X = _inputs(loss_fit, variables)
    loss = np.asarray(loss_fit.predict(**X), dtype=float)
    var = _loss_variable(downstream_fit)
    error = np.asarray(downstream_fit.predict(**{var: loss}), dtype=float)
    has_l = loss_fit.draws is not None and len(loss_fit.draws) > 0
    has_d = downstream_fit.draws is not None and len(downstream_fit.draws) > 0
    loss_band = error_band = None
    n = 0
    if has_l or has_d:
        loss_draws = loss_fit.predict_draws(**X) if has_l else loss[None, ...]
        if has_d:
            d = downstream_fit._valid_draws()
        else:
            d = np.array([[downstream_fit.params[p] for p in downstream_fit.free_params]])
        n = max(len(loss_draws), len(d)) if (len(loss_draws) == 1 or len(d) == 1) else min(len(loss_draws), len(d))
        li = np.arange(n) % len(loss_draws)
        di = np.arange(n) % len(d)
        L = loss_draws[li].reshape(n, -1)
        P = {p: d[di, i : i + 1] for i, p in enumerate(downstream_fit.free_params)}
        with np.errstate(all="ignore"):
            E = np.asarray(downstream_fit.law.function({var: L}, P), dtype=float)
        E = np.broadcast_to(E, L.shape).reshape((n, *loss.shape))
        q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
        lo, hi = np.nanpercentile(loss_draws, q, axis=0)
        loss_band = (_scalar_or_array(lo), _scalar_or_array(hi))
        lo, hi = np.nanpercentile(E, q, axis=0)
        error_band = (_scalar_or_array(lo), _scalar_or_array(hi))
    return DownstreamPrediction(
        inputs={k: _scalar_or_array(np.asarray(v)) if not isinstance(v, str) else v for k, v in X.items()},
        loss=_scalar_or_array(loss),
        error=_scalar_or_array(error),
        loss_interval=loss_band,
        error_interval=error_band,
        level=level,
        n_draws=int(n),
        target=str(downstream_fit.options.get("target") or downstream_fit.law.target),
    )
