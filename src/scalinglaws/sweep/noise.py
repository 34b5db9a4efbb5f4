"""The simple gradient noise scale, ``B_simple = tr(Sigma) / |G|^2`` (McCandlish et al. 2018).

"An Empirical Model of Large-Batch Training" (arXiv 1812.06162) predicts the critical
batch size from the gradient's noise: with ``G`` the true gradient and ``Sigma`` the
per-example covariance, a batch of ``B`` examples has ``E|G_B|^2 = |G|^2 + tr(Sigma) / B``.
Its Appendix A estimates both terms without bias from the squared norms of gradients
measured at two batch sizes ``B_small < B_big``:

* ``|G|^2 ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)``
* ``S = tr(Sigma) ~ (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)``

Each estimate is noisy (``S`` may even come out negative on one step), so they are
averaged separately over many steps and only then divided: ``B_simple = mean(S) /
mean(|G|^2)``.

The trainer measures this on a sample of steps in a run's last evaluation interval:
``G_big`` is the step's own gradient (the whole batch of ``B`` sequences), and each
half of the batch gives a ``G_small``: the first ``b = B // 2`` sequences' from a
second backward pass through the same graph (no extra forward pass; the update itself
is unchanged), the other ``B - b``'s as ``(B G_big - b G_first) / (B - b)``. Each half
adds one pair of estimates to the averages. Batch sizes are counted in
tokens (sequences times ``seq_len``), so ``B_simple`` is in tokens, as critical batch
sizes of language models usually are; the sampling unit is the sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def unbiased_estimates(g2_small: float, g2_big: float, b_small: float,
                       b_big: float) -> tuple[float, float]:
    """``(|G|^2, S)`` from squared gradient norms at batch sizes ``b_small < b_big``.

    Examples
    --------
    Norms exactly at their expectations ``|G|^2 + S / B`` give ``|G|^2`` and ``S`` back:

    >>> unbiased_estimates(2.0 + 8.0 / 4, 2.0 + 8.0 / 16, 4, 16)
    (2.0, 8.0)
    """
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < b_small < b_big, got {b_small} and {b_big}")
    g2 = (b_big * g2_big - b_small * g2_small) / (b_big - b_small)
    s = (g2_small - g2_big) / (1.0 / b_small - 1.0 / b_big)
    return g2, s


@dataclass
class NoiseScale:
    """Running sums of the two estimates over the measured steps (a mutable accumulator).

    Attributes
    ----------
    g2_sum, s_sum : float
        Sums of the ``|G|^2`` and ``S`` estimates.
    count : int
        Steps measured.
    """

    g2_sum: float = 0.0
    s_sum: float = 0.0
    count: int = field(default=0)

    def add(self, g2_small: float, g2_big: float, b_small: float, b_big: float) -> None:
        """Add one step's measurement (see :func:`unbiased_estimates`)."""
        g2, s = unbiased_estimates(g2_small, g2_big, b_small, b_big)
        if math.isfinite(g2) and math.isfinite(s):
            self.g2_sum += g2
            self.s_sum += s
            self.count += 1

    def add_halves(self, first: Sequence[Any], whole: Sequence[Any], half: int,
                   batch_size: int, seq_len: int) -> None:
        """Add one step from torch gradients: ``first``, of the batch's first ``half``
        sequences, and ``whole``, of all ``batch_size``; the second half's is
        ``(B G_whole - b G_first) / (B - b)``. Sizes count tokens."""
        rest = batch_size - half
        second = [(batch_size * w - half * f) / rest for w, f in zip(whole, first)]
        g2_big = _squared_norm(whole)
        for grads, size in ((first, half), (second, rest)):
            self.add(_squared_norm(grads), g2_big, size * seq_len, batch_size * seq_len)

    @property
    def b_simple(self) -> float | None:
        """``mean(S) / mean(|G|^2)``; None before any step, or if the ``|G|^2`` mean is not
        positive (the signal is lost in the noise: far too few steps measured)."""
        if self.count == 0 or not self.g2_sum > 0:
            return None
        return self.s_sum / self.g2_sum

    def state(self) -> list[float]:
        """The sums, for a checkpoint."""
        return [self.g2_sum, self.s_sum, float(self.count)]

    @classmethod
    def from_state(cls, state: list[float] | None) -> NoiseScale:
        """Rebuild from :meth:`state` (None: empty)."""
        if not state:
            return cls()
        return cls(float(state[0]), float(state[1]), int(state[2]))


def measured_steps(n_steps: int, eval_steps: set[int], samples: int) -> set[int]:
    """The 0-based steps measured: at most ``samples``, spread over the last evaluation
    interval (after the second-to-last evaluation, up to the final step); none if
    ``samples`` is 0.

    Examples
    --------
    >>> sorted(measured_steps(100, {50, 100}, 5))
    [50, 62, 74, 87, 99]
    """
    if samples <= 0:
        return set()
    earlier = [s for s in eval_steps if s < n_steps]
    first = max(earlier) if earlier else 0
    count = min(samples, n_steps - first)
    if count <= 1:
        return {n_steps - 1}
    span = n_steps - 1 - first
    return {first + round(k * span / (count - 1)) for k in range(count)}


def _squared_norm(grads: Sequence[Any]) -> float:
    """The squared L2 norm of a list of torch gradients, in float64."""
    import torch

    return float(torch.stack([g.double().pow(2).sum() for g in grads]).sum())
