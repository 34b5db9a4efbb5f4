"""Model shape: the width-depth law of Gemstones (McLeish et al. 2025).

Chinchilla's law sees a model only through its parameter count. Gemstones (McLeish et
al. 2025, "Gemstones: A Model Suite for Multi-Faceted Scaling Laws", arXiv 2502.06857,
Approach 3) adds a term in the width ``w = d_model`` and one in the depth
``d = n_layer``::

    L(w, d, N, D) = E + A_w / w^alpha_w + A_l / d^alpha_l + A / N^alpha + B / D^beta

with ``N`` every parameter (embeddings and head included, as the authors count) and ``D``
the training tokens. At a fixed ``N`` the width and depth terms still differ between
shapes, so the law ranks shapes; :func:`scalinglaws.plan.shape.plan_shape` searches
shapes and token counts under a FLOP budget. The authors fit ``log L`` with a Huber loss
(delta 1e-4) over a grid of starts, as Chinchilla's Approach 3.

Their published constants for the main runs (repository ``mcleish7/gemstone-scaling-laws``,
``parameters_delta-4/approach_3_width_depth_parameters_grid_search_0_hot_100b+.json``,
stored as log coefficients) are :data:`GEMSTONES_CONSTANTS`.

This file is the whole of the law: its two variables, its parameters and its starts. The
catalog names it ``shape``; nothing in the engine knows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.laws.law import Law, Param, formula_law
from scalinglaws.laws.variables import Variable

__all__ = ["D_MODEL", "GEMSTONES_CONSTANTS", "N_LAYER", "shape"]

#: Width: the residual-stream size of a transformer.
D_MODEL = Variable("d_model", unit="units", positive=True, meaning="model width (residual stream size, d_model)")
#: Depth: the number of transformer blocks.
N_LAYER = Variable("n_layer", unit="layers", positive=True, meaning="model depth (number of transformer blocks)")

#: The authors' fit on their 22 shapes (delta 1e-4, "hot_100b+" table), coefficients exponentiated.
GEMSTONES_CONSTANTS: Mapping[str, float] = {
    "E": math.exp(0.4282048563),
    "A_w": math.exp(1.082043835),
    "alpha_w": 0.2195783536,
    "A_l": math.exp(-0.2186969889),
    "alpha_l": 0.4758917337,
    "A": math.exp(6.0902355695),
    "alpha": 0.3636454068,
    "B": math.exp(10.4720427681),
    "beta": 0.4935127042,
}

_EXPONENTS = (0.2, 0.5)
#: variable -> (coefficient, exponent) of its term
_TERMS = {"d_model": ("A_w", "alpha_w"), "n_layer": ("A_l", "alpha_l"), "n_params": ("A", "alpha"), "n_tokens": ("B", "beta")}


def _starts(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Starts from the data: E below the lowest loss, each term a share of the loss above E.

    A coefficient starts where its term, at the geometric mean of its variable, is a
    quarter of ``min(y) - E`` for each exponent of the grid (the four terms together
    then explain the lowest loss).
    """
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    if not values.size:
        return {}
    ymin = float(values.min())
    out: dict[str, tuple[float, ...]] = {"E": (0.5 * ymin, 0.8 * ymin) if ymin > 0 else (0.0,)}
    share = 0.25 * max(ymin - 0.65 * ymin, 1e-3) if ymin > 0 else 0.25
    for var, (coef, _) in _TERMS.items():
        x = np.asarray(variables.get(var, ()), dtype=float)
        x = x[np.isfinite(x) & (x > 0)]
        if not x.size:
            continue
        gm = float(np.exp(np.mean(np.log(x))))
        out[coef] = tuple(share * gm**a for a in _EXPONENTS)
    return out


def _coef(name: str, doc: str) -> Param:
    return Param(name, 0.0, math.inf, log=True, grid=(1.0, 1e2), doc=doc)


def _expo(name: str, doc: str) -> Param:
    return Param(name, 0.0, 5.0, grid=_EXPONENTS, doc=doc)


def shape() -> Law:
    """McLeish et al. (2025), Gemstones Approach 3: loss in width, depth, parameters and tokens."""
    return formula_law(
        "E + A_w / d_model**alpha_w + A_l / n_layer**alpha_l + A / n_params**alpha + B / n_tokens**beta",
        name="shape",
        variables=[D_MODEL, N_LAYER, "n_params", "n_tokens"],
        params=[
            Param("E", 0.0, math.inf, grid=(1.0, 1.5), doc="irreducible loss"),
            _coef("A_w", "width coefficient"),
            _expo("alpha_w", "width exponent"),
            _coef("A_l", "depth coefficient"),
            _expo("alpha_l", "depth exponent"),
            _coef("A", "model-size coefficient"),
            _expo("alpha", "model-size exponent"),
            _coef("B", "data coefficient"),
            _expo("beta", "data exponent"),
        ],
        source="McLeish et al. 2025, Gemstones: A Model Suite for Multi-Faceted Scaling Laws (arXiv 2502.06857), "
        "Approach 3 width-depth law; published fit (main runs, delta 1e-4): alpha_w 0.2196, alpha_l 0.4759, "
        "alpha 0.3636, beta 0.4935, E exp(0.4282) (n_params counts embeddings and head)",
        description="loss of a transformer of width d_model and depth n_layer with n_params parameters "
        "(all) trained on n_tokens tokens",
        grid_fn=_starts,
    )
