"""Learning-rate schedules: linear warmup, then cosine, WSD or constant.

- ``"cosine"``: from the peak down to ``min_lr_ratio * peak`` along a half cosine.
- ``"wsd"``: warmup-stable-decay (Hägele et al. 2024, arXiv 2405.18392): the peak until the
  last 20 % of the steps, then a ``1 - sqrt`` cooldown to ``min_lr_ratio * peak``.
- ``"constant"``: the peak after warmup.
"""

from __future__ import annotations

import math

from scalinglaws.sweep.errors import SweepError

WSD_COOLDOWN_FRAC = 0.2


def lr_at(
    step: int,
    n_steps: int,
    *,
    peak: float,
    schedule: str = "cosine",
    warmup_frac: float = 0.05,
    min_lr_ratio: float = 0.1,
) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``n_steps``.

    Parameters
    ----------
    step, n_steps : int
        The step about to be taken, and the run's total.
    peak : float
        The peak learning rate.
    schedule : {"cosine", "wsd", "constant"}
        The shape after warmup.
    warmup_frac : float
        Share of the steps spent warming up linearly (at least one step when > 0).
    min_lr_ratio : float
        Final LR as a fraction of the peak (cosine and WSD).

    Returns
    -------
    float

    Examples
    --------
    >>> [round(lr_at(s, 10, peak=1.0, warmup_frac=0.2), 3) for s in (0, 1, 2, 9)]
    [0.5, 1.0, 1.0, 0.1]
    """
    warmup = math.ceil(warmup_frac * n_steps) if warmup_frac > 0 else 0
    if step < warmup:
        return peak * (step + 1) / warmup
    floor = min_lr_ratio * peak
    if schedule == "constant":
        return peak
    if schedule == "cosine":
        progress = (step - warmup) / max(1, n_steps - warmup - 1)
        return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "wsd":
        cooldown = max(1, round(WSD_COOLDOWN_FRAC * n_steps))
        start = n_steps - cooldown
        if step < start:
            return peak
        done = (step - start + 1) / cooldown
        return floor + (peak - floor) * (1.0 - math.sqrt(done))
    raise SweepError(f"unknown schedule {schedule!r}; use cosine, wsd or constant")
