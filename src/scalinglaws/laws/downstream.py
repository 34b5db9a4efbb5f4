"""Downstream accuracy from loss: the sigmoid of the two-step method.

Step one predicts a loss (a task's log-perplexity or bits-per-byte) from model size
and data with a loss law; step two maps that loss to accuracy through a sigmoid that
sits at chance when the loss is high and rises to a ceiling as it falls (Dubey et al.
2024, the Llama 3 report, Sec. 3.2.1; Bhagia et al. 2024, the OLMo ladders, Eq. 2).
:func:`scalinglaws.predict_downstream` chains the two fits with a two-stage interval.

====================  ==================================================  ========  ==========
name                  law                                                 variable  target
====================  ==================================================  ========  ==========
``accuracy_sigmoid``  floor + (ceiling - floor) / (1 + exp(k*(loss - L0)))  loss      accuracy
====================  ==================================================  ========  ==========
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.laws.law import Law, Param, formula_law

__all__ = ["accuracy_sigmoid"]


def _sigmoid_grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Starts from the data: the midpoint L0 among the losses seen, the rate k from their spread."""
    loss = np.asarray(variables["loss"], dtype=float)
    loss = loss[np.isfinite(loss)]
    if loss.size == 0:
        return {}
    lo, mid, hi = (float(v) for v in np.quantile(loss, [0.1, 0.5, 0.9]))
    span = max(hi - lo, 1e-3)
    acc = np.asarray(y, dtype=float)
    acc = acc[np.isfinite(acc)]
    low = float(np.clip(np.min(acc), 0.0, 0.99)) if acc.size else 0.0
    return {
        "L0": (lo, mid, hi),
        "k": (1.0 / span, 4.0 / span),
        "floor": (0.0, 0.9 * low),
    }


def accuracy_sigmoid() -> Law:
    """Accuracy against loss: ``floor + (ceiling - floor) / (1 + exp(k * (loss - L0)))``.

    ``floor`` is the accuracy of a model that knows nothing (chance: 0.25 for four
    choices, 0 for a generated answer); pin it with ``fixed={"floor": 0.25}`` or let
    it be fitted in [0, 1) (some benchmarks, e.g. ARC-Challenge, sit below chance for
    small models). ``ceiling`` (at most 1) is the accuracy as the loss goes to zero or
    below, ``L0`` the loss half-way between them and ``k > 0`` how fast accuracy rises
    as loss falls. Fit it with the accuracy column as the target:
    ``sl.fit(pairs, "accuracy_sigmoid", target="acc")``.
    """
    return formula_law(
        "floor + (ceiling - floor) / (1 + exp(k * (loss - L0)))",
        name="accuracy_sigmoid",
        variables=["loss"],
        params=[
            Param("floor", 0.0, 1.0, grid=(0.0,), doc="accuracy at high loss (chance)"),
            Param("ceiling", 0.0, 1.0, grid=(0.9, 1.0), doc="accuracy at low loss (at most 1)"),
            Param("k", 0.0, 100.0, grid=(1.0, 3.0), doc="steepness: rate at which accuracy rises as loss falls"),
            Param("L0", -math.inf, math.inf, grid=(1.0, 3.0), doc="loss at the midpoint between floor and ceiling"),
        ],
        source="Dubey et al. 2024, The Llama 3 Herd of Models (arXiv 2407.21783), Sec. 3.2.1, Fig. 4 "
        "(NLL to accuracy, a sigmoid); Bhagia et al. 2024, Establishing Task Scaling Laws via "
        "Compute-Efficient Model Ladders (arXiv 2412.04403), Eq. 2: Acc(L) = a / (1 + exp(-k (L - L0))) + b",
        description="task accuracy against a task loss (log-perplexity or bits per byte); column 'accuracy' "
        "or name yours with target=",
        grid_fn=_sigmoid_grid,
        target="accuracy",
    )
