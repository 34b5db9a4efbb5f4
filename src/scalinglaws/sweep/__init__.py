"""Make new data: design IsoFLOP sweeps, train small transformer LMs, record them durably.

Nothing here imports torch until a run is trained, so the store can be read (and the
design written) without the ``sweep`` extra::

    >>> from scalinglaws.sweep import design_sweep, to_toml
    >>> design = design_sweep([1e11, 3e11, 1e12], sizes_per_budget=5)
    >>> len(design.runs)
    15

Train with :func:`run_sweep` (``pip install "scalinglaws[sweep]"``) and read the
results with :func:`read_runs` and :func:`read_curves`. See ``docs/sweep.md``.
"""

from __future__ import annotations

from scalinglaws.sweep.accounting import count_params, flops_per_token
from scalinglaws.sweep.backends import SweepReport, run_sweep
from scalinglaws.sweep.design import (
    DataSpec,
    RunSpec,
    SweepDesign,
    design_sweep,
    shape_for_params,
)
from scalinglaws.sweep.designfile import from_toml, read_design, to_toml, write_design
from scalinglaws.sweep.errors import SweepError
from scalinglaws.sweep.mup import coord_check, coord_slopes
from scalinglaws.sweep.store import is_store, read_curves, read_runs, status

__all__ = [
    "DataSpec",
    "RunSpec",
    "SweepDesign",
    "SweepError",
    "SweepReport",
    "coord_check",
    "coord_slopes",
    "count_params",
    "design_sweep",
    "flops_per_token",
    "from_toml",
    "is_store",
    "read_curves",
    "read_design",
    "read_runs",
    "run_sweep",
    "shape_for_params",
    "status",
    "to_toml",
    "write_design",
]
