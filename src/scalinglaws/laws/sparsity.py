"""Activation sparsity against training data: the Sparsing law of Luo et al. (2024).

Luo et al. ("Sparsing Law: Towards Large Language Models with Greater Activation
Sparsity", arXiv 2411.02335) measure the activation ratio (1 - sparsity ratio, with
their PPL-1% threshold) of decoder-only models along pre-training and fit:

==================  ==================================================  ========  ================
name                law                                                 variable  target
==================  ==================================================  ========  ================
``sparsing_relu``   A_0 + exp(b - c * n_tokens**alpha)                  n_tokens  activation_ratio
``sparsing_silu``   A_0 - c * n_tokens**(-alpha)                        n_tokens  activation_ratio
==================  ==================================================  ========  ================

ReLU models grow sparser with data (a decreasing "logspace" power law that settles at
``A_0``); SiLU models grow denser, converging to ``A_0`` from below. ``A_0``, the limit
activation ratio, is the number that matters for inference speed-ups; Luo et al. find
it insensitive to the parameter count at a similar width-depth ratio.

The paper states the token count in billions; here ``n_tokens`` is in tokens, so the
fitted ``c`` equals the paper's ``c`` times ``1e-9**alpha`` (``A_0``, ``alpha`` and
``b`` do not depend on the unit). Data: ``sl.datasets.load("sparsing_activation")``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.laws.law import Law, Param, formula_law

__all__ = ["sparsing_relu", "sparsing_silu"]

_SOURCE = (
    "Luo et al. 2024, Sparsing Law: Towards Large Language Models with Greater Activation Sparsity "
    "(arXiv 2411.02335; ICML 2025), activation-data power laws; fitted constants per model in the "
    "authors' data repository (Raincleared-Song/SparsingLawData, calc.py)"
)


def _columns(variables: Mapping[str, Any], y: Any) -> tuple[np.ndarray, np.ndarray]:
    d = np.asarray(variables["n_tokens"], dtype=float).ravel()
    a = np.asarray(y, dtype=float).ravel()
    return d[np.isfinite(d) & (d > 0)], a[np.isfinite(a)]


_ALPHAS_RELU = (0.1, 0.5, 1.0, 2.0)
_ALPHAS_SILU = (0.3, 0.6, 1.0)


def _relu_grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Starts: A_0 below the lowest ratio; c such that c * D^alpha spans 0.3-3 at the largest D."""
    d, a = _columns(variables, y)
    if not d.size or not a.size:
        return {}
    lo, hi = float(a.min()), float(a.max())
    dmax = float(d.max())
    cs = tuple(sorted({k / dmax**al for al in _ALPHAS_RELU for k in (0.3, 3.0)}))
    return {
        "A_0": (0.8 * lo, 0.95 * lo),
        "b": (math.log(max(hi - 0.8 * lo, 1e-6)), math.log(max(0.05 * lo, 1e-6))),
        "c": cs,
    }


def _silu_grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Starts: A_0 a little above the highest ratio; c from the rise seen across the data."""
    d, a = _columns(variables, y)
    if not d.size or not a.size:
        return {}
    lo, hi = float(a.min()), float(a.max())
    dmin = float(d.min())
    rise = max(hi - lo, 1e-3 * max(abs(hi), 1e-6))
    return {
        "A_0": (hi, hi + 0.5 * rise),
        "c": tuple(rise * dmin**al for al in _ALPHAS_SILU),
    }


def sparsing_relu() -> Law:
    """Luo et al. (2024), ReLU: ``A_0 + exp(b - c * n_tokens**alpha)``, falling to ``A_0`` with data."""
    return formula_law(
        "A_0 + exp(b - c * n_tokens**alpha)",
        name="sparsing_relu",
        variables=["n_tokens"],
        params=[
            Param("A_0", 0.0, 1.0, doc="limit activation ratio with unlimited training data"),
            Param("b", -30.0, 5.0, doc="log of the excess activation ratio at the start of training"),
            Param("c", 0.0, math.inf, log=True, doc="rate (per token**alpha; the paper's c is per billion tokens**alpha)"),
            Param("alpha", 1e-3, 5.0, grid=_ALPHAS_RELU, doc="data exponent inside the exponential"),
        ],
        source=_SOURCE,
        description="activation ratio of a ReLU-activated LM after n_tokens of pre-training; "
        "column 'activation_ratio' (target='activation_ratio')",
        grid_fn=_relu_grid,
        target="activation_ratio",
    )


def sparsing_silu() -> Law:
    """Luo et al. (2024), SiLU: ``A_0 - c * n_tokens**(-alpha)``, rising to ``A_0`` with data."""
    return formula_law(
        "A_0 - c * n_tokens**(-alpha)",
        name="sparsing_silu",
        variables=["n_tokens"],
        params=[
            Param("A_0", 0.0, 1.0, doc="limit activation ratio with unlimited training data"),
            Param("c", 0.0, math.inf, log=True, doc="scale of the shortfall (per token**-alpha)"),
            Param("alpha", 1e-3, 5.0, grid=_ALPHAS_SILU, doc="data exponent of the shortfall"),
        ],
        source=_SOURCE,
        description="activation ratio of a SiLU-activated LM after n_tokens of pre-training; "
        "column 'activation_ratio' (target='activation_ratio')",
        grid_fn=_silu_grid,
        target="activation_ratio",
    )
