"""Broken neural scaling laws (Caballero et al., ICLR 2023), with any number of breaks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.errors import LawError
from scalinglaws.laws.law import Law, Param, formula_law


def bnsl(breaks: int = 1) -> Law:
    """y = a + b * x**(-c0) * prod_i (1 + (x / d_i)**(1 / f_i))**(-c_i * f_i).

    ``a`` is the limit, ``b, c0`` the first segment, and for each break ``i``: ``c_i``
    the change of slope, ``d_i`` where it happens and ``f_i`` how sharp it is (small
    is sharp). With ``breaks=0`` this is a power law plus a constant.
    """
    if not isinstance(breaks, int) or isinstance(breaks, bool) or not 0 <= breaks <= 5:
        raise LawError(f"bnsl breaks must be an integer between 0 and 5, got {breaks!r}")
    # (1 + z**(1/f))**(-c f) with z = x/d, written so that no power overflows: for z > 1 it
    # equals z**(-c) * (1 + (1/z)**(1/f))**(-c f). Sharp breaks (small f) far beyond d made
    # z**(1/f) overflow to inf, and the law drop to its limit a: a jump in the prediction.
    terms = "".join(
        f" * max(x / d{i}, 1)**(-c{i}) * (1 + (min(x / d{i}, 1) / max(x / d{i}, 1))**(1 / f{i}))**(-c{i} * f{i})"
        for i in range(1, breaks + 1)
    )
    params = [
        Param("a", 0.0, math.inf, grid=(0.0,), doc="limit as x grows"),
        Param("b", 0.0, math.inf, log=True, grid=(0.1, 1.0, 10.0), doc="scale of the first segment"),
        Param("c0", -2.0, 10.0, grid=(0.0, 0.3), doc="slope of the first segment"),
    ]
    for i in range(1, breaks + 1):
        params += [
            Param(f"c{i}", -10.0, 50.0, grid=(0.3, 1.0, 3.0), doc=f"change of slope at break {i}"),
            Param(f"d{i}", 0.0, math.inf, log=True, grid=(1.0,), doc=f"location of break {i} (units of x)"),
            Param(f"f{i}", 1e-3, 20.0, log=True, grid=(0.1, 1.0), doc=f"sharpness of break {i}"),
        ]

    def grid(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
        x = np.asarray(variables["x"], dtype=float)
        lo, hi = float(np.min(x)), float(np.max(x))
        ymin = float(np.min(y))
        out: dict[str, tuple[float, ...]] = {"a": (0.0, 0.5 * ymin, 0.9 * ymin) if ymin > 0 else (0.0,)}
        for i in range(1, breaks + 1):
            qs = (0.25, 0.5, 0.75) if breaks == 1 else ((i - 0.5) / breaks,)
            out[f"d{i}"] = tuple(lo * (hi / lo) ** q for q in qs)
        return out

    return formula_law(
        "a + b * x**(-c0)" + terms,
        name="bnsl" if breaks == 1 else f"bnsl{breaks}",
        params=params,
        source="Caballero, Gupta, Rish, Krueger 2023, Broken Neural Scaling Laws (ICLR 2023, arXiv 2210.14891)",
        description=f"smoothly broken power law with {breaks} break(s); extrapolate only past breaks seen in the data",
        grid_fn=grid,
    )
