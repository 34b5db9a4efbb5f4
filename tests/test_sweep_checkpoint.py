"""Within-run checkpoints: atomic files, and a killed run that resumes bit-identical (CPU)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from scalinglaws.errors import ScalingLawsWarning
from scalinglaws.sweep import (
    DataSpec,
    RunSpec,
    SweepDesign,
    read_runs,
    run_sweep,
    write_design,
)

torch = pytest.importorskip("torch")

from scalinglaws.sweep import checkpoint
from scalinglaws.sweep import train as train_module
from scalinglaws.sweep.train import train

SRC = Path(__file__).resolve().parents[1] / "src"
ENV = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def spec(**changes: object) -> RunSpec:
    """A small run on the shipped English text: 300 steps of a 2-layer model."""
    base = RunSpec(budget=1e9, n_layer=2, d_model=16, n_head=2, n_tokens=300 * 4 * 32,
                   batch_size=4, lr=1e-2, seq_len=32, n_evals=5, eval_tokens=1024,
                   data=DataSpec(corpus="devils-dictionary"))
    return dataclasses.replace(base, **changes)


def test_save_is_atomic_and_keeps_only_the_newest(tmp_path: Path) -> None:
    folder = tmp_path / "root" / "run"
    for step in (10, 20, 30):
        checkpoint.save(folder, step, {"run_id": "x", "step": step, "w": torch.arange(step)})
    assert sorted(p.name for p in folder.iterdir()) == ["step-000000030.pt"]
    path, state = checkpoint.latest(folder)  # type: ignore[misc]
    assert path.name == "step-000000030.pt" and torch.equal(state["w"], torch.arange(30))
    # A torn newer file (it cannot happen through save) and a stray temp file are skipped.
    (folder / "step-000000040.pt").write_bytes(b"not a checkpoint")
    (folder / ".step-000000050.pt.123.tmp").write_bytes(b"partial")
    assert checkpoint.latest(folder)[1]["step"] == 30  # type: ignore[index]
    checkpoint.remove(folder)
    assert not folder.exists() and not folder.parent.exists()  # the emptied root goes too
    assert checkpoint.latest(tmp_path / "none") is None


class Payload:
    """Any class: unpickling it could run code, so checkpoints never do."""


def test_checkpoints_refuse_pickled_code(tmp_path: Path) -> None:
    path = tmp_path / "step-000000001.pt"
    torch.save({"format": checkpoint.FORMAT, "payload": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match="[Ww]eights only"):  # never unpickled
        checkpoint.load(path)
    assert checkpoint.latest(tmp_path) is None


def test_a_run_that_crashes_resumes_bit_identical(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    run = spec()
    whole = train(run, device="cpu", threads=1, checkpoint_dir=tmp_path / "whole",
                  checkpoint_every=25, final_checkpoint=True)
    original = train_module.lr_at

    def crash_at_step_140(step: int, *args: object, **kwargs: object) -> float:
        if step == 140:
            raise RuntimeError("injected crash")
        return original(step, *args, **kwargs)  # type: ignore[arg-type]

    folder = tmp_path / "crashed"
    monkeypatch.setattr(train_module, "lr_at", crash_at_step_140)
    with pytest.raises(RuntimeError, match="injected"):
        train(run, device="cpu", threads=1, checkpoint_dir=folder, checkpoint_every=25,
              final_checkpoint=True)
    assert [p.name for p in folder.glob("step-*.pt")] == ["step-000000125.pt"]
    monkeypatch.setattr(train_module, "lr_at", original)
    resumed = train(run, device="cpu", threads=1, checkpoint_dir=folder, checkpoint_every=25,
                    final_checkpoint=True)
    assert (whole.resumed_from_step, resumed.resumed_from_step) == (0, 125)
    assert resumed.loss == whole.loss and resumed.curve == whole.curve
    _assert_same_state(folder, tmp_path / "whole", run.n_steps)


def _assert_same_state(a: Path, b: Path, step: int) -> None:
    """The final checkpoints' model and optimizer tensors are equal, bit for bit."""
    first = checkpoint.load(a / f"step-{step:09d}.pt")
    second = checkpoint.load(b / f"step-{step:09d}.pt")
    for name, tensor in first["model"].items():
        assert torch.equal(tensor, second["model"][name]), name
    for key, state in first["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, second["optimizer"]["state"][key][name]), (key, name)


_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_sweep_checkpoint import spec
from scalinglaws.sweep.train import train
result = train(spec(), device="cpu", threads=1, checkpoint_dir=sys.argv[1],
               checkpoint_every=10, final_checkpoint=True)
with open(sys.argv[2], "w") as out:
    json.dump({{"loss": repr(result.loss), "resumed": result.resumed_from_step,
               "curve": [repr(p.eval_loss) for p in result.curve]}}, out)
"""


def _trainer(folder: Path, result: Path) -> subprocess.Popen[bytes]:
    code = _SCRIPT.format(tests=str(Path(__file__).parent))
    return subprocess.Popen([sys.executable, "-c", code, str(folder), str(result)], env=ENV,
                            stderr=subprocess.PIPE)


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_bit_identical(tmp_path: Path) -> None:
    reference = _trainer(tmp_path / "whole", tmp_path / "whole.json")
    victim = _trainer(tmp_path / "killed", tmp_path / "killed.json")
    try:
        deadline = time.monotonic() + 600  # a guard against a hang, not a timing assertion
        while not any(50 <= int(p.name[5:14]) < spec().n_steps for p in (tmp_path / "killed").glob("step-*.pt")):
            assert victim.poll() is None, victim.communicate()[1].decode()
            assert time.monotonic() < deadline, "no checkpoint past step 50 within 600 s"
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL and not (tmp_path / "killed.json").exists()
    # the newest checkpoint; the one before it lingers when the kill lands between writing
    # a checkpoint and pruning the older ones (save's folder fsync sits in between)
    killed_at = max(int(p.name[5:14]) for p in (tmp_path / "killed").glob("step-*.pt"))
    assert 50 <= killed_at < spec().n_steps

    resume = _trainer(tmp_path / "killed", tmp_path / "killed.json")
    assert resume.wait(timeout=600) == 0, resume.communicate()[1].decode()
    assert reference.wait(timeout=600) == 0, reference.communicate()[1].decode()
    whole = json.loads((tmp_path / "whole.json").read_text())
    resumed = json.loads((tmp_path / "killed.json").read_text())
    assert whole["resumed"] == 0 and resumed["resumed"] >= killed_at
    assert resumed["loss"] == whole["loss"] and resumed["curve"] == whole["curve"]
    _assert_same_state(tmp_path / "killed", tmp_path / "whole", spec().n_steps)
    print(f"\nkilled at step {killed_at} of {spec().n_steps}; resumed from step "
          f"{resumed['resumed']}; final loss {resumed['loss']} == uninterrupted "
          f"{whole['loss']}; every parameter and optimizer tensor equal")


def test_a_checkpoint_of_other_data_is_ignored(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. " * 2000)
    run = spec(n_tokens=60 * 4 * 32, data=DataSpec(corpus=str(text)))
    folder = tmp_path / "ckpt"
    train(run, device="cpu", threads=1, checkpoint_dir=folder, checkpoint_every=20,
          final_checkpoint=True)
    text.write_text("a different text entirely. " * 2000)  # same path, so the same run_id
    train_module.load_corpus.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = train(run, device="cpu", threads=1, checkpoint_dir=folder, checkpoint_every=20)
    assert again.resumed_from_step == 0 and math.isfinite(again.loss)
    assert any(issubclass(w.category, ScalingLawsWarning) and "data changed" in str(w.message)
               for w in caught)


@pytest.mark.slow
def test_a_killed_local_sweep_resumes_its_runs_from_checkpoints(tmp_path: Path) -> None:
    runs = tuple(spec(n_tokens=steps * 4 * 32, d_model=width)
                 for steps, width in ((400, 16), (400, 24), (200, 16)))
    design = SweepDesign(runs=runs)
    store = tmp_path / "runs.db"
    sweep = subprocess.Popen(
        [sys.executable, "-m", "scalinglaws.sweep", "run",
         str(write_design(design, tmp_path / "sweep.toml")), "--store", str(store),
         "--workers", "2", "--threads", "1", "--device", "cpu", "--checkpoint-every", "10",
         "--quiet"], env=ENV, stderr=subprocess.PIPE, start_new_session=True)
    root = tmp_path / "runs.db.ckpt"
    try:
        deadline = time.monotonic() + 120
        while not list(root.glob("*/step-00000003*.pt")):
            assert sweep.poll() is None, sweep.communicate()[1].decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        os.killpg(sweep.pid, signal.SIGKILL)  # the sweep and its workers, like kill -9
        sweep.wait(timeout=30)
    finally:
        if sweep.poll() is None:
            os.killpg(sweep.pid, signal.SIGKILL)
            sweep.wait()
    report = run_sweep(design, store, workers=2, threads=1, device="cpu", progress=False,
                       checkpoint_every=10)
    # The run whose step-30 checkpoint triggered the kill resumes from there; the other
    # one running then, from whatever checkpoint it had reached.
    assert report.resumed and max(report.resumed.values()) >= 30
    rows = read_runs(store)
    assert sorted(rows["run_id"]) == sorted(r.run_id for r in runs)
    stored = dict(zip(rows["run_id"], rows["resumed_from_step"]))
    assert {k: v for k, v in stored.items() if v} == report.resumed
    assert not root.exists()  # every run is stored, so its checkpoints are gone
