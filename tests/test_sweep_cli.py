"""``scalinglaws sweep design|run|status`` through the command line."""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import pytest

from scalinglaws.cli.app import main
from scalinglaws.errors import ScalingLawsWarning
from scalinglaws.sweep import SweepError, read_design, run_sweep
from scalinglaws.sweep import backends as sweep_backends
from scalinglaws.sweep.cli import register
from scalinglaws.sweep.store import record_design


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_register_adds_sweep_with_three_subcommands() -> None:
    parser = argparse.ArgumentParser(prog="scalinglaws")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", "status", "runs.db"])
    assert args.store == "runs.db" and callable(args.handler)
    for sub in ("design", "run", "status"):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(["sweep", sub, "--help"])
        assert info.value.code == 0


@pytest.mark.parametrize("sub", ["design", "run", "status"])
def test_help_is_useful(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep", sub, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "scalinglaws sweep" in out


def test_design_writes_an_editable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "sweep.toml"
    code, out, _ = run(["sweep", "design", "--budgets", "1e11,3e11,1e12", "--sizes-per-budget",
                        "5", "-o", str(out_file)], capsys)
    assert code == 0 and "wrote" in out and "tok/param" in out
    design = read_design(out_file)
    assert len(design.runs) == 15 and design.budgets == (1e11, 3e11, 1e12)
    assert "[[runs]]" in out_file.read_text()

    code, _, err = run(["sweep", "design", "--budgets", "1e11", "-o", str(out_file)], capsys)
    assert code == 2 and err.startswith("error:") and "--force" in err and err.count("\n") == 1
    code, _, _ = run(["sweep", "design", "--budgets", "1e11", "--flop-convention", "exact",
                      "--corpus", str(tmp_path), "-o", str(out_file), "--force"], capsys)
    assert code == 0
    run_spec = read_design(out_file).runs[0]
    assert run_spec.flop_convention == "exact" and run_spec.data.corpus == str(tmp_path)


def test_design_rejects_bad_budgets(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep", "design", "--budgets", "lots"])
    assert info.value.code == 2
    code, _, err = run(["sweep", "design", "--budgets=-1e11"], capsys)
    assert code == 2 and "budget" in err


def test_status_of_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "runs.db"
    record_design(store, [("a", 1e11, "{}"), ("b", 1e11, "{}"), ("c", 1e12, "{}")])
    code, out, _ = run(["sweep", "status", str(store)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["budget", "designed", "done", "remaining", "best_loss"]
    assert lines[1].split() == ["1e+11", "2", "0", "2", "-"]
    assert lines[-1].split() == ["total", "3", "0", "3", "-"]


@pytest.mark.parametrize("content", [None, b"not a database"])
def test_status_of_a_non_store_is_one_line(tmp_path: Path, content: bytes | None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "runs.db"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(["sweep", "status", str(path)], capsys)
    assert code == 2 and out == "" and err.startswith("error:") and err.count("\n") == 1


def test_missing_design_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["sweep", "run", str(tmp_path / "nope.toml"), "--store",
                        str(tmp_path / "runs.db")], capsys)
    assert code == 2 and "does not exist" in err


def test_ray_backend_without_ray_says_how_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(SweepError, match=r"scalinglaws\[ray\]"):
        sweep_backends.import_ray()
    design = tmp_path / "sweep.toml"
    assert run(["sweep", "design", "--budgets", "1e9", "-o", str(design)], capsys)[0] == 0
    code, _, err = run(["sweep", "run", str(design), "--store", str(tmp_path / "runs.db"),
                        "--backend", "ray"], capsys)
    assert code == 2 and "pip install" in err
    assert not (tmp_path / "runs.db").exists()


def test_training_without_torch_says_how_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scalinglaws.sweep import design_sweep

    monkeypatch.setattr(sweep_backends, "torch_available", lambda: False)
    with pytest.raises(SweepError, match=r"scalinglaws\[sweep\]"):
        run_sweep(design_sweep([1e10], 1), tmp_path / "runs.db")


def test_run_then_status_then_load_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from scalinglaws.data.runs import load_runs

    design, store = tmp_path / "sweep.toml", tmp_path / "runs.db"
    code, _, _ = run(["sweep", "design", "--budgets", "2e9,4e9", "--sizes-per-budget", "1",
                      "--seq-len", "32", "--head-dim", "4", "--batch-size", "32", "--n-evals", "2",
                      "--eval-tokens", "1024", "--max-bytes", "1000000", "-o", str(design)], capsys)
    assert code == 0
    code, out, _ = run(["sweep", "run", str(design), "--store", str(store), "--device", "cpu",
                        "--workers", "2", "--threads", "1", "--quiet"], capsys)
    assert code == 0 and "trained 2 run(s), 0 already in the store, 0 failed" in out
    code, out, _ = run(["sweep", "run", str(design), "--store", str(store), "--quiet"], capsys)
    assert code == 0 and "trained 0 run(s), 2 already in the store" in out
    code, out, _ = run(["sweep", "status", str(store)], capsys)
    assert out.splitlines()[-1].split()[:4] == ["total", "2", "2", "0"]

    with warnings.catch_warnings():  # tiny models can look like "millions" to the loader
        warnings.simplefilter("ignore", ScalingLawsWarning)
        runs = load_runs(store)  # the store is a valid input wherever runs are
    assert len(runs) == 2
    assert all(math.isfinite(x) for x in runs.column("loss"))
    assert {"n_params", "n_tokens", "flops", "loss"} <= set(runs.columns)


@pytest.mark.parametrize(("extra", "match"), [
    (["--checkpoint-every", "-1"], "checkpoint_every must be an integer >= 0"),
    (["--peak-flops", "0"], "peak_flops must be a positive number"),
    (["--retries", "-2"], "retries must be an integer >= 0"),
    (["--backend", "ray", "--address", "127.0.0.1:1"], "no Ray cluster answers at 127.0.0.1:1"),
])
def test_bad_run_options_are_one_line_errors(extra: list[str], match: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    if "ray" in extra:
        pytest.importorskip("ray")
    design = tmp_path / "sweep.toml"
    assert run(["sweep", "design", "--budgets", "1e9", "-o", str(design)], capsys)[0] == 0
    code, out, err = run(["sweep", "run", str(design), "--store", str(tmp_path / "runs.db"),
                          *extra], capsys)
    assert code == 2 and out == "" and err.startswith("error:") and err.count("\n") == 1
    assert match in err and not (tmp_path / "runs.db").exists()


def test_memory_sizes_parse() -> None:
    from scalinglaws.sweep.cli import _bytes

    assert _bytes("4G") == 4 << 30 and _bytes("512MiB") == 512 << 20
    assert _bytes("1073741824") == 1 << 30 and _bytes("1.5k") == 1536
    with pytest.raises(argparse.ArgumentTypeError):
        _bytes("lots")
