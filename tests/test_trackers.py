"""Reading runs and curves from Weights & Biases CSV exports and MLflow ``mlruns/`` folders (no tracker package needed)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglaws import schedules
from scalinglaws.data.trackers import (
    read_mlflow_curves,
    read_mlflow_runs,
    read_wandb_curves,
    read_wandb_runs,
)
from scalinglaws.dynamics.curves import fit_curves
from scalinglaws.errors import DataError, ScalingLawsWarning
from scalinglaws.laws import get_law

TRUTH = {"L0": 2.0, "A": 1.37, "alpha": 0.3, "C": 1.2}
STEPS = 400


def _curve(lrs: np.ndarray) -> np.ndarray:
    s1, s2 = schedules.areas(lrs)
    return get_law("lr_annealing")(TRUTH, s1=s1, s2=s2)


SCHEDS = {
    "const-1": schedules.constant(3e-4, STEPS, warmup=20),
    "cos-1": schedules.cosine(3e-4, STEPS, warmup=20),
}


# --------------------------------------------------------------------------- W&B


def test_wandb_runs_table_export(tmp_path: Path) -> None:
    path = tmp_path / "wandb_export.csv"
    path.write_text(
        "Name,State,Notes,User,Tags,Created,Runtime,Sweep,config.params,config.tokens,summary.loss,lr\n"
        "small,finished,-,me,,2024-01-01T00:00:00,100,,1e8,2e9,3.2,3e-4\n"
        "big,finished,-,me,,2024-01-01T00:00:00,500,,4e8,8e9,2.9,3e-4\n"
        "broken,crashed,-,me,,2024-01-01T00:00:00,5,,1e9,2e9,7.0,3e-4\n"
    )
    runs = read_wandb_runs(path, finished_only=True)
    assert runs.data["run"].tolist() == ["small", "big"]
    assert runs.column("n_params").tolist() == [1e8, 4e8]  # 'params' after 'config.' is dropped
    assert runs.column("n_tokens").tolist() == [2e9, 8e9]
    assert runs.column("loss").tolist() == [3.2, 2.9]
    assert runs.source == str(path)
    everything = read_wandb_runs(path, where="State != 'crashed'")
    assert len(everything) == 2


def test_wandb_panel_exports_give_the_long_curve_table(tmp_path: Path) -> None:
    steps = np.arange(1, STEPS + 1)
    loss = pd.DataFrame({"Step": steps[9::10]})
    lr = pd.DataFrame({"Step": steps})
    for run, lrs in SCHEDS.items():
        curve = _curve(lrs)
        loss[f"{run} - loss"] = curve[9::10]
        loss[f"{run} - loss__MIN"] = curve[9::10] - 0.01
        loss[f"{run} - loss__MAX"] = curve[9::10] + 0.01
        lr[f"{run} - lr"] = lrs
    loss.to_csv(tmp_path / "loss.csv", index=False)
    lr.to_csv(tmp_path / "lr.csv", index=False)
    table = read_wandb_curves([tmp_path / "loss.csv", tmp_path / "lr.csv"])
    assert set(table["run"]) == set(SCHEDS)
    assert list(table.columns[:4]) == ["run", "step", "loss", "lr"]
    one = table[table.run == "cos-1"]
    assert len(one) == STEPS and one["loss"].notna().sum() == STEPS // 10
    assert np.allclose(one["lr"], SCHEDS["cos-1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScalingLawsWarning)  # every step's LR is known: no interpolation
        cf = fit_curves(table, min_step=20)
    assert cf.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=1e-3)


def test_wandb_history_export_of_one_run(tmp_path: Path) -> None:
    lrs = SCHEDS["cos-1"]
    curve = _curve(lrs)
    frame = pd.DataFrame({"_step": np.arange(1, STEPS + 1), "lr": lrs, "_runtime": np.arange(STEPS) * 0.1})
    frame["val/loss"] = np.where(np.arange(1, STEPS + 1) % 25 == 0, curve, np.nan)
    frame.to_csv(tmp_path / "cos-1.csv", index=False)
    table = read_wandb_curves(tmp_path / "cos-1.csv", metric="val/loss")
    assert set(table["run"]) == {"cos-1"}
    assert table["loss"].notna().sum() == STEPS // 25
    with pytest.raises(DataError, match="have no metric 'loss'; metrics found: _runtime, lr, val/loss"):
        read_wandb_curves(tmp_path / "cos-1.csv")


def test_wandb_errors_name_the_file_and_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_wandb_curves(tmp_path / "missing.csv")
    (tmp_path / "nostep.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no step column"):
        read_wandb_curves(tmp_path / "nostep.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_wandb_runs(tmp_path / "empty.csv")
    (tmp_path / "nostate.csv").write_text("Name,loss\na,3.0\n")
    with pytest.raises(DataError, match="needs the State column"):
        read_wandb_runs(tmp_path / "nostate.csv", finished_only=True)


# --------------------------------------------------------------------------- MLflow


def _write_mlruns(root: Path) -> None:
    """A tracking directory in MLflow's file-store layout, written by hand."""
    exp = root / "1"
    (exp).mkdir(parents=True)
    (exp / "meta.yaml").write_text(
        "artifact_location: file:///tmp/mlruns/1\ncreation_time: 1700000000000\nexperiment_id: '1'\n"
        "last_update_time: 1700000000000\nlifecycle_stage: active\nname: ladder\n"
    )
    (root / "0").mkdir()
    (root / "0" / "meta.yaml").write_text("experiment_id: '0'\nlifecycle_stage: active\nname: Default\n")
    (root / ".trash").mkdir()
    for i, (name, lrs) in enumerate(SCHEDS.items()):
        run = exp / f"run{i}abc"
        for sub in ("params", "metrics/train", "tags", "artifacts"):
            (run / sub).mkdir(parents=True)
        (run / "meta.yaml").write_text(
            f"artifact_uri: file:///tmp/mlruns/1/run{i}abc/artifacts\nend_time: 1700000100000\nentry_point_name: ''\n"
            f"experiment_id: '1'\nlifecycle_stage: active\nrun_id: run{i}abc\nrun_name: {name}\nrun_uuid: run{i}abc\n"
            "source_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 1700000000000\nstatus: 3\ntags: []\n"
            "user_id: me\n"
        )
        (run / "params" / "n_params").write_text("1.2e8")
        (run / "params" / "schedule").write_text(name.split("-")[0])
        (run / "tags" / "mlflow.runName").write_text(name)
        curve = _curve(lrs)
        (run / "metrics" / "lr").write_text("".join(f"{1700000000000 + s} {float(lrs[s - 1])!r} {s}\n" for s in range(1, STEPS + 1)))
        (run / "metrics" / "train" / "loss").write_text(
            "".join(f"{1700000000000 + s} {float(curve[s - 1])!r} {s}\n" for s in range(10, STEPS + 1, 10))
        )
    deleted = exp / "gone"
    (deleted / "metrics").mkdir(parents=True)
    (deleted / "meta.yaml").write_text("experiment_id: '1'\nlifecycle_stage: deleted\nrun_id: gone\nstatus: 4\n")


def test_mlflow_runs_and_curves(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    _write_mlruns(root)
    runs = read_mlflow_runs(root, experiment="ladder")
    assert sorted(runs.data["run"]) == sorted(SCHEDS)
    assert set(runs.data["status"]) == {"FINISHED"}
    assert runs.column("n_params").tolist() == [1.2e8, 1.2e8]
    cos = runs.data[runs.data["run"] == "cos-1"].iloc[0]
    assert cos["schedule"] == "cos"
    assert cos["train/loss"] == pytest.approx(_curve(SCHEDS["cos-1"])[-1])  # the last logged value
    table = read_mlflow_curves(root, metric="train/loss")
    assert set(table["run"]) == set(SCHEDS)
    assert table["loss"].notna().sum() == 2 * STEPS // 10
    cf = fit_curves(table, min_step=20)
    assert cf.interpolated == ()
    assert cf.params["C"] == pytest.approx(TRUTH["C"], rel=1e-3)


def test_mlflow_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such MLflow tracking directory"):
        read_mlflow_runs(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no MLflow experiments"):
        read_mlflow_runs(tmp_path / "empty")
    root = tmp_path / "mlruns"
    _write_mlruns(root)
    with pytest.raises(DataError, match="no experiment named or numbered 'other'; experiments: 'Default'"):
        read_mlflow_runs(root, experiment="other")
    with pytest.raises(DataError, match="no run logs the metric 'val_loss'"):
        read_mlflow_curves(root, metric="val_loss")
    (root / "1" / "run0abc" / "metrics" / "lr").write_text("1700000000000 0.1 1 extra\n")
    with pytest.raises(DataError, match="line 1 is not 'timestamp value \\[step\\]'"):
        read_mlflow_curves(root, metric="train/loss")
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"SQLite format 3\x00")
    with pytest.raises(DataError, match="is not an SQLite database"):  # a .db file goes to the mlflow client
        read_mlflow_runs(db)


def test_missing_clients_give_one_line_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import struct
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "wandb", None)
    monkeypatch.setitem(sys.modules, "wandb.proto", None)
    monkeypatch.setitem(sys.modules, "wandb.proto.wandb_internal_pb2", None)
    with pytest.raises(DataError, match=r"needs the mlflow client: pip install 'scalinglaws\[mlflow\]'"):
        read_mlflow_runs("sqlite:///mlflow.db")
    run = tmp_path / "run-abc.wandb"
    run.write_bytes(struct.pack("<4sHB", b":W&B", 0xBEE1, 0))
    with pytest.raises(DataError, match=r"needs wandb: pip install 'scalinglaws\[wandb\]'"):
        read_wandb_runs(tmp_path)
    from scalinglaws.data.trackers import log_runs

    with pytest.raises(DataError, match="logging to MLflow needs the mlflow client"):
        log_runs(pd.DataFrame({"run": ["a"], "loss": [3.0]}), to="mlflow:sqlite:///x.db")
