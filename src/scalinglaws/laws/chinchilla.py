"""Laws in model size and data: Chinchilla, Kaplan, Henighan, Muennighoff, NMT."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.laws.law import Law, Param, formula_law

_LOG_GRID = tuple(math.exp(v) for v in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0))
_EXP_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)


def _optimal_n_params(params: Mapping[str, Any], flops: Any) -> Any:
    """Hoffmann et al. (2022), Eq. 4 under C = 6ND.

    ``N_opt = G (C/6)^(beta/(alpha+beta))`` with ``G = (alpha A / (beta B))^(1/(alpha+beta))``;
    E does not enter.
    """
    A, B, a, b = (np.asarray(params[k], dtype=float) for k in ("A", "B", "alpha", "beta"))
    with np.errstate(all="ignore"):
        G = (a * A / (b * B)) ** (1.0 / (a + b))
        return G * (np.asarray(flops, dtype=float) / 6.0) ** (b / (a + b))


def chinchilla() -> Law:
    """Hoffmann et al. (2022), Approach 3, with the paper's 4,500-point start grid."""
    return formula_law(
        "E + A / n_params**alpha + B / n_tokens**beta",
        name="chinchilla",
        params=[
            Param("E", 0.0, math.inf, log=True, grid=tuple(math.exp(v) for v in (-1.0, -0.5, 0.0, 0.5, 1.0)),
                  doc="irreducible loss (entropy of text)"),
            Param("A", 0.0, math.inf, log=True, grid=_LOG_GRID, doc="model-size coefficient"),
            Param("B", 0.0, math.inf, log=True, grid=_LOG_GRID, doc="data coefficient"),
            Param("alpha", 0.0, 10.0, grid=_EXP_GRID, doc="model-size exponent"),
            Param("beta", 0.0, 10.0, grid=_EXP_GRID, doc="data exponent"),
        ],
        source="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (arXiv 2203.15556), Eq. 2; "
        "grid and Huber(1e-3) recipe from Sec. D.2; refit by Besiroglu et al. 2024 (arXiv 2404.10102)",
        description="loss of a model with n_params parameters (all, embeddings included) trained on n_tokens tokens",
        optimum=_optimal_n_params,
    )


def kaplan() -> Law:
    """Kaplan et al. (2020), Eq. 1.5: the joint L(N, D) law."""
    return formula_law(
        "((N_c / n_params)**(alpha_N / alpha_D) + D_c / n_tokens)**alpha_D",
        name="kaplan",
        params=[
            Param("N_c", 0.0, math.inf, log=True, grid=(1e11, 1e13, 1e15), doc="model-size scale"),
            Param("D_c", 0.0, math.inf, log=True, grid=(1e11, 1e13, 1e15), doc="data scale"),
            Param("alpha_N", 1e-4, 5.0, grid=(0.05, 0.1, 0.3), doc="model-size exponent"),
            Param("alpha_D", 1e-4, 5.0, grid=(0.05, 0.1, 0.3), doc="data exponent"),
        ],
        source="Kaplan et al. 2020, Scaling Laws for Neural Language Models (arXiv 2001.08361), Eq. 1.5, Table 2 "
        "(alpha_N 0.076, alpha_D 0.103, N_c 6.4e13, D_c 1.8e13; N non-embedding)",
        description="joint model-size and data law without a floor",
    )


def _compute_scale_grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """C_0 starts spread from the smallest budget to far beyond the largest."""
    c = np.asarray(variables["flops"], dtype=float)
    lo, hi = float(np.min(c)), float(np.max(c))
    return {"C_0": (lo, hi, hi * 1e3, hi * 1e6)}


def henighan() -> Law:
    """Henighan et al. (2020): power law plus constant in compute."""
    return formula_law(
        "L_inf + (C_0 / flops)**alpha",
        name="henighan",
        params=[
            Param("L_inf", 0.0, math.inf, grid=(0.0, 1.0, 2.0), doc="irreducible loss, the entropy of the data"),
            Param("C_0", 0.0, math.inf, log=True, grid=(1e3, 1e8, 1e13), doc="compute scale"),
            Param("alpha", 1e-4, 5.0, grid=(0.05, 0.2, 0.5), doc="compute exponent"),
        ],
        source="Henighan et al. 2020, Scaling Laws for Autoregressive Generative Modeling (arXiv 2010.14701)",
        description="loss against training compute, with an irreducible floor",
        grid_fn=_compute_scale_grid,
    )


def muennighoff() -> Law:
    """Muennighoff et al. (2023): Chinchilla with repeated data (unique_tokens)."""
    # U_N = min(N, N_opt(U_D)); with alpha = beta tied, N_opt(U_D) = (A/B)**(1/alpha) * U_D.
    f = (
        "E + A / (U_N + U_N * R_N * (1 - exp(-(n_params / U_N - 1) / R_N)))**alpha"
        " + B / (unique_tokens + unique_tokens * R_D * (1 - exp(-(n_tokens / unique_tokens - 1) / R_D)))**alpha"
    )
    # more unique tokens than trained tokens means no repetition: U_D = min(U, D)
    f = f.replace("U_N", "min(n_params, (A / B)**(1 / alpha) * U_D)")
    f = f.replace("unique_tokens", "U_D").replace("U_D", "min(unique_tokens, n_tokens)")
    return formula_law(
        f,
        name="muennighoff",
        params=[
            Param("E", 0.0, math.inf, log=True, grid=(math.exp(-1.0), math.exp(0.33), math.exp(1.0)), doc="irreducible loss"),
            Param("A", 0.0, math.inf, log=True, grid=(1.0, math.exp(6.25), math.exp(12.5)), doc="model-size coefficient"),
            Param("alpha", 1e-3, 5.0, grid=(0.2, 0.35, 0.7), doc="shared exponent (alpha = beta)"),
            Param("B", 0.0, math.inf, log=True, grid=(1.0, math.exp(6.25), math.exp(12.5)), doc="data coefficient"),
            Param("R_N", 1e-3, 1e4, log=True, grid=(1.0, 10.0, 100.0), doc="decay constant of excess parameters, R*_N"),
            Param("R_D", 1e-3, 1e4, log=True, grid=(1.0, 10.0, 100.0), doc="decay constant of repeated data, R*_D"),
        ],
        source="Muennighoff et al. 2023, Scaling Data-Constrained Language Models (NeurIPS 2023); "
        "published: A 520.8, B 1487.7, E 1.869, alpha=beta 0.3527, R*_D 15.39, R*_N 5.31",
        description="loss with n_tokens trained over unique_tokens unique tokens (epochs = n_tokens / unique_tokens)",
    )


def nmt() -> Law:
    """Ghorbani et al. (2021): bivariate law in encoder and decoder size."""
    return formula_law(
        "L_inf + k * n_params_encoder**(-p_e) * n_params_decoder**(-p_d)",
        name="nmt",
        params=[
            Param("L_inf", 0.0, math.inf, grid=(0.0, 1.0), doc="irreducible loss"),
            Param("k", 0.0, math.inf, log=True, grid=(1.0, 1e2, 1e4), doc="scale (absorbs the reference sizes)"),
            Param("p_e", 0.0, 5.0, grid=(0.1, 0.3), doc="encoder exponent"),
            Param("p_d", 0.0, 5.0, grid=(0.1, 0.3), doc="decoder exponent"),
        ],
        source="Ghorbani et al. 2021, Scaling Laws for Neural Machine Translation (arXiv 2109.07740); "
        "alpha (N_e_ref/N_e)^p_e (N_d_ref/N_d)^p_d + L_inf with the reference sizes folded into k",
        description="translation loss against non-embedding encoder and decoder sizes",
    )
