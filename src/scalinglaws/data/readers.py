"""The one door for files: every table the package reads goes through :func:`read_table`.

:func:`scalinglaws.load_runs` and :func:`scalinglaws.load_curves` read files here, so
both accept the same formats (CSV and TSV, optionally compressed; JSON Lines; JSON;
Parquet; a sweep store) and refuse the same broken files, with one-line
:class:`~scalinglaws.errors.DataError` s that name the file and the problem.
:func:`check_table` holds the checks every table gets before its values are read.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from scalinglaws.errors import DataError, ScalingLawsError

__all__ = ["FORMATS", "check_table", "read_table"]

FORMATS: tuple[str, ...] = ("csv", "tsv", "jsonl", "json", "parquet", "sqlite")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
    ".parquet": "parquet", ".pq": "parquet", ".db": "sqlite", ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
}  # fmt: skip
_FORMAT_ALIASES = {
    "ndjson": "jsonl",
    "pq": "parquet",
    "db": "sqlite",
    "store": "sqlite",
}
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def read_table(path: str | os.PathLike[str], format: str | None = None) -> pd.DataFrame:
    """Read a table file as it is: no renaming, no checks of the values.

    Parameters
    ----------
    path : str or path
        A CSV or TSV file (``.csv``, ``.tsv``; also compressed, ``.csv.gz``, ...), JSON
        Lines (``.jsonl``, ``.ndjson``), JSON holding a list of records or a mapping of
        columns (``.json``), Parquet (``.parquet``, ``.pq``) or a sweep store (SQLite,
        ``.db``, ``.sqlite``).
    format : str, optional
        One of :data:`FORMATS`, overriding the extension.

    Raises
    ------
    DataError
        One line naming the file and what is wrong with it.
    """
    if format is not None and not isinstance(format, str):
        raise DataError(
            f"format= must be a string such as 'csv', got {type(format).__name__}"
        )
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] in _COMPRESSED
    if format is not None:
        fmt = _FORMAT_ALIASES.get(
            format.lower().lstrip("."), format.lower().lstrip(".")
        )
        if fmt not in FORMATS:
            raise DataError(
                f"unknown format {format!r}; supported formats: {', '.join(FORMATS)}"
            )
    else:
        suffix = (
            suffixes[-2]
            if compressed and len(suffixes) > 1
            else (suffixes[-1] if suffixes else "")
        )
        if suffix not in _EXTENSIONS:
            raise DataError(
                f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
                "supported: "
                f"{', '.join(_EXTENSIONS)} (or pass format= one of {', '.join(FORMATS)})"
            )
        fmt = _EXTENSIONS[suffix]
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file")

    def fail(problem: str, err: BaseException | None = None) -> DataError:
        detail = f" ({first_line(err)})" if err is not None and first_line(err) else ""
        return DataError(f"{path}: {problem}{detail}")

    try:
        if fmt in ("csv", "tsv"):
            with path.open("rb") as handle:
                head = handle.read(8192)
            if not compressed and b"\0" in head:
                raise fail(
                    f"is a binary file, not {fmt.upper()} text "
                    "(pass format= if it is another format)"
                )
            sep = "\t" if fmt == "tsv" else ","
            try:
                frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig")
                _check_csv_header(path, sep, frame, fail)
                return frame
            except DataError:
                raise
            except pd.errors.EmptyDataError as err:
                raise fail("is empty") from err
            except UnicodeDecodeError as err:
                raise fail(f"is not UTF-8 {fmt.upper()} text", err) from err
            except Exception as err:
                raise fail(f"is not valid {fmt.upper()}", err) from err
        if fmt in ("jsonl", "json"):
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as err:
                raise fail("is not UTF-8 JSON text", err) from err
            return _from_json(text, fmt, fail)
        if fmt == "parquet":
            try:
                return pd.read_parquet(path)
            except ImportError as err:
                raise fail(
                    "reading Parquet needs pyarrow (pip install pyarrow)", err
                ) from err
            except Exception as err:
                raise fail("is not a readable Parquet file", err) from err
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                raise fail("is not an SQLite sweep store")
        try:
            from scalinglaws.sweep.store import read_runs
        except ImportError as err:
            raise fail(
                "the sweep store reader is unavailable (scalinglaws.sweep.store)", err
            ) from err
        try:
            frame = read_runs(path)
        except ScalingLawsError:
            raise
        except Exception as err:
            raise fail("could not be read as a sweep store", err) from err
        if not isinstance(frame, pd.DataFrame):
            raise fail(
                f"the sweep store reader returned {type(frame).__name__}, not a DataFrame"
            )
        return frame
    except OSError as err:
        raise fail("could not be read", err) from err


def _from_json(text: str, fmt: str, fail: Any) -> pd.DataFrame:
    if fmt == "jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise fail(f"line {number} is not valid JSON", err) from err
            except RecursionError:
                raise fail(f"line {number} is nested too deeply to be a run") from None
            if not isinstance(record, dict):
                raise fail(f"line {number} is not a JSON object (one run per line)")
            records.append(record)
        if not records:
            raise fail("is empty")
        return _frame(lambda: pd.DataFrame.from_records(records), fail)
    if not text.strip():
        raise fail("is empty")
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise fail("is not valid JSON", err) from err
    except RecursionError:
        raise fail("is nested too deeply to be a table of runs") from None
    if isinstance(content, list) and all(isinstance(r, dict) for r in content):
        return _frame(lambda: pd.DataFrame.from_records(content), fail)
    if isinstance(content, dict) and all(isinstance(v, list) for v in content.values()):
        lengths = {len(v) for v in content.values()}
        if len(lengths) > 1:
            raise fail(
                f"holds columns of different lengths ({', '.join(map(str, sorted(lengths)))})"
            )
        return _frame(lambda: pd.DataFrame(content), fail)
    raise fail(
        'must hold a list of records, e.g. [{"n_params": 1e8, "loss": 3.2}, ...]'
    )


def _frame(build: Any, fail: Any) -> pd.DataFrame:
    """Build a DataFrame from parsed JSON; anything pandas cannot hold is a DataError."""
    try:
        return build()
    except UnicodeError as err:
        raise fail(
            "holds text that is not valid Unicode (a lone surrogate such as \\ud800)",
            err,
        ) from err
    except Exception as err:
        raise fail("cannot be turned into a table of runs", err) from err


_MANGLED = re.compile(r"(.+)\.[0-9]+")


def _check_csv_header(path: Path, sep: str, frame: pd.DataFrame, fail: Any) -> None:
    """Refuse a header that repeats a name (pandas would rename the copy ``name.1``)."""
    if not any(_MANGLED.fullmatch(str(c)) for c in frame.columns):
        return
    head = pd.read_csv(
        path,
        sep=sep,
        encoding="utf-8-sig",
        header=None,
        nrows=1,
        dtype=str,
        keep_default_na=False,
    )
    names = [str(v) for v in head.iloc[0]] if len(head) else []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise fail(
            f"column {repeated[0]!r} appears more than once in the header; give columns distinct names"
        )


def first_line(err: BaseException) -> str:
    """The first line of an error's message (at most 200 characters), or its type."""
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def check_table(
    frame: pd.DataFrame, label: str = "<DataFrame>", rows: str = "runs"
) -> pd.DataFrame:
    """The checks every table gets: rows present, column names unique; index reset.

    Column names become strings. ``label`` (a path) prefixes messages; ``rows`` says
    what a row is (``"runs"``, ``"evaluations"``).
    """
    at = "" if label == "<DataFrame>" else f"{label}: "
    if len(frame) == 0 or len(frame.columns) == 0:
        raise DataError(f"{at}the table has no {rows} (0 rows); it needs at least one")
    frame = frame.copy(deep=False)  # copy-on-write keeps the caller's table as it was
    frame.columns = [str(c) for c in frame.columns]
    repeated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if repeated:
        raise DataError(
            f"{at}column {repeated[0]!r} appears more than once; give columns distinct names"
        )
    return frame.reset_index(drop=True)
