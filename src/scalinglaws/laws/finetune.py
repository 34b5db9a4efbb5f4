"""Fine-tuning: the rectified scaling law of Lin et al. (2024).

``L(D) = B / (D_l + D^beta) + E``, with ``D`` the fine-tuning data size and ``D_l``
the "pre-learned data size": what the pre-trained model already knows, counted as
fine-tuning data. While ``D^beta`` is small against ``D_l`` the loss barely moves (the
"pre-power phase"); beyond, it falls as a power law towards ``E`` (Lin et al. 2024,
"Selecting Large Language Model to Fine-tune via Rectified Scaling Law").

This file is the whole of the law: its variable, its parameters and its starts. The
catalog names it ``rectified``; nothing in the engine, the loader or the planner
knows it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglaws.laws.law import Law, Param, formula_law
from scalinglaws.laws.variables import Variable

__all__ = ["FINETUNE_EXAMPLES", "rectified"]

#: The variable of the rectified law: D, the fine-tuning data size.
FINETUNE_EXAMPLES = Variable(
    "finetune_examples",
    unit="examples",
    positive=True,
    meaning="fine-tuning data size D (examples of the fine-tuning set used)",
)

_BETAS = (0.3, 0.6, 1.0)


def _starts(variables: Mapping[str, Any], y: Any) -> dict[str, tuple[float, ...]]:
    """Starts from the data: D_l where D^beta crosses it inside the data, E below the lowest loss.

    ``D_l`` spans the values ``D^beta`` takes over the data for the grid's exponents, so
    the start grid holds bends (the end of the pre-power phase) across the whole range;
    ``B`` is set so that the loss span of the data is of the right size for each.
    """
    d = np.asarray(variables[FINETUNE_EXAMPLES.name], dtype=float)
    d = d[np.isfinite(d) & (d > 0)]
    values = np.asarray(y, dtype=float)
    values = values[np.isfinite(values)]
    if not d.size or not values.size:
        return {}
    lo, hi = float(d.min()), float(d.max())
    ymin, ymax = float(values.min()), float(values.max())
    span = max(ymax - ymin, 1e-3 * max(abs(ymax), 1e-12))
    bends = tuple(
        float(v) for v in np.geomspace(lo ** min(_BETAS), hi ** max(_BETAS), 4)
    )
    return {
        "E": (0.0, 0.5 * ymin, 0.9 * ymin) if ymin > 0 else (0.0,),
        "D_l": bends,
        "B": tuple(span * b for b in bends),
    }


def rectified() -> Law:
    """Lin et al. (2024): fine-tuning loss against fine-tuning data, with a pre-learned size D_l."""
    return formula_law(
        "B / (D_l + finetune_examples**beta) + E",
        name="rectified",
        variables=[FINETUNE_EXAMPLES],
        params=[
            Param(
                "B",
                0.0,
                math.inf,
                log=True,
                grid=(1.0, 1e2, 1e4),
                doc="scale of the reducible loss",
            ),
            Param(
                "D_l",
                0.0,
                math.inf,
                log=True,
                grid=(1.0, 1e2, 1e4),
                doc="pre-learned data size, in units of D^beta: where the pre-power phase ends",
            ),
            Param(
                "beta",
                1e-3,
                5.0,
                grid=_BETAS,
                doc="data exponent of the power-law phase",
            ),
            Param(
                "E",
                0.0,
                math.inf,
                grid=(0.0,),
                doc="loss with unlimited fine-tuning data",
            ),
        ],
        source="Lin et al. 2024, Selecting Large Language Model to Fine-tune via Rectified Scaling Law "
        "(ICML 2024); constants are per model and task",
        description="fine-tuning loss after finetune_examples examples; D_l is what pre-training already taught",
        grid_fn=_starts,
    )
