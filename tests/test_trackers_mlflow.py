"""Runs and curves read back from a real MLflow tracking store (SQLite backend) written by ``mlflow``."""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws import schedules
from scalinglaws.errors import DataError
from scalinglaws.laws import get_law

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
from mlflow.entities import Metric

TRUTH = {"L0": 2.0, "A": 1.37, "alpha": 0.3, "C": 1.2}
STEPS = 300
EVERY = 30  # steps between logged losses
SCHEDS = {"const-1": schedules.constant(3e-4, STEPS, warmup=20), "cos-1": schedules.cosine(3e-4, STEPS, warmup=20)}


def _curve(lrs: np.ndarray) -> np.ndarray:
    s1, s2 = schedules.areas(lrs)
    return get_law("lr_annealing")(TRUTH, s1=s1, s2=s2)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A SQLite tracking store written with MLflow's own logging API (fluent and client)."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    uri = f"sqlite:///{path}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        exp = mlflow.create_experiment("ladder")
        for name, lrs in SCHEDS.items():
            curve = _curve(lrs)
            with mlflow.start_run(experiment_id=exp, run_name=name) as run:
                mlflow.log_params({"n_params": 1.2e8, "schedule": name.split("-")[0]})
                for s in range(EVERY, STEPS + 1, EVERY):
                    mlflow.log_metric("train/loss", float(curve[s - 1]), step=s)
                # the LR at every step in one batch (one call per step takes minutes on SQLite)
                lr = [Metric("lr", float(v), 1_700_000_000_000 + s, s) for s, v in enumerate(lrs, start=1)]
                mlflow.MlflowClient(uri).log_batch(run.info.run_id, metrics=lr)
        with mlflow.start_run(experiment_id=exp, run_name="crashed"):
            mlflow.log_param("n_params", 1e9)
            mlflow.log_metric("train/loss", 9.0, step=1)
            mlflow.end_run(status="FAILED")
        with mlflow.start_run(experiment_id=exp, run_name="gone") as gone:
            mlflow.log_metric("train/loss", 1.0, step=1)
        mlflow.MlflowClient(uri).delete_run(gone.info.run_id)
        yield uri, path


def test_runs_from_a_sqlite_store(store: tuple[str, Path]) -> None:
    uri, path = store
    runs = sl.trackers.read_mlflow_runs(uri, experiment="ladder")
    assert sorted(runs.data["run"]) == ["const-1", "cos-1", "crashed"]  # the deleted run is left out
    status = dict(zip(runs.data["run"], runs.data["status"]))
    assert status == {"const-1": "FINISHED", "cos-1": "FINISHED", "crashed": "FAILED"}
    cos = runs.data[runs.data["run"] == "cos-1"].iloc[0]
    assert cos["n_params"] == 1.2e8 and cos["schedule"] == "cos"  # params come back as numbers where they parse
    assert cos["train/loss"] == pytest.approx(_curve(SCHEDS["cos-1"])[-1])  # the latest value
    assert runs.source == uri
    by_file = sl.trackers.read_mlflow_runs(path, experiment="ladder", where="status == 'FINISHED'")
    assert sorted(by_file.data["run"]) == ["const-1", "cos-1"]


def test_curves_from_a_sqlite_store_fit_the_law_they_came_from(store: tuple[str, Path]) -> None:
    uri, _ = store
    table = sl.trackers.read_mlflow_curves(uri, metric="train/loss", experiment="ladder")
    assert set(table["run"]) == {"const-1", "cos-1", "crashed"}
    cos = table[table["run"] == "cos-1"]
    assert len(cos) == STEPS and cos["loss"].notna().sum() == STEPS // EVERY
    assert np.allclose(cos["lr"], SCHEDS["cos-1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.ScalingLawsWarning)  # every step's LR is logged: no interpolation
        cf = sl.fit_curves(table[table["run"] != "crashed"], min_step=20)
    assert cf.params["C"] == pytest.approx(TRUTH["C"], rel=1e-3)
    assert cf.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=1e-3)


def test_store_errors_name_the_problem(store: tuple[str, Path], tmp_path: Path) -> None:
    uri, _ = store
    with pytest.raises(DataError, match="no experiment named or numbered 'other'; experiments: .*'ladder'"):
        sl.trackers.read_mlflow_runs(uri, experiment="other")
    with pytest.raises(DataError, match="no run logs the metric 'val_loss'; metrics logged: lr, train/loss"):
        sl.trackers.read_mlflow_curves(uri, metric="val_loss", experiment="ladder")
    with pytest.raises(DataError, match="no such MLflow database file"):
        sl.trackers.read_mlflow_runs(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()  # the reader never creates a store
    other = tmp_path / "results.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE results (loss REAL)")
    with pytest.raises(DataError, match="is not an MLflow tracking database"):
        sl.trackers.read_mlflow_runs(other)
    with sqlite3.connect(other) as db:  # ... and leaves a foreign database as it was
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["results"]


def test_log_runs_round_trip_through_mlflow_gives_the_same_fit(store: tuple[str, Path]) -> None:
    uri, _ = store
    ladder = sl.datasets.load("chinchilla_epoch").data.iloc[::10][["n_params", "n_tokens", "loss"]]
    ladder.insert(0, "run", [f"r{i:02d}" for i in range(len(ladder))])
    curves = sl.trackers.read_mlflow_curves(uri, metric="train/loss", experiment="ladder")
    curves = curves[curves["run"] == "cos-1"].assign(run="r00")
    ids = sl.trackers.log_runs(ladder, to=f"mlflow:{uri}", experiment="written", curves=curves)
    assert len(ids) == len(ladder) == len(set(ids))
    back = sl.trackers.read_mlflow_runs(uri, experiment="written")
    assert sorted(back.data["run"]) == ladder["run"].tolist()
    merged = back.data.set_index("run").loc[ladder["run"]]
    assert np.array_equal(merged["loss"].to_numpy(), ladder["loss"].to_numpy())  # metrics are doubles: exact
    assert np.array_equal(merged["n_params"].to_numpy(), ladder["n_params"].to_numpy())  # params via repr: exact
    original = sl.fit(ladder, "chinchilla", calibrate_intervals=False)
    again = sl.fit(back, "chinchilla", calibrate_intervals=False)
    assert again.params == original.params
    history = sl.trackers.read_mlflow_curves(uri, experiment="written")
    r00 = history[history["run"] == "r00"]
    assert np.allclose(r00["lr"], SCHEDS["cos-1"]) and r00["loss"].notna().sum() == STEPS // EVERY
    assert r00["loss"].iloc[-1] == ladder["loss"].iloc[0]  # the row's loss is the final one, logged last
    with pytest.raises(DataError, match="is not 'mlflow:<tracking uri>' or 'wandb:offline"):
        sl.trackers.log_runs(ladder, to="neptune:x")
