"""Weight decay and batch size together: Bergsma et al. (2025), "Power Lines" (arXiv 2505.13738).

AdamW's timescale in units of the run, ``tau = B / (eta * lambda * D)`` (batch size B and
training tokens D in the same unit, learning rate eta, weight decay lambda), has an
optimum that is a power law in tokens per parameter, ``tau_opt = c * (D / N)**m``; the
best batch size and the critical batch size are power laws in D alone. So for a planned
run the recommended weight decay is ``lambda = B / (eta * tau_opt * D)``.

The paper's fitted constants could not be retrieved (searched: its arXiv HTML and
secondary summaries print the forms, not the numbers), so this module ships no preset numbers: fit the laws on your sweep with
:func:`fit_power_lines`, or build :class:`PowerLines` from constants you trust.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.runs import Runs, load_runs
from scalinglaws.errors import DataError
from scalinglaws.plan.hparam_laws import HparamLaw
from scalinglaws.plan.hparams import _fit_law, _local_optimum
from scalinglaws.plan.powerlaw import Seed, rng_of

__all__ = ["PowerLines", "PowerLinesAdvice", "adamw_timescale", "fit_power_lines", "weight_decay_for"]


def _pos(value: Any, name: str) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.size == 0 or np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise DataError(f"{name} must be positive numbers, got {value!r}")
    return a


def _out(a: np.ndarray) -> Any:
    return a if np.ndim(a) else float(a)


def adamw_timescale(*, batch_size: Any, lr: Any, weight_decay: Any, n_tokens: Any) -> Any:
    """AdamW's timescale as a fraction of the run: ``tau = B / (eta * lambda * D)``.

    Examples
    --------
    >>> adamw_timescale(batch_size=2**20, lr=1e-3, weight_decay=0.1, n_tokens=2**20 * 10_000)
    1.0
    """
    B, eta = _pos(batch_size, "batch_size"), _pos(lr, "lr")
    lam, D = _pos(weight_decay, "weight_decay"), _pos(n_tokens, "n_tokens")
    return _out(B / (eta * lam * D))


@dataclass(frozen=True)
class PowerLinesAdvice:
    """Weight decay (and batch size) for a planned run from the Power Lines laws."""

    n_params: float
    n_tokens: float
    lr: float
    batch_size: float
    tau: float
    weight_decay: float
    b_opt: float | None = None
    b_crit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v:.4g}" for k, v in (("b_opt", self.b_opt), ("b_crit", self.b_crit)) if v is not None)
        return (f"PowerLinesAdvice(weight_decay={self.weight_decay:.4g}, tau={self.tau:.4g}, "
                f"batch_size={self.batch_size:.4g}, lr={self.lr:.4g}{extra})")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


@dataclass(frozen=True)
class PowerLines:
    """The three Power Lines laws: ``tau_opt(D/N)``, and optionally ``B_opt(D)`` and ``B_crit(D)``.

    Attributes
    ----------
    tau : HparamLaw
        ``tau = c * tokens_per_param**m``.
    b_opt, b_crit : HparamLaw or None
        ``batch_size = c * n_tokens**p`` (same unit as the batch size of the fit).
    optima : DataFrame or None
        Per-scale optima when fitted.
    """

    tau: HparamLaw
    b_opt: HparamLaw | None = None
    b_crit: HparamLaw | None = None
    optima: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def tau_opt(self, n_params: Any, n_tokens: Any) -> Any:
        """The optimal AdamW timescale at model size ``n_params`` and ``n_tokens``."""
        tpp = _pos(n_tokens, "n_tokens") / _pos(n_params, "n_params")
        return self.tau.predict(tokens_per_param=tpp)

    def recommend(self, *, n_params: float, n_tokens: float, lr: float,
                  batch_size: float | None = None) -> PowerLinesAdvice:
        """Weight decay ``B / (lr * tau_opt * D)`` for a run; the batch defaults to ``B_opt(D)``."""
        b_opt = None if self.b_opt is None else float(self.b_opt.predict(n_tokens=n_tokens))
        b_crit = None if self.b_crit is None else float(self.b_crit.predict(n_tokens=n_tokens))
        if batch_size is None:
            if b_opt is None:
                raise DataError("give batch_size=: these Power Lines have no B_opt law to choose it")
            batch_size = b_opt
        tau = float(self.tau_opt(n_params, n_tokens))
        lam = weight_decay_for(batch_size=batch_size, lr=lr, n_tokens=n_tokens, tau=tau)
        return PowerLinesAdvice(n_params=float(n_params), n_tokens=float(n_tokens), lr=float(lr),
                                batch_size=float(batch_size), tau=tau, weight_decay=float(lam), b_opt=b_opt, b_crit=b_crit)

    def laws(self) -> dict[str, HparamLaw]:
        return {k: v for k, v in (("tau", self.tau), ("b_opt", self.b_opt), ("b_crit", self.b_crit)) if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() for k, v in self.laws().items()}

    def __repr__(self) -> str:
        return f"PowerLines({'; '.join(law.formula() for law in self.laws().values())})"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def weight_decay_for(*, batch_size: Any, lr: Any, n_tokens: Any, tau: Any = None, n_params: Any = None,
                     laws: PowerLines | None = None) -> Any:
    """The weight decay that gives AdamW the timescale ``tau``: ``lambda = B / (lr * tau * D)``.

    Give ``tau`` directly, or ``laws`` (a :class:`PowerLines`) and ``n_params`` to use
    ``tau_opt(D / N)``.

    Examples
    --------
    >>> weight_decay_for(batch_size=2**20, lr=1e-3, n_tokens=2**20 * 10_000, tau=0.5)
    0.2
    """
    if tau is None:
        if laws is None or n_params is None:
            raise DataError("give tau=, or laws= (PowerLines) with n_params= to predict tau_opt")
        tau = laws.tau_opt(n_params, n_tokens)
    B, eta = _pos(batch_size, "batch_size"), _pos(lr, "lr")
    return _out(B / (eta * _pos(tau, "tau") * _pos(n_tokens, "n_tokens")))


def fit_power_lines(
    sweep: Runs | pd.DataFrame | str,
    *,
    weight_decay: str = "weight_decay",
    lr: str = "lr",
    batch_size: str = "batch_size",
    loss: str = "loss",
    points: int = 5,
    bootstrap: int = 200,
    seed: Seed = 0,
    level: float = 0.95,
) -> PowerLines:
    """Fit ``tau_opt = c (D/N)^m`` and ``B_opt = c D^p`` to a sweep of weight decay (or LR) and batch size.

    Each row is a run with ``n_params``, ``n_tokens``, the batch size, LR, weight decay
    and loss. Per (N, D) and batch size, the best ``tau`` is the vertex of a parabola of
    the loss in ``log tau`` (as :func:`scalinglaws.fit_hparams` locates optima); the best
    batch size by the same rule on those minima, and ``tau_opt`` is the best tau at the
    batch size nearest it. Scales whose optimum is at the edge of the sampled values are
    left out. ``B_crit(D)`` needs curves at several batch sizes: fit it with
    :func:`scalinglaws.fit_critical_batch` per D and pass it to :class:`PowerLines`.
    """
    if not isinstance(sweep, Runs):
        sweep = load_runs(sweep)
    cols = ["n_params", "n_tokens", batch_size, lr, weight_decay, loss]
    sweep.require(cols, positive=cols, purpose="Power Lines")
    f = pd.DataFrame({c: sweep.column(c) for c in cols})
    f["tau"] = f[batch_size] / (f[lr] * f[weight_decay] * f["n_tokens"])
    rows = []
    for (N, D), g in f.groupby(["n_params", "n_tokens"], sort=True):
        per_b = []
        for B, gb in g.groupby(batch_size, sort=True):
            x, v, edge = _local_optimum(np.log(gb["tau"].to_numpy()), gb[loss].to_numpy(), points)
            per_b.append((math.log(B), x, v, edge))
        row = {"n_params": N, "n_tokens": D, "tokens_per_param": D / N}
        if len(per_b) >= 3:
            pb = np.array([p[:3] for p in per_b])
            xb, _, eb = _local_optimum(pb[:, 0], pb[:, 2], points)
            near = int(np.argmin(np.abs(pb[:, 0] - xb)))
            row.update(b_opt=math.exp(xb), b_opt_edge=eb)
        else:
            near = int(np.argmin([p[2] for p in per_b]))
            row.update(b_opt=math.nan, b_opt_edge=True)
        row.update(tau_opt=math.exp(per_b[near][1]), tau_edge=bool(per_b[near][3]))
        rows.append(row)
    optima = pd.DataFrame(rows)
    rng = rng_of(seed)
    src = f"fitted to {sweep.source}"
    ok = ~optima["tau_edge"].to_numpy(dtype=bool)
    tau = _fit_law("tau", optima.loc[ok, ["tokens_per_param"]].to_numpy(), optima.loc[ok, "tau_opt"].to_numpy(),
                   ["tokens_per_param"], bootstrap, rng, level, src)
    okb = ~optima["b_opt_edge"].to_numpy(dtype=bool)
    b_opt = None
    if optima.loc[okb, "n_tokens"].nunique() >= 2:
        b_opt = _fit_law("batch_size", optima.loc[okb, ["n_tokens"]].to_numpy(), optima.loc[okb, "b_opt"].to_numpy(),
                         ["n_tokens"], bootstrap, rng, level, src)
    return PowerLines(tau=tau, b_opt=b_opt, optima=optima)
