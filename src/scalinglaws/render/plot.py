"""Figures: fits with their bands, residuals, IsoFLOP curves, bootstrap distributions,
held-out predictions, ladder comparisons and the Densing trend.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no
global state, nothing shown, works under any backend); write it with
``plot.save(fig, "fit.pdf")`` (the format follows the suffix: .png, .svg, .pdf) or
``fig.savefig``. matplotlib is imported when the first figure is drawn, so
importing this module is cheap. Figures draw results and never fit: ``isoflop`` draws
what :func:`scalinglaws.isoflop` returned.

The functions live in :mod:`scalinglaws.render.plot_fit` (``fit``, ``learning_curve``),
:mod:`scalinglaws.render.plot_params` (``residuals``, ``bootstrap``), :mod:`scalinglaws.render.plot_isoflop` (``isoflop``) and
:mod:`scalinglaws.render.plot_judge` (``validation``, ``ladders``) and
:mod:`scalinglaws.render.plot_density` (``density_trend``); the shared look
(palette, units, log ticks, ``save``) in :mod:`scalinglaws.render.style`.
"""

from __future__ import annotations

from scalinglaws.render.plot_density import density_trend
from scalinglaws.render.plot_fit import fit, learning_curve
from scalinglaws.render.plot_isoflop import isoflop
from scalinglaws.render.plot_judge import ladders, validation
from scalinglaws.render.plot_params import bootstrap, residuals
from scalinglaws.render.style import OKABE_ITO, save

__all__ = ["OKABE_ITO", "bootstrap", "density_trend", "fit", "isoflop", "ladders", "learning_curve", "residuals", "save", "validation"]
