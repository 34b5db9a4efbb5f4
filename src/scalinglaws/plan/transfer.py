"""Learning-rate transfer rules: move a tuned setting to another batch size or token budget.

- :func:`power_scheduler_lr`: Shen et al. (2024), Power Scheduler (arXiv 2408.13359):
  under a WSD-type schedule the best LR is ``beta * a * T**b`` for batch
  size ``beta`` and ``T`` training tokens, capped at ``lr_max``; the schedule itself is
  :func:`scalinglaws.dynamics.schedules.power_schedule`.
- :func:`sqrt_batch_lr` and :func:`adam_sqrt_scaling`: Malladi et al. (2022, "On the SDEs
  and Scaling Rules for Adaptive Gradient Algorithms", arXiv 2205.10287): Adam's
  square-root scaling rule for a batch ``kappa`` times larger.
- :func:`ema_momentum`: Busbridge et al. (2023, "How to Scale Your EMA", arXiv
  2307.13813): an EMA with momentum ``rho`` becomes ``rho**kappa`` at a batch ``kappa``
  times larger.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from scalinglaws.errors import DataError

__all__ = [
    "POWER_SCHEDULER_A",
    "POWER_SCHEDULER_B",
    "POWER_SCHEDULER_LR_MAX",
    "AdamSetting",
    "adam_sqrt_scaling",
    "ema_momentum",
    "power_scheduler_lr",
    "sqrt_batch_lr",
]

#: Shen et al.'s constants as quoted for the paper; all three are
#: unconfirmed against it (batch size in sequences, T in tokens): the paper's text with its
#: printed a and b could not be retrieved, and a public reimplementation uses a = 4 (same b and
#: lr_max), so a may be 4 rather than 4.6. Pass your own when you can.
POWER_SCHEDULER_A = 4.6
POWER_SCHEDULER_B = -0.51
POWER_SCHEDULER_LR_MAX = 0.02


def _positive(value: Any, name: str) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.size == 0 or np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise DataError(f"{name} must be positive numbers, got {value!r}")
    return a


def _out(a: np.ndarray) -> Any:
    return a if np.ndim(a) else float(a)


def power_scheduler_lr(
    batch_size: Any,
    n_tokens: Any,
    *,
    a: float = POWER_SCHEDULER_A,
    b: float = POWER_SCHEDULER_B,
    lr_max: float = POWER_SCHEDULER_LR_MAX,
) -> Any:
    """The Power Scheduler's learning rate ``min(lr_max, batch_size * a * n_tokens**b)`` (Shen et al. 2024).

    With ``n_tokens`` the tokens seen so far this is the scheduler's LR at that point;
    with the run's total tokens it is the rate to hold through the stable phase.

    Examples
    --------
    >>> f"{power_scheduler_lr(1024, 1e12):.3g}"
    '0.00357'
    """
    beta, T = _positive(batch_size, "batch_size"), _positive(n_tokens, "n_tokens")
    return _out(np.minimum(float(lr_max), beta * float(a) * T ** float(b)))


def sqrt_batch_lr(lr: Any, b_from: Any, b_to: Any) -> Any:
    """Adam's learning rate at batch ``b_to`` given ``lr`` at ``b_from``: ``lr * sqrt(b_to / b_from)``.

    Examples
    --------
    >>> sqrt_batch_lr(1e-3, 256, 1024)
    0.002
    """
    return _out(_positive(lr, "lr") * np.sqrt(_positive(b_to, "b_to") / _positive(b_from, "b_from")))


@dataclass(frozen=True)
class AdamSetting:
    """Adam's hyperparameters after a batch-size change (Malladi et al. 2022, square-root rule)."""

    lr: float
    beta1: float
    beta2: float
    eps: float
    kappa: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def __repr__(self) -> str:
        return (f"AdamSetting(lr={self.lr:.4g}, beta1={self.beta1:.6g}, beta2={self.beta2:.6g}, "
                f"eps={self.eps:.3g}; batch x{self.kappa:g})")

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(repr(self))}</pre>"


def adam_sqrt_scaling(kappa: float, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                      eps: float = 1e-8) -> AdamSetting:
    """Malladi et al.'s square-root scaling rule for Adam at a batch ``kappa`` times larger.

    ``lr * sqrt(kappa)``, ``1 - kappa (1 - beta1)``, ``1 - kappa (1 - beta2)``,
    ``eps / sqrt(kappa)``; the rule keeps the SDE approximation, so it needs the
    betas to stay in (0, 1) (``kappa (1 - beta) < 1``).

    Examples
    --------
    >>> adam_sqrt_scaling(4, lr=1e-3, beta1=0.9, beta2=0.999)
    AdamSetting(lr=0.002, beta1=0.6, beta2=0.996, eps=5e-09; batch x4)
    """
    k = float(_positive(kappa, "kappa"))
    lr = float(_positive(lr, "lr"))
    out = {}
    for name, beta in (("beta1", beta1), ("beta2", beta2)):
        if not 0 <= beta < 1:
            raise DataError(f"{name} must lie in [0, 1), got {beta!r}")
        scaled = 1.0 - k * (1.0 - beta)
        if scaled <= 0:
            raise DataError(f"a batch {k:g}x larger leaves {name} = {scaled:.3g} <= 0: the square-root rule "
                            f"does not reach that far (it needs kappa < {1 / (1 - beta):.4g})")
        out[name] = scaled
    return AdamSetting(lr=lr * math.sqrt(k), beta1=out["beta1"], beta2=out["beta2"],
                       eps=float(_positive(eps, "eps")) / math.sqrt(k), kappa=k)


def ema_momentum(momentum: Any, kappa: Any) -> Any:
    """Busbridge et al.'s EMA scaling rule: momentum ``rho`` becomes ``rho**kappa`` at a batch ``kappa`` times larger.

    Examples
    --------
    >>> round(ema_momentum(0.99, 8), 6)
    0.922745
    """
    rho = np.asarray(momentum, dtype=float)
    if rho.size == 0 or np.any(~np.isfinite(rho)) or np.any((rho < 0) | (rho > 1)):
        raise DataError(f"momentum must lie in [0, 1], got {momentum!r}")
    return _out(rho ** _positive(kappa, "kappa"))
