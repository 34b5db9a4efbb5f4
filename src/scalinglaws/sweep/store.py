"""The sweep store: an append-only SQLite file of finished runs and their loss curves.

One row per finished run in ``runs`` and its evaluations in ``curves``, written in one
transaction, so a run is either wholly present or absent, whatever kills the writer.
``run_id`` is unique: a second write of the same run is ignored. The file is in WAL
mode with a busy timeout, so several worker processes can write at once. The design's
runs are listed in ``designed``, so ``status`` can tell what remains.

This module needs only the standard library and pandas (no torch).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd

from scalinglaws.errors import DataError

FORMAT = "scalinglaws-sweep"
VERSION = 3
BUSY_TIMEOUT_S = 60.0

#: Columns of the ``runs`` table, in order, with their SQLite types.
RUN_COLUMNS: dict[str, str] = {
    "run_id": "TEXT PRIMARY KEY", "budget": "REAL NOT NULL",
    "n_params": "INTEGER NOT NULL", "n_params_nonembedding": "INTEGER NOT NULL",
    "n_tokens": "INTEGER NOT NULL", "flops": "REAL NOT NULL", "loss": "REAL NOT NULL",
    "flops_6nd": "REAL NOT NULL", "flops_exact": "REAL NOT NULL",
    "flop_convention": "TEXT NOT NULL", "n_layer": "INTEGER", "d_model": "INTEGER",
    "n_head": "INTEGER", "seq_len": "INTEGER", "vocab_size": "INTEGER", "lr": "REAL",
    "batch_size": "INTEGER", "n_steps": "INTEGER", "schedule": "TEXT", "seed": "INTEGER",
    "corpus": "TEXT", "corpus_sha256": "TEXT", "device": "TEXT", "train_seconds": "REAL",
    "tokens_per_second": "REAL", "torch_version": "TEXT", "finished_at": "TEXT",
    "spec": "TEXT NOT NULL",
    # Added in version 2; a version-1 store gains them (empty for its old runs) when
    # it is next written to.
    "resumed_from_step": "INTEGER", "mfu": "REAL", "peak_flops": "REAL",
    "device_name": "TEXT", "eval_sha256": "TEXT", "compiled": "INTEGER",
    # Added in version 3 (the same way): the gradient noise scale, in tokens; and for
    # cooldown branches the run it branched from and at which step (empty for runs trained
    # from scratch), and the tokens it trained itself.
    "b_simple": "REAL",
    "parent": "TEXT", "branch_step": "INTEGER", "trained_tokens": "INTEGER",
}
_V2_RUN_COLUMNS = ("resumed_from_step", "mfu", "peak_flops", "device_name", "eval_sha256",
                   "compiled")
_V3_RUN_COLUMNS = ("b_simple", "parent", "branch_step", "trained_tokens")
#: Columns a store may lack (it gains them when next written to; old runs stay NULL).
_LATER_RUN_COLUMNS = _V2_RUN_COLUMNS + _V3_RUN_COLUMNS
CURVE_COLUMNS: tuple[str, ...] = ("run_id", "step", "tokens", "loss", "lr", "eval_tokens")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS designed (
    run_id TEXT PRIMARY KEY, budget REAL NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs ({", ".join(f"{k} {v}" for k, v in RUN_COLUMNS.items())});
CREATE TABLE IF NOT EXISTS curves (
    run_id TEXT NOT NULL REFERENCES runs(run_id), step INTEGER NOT NULL,
    tokens INTEGER NOT NULL, eval_loss REAL NOT NULL, lr REAL NOT NULL,
    eval_tokens INTEGER, PRIMARY KEY (run_id, step));
"""


@contextmanager
def connect(path: str | Path, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """Open a store (WAL mode, busy timeout), creating it if ``create`` and absent.

    Tables are created only in an empty database, and a file is checked before anything
    is written to it, so a foreign SQLite file given by mistake is never modified.

    Raises
    ------
    DataError
        If ``path`` does not exist (and ``create`` is false) or is not a sweep store.
    """
    path = Path(path)
    if not create and not path.is_file():
        raise DataError(f"sweep store {str(path)!r} does not exist; run "
                        "`scalinglaws sweep run DESIGN.toml --store PATH` to make one")
    if path.exists() and not path.is_file():
        raise DataError(f"sweep store {str(path)!r} is not a file")
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise DataError(f"cannot open sweep store {str(path)!r}: {exc}") from None
    with closing(conn):
        try:
            if create:
                with _transaction(conn):  # one creator at a time; a foreign file has tables
                    if not _tables(conn):
                        for statement in _SCHEMA.split(";"):
                            if statement.strip():
                                conn.execute(statement)
                        conn.execute("INSERT INTO meta VALUES ('format', ?), ('version', ?)",
                                     (FORMAT, str(VERSION)))
            _check_format(conn, path)
            if create:
                _migrate(conn)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{str(path)!r} is not a scalinglaws sweep store (SQLite said: "
                            f"{exc}); give the file written by `scalinglaws sweep run`"
                            ) from None
        yield conn


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a sweep store (cheap: checks the SQLite header first).

    Examples
    --------
    >>> is_store("pyproject.toml")
    False
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                return False
        with connect(path):
            return True
    except (OSError, DataError):
        return False


def record_design(path: str | Path, specs: Iterable[tuple[str, float, str]]) -> None:
    """List designed runs ``(run_id, budget, spec_json)`` in the store (idempotent)."""
    with connect(path, create=True) as conn, _transaction(conn):
        conn.executemany("INSERT OR IGNORE INTO designed VALUES (?, ?, ?)", list(specs))


def done_ids(path: str | Path) -> set[str]:
    """The run_ids already finished (empty if the store does not exist yet)."""
    if not Path(path).exists():
        return set()
    with connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT run_id FROM runs")}


def write_run(path: str | Path, row: Mapping[str, object],
              curve: Sequence[tuple[int, int, float, float]]) -> bool:
    """Append one finished run and its curve in a single transaction.

    Parameters
    ----------
    path : str or Path
        The store (created if missing).
    row : mapping
        A value for every column in :data:`RUN_COLUMNS` (those added in versions 2 and
        3 may be left out: they are then empty).
    curve : sequence of (step, tokens, eval_loss, lr[, eval_tokens])
        The run's evaluations, each with the number of held-out tokens it measured.

    Returns
    -------
    bool
        True if written, False if the run_id was already there (nothing changes).
    """
    missing = set(RUN_COLUMNS) - set(_LATER_RUN_COLUMNS) - set(row)
    if missing:
        raise DataError(f"run row lacks column(s) {sorted(missing)}")
    names = list(RUN_COLUMNS)
    points = [(row["run_id"], *point, *([None] * (5 - len(point)))) for point in curve]
    with connect(path, create=True) as conn, _transaction(conn):
        cursor = conn.execute(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            "ON CONFLICT(run_id) DO NOTHING", [row.get(name) for name in names])
        if cursor.rowcount == 0:
            return False
        conn.executemany("INSERT INTO curves (run_id, step, tokens, eval_loss, lr, "
                         "eval_tokens) VALUES (?, ?, ?, ?, ?, ?)", points)
    return True


def read_runs(path: str | Path) -> pd.DataFrame:
    """The finished runs, one row each, ready for the fitter.

    Parameters
    ----------
    path : str or Path
        A sweep store.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_params`` (total, embeddings included), ``n_tokens`` (trained),
        ``flops`` (the design's convention), ``loss`` (final held-out loss, nats per
        byte token), then ``run_id``, ``budget``, ``n_params_nonembedding``,
        ``flops_6nd``, ``flops_exact``, ``flop_convention``, ``n_layer``, ``d_model``,
        ``lr``, ``batch_size`` and the rest of :data:`RUN_COLUMNS` but ``spec`` (among
        them ``b_simple``, the gradient noise scale in tokens, empty for runs stored
        before version 3), and
        ``role``: ``"trunk"`` for a run that designed branches start from (a
        constant-LR run, not cooled down: leave it out of a fit with
        ``where="role != 'trunk'"``), ``"branch"`` for a run with a ``parent``, else
        ``"run"``. Sorted by budget, then n_params.

    Raises
    ------
    DataError
        If ``path`` is missing or not a sweep store.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "runs.db"
    >>> record_design(store, [("0123456789abcdef", 1e11, "{}")])
    >>> list(read_runs(store).columns[:4]), len(read_runs(store))
    (['n_params', 'n_tokens', 'flops', 'loss'], 0)
    """
    columns = [c for c in RUN_COLUMNS if c != "spec"]
    columns = ["n_params", "n_tokens", "flops", "loss"] + [
        c for c in columns if c not in ("n_params", "n_tokens", "flops", "loss")]
    with connect(path) as conn:
        present = _columns(conn, "runs")
        chosen = [c if c in present else f"NULL AS {c}" for c in columns]
        rows = conn.execute(f"SELECT {', '.join(chosen)} FROM runs "
                            "ORDER BY budget, n_params, run_id").fetchall()
        trunks = {json.loads(spec).get("parent") for (spec,) in
                  conn.execute("SELECT spec FROM designed")} - {None, ""}
    frame = pd.DataFrame(rows, columns=columns)
    frame["role"] = ["trunk" if run_id in trunks else "run" if parent is None else "branch"
                     for run_id, parent in zip(frame["run_id"], frame["parent"])]
    return frame


def read_curves(path: str | Path) -> pd.DataFrame:
    """Every run's held-out loss curve: columns run_id, step, tokens, loss, lr, eval_tokens.

    ``eval_tokens`` is the number of held-out tokens each loss was measured on (empty
    for runs written by version 1 of the store).

    Raises
    ------
    DataError
        If ``path`` is missing or not a sweep store.
    """
    with connect(path) as conn:
        extra = "eval_tokens" if "eval_tokens" in _columns(conn, "curves") else "NULL"
        rows = conn.execute(f"SELECT run_id, step, tokens, eval_loss, lr, {extra} FROM curves "
                            "ORDER BY run_id, step").fetchall()
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def status(path: str | Path) -> pd.DataFrame:
    """Runs designed, done and remaining per budget (and a total row).

    Raises
    ------
    DataError
        If ``path`` is missing or not a sweep store.
    """
    with connect(path) as conn:
        rows = conn.execute(
            "SELECT d.budget, COUNT(*), COUNT(r.run_id), MIN(r.loss) FROM designed d "
            "LEFT JOIN runs r ON r.run_id = d.run_id GROUP BY d.budget ORDER BY d.budget"
        ).fetchall()
        extra = conn.execute("SELECT COUNT(*) FROM runs WHERE run_id NOT IN "
                             "(SELECT run_id FROM designed)").fetchone()[0]
    table = pd.DataFrame(rows, columns=["budget", "designed", "done", "best_loss"])
    table["best_loss"] = table["best_loss"].astype(float)  # None (nothing done) -> NaN
    table.insert(3, "remaining", table["designed"] - table["done"])
    total = {"budget": math.nan, "designed": table["designed"].sum(),
             "done": table["done"].sum() + extra, "remaining": table["remaining"].sum(),
             "best_loss": table["best_loss"].min() if len(table) else math.nan}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table.index = [*(f"{b:g}" for b in table["budget"].iloc[:-1]), "total"]
    return table.drop(columns="budget")


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (Ctrl-C included)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older store to this version: add the new columns (old rows stay NULL)."""
    if _columns(conn, "curves") >= {"eval_tokens"} and _columns(conn, "runs") >= set(
            _LATER_RUN_COLUMNS):
        return
    with _transaction(conn):
        present = _columns(conn, "runs")
        for name in _LATER_RUN_COLUMNS:
            if name not in present:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {RUN_COLUMNS[name]}")
        if "eval_tokens" not in _columns(conn, "curves"):
            conn.execute("ALTER TABLE curves ADD COLUMN eval_tokens INTEGER")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(VERSION),))


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _check_format(conn: sqlite3.Connection, path: Path) -> None:
    tables = _tables(conn)
    marker = None
    if {"meta", "runs", "curves", "designed"} <= tables:
        found = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        marker = found[0] if found else None
    if marker != FORMAT:
        raise DataError(f"{str(path)!r} is an SQLite file but not a scalinglaws sweep store "
                        f"(tables found: {sorted(tables) or 'none'}); give the file written "
                        "by `scalinglaws sweep run`")
