"""Learning-rate schedules: linear warmup, then cosine, WSD, step decay or constant.

- ``"cosine"``: from the peak down to ``min_lr_ratio * peak`` along a half cosine.
- ``"wsd"``: warmup-stable-decay (Hägele et al. 2024, arXiv 2405.18392): the peak until the
  last ``cooldown_frac`` of the steps (default 20 %, the paper's recommendation), then a
  ``1 - sqrt`` cooldown to ``min_lr_ratio * peak``.
- ``"step"``: step decay: the peak, multiplied by ``sqrt(min_lr_ratio)`` at 50 % and again
  at 75 % of the steps (so it ends at ``min_lr_ratio * peak`` like the others; with the
  default 0.1, about x0.316 twice). A step counts as decayed from the milestone on, as
  :func:`scalinglaws.dynamics.schedules.step` counts it.
- ``"constant"``: the peak after warmup.
"""

from __future__ import annotations

import math

from scalinglaws.sweep.errors import SweepError

SCHEDULES: tuple[str, ...] = ("cosine", "wsd", "constant", "step")
WSD_COOLDOWN_FRAC = 0.2
STEP_MILESTONES: tuple[float, ...] = (0.5, 0.75)


def lr_at(
    step: int,
    n_steps: int,
    *,
    peak: float,
    schedule: str = "cosine",
    warmup_frac: float = 0.05,
    min_lr_ratio: float = 0.1,
    cooldown_frac: float = WSD_COOLDOWN_FRAC,
) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``n_steps``.

    Parameters
    ----------
    step, n_steps : int
        The step about to be taken, and the run's total.
    peak : float
        The peak learning rate.
    schedule : {"cosine", "wsd", "constant", "step"}
        The shape after warmup.
    warmup_frac : float
        Share of the steps spent warming up linearly (at least one step when > 0).
    min_lr_ratio : float
        Final LR as a fraction of the peak (cosine, WSD and step).
    cooldown_frac : float
        WSD only: share of the steps in the cooldown (at least one step).

    Returns
    -------
    float

    Examples
    --------
    >>> [round(lr_at(s, 10, peak=1.0, warmup_frac=0.2), 3) for s in (0, 1, 2, 9)]
    [0.5, 1.0, 1.0, 0.1]
    >>> [round(lr_at(s, 8, peak=1.0, schedule="step", warmup_frac=0), 3) for s in range(8)]
    [1.0, 1.0, 1.0, 1.0, 0.316, 0.316, 0.1, 0.1]
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
        cooldown = max(1, round(cooldown_frac * n_steps))
        start = n_steps - cooldown
        if step < start:
            return peak
        done = (step - start + 1) / cooldown
        return floor + (peak - floor) * (1.0 - math.sqrt(done))
    if schedule == "step":
        passed = sum(step >= round(m * n_steps) for m in STEP_MILESTONES)
        return peak * math.sqrt(min_lr_ratio) ** passed
    raise SweepError(f"unknown schedule {schedule!r}; use {', '.join(SCHEDULES)}")
