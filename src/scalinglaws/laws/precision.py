"""Precision: laws of loss under low-precision training and post-training quantization.

Three catalog laws:

``kumar_precision``
    Kumar et al. (2024), "Scaling Laws for Precision", the training part of Eq. 11: a
    Chinchilla form in the *effective* parameter count
    ``N_eff = N (1 - e^{-P_w/gamma_w}) (1 - e^{-P_a/gamma_a}) (1 - e^{-P_kv/gamma_kv})``,
    with ``P_w, P_a, P_kv`` the training precisions (bits) of weights, activations and
    KV cache. ``tied=True`` is the variant for data with one precision column:
    ``N_eff = N (1 - e^{-P/gamma})^3``.
``kumar_ptq``
    Kumar et al. (2024), Eq. 9 reduced for models trained in BF16: the Chinchilla form
    plus the post-training-quantization degradation
    ``C_T e^{-P_post/gamma_post} D^{gamma_D} / N^{gamma_N}``, which *grows* with data.
    Rows left unquantized carry ``post_precision = 16`` (the term is then negligible for
    any ``gamma_post`` of a few bits or less).
``fp_quant``
    Sun et al. (2025), "Scaling Laws for Floating-Point Quantization Training":
    ``L = n/N^alpha + d/D^beta + epsilon + (D^beta/N^alpha) log2(B) /
    (gamma (E + 0.5)^delta (M + 0.5)^nu)`` in exponent bits E, mantissa bits M and the
    block size B of the scaling factor. Its last term grows with D, so loss has a minimum
    in D: :func:`fp_quant_critical_data` is the closed form of that critical data size.
    ``gamma`` *divides* log2(B): the paper's fitted gamma is 11334.5 (Table 2), which only
    makes sense as a divisor, and its critical data size has ``d gamma`` in the numerator.
    (A blog transcription writes it as an exponent of log2 B.)

:data:`SUN_2025` holds Sun et al.'s fitted constants (Table 2 of arXiv 2501.02423v1). Kumar
et al.'s (App. K) were read only through secondary excerpts, without gamma_post and without
the bias offsets App. K says the fits carry; in the forms here they put the compute-optimal
precision at 3.5 bits, not the paper's 7-8, so they are not transcribed and the Kumar laws
carry start grids only (see docs/precision.md). Nothing in the engine or the loader knows
these laws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scalinglaws.errors import LawError
from scalinglaws.laws.law import Law, Param, formula_law
from scalinglaws.laws.variables import Variable

__all__ = [
    "BLOCK_SIZE",
    "EXPONENT_BITS",
    "MANTISSA_BITS",
    "POST_PRECISION",
    "PRECISION_A",
    "PRECISION_KV",
    "PRECISION_W",
    "SUN_2025",
    "fp_quant",
    "fp_quant_critical_data",
    "kumar_precision",
    "kumar_ptq",
]

PRECISION_W = Variable("precision_w", "bits", True, "training precision of the weights")
PRECISION_A = Variable("precision_a", "bits", True, "training precision of the activations")
PRECISION_KV = Variable("precision_kv", "bits", True, "training precision of the attention KV cache")
POST_PRECISION = Variable("post_precision", "bits", True,
                          "precision the trained weights are quantized to after training (16: left in BF16)")
EXPONENT_BITS = Variable("exponent_bits", "bits", False, "exponent bits E of the floating-point training format")
MANTISSA_BITS = Variable("mantissa_bits", "bits", False, "mantissa bits M of the floating-point training format")
BLOCK_SIZE = Variable("block_size", "elements", True,
                      "elements sharing one scaling factor (the granularity B of FP quantization), > 1")

#: Sun et al. (2025) fitted constants of ``fp_quant``: Table 2 of arXiv 2501.02423v1, "Fitted
#: hyper-parameters and their values in our proposed unified scaling law" (read through a
#: transcription of the arXiv HTML; fitted on their 41M-679M LLaMA runs, validated at 1.2B).
SUN_2025: dict[str, float] = {
    "n": 69.2343, "alpha": 0.2368, "d": 68973.0621, "beta": 0.5162, "epsilon": 1.9061,
    "gamma": 11334.5197, "delta": 3.1926, "nu": 2.9543,
}

_LOG_GRID = (1e1, 1e3, 1e5)
_EXP_GRID = (0.2, 0.4, 0.7)
_GAMMA_GRID = (1.0, 3.0)


def _floor_starts(name: str) -> Callable[[Mapping[str, Any], Any], dict[str, tuple[float, ...]]]:
    """Starts for the floor ``name`` below the lowest loss of the data."""

    def starts(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
        values = np.asarray(y, dtype=float)
        values = values[np.isfinite(values)]
        if not values.size or float(values.min()) <= 0:
            return {}
        low = float(values.min())
        return {name: (0.5 * low, 0.85 * low)}

    return starts


def _chinchilla_params(floor: str = "E") -> list[Param]:
    return [
        Param(floor, 0.0, math.inf, grid=(1.0, 2.0), doc="irreducible loss"),
        Param("A", 0.0, math.inf, log=True, grid=_LOG_GRID, doc="model-size coefficient (of N_eff)"),
        Param("alpha", 1e-3, 5.0, grid=_EXP_GRID, doc="model-size exponent"),
        Param("B", 0.0, math.inf, log=True, grid=_LOG_GRID, doc="data coefficient"),
        Param("beta", 1e-3, 5.0, grid=_EXP_GRID, doc="data exponent"),
    ]


def _gamma(name: str, what: str) -> Param:
    return Param(name, 0.05, 64.0, log=True, grid=_GAMMA_GRID,
                 doc=f"precision scale of the {what}: N_eff loses a factor 1 - e^(-P/{name})")


_KUMAR_SOURCE = ("Kumar et al. 2024, Scaling Laws for Precision (arXiv 2411.04330, ICLR 2025), Eq. 11 (training "
                 "part); their fitted constants (App. K) are not transcribed")


def kumar_precision(tied: bool = False) -> Law:
    """Kumar et al. (2024): Chinchilla in effective parameters under low-precision training.

    ``tied=False``: variables ``n_params, n_tokens, precision_w, precision_a, precision_kv``.
    ``tied=True``: one training precision ``precision`` for all three, with one ``gamma``.
    """
    if not isinstance(tied, bool):
        raise LawError(f"kumar_precision: tied must be True or False, got {tied!r}")
    if tied:
        neff = "n_params * (1 - exp(-precision / gamma))**3"
        gammas = [_gamma("gamma", "weights, activations and KV cache (tied)")]
        variables: list[str | Variable] = ["n_params", "n_tokens", "precision"]
    else:
        neff = ("n_params * (1 - exp(-precision_w / gamma_w)) * (1 - exp(-precision_a / gamma_a))"
                " * (1 - exp(-precision_kv / gamma_kv))")
        gammas = [_gamma("gamma_w", "weights"), _gamma("gamma_a", "activations"), _gamma("gamma_kv", "KV cache")]
        variables = ["n_params", "n_tokens", PRECISION_W, PRECISION_A, PRECISION_KV]
    return formula_law(
        f"E + A * ({neff})**(-alpha) + B * n_tokens**(-beta)",
        name="kumar_precision",
        variables=variables,
        params=_chinchilla_params() + gammas,
        source=_KUMAR_SOURCE,
        description="loss after training n_params parameters on n_tokens tokens with weights, activations and KV "
        "cache in the given precisions (bits): Chinchilla in N_eff",
        grid_fn=_floor_starts("E"),
    )


def kumar_ptq() -> Law:
    """Kumar et al. (2024), Eq. 9 for BF16-trained models: loss after post-training quantization."""
    return formula_law(
        "E + A * n_params**(-alpha) + B * n_tokens**(-beta)"
        " + C_T * exp(-post_precision / gamma_post) * n_tokens**gamma_D / n_params**gamma_N",
        name="kumar_ptq",
        variables=["n_params", "n_tokens", POST_PRECISION],
        params=_chinchilla_params() + [
            Param("C_T", 0.0, math.inf, log=True, grid=(1e-2, 1.0), doc="scale of the PTQ degradation"),
            Param("gamma_post", 0.05, 64.0, log=True, grid=(0.5, 2.0),
                  doc="precision scale: the degradation falls as e^(-P_post/gamma_post)"),
            Param("gamma_D", 0.0, 5.0, grid=(0.3, 0.8), doc="data exponent of the degradation (more data: more)"),
            Param("gamma_N", 0.0, 5.0, grid=(0.3, 0.8), doc="model-size exponent of the degradation (bigger: less)"),
        ],
        source="Kumar et al. 2024, Scaling Laws for Precision (arXiv 2411.04330, ICLR 2025), Eq. 9 (BF16-trained: "
        "N_eff = N and the product over training precisions is 1); constants not transcribed",
        description="loss of a BF16-trained model quantized to post_precision bits after training "
        "(post_precision 16: not quantized)",
        grid_fn=_floor_starts("E"),
    )


def fp_quant() -> Law:
    """Sun et al. (2025): loss of floating-point quantized training in N, D, E, M and block size."""
    return formula_law(
        "epsilon + n / n_params**alpha + d / n_tokens**beta + n_tokens**beta / n_params**alpha"
        " * (log(block_size) / log(2)) / (gamma * (exponent_bits + 0.5)**delta * (mantissa_bits + 0.5)**nu)",
        name="fp_quant",
        variables=["n_params", "n_tokens", EXPONENT_BITS, MANTISSA_BITS, BLOCK_SIZE],
        params=[
            Param("epsilon", 0.0, math.inf, grid=(1.0, 2.0), doc="irreducible loss"),
            Param("n", 0.0, math.inf, log=True, grid=_LOG_GRID, doc="model-size coefficient"),
            Param("alpha", 1e-3, 5.0, grid=_EXP_GRID, doc="model-size exponent (also of the precision term)"),
            Param("d", 0.0, math.inf, log=True, grid=_LOG_GRID, doc="data coefficient"),
            Param("beta", 1e-3, 5.0, grid=_EXP_GRID, doc="data exponent (also of the precision term)"),
            Param("gamma", 1e-8, math.inf, log=True, grid=(1.0, 1e2, 1e4),
                  doc="divides log2(block size): the larger, the smaller the precision term"),
            Param("delta", 0.0, 20.0, grid=(2.0, 5.0), doc="exponent of E + 0.5: exponent bits help"),
            Param("nu", 0.0, 20.0, grid=(2.0, 5.0), doc="exponent of M + 0.5: mantissa bits help"),
        ],
        source="Sun et al. 2025, Scaling Laws for Floating-Point Quantization Training (arXiv 2501.02423, ICML "
        "2025), the unified law with gamma dividing log2(B); fitted constants of Table 2 (v1) in SUN_2025",
        description="loss after training n_params parameters on n_tokens tokens in a floating-point format with "
        "exponent_bits, mantissa_bits and one scaling factor per block_size elements",
        grid_fn=_floor_starts("epsilon"),
    )


def fp_quant_critical_data(
    params: Mapping[str, Any], n_params: Any, exponent_bits: Any, mantissa_bits: Any, block_size: Any
) -> np.ndarray:
    """The data size where the ``fp_quant`` loss is lowest: beyond it more tokens hurt.

    Setting dL/dD = 0 in Sun et al.'s form gives
    ``D_crit = [d gamma N^alpha (E + 0.5)^delta (M + 0.5)^nu / log2 B]^(1 / (2 beta))``.
    Inputs broadcast; ``params`` may hold arrays (bootstrap draws).
    """
    p = {k: np.asarray(params[k], dtype=float) for k in ("d", "alpha", "beta", "gamma", "delta", "nu")}
    with np.errstate(all="ignore"):
        inner = (p["d"] * p["gamma"] * np.asarray(n_params, dtype=float) ** p["alpha"]
                 * (np.asarray(exponent_bits, dtype=float) + 0.5) ** p["delta"]
                 * (np.asarray(mantissa_bits, dtype=float) + 0.5) ** p["nu"]
                 / np.log2(np.asarray(block_size, dtype=float)))
        return np.asarray(inner ** (1.0 / (2.0 * p["beta"])), dtype=float)
