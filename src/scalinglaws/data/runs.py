"""The experiment table: load runs from a file or a DataFrame and validate them once.

A :class:`Runs` holds one row per training run (or per checkpoint of a learning
curve). Its canonical columns follow one unit convention, and hold numbers (finite,
float64) once loaded:

==============  ==========================================================
``n_params``    model size, in parameters (not millions)
``n_tokens``    training data, in tokens
``flops``       training compute, in FLOPs
``loss``        the measured loss (nats per token for language models)
``x``           the generic 1-D scale of a learning curve (steps, examples)
==============  ==========================================================

Every other column is kept as it is. :func:`load_runs` is the only door in: it reads
files through :mod:`scalinglaws.data.readers`, renames, filters, derives and validates,
and raises :class:`~scalinglaws.errors.DataError` naming the column, the row and the
value when something is wrong. What a *law* needs of the values (sizes > 0, a column
derived from others) it asks when it is fitted, through :meth:`Runs.require` and
:meth:`Runs.derive`; the loader keeps no list of which columns a law wants positive.
:class:`Runs` itself (and ``CANONICAL``) lives in :mod:`scalinglaws.data.table` and is
importable from here.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from scalinglaws.data.readers import FORMATS, check_table, read_table
from scalinglaws.data.table import CANONICAL, Runs
from scalinglaws.data.values import (
    as_float,
    check_values,
    more_rows,
    not_a_number,
    same_hash,
)
from scalinglaws.data.where import evaluate_where
from scalinglaws.errors import DataError, ScalingLawsWarning

__all__ = ["CANONICAL", "FORMATS", "Runs", "load_runs"]

_VALIDATED = (*CANONICAL, "unique_tokens")
_ALIASES: dict[str, frozenset[str]] = {
    "n_params": frozenset({"n", "params", "n_params", "model_size", "parameters"}),
    "n_tokens": frozenset({"d", "tokens", "n_tokens", "data", "d_tokens"}),
    "flops": frozenset({"c", "flops", "compute", "c_flop"}),
    "loss": frozenset({"loss", "l", "val_loss", "eval_loss"}),
}
# (largest value below which a size column looks like millions/billions, what it counts, example)
_UNIT_FLOORS = {
    "n_params": (1e4, "parameter counts", "7e10"),
    "n_tokens": (1e5, "token counts", "1.4e12"),
    "flops": (1e9, "FLOP counts", "5.9e23"),
}


def load_runs(
    source: str | os.PathLike[str] | pd.DataFrame | Runs,
    *,
    columns: Mapping[str, str] | None = None,
    where: str | None = None,
    derive_tokens: bool = False,
    format: str | None = None,  # noqa: A002 - the natural name for a file format
) -> Runs:
    """Load, rename, filter and validate a table of training runs.

    Parameters
    ----------
    source : str, path, pandas.DataFrame or Runs
        A file: CSV (``.csv``, ``.tsv``, optionally compressed), JSON Lines
        (``.jsonl``, ``.ndjson``), JSON holding a list of records (``.json``), Parquet
        (``.parquet``, ``.pq``) or a sweep store (SQLite, ``.db``, ``.sqlite``). A
        DataFrame is copied, never modified; a Runs is loaded again with the new
        options.
    columns : mapping of str to str, optional
        Canonical name -> column name in the source, e.g.
        ``{"n_params": "N_params", "n_tokens": "D_tokens"}``. Canonical columns not in
        the mapping are recognised by common names, case-insensitively and only when
        exactly one column matches (``N``, ``params``, ``model_size``, ``parameters``;
        ``D``, ``tokens``, ``data``, ``D_tokens``; ``C``, ``flops``, ``compute``,
        ``C_flop``; ``L``, ``val_loss``, ``eval_loss``). A column already named like
        the target of the mapping is kept as ``<name>_unmapped``.
    where : str, optional
        A row filter such as ``"excluded_by_epoch == 0"`` or
        ``"loss < 4 and dataset in ['c4', 'rpj']"``, evaluated safely after renaming
        (columns by canonical or original name; backticks for other names). Only
        comparisons, ``and``/``or``/``not``, arithmetic and literals are allowed.
    derive_tokens : bool, optional
        If True and ``n_tokens`` is absent, derive it as flops / (6·n_params).
    format : str, optional
        One of ``csv``, ``tsv``, ``jsonl``, ``json``, ``parquet``, ``sqlite``,
        overriding the file extension.

    Returns
    -------
    Runs
        If ``flops`` is absent but ``n_params`` and ``n_tokens`` are present, it is
        derived as 6·n_params·n_tokens (the usual training-compute approximation) and
        listed in ``Runs.derived``.

    Raises
    ------
    DataError
        For an unreadable or empty source, a bad mapping or filter, or a canonical
        value that is not a finite number; the message names the column, the row
        (0-based, counted in the table as read, before ``where``) and the value.
        Whether a value must be > 0 is the law's to say: :func:`scalinglaws.fit` checks
        it for the variables the law declares positive.

    Warns
    -----
    ScalingLawsWarning
        For runs that repeat another in every canonical column, and for sizes that
        look like they are given in millions or billions.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"N": [1e8, 4e8, 1e9], "D": [2e9, 8e9, 2e10],
    ...                       "loss": [3.3, 2.9, 2.6], "tag": ["a", "b", "a"]})
    >>> runs = load_runs(table, where="tag == 'a'")
    >>> runs
    Runs(2 runs from <DataFrame>; columns n_params, n_tokens, flops, loss, ...; derived flops)
    >>> runs.column("flops")
    array([1.2e+18, 1.2e+20])
    """
    derived: tuple[str, ...] = ()
    renamed: dict[str, str] = {}
    if columns is not None and not isinstance(columns, Mapping):
        raise DataError(
            f"columns= must be a mapping of canonical name to column name, e.g. "
            f"{{'n_params': 'N'}}, got {type(columns).__name__}"
        )
    if format is not None and not isinstance(format, str):
        raise DataError(f"format= must be a string such as 'csv', got {type(format).__name__}")
    if isinstance(source, Runs):
        frame, label = source.data.copy(), source.source
        derived, renamed = source.derived, dict(source.renamed)
    elif isinstance(source, pd.DataFrame):
        frame, label = source.copy(), "<DataFrame>"
    elif isinstance(source, str | os.PathLike):
        label = os.fspath(source)
        frame = read_table(label, format)
    else:
        raise DataError(
            f"load_runs needs a path, a pandas DataFrame or Runs, got {type(source).__name__}"
        )
    at = "" if label == "<DataFrame>" else f"{label}: "
    frame = check_table(frame, label, rows="runs")

    frame = _rename(frame, dict(columns or {}), renamed, at)
    raw = {c: frame[c] for c in _VALIDATED if c in frame.columns}
    for name, series in raw.items():
        if series.dtype != np.float64:  # a float64 column is read as it is: no copy
            frame[name] = as_float(series, strict=True)
    frame, derived = _derive(frame, derived, derive_tokens, at)

    if where is not None:
        mask = evaluate_where(where, frame, aliases={v: k for k, v in renamed.items()})
        if not mask.any():
            raise DataError(f"{at}where expression {where!r} selects none of the {len(frame)} runs")
        frame = frame.loc[mask.to_numpy()]

    checked = [c for c in _VALIDATED if c in frame.columns]
    for name in sorted(checked, key=lambda c: c in derived):
        values = frame[name].to_numpy(dtype="float64")
        shown = f"column {name!r}" + (f" (from {renamed[name]!r})" if name in renamed else "")
        bad = np.zeros(len(values), bool)
        if name in raw:
            bad = raw[name].loc[frame.index].notna().to_numpy() & np.isnan(values)
        if bad.any():
            row = frame.index[np.flatnonzero(bad)[0]]
            value = raw[name].loc[row]
            value = value.item() if isinstance(value, np.generic) else value
            raise DataError(
                f"{at}{shown} is not numeric: row {row} has {value!r}{not_a_number(value)}"
                f"{more_rows(bad)}; fix the value or drop the row with where="
            )
        check_values(shown, values, frame.index, False, "", at)

    for message in _warnings(frame, derived):
        warnings.warn(message, ScalingLawsWarning, stacklevel=2)
    order = [c for c in CANONICAL if c in frame.columns]
    frame = frame[order + [c for c in frame.columns if c not in order]].reset_index(drop=True)
    return Runs(data=frame, source=label, derived=derived, renamed=renamed)


def _rename(
    frame: pd.DataFrame, columns: dict[str, str], renamed: dict[str, str], at: str
) -> pd.DataFrame:
    """Apply the user's mapping, then unambiguous aliases; record originals in ``renamed``."""
    present = list(frame.columns)
    back = {original: canonical for canonical, original in renamed.items()}
    mapping: dict[str, str] = {}  # source column -> new name
    for target, wanted in columns.items():
        close = difflib.get_close_matches(target, _VALIDATED, n=1, cutoff=0.75)
        if target not in _VALIDATED and close:
            raise DataError(f"{at}columns= has the key {target!r}; did you mean {close[0]!r}?")
        source = wanted if wanted in present else back.get(wanted, wanted)
        if source not in present:
            near = difflib.get_close_matches(str(wanted), present, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise DataError(
                f"{at}columns= maps {target!r} to {wanted!r}, which is not a column; {hint}"
                f"columns: {', '.join(present)}"
            )
        if source in mapping:
            raise DataError(
                f"{at}columns= maps both {mapping[source]!r} and {target!r} to {wanted!r}"
            )
        if source != target:
            mapping[source] = target
    for canonical, names in _ALIASES.items():
        if canonical in present or canonical in columns:
            continue
        found = [
            c
            for c in present
            if c.strip().lower() in names and c not in mapping and c not in CANONICAL
        ]
        if len(found) == 1 and not np.isnan(as_float(frame[found[0]], strict=False)).all():
            mapping[found[0]] = canonical
    for target in list(mapping.values()):  # a column already holding a mapped name moves aside
        if target in present and target not in mapping:
            spare = f"{target}_unmapped"
            while spare in present:
                spare += "_"
            mapping[target] = spare
    for source, target in mapping.items():
        if target in _VALIDATED:
            renamed[target] = renamed.pop(source, source)
    return frame.rename(columns=mapping)


def _derive(
    frame: pd.DataFrame, derived: tuple[str, ...], derive_tokens: bool, at: str
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Add flops = 6·N·D when absent, and n_tokens = C/(6·N) when asked."""
    if "flops" not in frame.columns and {"n_params", "n_tokens"} <= set(frame.columns):
        frame["flops"] = 6.0 * frame["n_params"] * frame["n_tokens"]
        derived = (*derived, "flops")
    if derive_tokens and "n_tokens" not in frame.columns:
        missing = [c for c in ("flops", "n_params") if c not in frame.columns]
        if missing:
            raise DataError(
                f"{at}derive_tokens=True computes n_tokens = flops / (6 n_params), but "
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing; "
                "map them with columns="
            )
        frame["n_tokens"] = frame["flops"] / (6.0 * frame["n_params"])
        derived = (*derived, "n_tokens")
    return frame, derived


def _warnings(frame: pd.DataFrame, derived: tuple[str, ...]) -> list[str]:
    """Messages about duplicated runs and sizes that look like millions or billions."""
    messages = []
    keys = [c for c in CANONICAL if c in frame.columns and c not in derived]
    if "loss" in keys and len(keys) >= 2:
        suspects = same_hash(frame, keys)
        sub = frame.iloc[suspects]
        repeats = sub.duplicated(subset=keys, keep="first").to_numpy()
        if repeats.any():
            later = sub.index[np.flatnonzero(repeats)[0]]
            same = (sub[keys] == sub.loc[later, keys]).all(axis=1).to_numpy()
            earlier = sub.index[np.flatnonzero(same)[0]]
            messages.append(
                f"{int(repeats.sum())} run(s) repeat an earlier run in all of {', '.join(keys)} "
                f"(first: rows {earlier} and {later}); keep them if they are repeated seeds, "
                "otherwise drop them with where="
            )
    for name, (floor, what, example) in _UNIT_FLOORS.items():
        if name in frame.columns and name not in derived and frame[name].max() < floor:
            messages.append(
                f"{name} looks like it is in millions or billions (max {frame[name].max():g}); "
                f"give {what}, e.g. {example}"
            )
    return messages

