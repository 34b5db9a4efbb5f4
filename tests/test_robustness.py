"""Robustness: hostile files and arguments, awkward data, determinism, atomic writes, scale.

What a careless or malicious user can do, and what must happen: a one-line
``scalinglaws`` error (exit status 2 at the command line), or a documented, correct
result; never a traceback, a hang, a half-written file or a silently wrong number.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
import scalinglaws.io as slio
from scalinglaws.cli.app import main

SRC = Path(sl.__file__).resolve().parents[1]  # the src folder of the package under test


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), **extra}


def _power_frame(n: int = 40, seed: int = 0, noise: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = 10.0 ** rng.uniform(6, 10, n)
    loss = (1.5 + 300.0 * x**-0.3) * np.exp(rng.normal(0.0, noise, n))
    return pd.DataFrame({"x": x, "loss": loss})


def _chinchilla_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N = np.repeat(np.geomspace(1e7, 1e10, 8), 5)
    D = np.tile(np.geomspace(1e9, 1e12, 5), 8)
    loss = 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28
    return pd.DataFrame({"n_params": N, "n_tokens": D, "loss": loss * np.exp(rng.normal(0, 0.005, N.size))})


def _quiet_fit(*args, **kwargs) -> sl.Fit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.ScalingLawsWarning)
        return sl.fit(*args, **kwargs)


# --------------------------------------------------------------------------- hostile files at the CLI

_GOOD = "x,loss\n1e6,3.2\n1e7,2.8\n1e8,2.5\n1e9,2.3\n"
HOSTILE_FILES = [
    ("empty.csv", b"", "is empty"),
    ("blank.csv", b"\n\n\n", "is empty"),
    ("header.csv", b"x,loss\n", "no runs"),
    ("binary.csv", b"\x00\x01\x02PK\x03\x04" * 50, "binary file"),
    ("latin1.csv", "x,loss,caf\xe9\n1e6,3,1\n".encode("latin-1"), "not UTF-8"),
    ("quote.csv", b'x,loss\n"1e6,3\n', "not valid CSV"),
    ("dupheader.csv", b"x,loss,loss\n1e6,3,4\n1e7,2.8,3\n1e8,2.5,3\n", "appears more than once"),
    ("boolloss.csv", b"x,loss\n1e6,True\n1e7,False\n1e8,True\n", "a boolean"),
    ("complex.csv", b"x,loss\n1e6,3+2j\n1e7,2.8\n1e8,2.5\n", "not numeric"),
    ("nan.csv", b"x,loss\n1e6,nan\n1e7,2.8\n1e8,2.5\n", "finite"),
    ("inf.csv", b"x,loss\n1e6,3\n1e7,inf\n1e8,2.5\n", "finite"),
    ("huge.csv", b"x,loss\n1e400,3\n1e7,2.8\n1e8,2.5\n", "finite"),
    ("negative.csv", b"x,loss\n-1e6,3\n1e7,2.8\n1e8,2.5\n", "must be > 0"),
    ("ragged.csv", b"x,loss\n1e6,3,9,9\n1e7\n1e8,2.5\n", "row"),
    ("gz.csv.gz", b"\x1f\x8b\x08\x00garbage", "not valid CSV"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("deep.jsonl", b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "nested too deeply"),
    ("bigint.json", b'[{"x": 1' + b"0" * 400 + b', "loss": 3}]', "finite"),
    ("surrogate.json", b'[{"\\ud800": 1, "x": 1e6, "loss": 3}]', "not valid Unicode"),
    ("scalar.json", b"3", "list of records"),
    ("ragged.json", b'{"x": [1e6, 1e7], "loss": [3]}', "different lengths"),
    ("notobject.jsonl", b"[1, 2]\n", "not a JSON object"),
    ("badline.jsonl", b'{"x": 1e6, "loss": 3}\n{oops}\n', "line 2"),
    ("boolloss.jsonl", b'{"x": 1e6, "loss": true}\n{"x": 1e7, "loss": 2}\n{"x": 1e8, "loss": 2}\n', "a boolean"),
    ("garbage.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", "not a readable Parquet"),
    ("garbage.db", b"SQLite format 3\x00" + b"\x00" * 200, "sweep store"),
    ("notsqlite.db", b"hello", "not an SQLite"),
    ("noext", _GOOD.encode(), "cannot tell the format"),
    ("few.csv", b"x,loss\n1e6,3\n", "at least 3 runs"),
    ("noloss.csv", b"x,val\n1e6,3\n1e7,2.8\n1e8,2.5\n", "'loss' is missing"),
]


@pytest.mark.parametrize(("name", "content", "needle"), HOSTILE_FILES, ids=[c[0] for c in HOSTILE_FILES])
def test_hostile_files_are_one_line_errors_with_status_2(tmp_path, capsys, name, content, needle) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code = main(["fit", str(path), "--law", "power"])
    out, err = capsys.readouterr()
    assert code == 2, out
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err


def test_paths_that_are_not_files(tmp_path, capsys) -> None:
    (tmp_path / "folder.csv").mkdir()
    for path, needle in [(tmp_path / "folder.csv", "not a file"), (tmp_path / "missing.csv", "no such file")]:
        assert main(["fit", str(path), "--law", "power"]) == 2
        assert needle in capsys.readouterr().err
    if Path("/dev/null").exists():
        assert main(["fit", "/dev/null", "--law", "power"]) == 2  # a device, no extension
        assert "cannot tell the format" in capsys.readouterr().err


def test_a_hostile_file_through_a_real_subprocess(tmp_path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    proc = subprocess.run(
        [sys.executable, "-m", "scalinglaws.cli", "fit", str(path), "--law", "power"],
        capture_output=True, text=True, timeout=120, env=_env(),
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and "nested too deeply" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"columns": ["x"]}, "columns= must be a mapping"),
        ({"columns": "x=n_params"}, "columns= must be a mapping"),
        ({"columns": {"x": 5}}, "not a column"),
        ({"format": 5}, "format= must be a string"),
        ({"where": 5}, "non-empty string"),
        ({"where": ""}, "non-empty string"),
    ],
)
def test_wrong_types_for_load_runs(kwargs, match) -> None:
    with pytest.raises(sl.DataError, match=match):
        sl.load_runs(_power_frame(5), **kwargs)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"x": [1e6, 1e7, 1e8], "loss": [3.0 + 1j, 2.8, 2.5]}),
        pd.DataFrame({"x": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]), "loss": [3.0, 2.8, 2.5]}),
        pd.DataFrame({"x": [1e6, 1e7, 1e8], "loss": pd.to_timedelta([1, 2, 3], unit="s")}),
        pd.DataFrame({"x": [1e6, 1e7, 1e8], "loss": [True, False, True]}),
        pd.DataFrame({"x": pd.Series([1e6, True, 1e8], dtype=object), "loss": [3.0, 2.8, 2.5]}),
        pd.DataFrame({"x": [1e6, 1e7, 1e8], "loss": [[3.0], 2.8, 2.5]}),
    ],
    ids=["complex", "dates", "durations", "bools", "object-bool", "list"],
)
def test_values_pandas_would_coerce_silently_are_refused(frame) -> None:
    # pandas reads True as 1.0, a date as nanoseconds and drops an imaginary part
    with pytest.raises(sl.DataError, match="not numeric"):
        sl.load_runs(frame)


def test_huge_integers_are_infinite_not_a_crash() -> None:
    frame = pd.DataFrame({"x": pd.Series([10**400, 1e7, 1e8], dtype=object), "loss": [3.0, 2.8, 2.5]})
    with pytest.raises(sl.DataError, match="finite numbers: row 0 has inf"):
        sl.load_runs(frame)
    frame = pd.DataFrame({"N": pd.Series([10**400, 1e7, 1e8], dtype=object), "loss": [3.0, 2.8, 2.5]})
    with pytest.raises(sl.DataError, match="finite"):  # through the alias path too
        sl.load_runs(frame)
    ok = pd.DataFrame({"x": pd.Series([10**30, 2**64, 7], dtype=object), "loss": [3.0, 2.8, 2.5]})
    assert sl.load_runs(ok).column("x").tolist() == [1e30, 2.0**64, 7.0]


def test_boolean_weights_stay_usable() -> None:
    frame = _power_frame(12).assign(keep=[True] * 11 + [False])
    result = _quiet_fit(frame, "power", weights="keep")
    assert result.n_runs == 12 and np.isfinite(list(result.params.values())).all()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"weights": [1.0, 2.0]}, sl.DataError),
        ({"weights": "nope"}, sl.DataError),
        ({"weights": [np.nan] * 12}, sl.DataError),
        ({"weights": [0.0] * 12}, sl.DataError),
        ({"bootstrap": -1}, sl.FitError),
        ({"bootstrap": 2.5}, sl.FitError),
        ({"delta": "1"}, sl.FitError),
        ({"delta": float("nan")}, sl.FitError),
        ({"asymmetry": float("inf")}, sl.FitError),
        ({"loss": "l1"}, sl.FitError),
        ({"space": 3}, sl.FitError),
        ({"target": "nope"}, sl.DataError),
        ({"groups": "nope"}, sl.DataError),
        ({"shared": ("E",)}, sl.FitError),
        ({"fixed": {"E": float("nan")}}, sl.LawError),
        ({"fixed": {"nope": 1.0}}, sl.LawError),
        ({"fixed": {"E": 1.0, "A": 1.0, "alpha": 1.0}}, sl.LawError),
        ({"starts": np.ones((2, 3, 1))}, sl.LawError),
        ({"starts": {"nope": [1.0]}}, sl.LawError),
        ({"law_options": {"breaks": 2}}, sl.LawError),
    ],
)
def test_wrong_fit_options_are_clear_errors(kwargs, error) -> None:
    with pytest.raises(error):
        sl.fit(_power_frame(12), "power", **kwargs)


@pytest.mark.parametrize("law", [None, 5, "", "   ", "chinchila", len, lambda: 1])
def test_wrong_laws_are_law_errors(law) -> None:
    with pytest.raises(sl.LawError):
        sl.fit(_power_frame(12), law)


@pytest.mark.parametrize("source", [None, 5, b"x.csv", [1, 2], {"x": [1.0]}, np.ones(3)])
def test_wrong_sources_are_data_errors(source) -> None:
    with pytest.raises(sl.DataError, match="needs a path"):
        sl.fit(source, "power")




@pytest.mark.parametrize(
    "kwargs",
    [
        {"weights": ["a"] * 12},
        {"weights": object()},
        {"variables": {"x": 5}},
        {"variables": ["x"]},
        {"fixed": {"E": "abc"}},
        {"fixed": {"E": None}},
        {"fixed": ["E"]},
        {"bootstrap": 2, "seed": "abc"},
        {"bootstrap": 2, "seed": -1},
        {"bootstrap": 2, "seed": 1.5},
        {"starts": {"E": ["a"]}},
        {"starts": {"E": 1.0}},
        {"law_options": ["breaks"]},
    ],
    ids=lambda kw: ",".join(f"{k}={v!r}"[:24] for k, v in kw.items()),
)
def test_unvalidated_fit_arguments_are_clear_errors(kwargs) -> None:
    with pytest.raises(sl.ScalingLawsError):
        sl.fit(_power_frame(12), "power", **kwargs)


def test_negative_seed_at_the_cli_is_a_one_line_error(tmp_path, capsys) -> None:
    path = tmp_path / "runs.csv"
    _power_frame(12).to_csv(path, index=False)
    try:
        code = main(["fit", str(path), "--law", "power", "--bootstrap", "2", "--seed", "-1"])
    except ValueError:
        pytest.fail("raw ValueError escaped the CLI")
    assert code == 2 and capsys.readouterr().err.startswith("error: ")


# --------------------------------------------------------------------------- awkward data


def _finite_and_serialisable(result: sl.Fit) -> None:
    assert all(np.isfinite(v) for v in result.params.values()), dict(result.params)
    assert np.isfinite(result.objective)
    again = sl.Fit.from_json(result.to_json())
    assert dict(again.params) == dict(result.params)


def test_all_runs_at_one_token_count_flags_the_data_terms() -> None:
    frame = _chinchilla_frame()
    noise = frame.loss / (1.69 + 406.4 * frame.n_params**-0.34 + 410.7 * frame.n_tokens**-0.28)
    frame = frame.assign(n_tokens=1e11, loss=(1.69 + 406.4 * frame.n_params**-0.34 + 410.7 * 1e11**-0.28) * noise)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sl.fit(frame, "chinchilla")
    _finite_and_serialisable(result)
    # E and B / D**beta are one constant when D never varies: B, beta cannot be known
    assert {"B", "beta"} & set(result.diagnostics.poorly_identified)
    assert any("poorly identified" in str(w.message) for w in caught)


@pytest.mark.parametrize("law", ["power", "chinchilla"])
def test_a_flat_curve_fits_the_level_and_flags_the_rest(law) -> None:
    frame = _chinchilla_frame() if law == "chinchilla" else _power_frame(20)
    frame["loss"] = 2.5
    result = _quiet_fit(frame, law)
    _finite_and_serialisable(result)
    assert result.diagnostics.poorly_identified and result.diagnostics.warnings
    predicted = result.predict(**{v: frame[v].to_numpy() for v in result.law.variables})
    assert np.allclose(predicted, 2.5, rtol=1e-3)  # the level itself is right


def test_a_floor_above_every_loss_is_flagged() -> None:
    frame = _power_frame(20)
    result = _quiet_fit(frame, "power", fixed={"E": 10.0})  # every loss is below 4
    _finite_and_serialisable(result)
    d = result.diagnostics
    assert d.at_bounds or d.poorly_identified
    assert any("bound" in w or "poorly" in w for w in d.warnings)


def test_runs_at_a_single_scale_are_flagged() -> None:
    frame = pd.DataFrame({"x": np.full(10, 1e8), "loss": 2.0 + np.linspace(-0.01, 0.01, 10)})
    result = _quiet_fit(frame, "power")
    _finite_and_serialisable(result)
    assert result.diagnostics.poorly_identified


def test_float32_input_gives_the_float64_answer() -> None:
    f32 = _power_frame(30).astype(np.float32)
    f64 = f32.astype(np.float64)
    a, b = _quiet_fit(f32, "power"), _quiet_fit(f64, "power")
    assert a.to_json() == b.to_json()  # same values after the exact widening, same bits


def test_row_order_does_not_change_the_answer() -> None:
    frame = _power_frame(40)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a, b = _quiet_fit(frame, "power"), _quiet_fit(shuffled, "power")
    assert b.objective == pytest.approx(a.objective, rel=1e-9)
    assert dict(b.params) == pytest.approx(dict(a.params), rel=1e-6)


def test_duplicated_rows_weigh_double_and_warn() -> None:
    frame = _power_frame(30)
    doubled = pd.concat([frame, frame], ignore_index=True)
    with pytest.warns(sl.ScalingLawsWarning, match="repeat an earlier run"):
        runs = sl.load_runs(doubled)
    a, b = _quiet_fit(frame, "power"), _quiet_fit(runs, "power")
    assert b.objective == pytest.approx(2 * a.objective, rel=1e-9)
    assert dict(b.params) == pytest.approx(dict(a.params), rel=1e-6)
    weighted = _quiet_fit(frame, "power", weights=np.full(30, 2.0))
    assert dict(weighted.params) == pytest.approx(dict(b.params), rel=1e-6)


def test_ties_in_the_scale_variable_fit_normally() -> None:
    rng = np.random.default_rng(5)
    x = np.repeat(np.geomspace(1e6, 1e10, 8), 6)  # six seeds per size
    frame = pd.DataFrame({"x": x, "loss": (1.5 + 300 * x**-0.3) * np.exp(rng.normal(0, 0.005, x.size))})
    result = _quiet_fit(frame, "power")
    _finite_and_serialisable(result)
    assert result.diagnostics.converged and not result.diagnostics.poorly_identified
    assert result.params["alpha"] == pytest.approx(0.3, rel=0.05)


# --------------------------------------------------------------------------- determinism


def test_bit_identical_json_across_processes_and_thread_counts(tmp_path) -> None:
    path = tmp_path / "runs.csv"
    _power_frame(3000, seed=11).to_csv(path, index=False)
    # enough work that the starts and the bootstrap are split over two threads
    args = [sys.executable, "-m", "scalinglaws.cli", "fit", str(path), "--law", "power",
            "--bootstrap", "40", "--seed", "5", "--json"]  # fmt: skip
    procs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_env(SCALINGLAWS_THREADS=t))  # fmt: skip
        for t in ("1", "2")
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
    assert outs[0][0] == outs[1][0]
    here = _quiet_fit(sl.load_runs(str(path)), "power", bootstrap=40, seed=5)
    assert outs[0][0] == here.to_json() + "\n"
    saved = json.loads(outs[0][0])
    assert len(saved["draws"]) == 40 and saved["provenance"]["seed"] == 5


# --------------------------------------------------------------------------- atomic writes


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def target(tmp_path) -> Path:
    path = tmp_path / "fit.json"
    path.write_text("old contents")
    return path


def test_failed_rename_leaves_the_target_untouched(target, monkeypatch) -> None:
    def refuse(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(slio.os, "replace", refuse)
    with pytest.raises(sl.DataError, match="cannot write .*Invalid cross-device link"):
        slio.atomic_write_text(target, "new contents")
    assert target.read_text() == "old contents"
    assert _listing(target.parent) == ["fit.json"]


class _HalfWriter:
    """A file object that writes half of what it is given, then fails."""

    def __init__(self, fh, exc: BaseException) -> None:
        self.fh, self.exc = fh, exc

    def __enter__(self):
        return self

    def __exit__(self, *info):
        self.fh.close()

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise self.exc

    def __getattr__(self, name):
        return getattr(self.fh, name)


@pytest.mark.parametrize(
    "exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()], ids=["disk-full", "ctrl-c"]
)
def test_a_write_failing_midway_leaves_no_half_file(target, monkeypatch, exc) -> None:
    real = os.fdopen
    monkeypatch.setattr(slio.os, "fdopen", lambda fd, mode: _HalfWriter(real(fd, mode), exc))
    expected = sl.DataError if isinstance(exc, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        slio.atomic_write_text(target, "new contents " * 1000)
    assert target.read_text() == "old contents"
    assert _listing(target.parent) == ["fit.json"]


def test_no_temporary_file_is_a_clear_error(target, monkeypatch) -> None:
    def refuse(**kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(slio.tempfile, "mkstemp", refuse)
    with pytest.raises(sl.DataError, match="Permission denied"):
        slio.atomic_write_bytes(target, b"new")
    assert target.read_text() == "old contents"


def test_unwritable_targets_are_clear_errors(tmp_path) -> None:
    with pytest.raises(sl.DataError, match="does not exist"):
        slio.atomic_write_text(tmp_path / "missing" / "fit.json", "x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(sl.DataError, match="is a folder"):
        slio.atomic_write_text(tmp_path / "folder", "x")
    with pytest.raises(sl.DataError, match="not valid Unicode"):
        slio.atomic_write_text(tmp_path / "bad.txt", "lone \ud800 surrogate")
    assert _listing(tmp_path) == ["folder"]


def test_writes_replace_the_file_with_normal_permissions(tmp_path, target) -> None:
    slio.atomic_write_text(target, "new contents")
    assert target.read_text() == "new contents" and _listing(tmp_path) == ["fit.json"]
    os.chmod(target, 0o640)
    slio.atomic_write_text(target, "newer")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # an existing file keeps its mode
    fresh = tmp_path / "fresh.json"
    slio.atomic_write_bytes(fresh, b"{}")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # not mkstemp's private 0o600


def test_cli_fit_output_is_written_atomically(tmp_path, target, monkeypatch, capsys) -> None:
    data = tmp_path / "runs.csv"
    _power_frame(12).to_csv(data, index=False)
    assert main(["fit", str(data), "--law", "power", "-o", str(target)]) == 0
    saved = json.loads(target.read_text())
    assert saved["format"] == "scalinglaws.engine.fit/1"
    capsys.readouterr()
    before = target.read_text()

    def refuse(src, dst):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(slio.os, "replace", refuse)
    assert main(["fit", str(data), "--law", "power", "--seed", "1", "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and len(err.strip().splitlines()) == 1
    assert target.read_text() == before
    assert _listing(tmp_path) == ["fit.json", "runs.csv"]


# --------------------------------------------------------------------------- scale


def test_200k_runs_of_power_load_and_fit_quickly() -> None:
    frame = _power_frame(200_000, seed=2)
    start = time.perf_counter()
    runs = sl.load_runs(frame)
    result = _quiet_fit(runs, "power")
    elapsed = time.perf_counter() - start
    assert result.n_runs == 200_000 and result.diagnostics.converged
    assert result.params["alpha"] == pytest.approx(0.3, rel=0.01)
    assert result.params["E"] == pytest.approx(1.5, rel=0.01)
    assert elapsed < 20.0, f"{elapsed:.1f} s"


def test_many_starts_on_many_runs_race_on_a_subsample(monkeypatch) -> None:
    import importlib

    fit_module = importlib.import_module("scalinglaws.engine.fit")
    sizes: list[int] = []

    class Stop(Exception):
        pass

    def spy(problem, starts, weights, **kwargs):
        sizes.append(problem.y.shape[-1])
        raise Stop  # the size of the first race is all this test needs

    monkeypatch.setattr(fit_module, "multistart", spy)
    n = 40_000  # below RACE_THRESHOLD; 4,500 starts x 40,000 runs = 1.8e8 per iteration
    rng = np.random.default_rng(0)
    N, D = 10 ** rng.uniform(7, 11, n), 10 ** rng.uniform(9, 13, n)
    frame = pd.DataFrame({"n_params": N, "n_tokens": D, "loss": 1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28})
    with pytest.raises(Stop):
        sl.fit(frame, "chinchilla")
    assert sizes and sizes[0] <= fit_module.RACE_SAMPLE
