"""Layer 3, engine: the objective, the batched solver, multi-start, bootstrap, ``fit``
and the :class:`Fit` result. Knows no law by name."""

from scalinglaws.engine.fit import fit
from scalinglaws.engine.result import Diagnostics, Fit

__all__ = ["Diagnostics", "Fit", "fit"]
