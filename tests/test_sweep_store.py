"""The sweep store: atomic appends, uniqueness, concurrent writers, reading (no torch)."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglaws.errors import DataError
from scalinglaws.sweep import store as sweep_store
from scalinglaws.sweep.store import (
    RUN_COLUMNS,
    done_ids,
    is_store,
    read_curves,
    read_runs,
    record_design,
    status,
    write_run,
)


def fake_row(run_id: str, budget: float = 1e11, loss: float = 3.0) -> dict[str, object]:
    """A complete ``runs`` row with made-up values."""
    row: dict[str, object] = {name: None for name in RUN_COLUMNS}
    row.update(run_id=run_id, budget=budget, n_params=1000, n_params_nonembedding=800,
               n_tokens=20_000, flops=6 * 1000 * 20_000.0, loss=loss,
               flops_6nd=1.2e8, flops_exact=1.5e8, flop_convention="6nd", n_layer=1,
               d_model=8, lr=0.01, batch_size=4, spec=json.dumps({"run_id": run_id}))
    return row


CURVE = [(10, 1000, 4.0, 0.01), (20, 2000, 3.5, 0.005), (30, 3000, 3.0, 0.001)]


def test_write_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    record_design(path, [("a", 1e11, "{}"), ("b", 1e11, "{}"), ("c", 1e12, "{}")])
    assert write_run(path, fake_row("a", loss=3.1), CURVE)
    assert write_run(path, fake_row("c", budget=1e12, loss=2.5), CURVE[:2])
    runs = read_runs(path)
    assert list(runs.columns[:4]) == ["n_params", "n_tokens", "flops", "loss"]
    assert {"run_id", "budget", "n_layer", "d_model", "lr", "batch_size",
            "n_params_nonembedding", "flops_6nd"} <= set(runs.columns)
    assert "spec" not in runs.columns
    assert list(runs["run_id"]) == ["a", "c"] and list(runs["loss"]) == [3.1, 2.5]
    curves = read_curves(path)
    assert list(curves.columns) == ["run_id", "step", "tokens", "loss", "lr", "eval_tokens"]
    assert len(curves) == 5 and list(curves[curves.run_id == "a"]["loss"]) == [4.0, 3.5, 3.0]
    table = status(path)
    assert list(table.index) == ["1e+11", "1e+12", "total"]
    assert list(table["designed"]) == [2, 1, 3]
    assert list(table["done"]) == [1, 1, 2]
    assert list(table["remaining"]) == [1, 0, 1]
    assert done_ids(path) == {"a", "c"}


def test_a_run_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    assert write_run(path, fake_row("a", loss=3.0), CURVE)
    assert not write_run(path, fake_row("a", loss=9.9), CURVE)  # ignored, not replaced
    assert list(read_runs(path)["loss"]) == [3.0]
    assert len(read_curves(path)) == len(CURVE)


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    bad_curve = [(10, 1000, 4.0, 0.01), (10, 1000, 4.0, 0.01)]  # duplicate step
    with pytest.raises(sqlite3.IntegrityError):
        write_run(path, fake_row("a"), bad_curve)
    assert read_runs(path).empty and read_curves(path).empty


def test_row_must_be_complete(tmp_path: Path) -> None:
    row = fake_row("a")
    del row["loss"]
    with pytest.raises(DataError, match="loss"):
        write_run(tmp_path / "runs.db", row, CURVE)


def test_store_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    write_run(path, fake_row("a"), CURVE)
    with sweep_store.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _writer(path: str, start: int, count: int) -> None:
    from scalinglaws.sweep.store import write_run

    for i in range(start, start + count):
        write_run(path, fake_row(f"run{i:03d}", loss=1.0 + i), CURVE)
        write_run(path, fake_row(f"run{(i + 7) % 80:03d}", loss=99.0), CURVE)  # collisions


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    record_design(path, [])  # created once, as run_sweep does before starting workers
    context = mp.get_context("spawn")
    procs = [context.Process(target=_writer, args=(str(path), 20 * k, 20)) for k in range(4)]
    # Four writers at once, each also re-writing runs another one writes.
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    runs = read_runs(path)
    assert len(runs) == 80 and runs["run_id"].is_unique
    assert len(read_curves(path)) == 80 * len(CURVE)


@pytest.mark.parametrize("content", [b"n_params,loss\n1,2\n", b"", b"SQLite format 3\x00garbage"])
def test_not_a_store_is_a_data_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "runs.db"
    path.write_bytes(content)
    with pytest.raises(DataError, match="sweep store"):
        read_runs(path)
    assert not is_store(path)


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (n_params INTEGER, loss REAL)")
    before = path.read_bytes()
    for reader in (read_runs, read_curves, status):
        with pytest.raises(DataError, match="not a scalinglaws sweep store"):
            reader(path)
    with pytest.raises(DataError):
        write_run(path, fake_row("a"), CURVE)
    assert path.read_bytes() == before
    assert not is_store(path)


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_runs(tmp_path / "nope.db")
    assert done_ids(tmp_path / "nope.db") == set()


def test_empty_store_reads_as_empty_frame(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    record_design(path, [("a", 1e11, "{}")])
    assert is_store(path)
    runs = read_runs(path)
    assert isinstance(runs, pd.DataFrame) and runs.empty and "loss" in runs.columns
    assert list(status(path)["remaining"]) == [1, 1]


def test_store_reader_does_not_import_torch(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    write_run(path, fake_row("a"), CURVE)
    code = ("import sys; from scalinglaws.sweep import read_runs; "
            f"read_runs({str(path)!r}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_loss_values_survive_exactly(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    losses = np.random.default_rng(0).uniform(2, 4, size=5)
    for i, loss in enumerate(losses):
        write_run(path, fake_row(f"r{i}", loss=float(loss)), CURVE)
    assert sorted(read_runs(path)["loss"]) == sorted(losses.tolist())


def test_a_version_1_store_is_read_as_is_and_migrated_on_write(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    v1_runs = {k: v for k, v in RUN_COLUMNS.items() if k not in sweep_store._LATER_RUN_COLUMNS}
    with sqlite3.connect(path) as conn:  # the schema version 1 wrote
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE designed (run_id TEXT PRIMARY KEY, budget REAL NOT NULL, spec TEXT NOT NULL);"
            f"CREATE TABLE runs ({', '.join(f'{k} {v}' for k, v in v1_runs.items())});"
            "CREATE TABLE curves (run_id TEXT NOT NULL, step INTEGER NOT NULL, tokens INTEGER "
            "NOT NULL, eval_loss REAL NOT NULL, lr REAL NOT NULL, PRIMARY KEY (run_id, step));"
            "INSERT INTO meta VALUES ('format', 'scalinglaws-sweep'), ('version', '1');")
        old = {k: v for k, v in fake_row("old").items() if k in v1_runs}
        conn.execute(f"INSERT INTO runs ({', '.join(old)}) VALUES ({', '.join('?' * len(old))})",
                     list(old.values()))
        conn.execute("INSERT INTO curves VALUES ('old', 10, 1000, 4.0, 0.01)")
    runs = read_runs(path)  # reading adds nothing to the file
    assert list(runs["run_id"]) == ["old"] and runs["resumed_from_step"].isna().all()
    assert read_curves(path)["eval_tokens"].isna().all()
    with sqlite3.connect(path) as conn:
        assert "mfu" not in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    row = fake_row("new")
    row.update(resumed_from_step=40, mfu=0.25)
    assert write_run(path, row, [(10, 1000, 3.9, 0.01, 512)])
    runs = read_runs(path).set_index("run_id")
    assert runs.loc["new", "resumed_from_step"] == 40 and runs.loc["new", "mfu"] == 0.25
    assert read_curves(path).set_index("run_id").loc["new", "eval_tokens"] == 512
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0] == str(sweep_store.VERSION)
