"""What :func:`scalinglaws.judge.choose.choose_law` returns: the :class:`Selection` (the
winner and the table of nested extrapolation errors by candidate and cut) and the raw
:class:`Nested` errors it was made from (reused by ``auto``'s stacking and calibration).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.judge.holdout import frame_records
from scalinglaws.laws.law import Law


@dataclass(frozen=True, eq=False)
class Selection:
    """The outcome of :func:`choose_law`.

    Attributes
    ----------
    law : str or Law
        The winner, as given among the candidates: pass it to :func:`scalinglaws.engine.fit`.
    name : str
        Its name.
    by : str
        The column that ordered the runs by scale.
    cuts : tuple of int
        Number of training runs at each nested cut that counted.
    table : pandas.DataFrame
        One row per candidate: ``candidate``, ``n_params``, ``score`` (mean nested log
        RMSE over the cuts; inf when it failed, NaN when it could not be scored),
        ``rank``, one column ``cut_<k>`` per cut (log RMSE of the runs above a cut
        of ``k`` training runs), and ``note``.
    n_runs : int
        Runs the choice saw.
    """

    law: str | Law
    name: str
    by: str
    cuts: tuple[int, ...]
    table: pd.DataFrame = field(repr=False)
    n_runs: int = 0
    candidates: tuple[str | Law, ...] = field(default=(), repr=False)
    nested: Nested | None = field(default=None, repr=False)

    def ranked(self) -> list[str | Law]:
        """The candidates as given, best first (the order of ``table.rank``)."""
        order = np.argsort(self.table["rank"].to_numpy(), kind="stable")
        return [self.candidates[i] for i in order] if self.candidates else [self.law]

    @property
    def scores(self) -> dict[str, float]:
        """Candidate name -> mean nested extrapolation error (log RMSE)."""
        return {str(r.candidate): float(r.score) for r in self.table.itertuples()}

    def summary(self) -> str:
        lines = [
            f"Chose {self.name} among {len(self.table)} candidates by nested extrapolation on {self.n_runs} runs "
            f"(ordered by {self.by}; cuts after {', '.join(map(str, self.cuts)) or 'none'} runs)"
        ]
        for r in self.table.sort_values("rank").itertuples():
            score = f"{r.score:.4g}" if np.isfinite(r.score) else str(r.score)
            lines.append(f"  {r.candidate:<12} log RMSE {score:>10}  ({r.n_params} params){'  ' + r.note if r.note else ''}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v:.4g}" for k, v in self.scores.items())
        return f"Selection(name={self.name!r}, by={self.by!r}, n_runs={self.n_runs}, cuts={self.cuts}, scores={{{s}}})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.name,
            "by": self.by,
            "cuts": list(self.cuts),
            "n_runs": self.n_runs,
            "table": frame_records(self.table),
        }


@dataclass(frozen=True, eq=False)
class Nested:
    """Raw nested extrapolation errors (see :func:`nested_errors`).

    ``errors[name][k]`` is the array of log errors (log predicted - log actual) of the
    runs above the cut with ``k`` training scales, or an array of inf when the fit
    failed or predicted a non-finite or non-positive value.
    """

    candidates: tuple[str | Law, ...]
    names: tuple[str, ...]
    n_params: Mapping[str, int]
    notes: Mapping[str, str]
    racing: tuple[str, ...]
    by: str
    cuts: tuple[int, ...]
    train_sizes: Mapping[int, int]
    errors: Mapping[str, Mapping[int, np.ndarray]]
    n_runs: int


__all__ = ["Nested", "Selection"]
