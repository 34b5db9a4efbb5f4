"""Runs and curves read back from real W&B offline run files written by ``wandb`` (no server needed)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws import schedules
from scalinglaws.errors import DataError
from scalinglaws.laws import get_law

wandb = pytest.importorskip("wandb", reason="the wandb extra is not installed")

TRUTH = {"L0": 2.0, "A": 1.37, "alpha": 0.3, "C": 1.2}
STEPS = 300
EVERY = 30  # steps between logged losses
SCHEDS = {"const-1": schedules.constant(3e-4, STEPS, warmup=20), "cos-1": schedules.cosine(3e-4, STEPS, warmup=20)}
QUIET = {"silent": True, "console": "off", "x_disable_stats": True, "x_disable_meta": True, "disable_git": True}


def _curve(lrs: np.ndarray) -> np.ndarray:
    s1, s2 = schedules.areas(lrs)
    return get_law("lr_annealing")(TRUTH, s1=s1, s2=s2)


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Offline runs written by ``wandb.init(mode="offline")`` and ``wandb.log``."""
    root = tmp_path_factory.mktemp("wandb")
    for name, lrs in SCHEDS.items():
        curve = _curve(lrs)
        config = {"n_params": 1.2e8, "schedule": name.split("-")[0], "model": {"width": 512}}
        run = wandb.init(mode="offline", dir=root, project="ladder", name=name, config=config,
                         settings=wandb.Settings(**QUIET), reinit="create_new")
        for s in range(1, STEPS + 1):
            values = {"lr": float(lrs[s - 1])}
            if s % EVERY == 0:
                values["train/loss"] = float(curve[s - 1])
            run.log(values, step=s)
        run.summary["tokens_seen"] = 2e9
        run.finish()
    run = wandb.init(mode="offline", dir=root, project="ladder", name="crashed", config={"n_params": 1e9},
                     settings=wandb.Settings(**QUIET), reinit="create_new")
    run.log({"train/loss": 9.0}, step=1)
    run.finish(exit_code=1)
    yield root
    wandb.teardown()


def test_runs_from_offline_run_files(offline: Path) -> None:
    runs = sl.trackers.read_wandb_runs(offline)
    assert sorted(runs.data["run"]) == ["const-1", "cos-1", "crashed"]
    state = dict(zip(runs.data["run"], runs.data["State"]))
    assert state == {"const-1": "finished", "cos-1": "finished", "crashed": "failed"}
    cos = runs.data[runs.data["run"] == "cos-1"].iloc[0]
    assert cos["n_params"] == 1.2e8 and cos["schedule"] == "cos" and cos["model.width"] == 512
    assert cos["project"] == "ladder" and cos["tokens_seen"] == 2e9
    assert cos["train/loss"] == pytest.approx(_curve(SCHEDS["cos-1"])[-1])  # the summary: last logged value
    finished = sl.trackers.read_wandb_runs(offline / "wandb", finished_only=True)
    assert sorted(finished.data["run"]) == ["const-1", "cos-1"]
    one = next((offline / "wandb").glob("offline-run-*"))
    assert len(sl.trackers.read_wandb_runs(one)) == 1  # a run folder
    assert len(sl.trackers.read_wandb_runs(next(one.glob("run-*.wandb")))) == 1  # a run file


def test_curves_from_offline_run_files_fit_the_law_they_came_from(offline: Path) -> None:
    table = sl.trackers.read_wandb_curves(offline, metric="train/loss")
    cos = table[table["run"] == "cos-1"]
    assert len(cos) == STEPS and cos["loss"].notna().sum() == STEPS // EVERY
    assert np.allclose(cos["lr"], SCHEDS["cos-1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.ScalingLawsWarning)  # every step's LR is logged: no interpolation
        cf = sl.fit_curves(table[table["run"] != "crashed"], min_step=20)
    assert cf.params["C"] == pytest.approx(TRUTH["C"], rel=1e-3)
    assert cf.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=1e-3)


def test_offline_errors_name_the_problem(offline: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no W&B run files"):
        sl.trackers.read_wandb_runs(tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        sl.trackers.read_wandb_curves(tmp_path / "missing")
    with pytest.raises(DataError, match="have no metric 'loss'; metrics found: lr, train/loss"):
        sl.trackers.read_wandb_curves(offline)
    source = next((offline / "wandb").glob("offline-run-*/run-*.wandb")).read_bytes()
    bad = tmp_path / "run-bad.wandb"
    bad.write_bytes(source[:200] + bytes([source[200] ^ 0xFF]) + source[201:])
    with pytest.raises(DataError, match="run-bad.wandb: corrupt record at byte"):
        sl.trackers.read_wandb_runs(bad)
    (tmp_path / "run-text.wandb").write_text("not a log")
    with pytest.raises(DataError, match="is not a W&B run file"):
        sl.trackers.read_wandb_runs(tmp_path / "run-text.wandb")
    torn = tmp_path / "torn" / "run-torn.wandb"
    torn.parent.mkdir()
    torn.write_bytes(source[: len(source) - 5])  # a run still writing: the torn last record is left out
    assert sl.trackers.read_wandb_runs(torn).data["State"].tolist() == ["running"]


def test_log_runs_round_trip_through_wandb_offline(offline: Path, tmp_path: Path) -> None:
    curves = sl.trackers.read_wandb_curves(offline, metric="train/loss")
    curves = curves[curves["run"] != "crashed"]
    table = sl.trackers.read_wandb_runs(offline, finished_only=True).data[["run", "n_params", "train/loss"]]
    ids = sl.trackers.log_runs(table, to=f"wandb:offline:{tmp_path}", experiment="copy", curves=curves,
                               metrics=("train/loss",))
    assert len(ids) == 2
    back = sl.trackers.read_wandb_runs(tmp_path).data.set_index("run").loc[table["run"]]
    assert np.array_equal(back["train/loss"].to_numpy(), table["train/loss"].to_numpy())
    assert back["n_params"].tolist() == table["n_params"].tolist() and set(back["project"]) == {"copy"}
    again = sl.trackers.read_wandb_curves(tmp_path)  # a curve table logs its own columns: loss, lr
    assert again.equals(curves.reset_index(drop=True))
    with pytest.raises(DataError, match="only offline W&B runs are written here"):
        sl.trackers.log_runs(table, to="wandb:online")
