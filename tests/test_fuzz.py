"""Property tests: hostile bytes, documents and tables in; Runs, a Fit or a clear error out.

Every property has the same shape: whatever the input, the loaders and ``fit`` either
return a valid result, checked against an independent oracle where one exists, or
raise a :class:`~scalinglaws.errors.ScalingLawsError` with a one-line message. Any other
exception, a hang or a silently altered value fails the test. Example budgets are
fixed and derandomized (see ``FUZZ``), so the run is reproducible and bounded.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import scalinglaws as sl
from scalinglaws.cli.app import main
from scalinglaws.data.runs import CANONICAL

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load_or_clear_error(path: Path | pd.DataFrame, **kwargs: Any) -> sl.Runs | None:
    """Load; return the Runs, or None after checking the error is a clear DataError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            runs = sl.load_runs(path, **kwargs)
        except sl.DataError as err:
            message = str(err)
            assert message and "\n" not in message and "Traceback" not in message
            return None
    _check_invariants(runs)
    return runs


def _check_invariants(runs: sl.Runs) -> None:
    """What every Runs promises: rows, float64 canonical columns, finite (> 0 is a law's to ask)."""
    assert len(runs) >= 1
    assert list(runs.data.index) == list(range(len(runs)))
    for name in CANONICAL:
        if name in runs.columns:
            values = runs.data[name].to_numpy()
            assert values.dtype == np.float64, name
            assert np.isfinite(values).all(), name


# --------------------------------------------------------------------------- raw bytes

_EXTENSIONS = ["csv", "tsv", "jsonl", "json", "parquet", "db", "csv.gz", "pq", "ndjson"]


@FUZZ
@given(ext=st.sampled_from(_EXTENSIONS), head=st.sampled_from([b"", b"PAR1", b"SQLite format 3\x00",
       b"\x1f\x8b\x08\x00", b"\xef\xbb\xbf", b"n_params,loss\n"]), body=st.binary(max_size=600))  # fmt: skip
def test_random_bytes_load_or_fail_clearly(folder: Path, ext: str, head: bytes, body: bytes) -> None:
    path = folder / f"random.{ext}"
    path.write_bytes(head + body + (b"PAR1" if ext in ("parquet", "pq") and head else b""))
    _load_or_clear_error(path)


def test_corrupted_real_files_load_or_fail_clearly(folder: Path) -> None:
    """Flip bytes and truncate valid files of every format (200 variants, seeded)."""
    table = pd.DataFrame({"n_params": [1e8, 4e8, 1e9], "n_tokens": [2e9, 8e9, 2e10], "loss": [3.3, 2.9, 2.6]})
    originals: dict[str, bytes] = {}
    buf = io.BytesIO()
    table.to_parquet(buf)
    originals["parquet"] = buf.getvalue()
    originals["csv"] = table.to_csv(index=False).encode()
    originals["jsonl"] = table.to_json(orient="records", lines=True).encode()
    originals["json"] = table.to_json(orient="records").encode()
    originals["csv.gz"] = gzip.compress(originals["csv"], mtime=0)
    rng = np.random.default_rng(7)
    loaded = failed = 0
    for i in range(200):
        ext = list(originals)[i % len(originals)]
        data = bytearray(originals[ext])
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        if i % 4 == 0:
            data = data[: int(rng.integers(len(data)))]
        path = folder / f"corrupt.{ext}"
        path.write_bytes(bytes(data))
        if _load_or_clear_error(path) is None:
            failed += 1
        else:
            loaded += 1
    assert loaded + failed == 200 and failed > 0


# --------------------------------------------------------------------------- CSV-like text

_CELLS = ["n_params", "n_tokens", "loss", "x", "flops", "N", "D", "ｌｏｓｓ", "损失", "é", "", " ",
          "1e9", "2e10", "3.2", "-1", "0", "nan", "NaN", "inf", "-inf", "1e400", "1" + "0" * 30,
          "True", "false", "abc", '"', '""', "'", "\\", "\x00", "\u202e", "0x10", "1_000", "3+2j",
          "2020-01-01"]  # fmt: skip

csv_text = st.lists(
    st.lists(st.sampled_from(_CELLS), min_size=0, max_size=5).map(lambda cells: ",".join(cells)),
    min_size=0,
    max_size=8,
).map(lambda lines: "\n".join(lines))


@FUZZ
@given(text=csv_text, ext=st.sampled_from(["csv", "tsv"]))
def test_random_csv_text_loads_or_fails_clearly(folder: Path, text: str, ext: str) -> None:
    path = folder / f"text.{ext}"
    path.write_text(text.replace(",", "\t") if ext == "tsv" else text, encoding="utf-8")
    _load_or_clear_error(path)


# --------------------------------------------------------------------------- JSON documents

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["1e9", "3.2", "abc", "", "ｌｏｓｓ"]),
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["n_params", "n_tokens", "loss", "x", "tag", "ｘ", "\ud800"]), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mostly_valid_records(draw: Any, names: tuple[str, ...] = ("n_params", "n_tokens", "loss")) -> list[dict[str, Any]]:
    """Records of plausible runs, then up to two cells replaced by hostile values."""
    n = draw(st.integers(min_value=1, max_value=8))
    extra = draw(st.lists(st.sampled_from(["x", "tag", "N", "损失", "loss", "n_tokens"]), max_size=2, unique=True))
    keys = list(dict.fromkeys([*names, *extra]))
    records = [{k: draw(st.floats(min_value=1e5, max_value=1e12)) for k in keys} for _ in range(n)]
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        row, key = draw(st.integers(0, n - 1)), draw(st.sampled_from(keys + ["loss", "new"]))
        records[row][key] = draw(json_scalars)
    return records


@FUZZ
@given(document=st.one_of(json_values, mostly_valid_records()), lines=st.booleans())
def test_random_json_documents_load_or_fail_clearly(folder: Path, document: Any, lines: bool) -> None:
    if lines and isinstance(document, list):
        text = "\n".join(json.dumps(r) for r in document)
        path = folder / "doc.jsonl"
    else:
        text = json.dumps(document)
        path = folder / "doc.json"
    path.write_text(text, encoding="utf-8")
    _load_or_clear_error(path)


def test_deeply_nested_json_is_a_clear_error(folder: Path) -> None:
    for name, text in [("deep.json", "[" * 100_000 + "]" * 100_000),
                       ("deep.jsonl", '{"loss": ' + "[" * 100_000 + "]" * 100_000 + "}")]:  # fmt: skip
        (folder / name).write_text(text)
        with pytest.raises(sl.DataError, match="nested too deeply"):
            sl.load_runs(folder / name)


# --------------------------------------------------------------------------- tables, with an oracle

_STRINGS = ["1e9", "3.5", "-2", "7", "nan", "inf", "abc", "", "ｌｏｓｓ"]
cell_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-3, max_value=1e12),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400), 2**63, 0, 1]),
    st.booleans(), st.none(), st.sampled_from(_STRINGS), st.complex_numbers(max_magnitude=10),
)  # fmt: skip
extra_names = st.text(min_size=1, max_size=6).filter(
    lambda s: s.strip().lower() not in {"n", "params", "model_size", "parameters", "d", "tokens", "data",
                                        "d_tokens", "c", "compute", "c_flop", "l", "val_loss", "eval_loss",
                                        "unique_tokens", *CANONICAL} and not s.endswith("_unmapped")
)  # fmt: skip


def _oracle(value: Any) -> float | None:
    """The number a cell means, or None if it is not a real number (missing included)."""
    if value is None or isinstance(value, bool | complex):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if value in ("1e9", "3.5", "-2", "7", "inf"):
        return float(value)
    return None


@FUZZ
@given(
    n=st.integers(min_value=1, max_value=5),
    canonical=st.lists(st.sampled_from(["n_params", "n_tokens", "loss", "x", "flops"]), unique=True, max_size=4),
    extras=st.lists(extra_names, unique=True, max_size=2),
    data=st.data(),
)
def test_random_tables_load_exactly_or_fail_clearly(n: int, canonical: list[str], extras: list[str], data) -> None:
    columns = {name: data.draw(st.lists(cell_values, min_size=n, max_size=n)) for name in canonical + extras}
    assume(columns)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    expected: dict[str, list[float | None]] = {c: [_oracle(v) for v in columns[c]] for c in canonical}
    if "flops" not in canonical and {"n_params", "n_tokens"} <= set(canonical):
        expected["flops"] = [
            None if a is None or b is None else 6.0 * a * b for a, b in zip(expected["n_params"], expected["n_tokens"])
        ]
    valid = all(
        v is not None and math.isfinite(v)
        for name, values in expected.items()
        for v in values
    )
    runs = _load_or_clear_error(frame)
    if not valid:
        assert runs is None, f"accepted a table with a bad value: {columns}"
        return
    assert runs is not None, f"refused a valid table: {columns}"
    for name, values in expected.items():
        assert runs.column(name).tolist() == values, name
    for name in extras:
        assert name in runs.columns


# --------------------------------------------------------------------------- fitting

positive = st.floats(min_value=1e-30, max_value=1e30, allow_nan=False)


@settings(FUZZ, max_examples=40)
@given(
    xs=st.lists(positive, min_size=1, max_size=14),
    data=st.data(),
    law=st.sampled_from(["power", "m1", "m2", "E + A * x**-alpha", "A * exp(-k * x) + E"]),
    loss=st.sampled_from(["huber", "squared"]),
    space=st.sampled_from(["log", "linear"]),
    bootstrap=st.sampled_from([0, 0, 3]),
)
def test_random_numeric_data_fits_or_fails_clearly(xs, data, law, loss, space, bootstrap) -> None:
    ys = data.draw(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=len(xs), max_size=len(xs)))
    frame = pd.DataFrame({"x": xs, "loss": ys})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = sl.fit(frame, law, loss=loss, space=space, bootstrap=bootstrap, seed=1)
        except sl.ScalingLawsError as err:
            assert str(err) and "\n" not in str(err)
            return
    assert all(math.isfinite(v) for v in result.params.values()), result.params
    assert math.isfinite(result.objective) and result.n_runs == len(xs)
    again = sl.Fit.from_json(result.to_json())
    assert dict(again.params) == dict(result.params)
    if result.draws is not None:
        assert result.draws.shape == (bootstrap, len(result.law.params))


# --------------------------------------------------------------------------- the command line


def _csv(records: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in records for k in r))
    lines = [",".join(keys)] + [",".join("" if r.get(k) is None else str(r.get(k)) for k in keys) for r in records]
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=40)
@given(
    text=st.one_of(csv_text, mostly_valid_records(("x", "loss")).map(_csv)),
    law=st.sampled_from(["power", "m1"]),
)
def test_cli_fit_on_random_files_exits_0_or_2_with_one_line(folder: Path, capsys, text: str, law: str) -> None:
    path = folder / "cli.csv"
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    code = main(["fit", str(path), "--law", law])
    out, err = capsys.readouterr()
    assert code in (0, 2, 3)  # 3: the fit ran but is NOT OK
    assert "Traceback" not in err
    if code in (2, 3):
        errors = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
        assert len(errors) == 1 and errors[0].startswith("error: "), err
    if code == 0:
        assert out.startswith(f"Fit of {law} to ")
    if code == 3:
        assert out.startswith("NOT OK: ") and f"Fit of {law} to " in out
