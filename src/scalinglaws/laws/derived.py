"""Laws derived from a law: some parameters pinned, or parameters per group of runs.

:meth:`Law.with_fixed <scalinglaws.laws.base.Law.with_fixed>` and
:meth:`Law.grouped <scalinglaws.laws.base.Law.grouped>` call :func:`fixed_law` and
:func:`grouped_law`. Both live in :mod:`scalinglaws.laws.base`, next to the class they
build (so that neither module imports the other); this module re-exports them under the
path they have always had.
"""

from __future__ import annotations

from scalinglaws.laws.base import (
    _slug as _slug,  # re-exported: plan.data_mix imports it from here
)
from scalinglaws.laws.base import fixed_law, grouped_law

__all__ = ["fixed_law", "grouped_law"]
