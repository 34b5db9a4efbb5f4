"""Sweeps end to end: local workers, resume after kill -9 and Ctrl-C, Ray (needs torch)."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scalinglaws.sweep import (
    DataSpec,
    SweepDesign,
    SweepError,
    design_sweep,
    read_curves,
    read_runs,
    run_sweep,
    status,
    write_design,
)

torch = pytest.importorskip("torch")

SRC = Path(__file__).resolve().parents[1] / "src"
DATA = DataSpec(max_bytes=2_000_000)


def small_design(budgets: list[float], sizes: int, **options: object) -> SweepDesign:
    """Tiny IsoFLOP grids: seq_len 32, 32 sequences a step, four short evaluations."""
    options = {"seq_len": 32, "head_dim": 4, "batch_size": 32, "n_evals": 4,
               "eval_tokens": 2048, "data": DATA, **options}
    return design_sweep(budgets, sizes, **options)  # type: ignore[arg-type]


@pytest.mark.slow
def test_end_to_end_three_budgets_three_sizes_two_workers(tmp_path: Path) -> None:
    design = small_design([2e9, 4e9, 8e9], 3)
    assert len(design.runs) == 9
    store = tmp_path / "runs.db"
    report = run_sweep(design, store, workers=2, device="cpu", progress=False)
    assert len(report.done) == 9 and not report.failed and not report.skipped

    runs = read_runs(store)
    assert len(runs) == 9 and runs["run_id"].is_unique
    assert all(math.isfinite(x) and 0 < x < 6 for x in runs["loss"])
    for budget, group in runs.groupby("budget"):
        assert len(group) == 3 and group["loss"].nunique() == 3, budget
        assert (abs(group["flops"] / budget - 1) < 0.1).all()
    assert (runs["flops_6nd"] == 6 * runs["n_params"] * runs["n_tokens"]).all()
    assert len(read_curves(store)) == 9 * 4
    assert list(status(store).loc["total", ["designed", "done", "remaining"]]) == [9, 9, 0]

    again = run_sweep(design, store, workers=2, device="cpu", progress=False)
    assert again.done == () and len(again.skipped) == 9


def _default_sigint() -> None:
    """Ctrl-C must reach the sweep even when the tests run from a background job (a
    shell starts those with SIGINT ignored, and an ignored signal is inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_sweep(design_path: Path, store: Path) -> subprocess.Popen[str]:
    """``scalinglaws sweep run`` in its own process group, as a user would start it."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "scalinglaws.sweep", "run", str(design_path), "--store",
         str(store), "--workers", "2", "--device", "cpu", "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
        preexec_fn=_default_sigint)


def _wait_for_runs(store: Path, proc: subprocess.Popen[str], at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early: {proc.communicate()}")
        try:
            with sqlite3.connect(store, timeout=5) as conn:
                count = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            count = 0
        if count >= at_least:
            return int(count)
        time.sleep(0.05)
    pytest.fail("no run finished within 120 s")


def _check_consistent(store: Path, n_evals: int) -> set[str]:
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    runs, curves = read_runs(store), read_curves(store)
    assert runs["run_id"].is_unique
    counts = curves.groupby("run_id").size()
    assert set(counts.index) == set(runs["run_id"]) and (counts == n_evals).all()
    return set(runs["run_id"])


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_interrupted_sweep_resumes_without_loss_or_duplicates(tmp_path: Path, how: str) -> None:
    design = small_design([2e9, 4e9], 4)
    n_runs = len(design.runs)
    design_path = write_design(design, tmp_path / "sweep.toml")
    store = tmp_path / "runs.db"
    proc = _start_sweep(design_path, store)
    try:
        _wait_for_runs(store, proc, at_least=1)
        os.killpg(proc.pid, getattr(signal, how))  # the whole group, as Ctrl-C or kill -9
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if how == "SIGINT":
        assert proc.returncode == 130, stderr
        assert "interrupted" in stderr and "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    before = _check_consistent(store, n_evals=4)
    assert 1 <= len(before) < n_runs
    if how == "SIGINT":
        return  # resuming is the same after either; the SIGKILL case checks it
    finished_at = dict(zip(read_runs(store)["run_id"], read_runs(store)["finished_at"]))

    report = run_sweep(design, store, workers=2, device="cpu", progress=False)
    assert set(report.skipped) == before and len(report.done) == n_runs - len(before)
    after = _check_consistent(store, n_evals=4)
    assert after == {r.run_id for r in design.runs}
    rows = read_runs(store)
    assert len(rows) == n_runs
    for run_id, stamp in finished_at.items():  # the runs done before were not redone
        assert rows.loc[rows.run_id == run_id, "finished_at"].item() == stamp


def test_a_failing_run_is_reported_and_the_rest_go_on(tmp_path: Path) -> None:
    good = small_design([2e9], 1).runs[0]
    bad = dataclasses.replace(good, lr=1e6, grad_clip=0.0, n_evals=1)
    report = run_sweep(SweepDesign(runs=(good, bad)), tmp_path / "runs.db", workers=1,
                       threads=1, device="cpu", progress=True)  # bars on: they must not break
    assert report.done == (good.run_id,)
    assert list(report.failed) == [bad.run_id] and "diverged" in report.failed[bad.run_id]
    assert list(read_runs(tmp_path / "runs.db")["run_id"]) == [good.run_id]


def test_cuda_without_gpu_fails_before_any_work(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SweepError, match="--device cuda"):
        run_sweep(small_design([2e9], 1), tmp_path / "runs.db", device="cuda")
    assert not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"backend": "dask"}, "backend"), ({"workers": 0}, "workers"), ({"device": "tpu"}, "device"),
])
def test_bad_run_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SweepError, match=match):
        run_sweep(small_design([2e9], 1), tmp_path / "runs.db", **kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
def test_ray_backend_on_a_local_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'scalinglaws[ray]')")
    design = small_design([2e9, 4e9], 1)
    # Ray's workers must import scalinglaws, installed or not.
    monkeypatch.setenv("PYTHONPATH", f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = run_sweep(design, tmp_path / "runs.db", backend="ray", workers=2,
                           device="cpu", progress=False)
    finally:
        ray.shutdown()
    assert len(report.done) == 2 and not report.failed
    runs = read_runs(tmp_path / "runs.db")
    assert len(runs) == 2 and runs["loss"].map(math.isfinite).all()
    assert len(read_curves(tmp_path / "runs.db")) == 2 * 4
