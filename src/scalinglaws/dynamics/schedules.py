"""Learning-rate schedules as plain arrays, and the areas under them that loss-curve laws use.

A schedule is a 1-D float array ``lrs`` of shape ``(n_steps,)``: ``lrs[i]`` is the
learning rate of optimizer update ``i + 1``, so after ``s`` updates the model has seen
``lrs[:s]``. The named constructors (:func:`constant`, :func:`cosine`, :func:`wsd`,
:func:`step`, :func:`power`) build common shapes; any array of per-step rates works
everywhere a schedule is expected (:func:`as_schedule` checks one).

:func:`areas` turns a schedule into the two per-step quantities of the learning-rate
annealing law of Tissue, Wang and Wang (2024, "Scaling Law with Learning Rate Annealing",
arXiv 2408.11029):

- forward area ``S1(s) = sum_{i<=s} eta_i``;
- annealing area ``S2(s) = sum_{i<=s} m_i`` with momentum
  ``m_i = decay * m_{i-1} + (eta_{i-1} - eta_i)``, ``m_0 = 0``.

Examples
--------
>>> lrs = cosine(3e-4, 10_000, warmup=500)
>>> lrs.shape, float(lrs.max())
((10000,), 0.0003)
>>> s1, s2 = areas(constant(1.0, 4))
>>> s1.tolist(), s2.tolist()
([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scalinglaws.errors import DataError

__all__ = [
    "COOLDOWN_SHAPES",
    "DEFAULT_DECAY",
    "areas",
    "as_schedule",
    "constant",
    "cosine",
    "cooldown_multiplier",
    "peak_index",
    "power",
    "power_schedule",
    "step",
    "wsd",
]

#: Momentum decay factor of the annealing area; 0.999 is the value Tissue et al. use.
DEFAULT_DECAY = 0.999

#: Cooldown shapes of Hägele et al. (2024): multiplier of the cooldown, u in [0, 1].
COOLDOWN_SHAPES = ("linear", "cosine", "sqrt", "square", "exp")


# --------------------------------------------------------------------------- checks


def _count(value: Any, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive(value: Any, name: str, *, zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) < 0 or (float(value) == 0 and not zero):
        raise DataError(f"{name} must be a {'non-negative' if zero else 'positive'} number, got {value!r}")
    return float(value)


def _fraction(value: Any, name: str) -> float:
    v = _positive(value, name, zero=True)
    if v > 1:
        raise DataError(f"{name} must lie in [0, 1], got {value!r}")
    return v


def _warm(peak: float, steps: int, warmup: int) -> tuple[np.ndarray, int]:
    """The warmup part (linear from peak/warmup up to peak) and the steps left after it."""
    steps = _count(steps, "steps", minimum=1)
    warmup = _count(warmup, "warmup")
    if warmup >= steps:
        raise DataError(f"warmup ({warmup} steps) must be shorter than the run ({steps} steps)")
    return peak * np.arange(1, warmup + 1) / max(warmup, 1), steps - warmup


def as_schedule(lrs: Any, *, name: str = "schedule") -> np.ndarray:
    """Check an array of per-step learning rates and return it as float64, shape (n_steps,).

    Raises
    ------
    DataError
        If it is not 1-D, empty, or holds a negative or non-finite rate.
    """
    try:
        arr = np.asarray(lrs, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be an array of learning rates, got {type(lrs).__name__}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise DataError(f"{name} must be a non-empty 1-D array of per-step learning rates, got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{name}: the learning rate of step {i + 1} is {float(arr[i])!r}; rates must be finite and >= 0")
    return arr.copy()


# --------------------------------------------------------------------------- constructors


def constant(peak: float, steps: int, *, warmup: int = 0) -> np.ndarray:
    """Linear warmup, then ``peak`` until the end.

    Returns
    -------
    array of shape (steps,)
    """
    peak = _positive(peak, "peak")
    head, rest = _warm(peak, steps, warmup)
    return np.concatenate([head, np.full(rest, peak)])


def cosine(peak: float, steps: int, *, warmup: int = 0, final: float = 0.0) -> np.ndarray:
    """Linear warmup, then a half cosine from ``peak`` to ``final * peak`` at the last step.

    Examples
    --------
    >>> cosine(1.0, 5).round(3).tolist()
    [1.0, 0.854, 0.5, 0.146, 0.0]
    """
    peak = _positive(peak, "peak")
    final = _fraction(final, "final")
    head, rest = _warm(peak, steps, warmup)
    u = np.arange(rest) / max(rest - 1, 1)
    body = peak * (final + (1 - final) * 0.5 * (1 + np.cos(np.pi * u)))
    return np.concatenate([head, body])


def cooldown_multiplier(u: Any, shape: str = "sqrt", final: float = 0.0) -> np.ndarray:
    """Multiplier of the peak LR at cooldown progress ``u`` in [0, 1] (Hägele et al. 2024).

    ``linear`` 1-u, ``cosine`` (1+cos(pi u))/2, ``sqrt`` 1-sqrt(u), ``square`` 1-u^2,
    ``exp`` r^u with r = ``final`` (which must then be > 0); the other shapes end at
    ``final`` by mixing: ``final + (1 - final) * shape(u)``.
    """
    u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
    final = _fraction(final, "final")
    if shape == "exp":
        if final <= 0:
            raise DataError("the 'exp' cooldown decays to final * peak and needs final > 0 (e.g. final=0.01)")
        return final**u
    shapes = {
        "linear": lambda v: 1 - v,
        "cosine": lambda v: 0.5 * (1 + np.cos(np.pi * v)),
        "sqrt": lambda v: 1 - np.sqrt(v),
        "square": lambda v: 1 - v * v,
    }
    if shape not in shapes:
        raise DataError(f"unknown cooldown shape {shape!r}; use one of {', '.join(COOLDOWN_SHAPES)}")
    return final + (1 - final) * shapes[shape](u)


def wsd(
    peak: float,
    steps: int,
    *,
    warmup: int = 0,
    cooldown: float = 0.2,
    shape: str = "sqrt",
    final: float = 0.0,
) -> np.ndarray:
    """Warmup-stable-decay: warmup, ``peak``, then a cooldown over the last ``cooldown`` share of the steps.

    Parameters
    ----------
    peak : float
    steps : int
    warmup : int
        Steps of linear warmup.
    cooldown : float
        Fraction of all steps spent cooling down, in [0, 1] (Hägele et al. recommend
        about 0.2 with the ``sqrt`` shape). 0 gives a constant schedule.
    shape : {"linear", "cosine", "sqrt", "square", "exp"}
    final : float
        LR at the end of the cooldown, as a fraction of the peak.

    Examples
    --------
    >>> wsd(1.0, 10, cooldown=0.4, shape="linear").round(2).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """
    peak = _positive(peak, "peak")
    cooldown = _fraction(cooldown, "cooldown")
    head, rest = _warm(peak, steps, warmup)
    n_cool = min(rest, int(round(cooldown * steps)))
    u = np.arange(1, n_cool + 1) / max(n_cool, 1)
    cool = peak * cooldown_multiplier(u, shape, final)
    return np.concatenate([head, np.full(rest - n_cool, peak), cool])


def step(
    peak: float,
    steps: int,
    *,
    milestones: Any = (0.5, 0.75),
    gamma: float = 0.1,
    warmup: int = 0,
) -> np.ndarray:
    """Multi-step decay: the LR is multiplied by ``gamma`` at each milestone.

    ``milestones`` are step numbers (integers) or fractions of the run (floats in (0, 1)).

    Examples
    --------
    >>> step(1.0, 8, milestones=[4, 6], gamma=0.5).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    peak = _positive(peak, "peak")
    gamma = _positive(gamma, "gamma")
    head, rest = _warm(peak, steps, warmup)
    marks: list[int] = []
    for m in np.atleast_1d(np.asarray(milestones, dtype=float)):
        at = int(round(m * steps)) if 0 < m < 1 else int(m)
        if not 0 < at <= steps:
            raise DataError(f"milestone {m!r} is outside the run of {steps} steps")
        marks.append(at)
    index = np.arange(steps)  # update i + 1 happens after i updates
    factor = gamma ** np.sum(index[:, None] >= np.asarray(marks, dtype=int)[None, :], axis=1)
    out = peak * factor
    out[: len(head)] = head * factor[: len(head)]
    return out


def power(
    peak: float,
    steps: int,
    *,
    warmup: int = 0,
    exponent: float = 0.5,
    cooldown: float = 0.0,
    shape: str = "linear",
    final: float = 0.0,
) -> np.ndarray:
    """Power decay after warmup, ``peak * (t / t0)**(-exponent)``, with an optional cooldown.

    ``t`` counts updates and ``t0 = max(warmup, 1)``, so the rate is continuous at the
    end of warmup; ``exponent = 0.5`` is the inverse-square-root schedule. A final
    ``cooldown`` share of the steps decays the rate reached there to ``final`` times it,
    with a :func:`cooldown_multiplier` ``shape`` (the Power scheduler of Shen et al.
    2024 is of this kind).

    Examples
    --------
    >>> power(1.0, 4, exponent=1.0).round(3).tolist()
    [1.0, 0.5, 0.333, 0.25]
    """
    peak = _positive(peak, "peak")
    exponent = _positive(exponent, "exponent", zero=True)
    cooldown = _fraction(cooldown, "cooldown")
    head, rest = _warm(peak, steps, warmup)
    t0 = max(len(head), 1)
    t = np.arange(len(head) + 1, steps + 1, dtype=float)
    body = peak * (np.maximum(t, t0) / t0) ** (-exponent)
    n_cool = min(rest, int(round(cooldown * steps)))
    if n_cool:
        start = body[rest - n_cool - 1] if rest > n_cool else peak
        u = np.arange(1, n_cool + 1) / n_cool
        body[rest - n_cool :] = start * cooldown_multiplier(u, shape, final)
    return np.concatenate([head, body])


def power_schedule(
    steps: int,
    *,
    batch_size: float,
    tokens_per_step: float,
    a: float = 4.6,
    b: float = -0.51,
    lr_max: float = 0.02,
    warmup: int = 0,
    cooldown: float = 0.0,
    shape: str = "linear",
    final: float = 0.0,
) -> np.ndarray:
    """The Power Scheduler of Shen et al. (2024, arXiv 2408.13359).

    After a linear warmup the rate at step ``i`` is ``min(lr_max, batch_size * a * n_i**b)``
    with ``n_i = i * tokens_per_step`` the tokens seen, so the same ``a`` and ``b`` serve
    every batch size and token budget; a final ``cooldown`` share of the steps decays
    the rate reached there to ``final`` times it with a :func:`cooldown_multiplier`
    ``shape``. The defaults ``a = 4.6``, ``b = -0.51``, ``lr_max = 0.02`` (batch size in
    sequences) are the values quoted for the paper, not confirmed against it (a public
    reimplementation uses ``a = 4``).

    Examples
    --------
    >>> lrs = power_schedule(100_000, batch_size=1024, tokens_per_step=1024 * 4096, warmup=1000)
    >>> f"{lrs[999]:.3g}", f"{lrs[-1]:.3g}"
    ('0.02', '0.00557')
    """
    batch_size = _positive(batch_size, "batch_size")
    tokens_per_step = _positive(tokens_per_step, "tokens_per_step")
    lr_max = _positive(lr_max, "lr_max")
    cooldown = _fraction(cooldown, "cooldown")
    steps = _count(steps, "steps", minimum=1)
    warmup = _count(warmup, "warmup")
    if warmup >= steps:
        raise DataError(f"warmup ({warmup} steps) must be shorter than the run ({steps} steps)")
    n = np.arange(1, steps + 1, dtype=float) * tokens_per_step
    body = np.minimum(lr_max, batch_size * float(a) * n ** float(b))
    if warmup:
        body[:warmup] = body[warmup - 1] * np.arange(1, warmup + 1) / warmup
    rest = steps - warmup
    n_cool = min(rest, round(cooldown * steps))
    if n_cool:
        start = body[steps - n_cool - 1]
        u = np.arange(1, n_cool + 1) / n_cool
        body[steps - n_cool :] = start * cooldown_multiplier(u, shape, final)
    return body


# --------------------------------------------------------------------------- areas


def peak_index(lrs: Any) -> int:
    """Number of warmup steps: the steps before the LR first reaches its maximum."""
    arr = as_schedule(lrs)
    return int(np.argmax(arr >= arr.max()))


def areas(lrs: Any, *, decay: float = DEFAULT_DECAY, warmup: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Forward area S1 and annealing area S2 after each step (Tissue et al. 2024).

    Parameters
    ----------
    lrs : array of shape (n_steps,)
        Per-step learning rates; ``lrs[i]`` is used by update ``i + 1``.
    decay : float
        Momentum decay factor lambda in [0, 1); 0.999 by default (the paper's value).
        ``decay = 0`` makes S2 the plain LR drop so far.
    warmup : int, optional
        Leading warmup steps whose LR *rise* is left out of the annealing momentum
        (their rates still count in S1). By default the steps before the LR first
        reaches its maximum (:func:`peak_index`); ``0`` counts every change, so a
        re-warming later in the run always lowers S2.

    Returns
    -------
    s1, s2 : arrays of shape (n_steps,)
        ``s1[s-1]`` and ``s2[s-1]`` are the areas after ``s`` updates.

    Notes
    -----
    ``m_i = decay * m_{i-1} + (eta_{i-1} - eta_i)`` with ``m_0 = 0`` and
    ``eta_0 = eta_1`` (the first update anneals nothing); ``S2(s) = sum_{i<=s} m_i``.
    The recursion is evaluated exactly, as a first-order linear filter.

    Examples
    --------
    >>> s1, s2 = areas([1.0, 1.0, 0.5, 0.5], decay=0.5)
    >>> s1.tolist(), s2.tolist()
    ([1.0, 2.0, 2.5, 3.0], [0.0, 0.0, 0.5, 0.75])
    """
    arr = as_schedule(lrs)
    if isinstance(decay, bool) or not isinstance(decay, (int, float, np.floating)) or not 0 <= float(decay) < 1:
        raise DataError(f"decay must lie in [0, 1), got {decay!r}")
    skip = peak_index(arr) if warmup is None else _count(warmup, "warmup")
    s1 = np.cumsum(arr)
    drop = np.zeros_like(arr)
    drop[1:] = arr[:-1] - arr[1:]
    drop[: min(skip + 1, arr.size)] = 0.0
    from scipy.signal import lfilter

    m = lfilter([1.0], [1.0, -float(decay)], drop)
    return s1, np.cumsum(m)
