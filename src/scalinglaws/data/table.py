"""The validated table of runs: :class:`Runs`, and the canonical column names.

A :class:`Runs` is made by :func:`scalinglaws.data.runs.load_runs` (which validates the
values once; see :mod:`scalinglaws.data.runs` for the unit convention); laws ask it for
what they need when they are fitted (:meth:`Runs.require`, :meth:`Runs.derive`). Both
names are importable from :mod:`scalinglaws.data.runs` too.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglaws.data.values import (
    as_float,
    check_values,
)
from scalinglaws.errors import DataError

__all__ = ["CANONICAL", "Runs"]

CANONICAL: tuple[str, ...] = ("n_params", "n_tokens", "flops", "loss", "x")


@dataclass(frozen=True, eq=False)
class Runs:
    """A validated table of training runs; build it with :func:`load_runs`.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per run, index ``0..n_runs-1``; canonical columns (float64) first, then
        every other column of the source unchanged.
    source : str
        The path the runs came from, or ``"<DataFrame>"``.
    derived : tuple of str
        Columns computed rather than read: by :func:`load_runs` (``"flops"`` as
        6·n_params·n_tokens, ``"n_tokens"`` as flops / (6·n_params)) or by
        :meth:`derive` (e.g. ``"tokens_per_param"`` when a fitted law needs it).
    renamed : mapping of str to str
        Canonical name -> the column's name in the source, for every renamed column.
    """

    data: pd.DataFrame
    source: str = "<DataFrame>"
    derived: tuple[str, ...] = ()
    renamed: Mapping[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        name = self.source if self.source == "<DataFrame>" else Path(self.source).name
        canonical = [c for c in self.columns if c in CANONICAL]
        shown = canonical or list(self.columns[:4])
        more = ", ..." if len(self.columns) > len(shown) else ""
        n = len(self)
        extra = f"; derived {', '.join(self.derived)}" if self.derived else ""
        runs = f"{n} run{'' if n == 1 else 's'}"
        return f"Runs({runs} from {name}; columns {', '.join(shown)}{more}{extra})"

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names, canonical ones first."""
        return tuple(str(c) for c in self.data.columns)

    def column(self, name: str) -> np.ndarray:
        """Return one column as a float64 array of shape (n_runs,).

        Raises
        ------
        DataError
            If the column is absent (the message lists the available ones) or holds a
            value that is not a number.
        """
        self._need(name)
        raw = self.data[name]
        values = as_float(raw, strict=False)  # a new array: the caller may write to it
        if raw.dtype.kind == "f":  # NaN is a missing value here, never a word
            return values
        bad = raw.notna().to_numpy() & np.isnan(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"column {name!r} is not numeric: row {row} has {raw.iloc[row]!r}")
        return values

    def values(self, name: str) -> np.ndarray:
        """One column as a read-only float64 array of shape (n_runs,), without a copy when
        the column is float64 already (canonical columns are): for the engine, which
        reads the data of a fit and never writes to it. Same checks as :meth:`column`."""
        self._need(name)
        raw = self.data[name]
        if raw.dtype != np.float64:
            out = self.column(name)
        else:
            out = raw.to_numpy()
            if out.flags.writeable:  # a view of the table: never let a caller write to it
                out = out.view()
                out.flags.writeable = False
        return out

    def require(
        self,
        names: Sequence[str],
        *,
        positive: Sequence[str] | Mapping[str, str] = (),
        min_rows: int = 1,
        purpose: str = "",
    ) -> None:
        """Check that columns exist and hold finite numbers, and that there are enough runs.

        Parameters
        ----------
        names : sequence of str
            Columns that must be present, numeric and finite.
        positive : sequence of str, or mapping of str to str, optional
            Columns that must moreover be > 0 (they are required too). A mapping gives
            each one's unit (``{"n_params": "parameters"}``), which the message names.
        min_rows : int, optional
            The fewest runs the caller can work with.
        purpose : str, optional
            What the columns are for (e.g. ``"the chinchilla law"``), used in messages.

        Raises
        ------
        DataError
            Naming the column, the first offending row (0-based position in this
            table) and the value received, or the number of runs.
        """
        why = f" for {purpose}" if purpose else ""
        units = dict(positive) if isinstance(positive, Mapping) else dict.fromkeys(positive, "")
        for name in dict.fromkeys([*names, *units]):
            shown = f"column {name!r}" + (f" (from {self.renamed[name]!r})" if name in self.renamed else "")
            check_values(f"{shown}{why}", self.column(name), self.data.index, name in units, units.get(name, ""))
        if len(self) < min_rows:
            raise DataError(
                f"{purpose or 'this'} needs at least {min_rows} runs, got {len(self)}; "
                "add runs or loosen the where= filter"
            )

    def derive(self, name: str, parts: Sequence[str], function: Callable[..., Any], *, text: str = "") -> Runs:
        """A copy with the column ``name`` computed as ``function(*columns of parts)``.

        The parts must be present and finite; ``name`` is listed in ``derived``. ``text``
        says how it is computed (``"n_tokens / n_params"``), for messages.

        Examples
        --------
        >>> import pandas as pd
        >>> from scalinglaws.data.runs import load_runs
        >>> runs = load_runs(pd.DataFrame({"n_params": [1e8, 1e9], "n_tokens": [2e9, 4e10], "loss": [3.0, 2.5]}))
        >>> runs.derive("tokens_per_param", ["n_tokens", "n_params"], lambda d, n: d / n).column("tokens_per_param")
        array([20., 40.])
        """
        if name in self.data.columns:
            raise DataError(f"column {name!r} exists already; derive only what the runs lack")
        how = text or f"{name} from {', '.join(parts)}"
        self.require(list(parts), purpose=f"deriving {name} ({how})")
        with np.errstate(all="ignore"):
            values = np.asarray(function(*(self.column(p) for p in parts)), dtype=float)
        if values.shape != (len(self),):
            raise DataError(f"deriving {name} ({how}) gave shape {values.shape}, expected ({len(self)},)")
        data = self.data.copy()
        data[name] = values
        order = [c for c in CANONICAL if c in data.columns]
        data = data[order + [c for c in data.columns if c not in order]]
        return replace(self, data=data, derived=(*self.derived, name))

    def fingerprint(self) -> str:
        """A sha256 hex digest of the table, stable across processes and machines.

        Canonical columns are hashed as little-endian float64 in canonical order, other
        columns by :func:`pandas.util.hash_pandas_object` in name order, so reordering
        the columns of a file does not change it, but changing any value or the row
        order does.
        """
        digest = hashlib.sha256(f"runs:{len(self)}".encode())
        canonical = [c for c in CANONICAL if c in self.data.columns]
        others = sorted(str(c) for c in self.data.columns if c not in CANONICAL)
        for name in canonical:
            digest.update(f"\0{name}\0".encode())
            digest.update(np.ascontiguousarray(self.data[name].to_numpy(dtype="<f8")).data)  # no copy
        for name in others:
            digest.update(f"\0{name}\0".encode())
            hashed = pd.util.hash_pandas_object(self.data[name], index=False)
            digest.update(hashed.to_numpy(dtype="<u8").tobytes())
        return digest.hexdigest()

    def fingerprints(self, subsets: Sequence[np.ndarray]) -> list[str]:
        """``[self.subset(rows).fingerprint() for rows in subsets]`` without building the
        subsets: every column is converted (or hashed, value by value) once."""
        canonical = [c for c in CANONICAL if c in self.data.columns]
        others = sorted(str(c) for c in self.data.columns if c not in CANONICAL)
        parts = [(name, np.ascontiguousarray(self.data[name].to_numpy(dtype="<f8"))) for name in canonical]
        parts += [
            (name, pd.util.hash_pandas_object(self.data[name], index=False).to_numpy(dtype="<u8")) for name in others
        ]
        out = []
        for rows in subsets:
            digest = hashlib.sha256(f"runs:{len(rows)}".encode())
            for name, values in parts:
                digest.update(f"\0{name}\0".encode())
                digest.update(values[rows].tobytes())
            out.append(digest.hexdigest())
        return out

    def subset(self, rows: Any) -> Runs:
        """Return the runs selected by a boolean mask or by integer positions.

        A mask must have one entry per run; it is read by position (a pandas Series'
        index is ignored). The result is a new :class:`Runs` with its index reset.
        """
        selector = np.asarray(rows)
        if selector.dtype == bool:
            if selector.shape != (len(self),):
                raise DataError(f"subset mask has shape {selector.shape}, expected ({len(self)},)")
            positions = np.flatnonzero(selector)
        elif selector.size == 0 or np.issubdtype(selector.dtype, np.integer):
            positions = selector.astype(np.int64).ravel()
            outside = (positions < -len(self)) | (positions >= len(self))
            if outside.any():
                raise DataError(
                    f"subset position {int(positions[outside][0])} is outside 0..{len(self) - 1}"
                )
        else:
            raise DataError(
                f"subset needs a boolean mask or integer positions, got dtype {selector.dtype}"
            )
        if positions.size == 0:
            raise DataError("subset selects no runs; a Runs table holds at least one run")
        return replace(self, data=self.data.iloc[positions].reset_index(drop=True))

    def to_frame(self) -> pd.DataFrame:
        """A copy of the table as a pandas DataFrame."""
        return self.data.copy()

    def _need(self, name: str) -> None:
        if name in self.data.columns:
            return
        close = difflib.get_close_matches(name, self.columns, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DataError(
            f"column {name!r} is missing (columns: {', '.join(self.columns)}); {hint}"
            f"name it with load_runs(..., columns={{{name!r}: '<its name in your table>'}})"
        )
