"""The result of an extrapolation test: :class:`Validation` (metrics, held-out table,
coverage of the intervals), made by :func:`scalinglaws.judge.validate.validate` and
importable from :mod:`scalinglaws.judge.validate` too."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from scalinglaws.engine.result import Fit, finite_or_none
from scalinglaws.judge.holdout import frame_records

__all__ = ["Validation"]


def _runs(n: int) -> str:
    return "run" if n == 1 else "runs"


@dataclass(frozen=True, eq=False)
class Validation:
    """The result of an extrapolation test.

    Attributes
    ----------
    law : str
        Name of the law tested (``"auto"`` when the law was chosen inside each fold).
    holdout : str
        ``"largest"``, ``"loso"`` (leave-one-scale-out) or ``"mask"``.
    by : str
        The column that orders the runs by scale.
    level : float
        Level of the prediction intervals.
    table : pandas.DataFrame
        One row per held-out run: ``row`` (position in the runs), ``fold``, ``by`` value,
        the law's variables, ``actual``, ``predicted``, ``lower``, ``upper``,
        ``log_error`` (log predicted - log actual), ``rel_error`` (predicted / actual - 1)
        and ``inside`` (the actual value lies in the interval).
    rmse_log, mae_log, bias_log, max_abs_log_error : float
        Root mean square, mean absolute, mean and largest absolute log error.
    max_abs_rel_error : float
        Largest ``|predicted / actual - 1|``.
    coverage : float
        Share of held-out runs inside their interval (NaN without intervals).
    n_train : tuple of int
        Training runs of each fold.
    fits : tuple of Fit
        The fit of each fold on its training runs.
    selections : tuple
        With ``law="auto"``, the :class:`~scalinglaws.judge.auto.Selection` of each fold.
    interval : str
        How the intervals were made.
    """

    law: str
    holdout: str
    by: str
    level: float
    table: pd.DataFrame = field(repr=False)
    rmse_log: float
    mae_log: float
    bias_log: float
    max_abs_log_error: float
    max_abs_rel_error: float
    coverage: float
    n_train: tuple[int, ...]
    fits: tuple[Fit, ...] = field(default=(), repr=False)
    selections: tuple[Any, ...] = field(default=(), repr=False)
    interval: str = ""

    @property
    def undercovered(self) -> bool:
        """True when the held-out coverage is significantly below the nominal level: a
        one-sided binomial test at 5 % (with fewer than 5 held-out runs, never)."""
        n = self.n_test
        if n < 5 or not math.isfinite(self.coverage):
            return False
        from scipy import (
            stats,  # imported here: scipy.stats costs half a second at start-up
        )

        inside = int(round(self.coverage * n))
        return bool(stats.binom.cdf(inside, n, self.level) < 0.05)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a reader must not miss about this validation."""
        if not self.undercovered:
            return ()
        return (f"{self.level:.0%} intervals covered only {self.coverage:.0%} of {self.n_test} held-out runs: "
                "they are too narrow beyond the data",)

    @property
    def fit(self) -> Fit:
        """The fit of the first (for ``holdout="largest"``: the only) fold."""
        return self.fits[0]

    @property
    def n_test(self) -> int:
        return len(self.table)

    def summary(self) -> str:
        """A few lines: what was held out and how well it was predicted."""
        folds = len(self.fits)
        how = (
            f"held out {self.n_test} largest {_runs(self.n_test)} by {self.by}, trained on {self.n_train[0]}"
            if self.holdout == "largest"
            else f"held out each of {folds} scale {'group' if folds == 1 else 'groups'} of {self.by} in turn"
            if self.holdout == "loso"
            else f"held out {self.n_test} chosen {_runs(self.n_test)}"
        )
        lines = [
            f"Validation of {self.law}: {how}",
            f"  log error: RMSE {self.rmse_log:.4g}, mean {self.bias_log:+.4g}, max |.| {self.max_abs_log_error:.4g}",
            f"  max relative error: {self.max_abs_rel_error:.3%}",
            f"  coverage of {self.level:.0%} intervals: "
            + (f"{self.coverage:.0%}" if math.isfinite(self.coverage) else "n/a"),
        ]
        if self.selections:
            chosen = ", ".join(sorted({s.name for s in self.selections}))
            lines.append(f"  law chosen inside the training runs: {chosen}")
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        cov = f"{self.coverage:.3f}" if math.isfinite(self.coverage) else "nan"
        return (
            f"Validation(law={self.law!r}, holdout={self.holdout!r}, by={self.by!r}, n_test={self.n_test}, "
            f"rmse_log={self.rmse_log:.4g}, max_abs_rel_error={self.max_abs_rel_error:.4g}, coverage={cov})"
        )

    def _repr_html_(self) -> str:
        """The validation as a notebook shows it: metrics, coverage against the level, warnings."""
        import html

        cov = f"{self.coverage:.0%}" if math.isfinite(self.coverage) else "n/a"
        flag = ' <b style="color:#b34700">(too low)</b>' if self.undercovered else ""
        lines = self.summary().splitlines()
        rows = [("held out", html.escape(lines[0].split(": ", 1)[-1])),
                ("log RMSE / bias / max |error|", f"{self.rmse_log:.4g} / {self.bias_log:+.4g} / {self.max_abs_log_error:.4g}"),
                ("largest relative error", f"{self.max_abs_rel_error:.2%}"),
                (f"coverage of {self.level:.0%} intervals", cov + flag)]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>" for k, v in rows)
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (f"<div><b>Validation of {html.escape(self.law)}</b><table>{body}</table>"
                + (f"<ul>{warn}</ul>" if warn else "") + "</div>")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: metrics, the held-out table, the per-fold parameters and choices."""
        return {
            "law": self.law,
            "holdout": self.holdout,
            "by": self.by,
            "level": self.level,
            "n_test": self.n_test,
            "n_train": list(self.n_train),
            "rmse_log": finite_or_none(self.rmse_log),
            "mae_log": finite_or_none(self.mae_log),
            "bias_log": finite_or_none(self.bias_log),
            "max_abs_log_error": finite_or_none(self.max_abs_log_error),
            "max_abs_rel_error": finite_or_none(self.max_abs_rel_error),
            "coverage": finite_or_none(self.coverage),
            "undercovered": self.undercovered,
            "warnings": list(self.warnings),
            "interval": self.interval,
            "table": frame_records(self.table),
            "fits": [{"law": f.law.name, "params": dict(f.params), "n_runs": f.n_runs} for f in self.fits],
            "selections": [s.to_dict() for s in self.selections],
        }
