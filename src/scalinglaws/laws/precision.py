"""Precision: laws of loss under low-precision training and post-training quantization.

Three catalog laws:

``kumar_precision``
    Kumar et al. (2024), "Scaling Laws for Precision", the training part of Eq. 11: a
    Chinchilla form in the *effective* parameter count
    ``N_eff = N (1 - e^{-P_w/gamma_w}) (1 - e^{-P_a/gamma_a}) (1 - e^{-P_kv/gamma_kv})``,
    with ``P_w, P_a, P_kv`` the training precisions (bits) of weights, activations and
    KV cache. ``tied=True`` is the variant for data with one precision column:
    ``N_eff = N (1 - e^{-P/gamma})^3``.
    ``offsets=True`` adds App. K's biases ``n_w, n_a, n_kv`` (tied: ``n``), each factor
    becoming ``1 - e^{-(P_x/gamma_x - n_x)}`` (``N_eff = 0``, loss infinite, where one is <= 0).
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

:data:`SUN_2025` holds Sun et al.'s fitted constants (Table 2 of arXiv 2501.02423v1) and
:data:`KUMAR_2024` Kumar et al.'s training constants (App. K, Table 2 of arXiv 2411.04330).
Kumar's hold only for ``kumar_precision(offsets=True)``: App. K says its fits carry a bias in
every saturating exponential, ``1 - e^(-(P/gamma - n))``. With the offsets they put the
compute-optimal precision at 7.0 bits, the paper's "7-8 bits"; read without them, in the
main-text form, at 3.5 (docs/precision.md). ``kumar_ptq`` carries start grids only. Nothing in
the engine or the loader knows these laws.
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
    "KUMAR_2024",
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

#: Kumar et al. (2024) fitted constants of ``kumar_precision(offsets=True)`` (training part of
#: Eq. 11): App. K, Table 2 "Fitted constants and their values" of arXiv 2411.04330 (fitted on
#: their smaller-scale, integer-type runs). App. K ties beta to alpha (following
#: Muennighoff et al.), so ``beta`` repeats ``alpha``; Table 2's ``gamma_i, n_i`` (i: activations)
#: are ``gamma_a, n_a`` here. The offsets ``n_*`` are App. K's biases, which it writes only
#: loosely ("e^{x/gamma_x + n}", left/right shifts); we read them as ``1 - e^(-(P/gamma - n))``,
#: a right shift of ``n gamma`` bits, the one sign that gives the paper's 7-8 bits (Sec. 4.3.2;
#: a left shift gives the lowest precision tried) and fits App. L (P_a, P_kv <= 3 diverge).
#: The PTQ constants of Table 2 (C_T, gamma_D, gamma_N, gamma, b) are left out: the text does
#: not say where ``b`` enters the degradation term, nor give Eq. 9's C_x.
KUMAR_2024: dict[str, float] = {
    "A": 4.299e3, "alpha": 0.4965, "B": 1.806e4, "beta": 0.4965, "E": 2.7648,
    "gamma_w": 2.6745, "n_w": 0.3037, "gamma_a": 2.2102, "n_a": 1.4072, "gamma_kv": 0.9578, "n_kv": 2.4185,
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
                 "part); offsets=True: with the bias offsets of App. K; fitted constants of App. K Table 2 in KUMAR_2024")


def _factor(precision: str, gamma: str, offset: str | None) -> str:
    """``1 - e^(-P/gamma)``, or with an offset ``max(1 - e^(-(P/gamma - n)), 0)``: clipped at 0 so
    that N_eff = 0 (loss infinite) wherever one factor would be negative, never a positive
    product of two negative factors."""
    if offset is None:
        return f"(1 - exp(-{precision} / {gamma}))"
    return f"max(1 - exp({offset} - {precision} / {gamma}), 0)"


def _offset(name: str, what: str) -> Param:
    return Param(name, -5.0, 10.0, grid=(0.0,),
                 doc=f"offset of the {what}: the factor is 1 - e^(-(P/gamma - {name})), shifted right by {name} * gamma "
                 "bits (App. K's biases); N_eff = 0 where it is <= 0")


def kumar_precision(tied: bool = False, offsets: bool = False) -> Law:
    """Kumar et al. (2024): Chinchilla in effective parameters under low-precision training.

    ``tied=False``: variables ``n_params, n_tokens, precision_w, precision_a, precision_kv``.
    ``tied=True``: one training precision ``precision`` for all three, with one ``gamma``.
    ``offsets=True``: the form App. K says the paper's fits really use, a bias inside each
    saturating exponential: ``1 - e^(-(P_x/gamma_x - n_x))`` with parameters ``n_w, n_a,
    n_kv`` (tied: one ``n``). A factor at or below 0 (a precision below ``n_x gamma_x``
    bits) makes ``N_eff = 0`` and the loss infinite: the law is undefined there, as the
    paper's runs at such precisions diverge (App. L). :data:`KUMAR_2024` holds the paper's
    constants for this form.
    """
    for name, value in (("tied", tied), ("offsets", offsets)):
        if not isinstance(value, bool):
            raise LawError(f"kumar_precision: {name} must be True or False, got {value!r}")
    if tied:
        f = _factor("precision", "gamma", "n" if offsets else None)
        neff = f"n_params * {f}**3"
        gammas = [_gamma("gamma", "weights, activations and KV cache (tied)")]
        if offsets:
            gammas.append(_offset("n", "weights, activations and KV cache (tied)"))
        variables: list[str | Variable] = ["n_params", "n_tokens", "precision"]
    else:
        parts = (("w", "weights"), ("a", "activations"), ("kv", "KV cache"))
        neff = "n_params * " + " * ".join(
            _factor(f"precision_{x}", f"gamma_{x}", f"n_{x}" if offsets else None) for x, _ in parts)
        gammas = [_gamma(f"gamma_{x}", what) for x, what in parts]
        if offsets:
            gammas += [_offset(f"n_{x}", what) for x, what in parts]
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
