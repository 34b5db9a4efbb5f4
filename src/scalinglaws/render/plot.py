"""Figures: fits with their bands, residuals, IsoFLOP curves, bootstrap distributions,
held-out predictions and ladder comparisons.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no
global state, nothing shown, works under any backend); save it with
``fig.savefig("fit.png")``. matplotlib is imported when the first figure is drawn, so
importing this module is cheap. Figures draw results and never fit: ``isoflop`` draws
what :func:`scalinglaws.isoflop` returned.

The functions live in :mod:`scalinglaws.render.plot_fit` (``fit``, ``learning_curve``,
``residuals``, ``bootstrap``), :mod:`scalinglaws.render.plot_isoflop` (``isoflop``) and
:mod:`scalinglaws.render.plot_judge` (``validation``, ``ladders``); the shared look
(palette, units, log ticks) in :mod:`scalinglaws.render.style`.
"""

from __future__ import annotations

from scalinglaws.render.plot_fit import bootstrap, fit, learning_curve, residuals
from scalinglaws.render.plot_isoflop import isoflop
from scalinglaws.render.plot_judge import ladders, validation
from scalinglaws.render.style import OKABE_ITO

__all__ = ["OKABE_ITO", "bootstrap", "fit", "isoflop", "ladders", "learning_curve", "residuals", "validation"]
