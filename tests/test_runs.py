"""Tests for scalinglaws.data.runs: loading, validation, filtering and the Runs value."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.data.runs import CANONICAL, Runs, load_runs
from scalinglaws.errors import DataError, ScalingLawsWarning


@pytest.fixture
def table() -> pd.DataFrame:
    """Four clean runs with a string column, in source (non-canonical) names."""
    return pd.DataFrame(
        {
            "N_params": [1e8, 2e8, 4e8, 8e8],
            "D_tokens": [2e9, 4e9, 8e9, 1.6e10],
            "loss": [3.4, 3.1, 2.9, 2.7],
            "dataset": ["c4", "c4", "rpj", "rpj"],
        }
    )


@pytest.fixture
def quiet():
    """Fail the test if any warning is emitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _write(frame: pd.DataFrame, path: Path) -> Path:
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        frame.to_csv(path, index=False)
    elif name.endswith(".tsv"):
        frame.to_csv(path, index=False, sep="\t")
    elif name.endswith(".jsonl"):
        path.write_text(
            "\n".join(json.dumps(r) for r in frame.to_dict("records")) + "\n", encoding="utf-8"
        )
    elif name.endswith(".json"):
        path.write_text(json.dumps(frame.to_dict("records")), encoding="utf-8")
    elif name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    return path


# --- formats -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["runs.csv", "runs.tsv", "runs.jsonl", "runs.json", "runs.parquet", "runs.csv.gz"]
)
def test_round_trip_each_format(table, tmp_path, name, quiet):
    path = _write(table, tmp_path / name)
    runs = load_runs(path, columns={"n_params": "N_params", "n_tokens": "D_tokens"})
    reference = load_runs(table, columns={"n_params": "N_params", "n_tokens": "D_tokens"})
    assert len(runs) == 4 and runs.source == str(path)
    assert runs.columns == ("n_params", "n_tokens", "flops", "loss", "dataset")
    np.testing.assert_array_equal(runs.column("n_params"), table["N_params"].to_numpy())
    np.testing.assert_allclose(runs.column("flops"), 6 * table["N_params"] * table["D_tokens"])
    assert runs.data["dataset"].tolist() == ["c4", "c4", "rpj", "rpj"]
    assert runs.fingerprint() == reference.fingerprint()


def test_json_of_columns_and_format_override(table, tmp_path):
    (tmp_path / "cols.json").write_text(json.dumps(table.to_dict("list")), encoding="utf-8")
    assert len(load_runs(tmp_path / "cols.json")) == 4
    table.to_csv(tmp_path / "runs.txt", index=False)
    assert load_runs(tmp_path / "runs.txt", format="csv").columns[:3] == (
        "n_params",
        "n_tokens",
        "flops",
    )
    with pytest.raises(DataError, match="supported"):
        load_runs(tmp_path / "runs.txt")
    with pytest.raises(DataError, match="unknown format 'xls'"):
        load_runs(tmp_path / "runs.txt", format="xls")


def test_dataframe_is_copied_not_mutated(table):
    before = table.copy()
    runs = load_runs(table, where="loss < 3.2")
    runs.data.loc[0, "loss"] = 99.0
    pd.testing.assert_frame_equal(table, before)
    assert runs.to_frame() is not runs.data


def test_runs_input_is_loaded_again(table):
    runs = load_runs(table)
    again = load_runs(
        runs, where="N_params >= 2e8 and dataset == 'c4'"
    )  # original name still works
    assert len(again) == 1 and again.derived == ("flops",) and again.renamed == runs.renamed
    assert again.column("n_params").tolist() == [2e8]


def test_chinchilla_example(shared_data):
    runs = load_runs(
        shared_data / "chinchilla_epoch" / "chinchilla_runs.csv",
        columns={"n_params": "N_params", "n_tokens": "D_tokens", "loss": "loss"},
        where="excluded_by_epoch == 0",
    )
    assert len(runs) == 240 and "flops" in runs.columns
    assert repr(runs).startswith(
        "Runs(240 runs from chinchilla_runs.csv; columns n_params, n_tokens, flops, loss"
    )
    np.testing.assert_allclose(
        runs.column("flops"), 6 * runs.column("n_params") * runs.column("n_tokens"), rtol=1e-9
    )


# --- columns and aliases -------------------------------------------------------------


def test_aliases_recognised_case_insensitively(quiet):
    frame = pd.DataFrame(
        {"Params": [1e8, 2e8], "TOKENS": [1e9, 3e9], "C": [6e17, 3.6e18], "Val_Loss": [3.0, 2.8]}
    )
    runs = load_runs(frame)
    assert runs.columns == ("n_params", "n_tokens", "flops", "loss")
    assert runs.renamed == {
        "n_params": "Params",
        "n_tokens": "TOKENS",
        "flops": "C",
        "loss": "Val_Loss",
    }
    assert runs.derived == ()


def test_ambiguous_or_textual_aliases_are_left_alone(quiet):
    frame = pd.DataFrame(
        {"N": [1e8, 2e8], "params": [1e8, 2e8], "data": ["c4", "rpj"], "loss": [3.0, 2.9]}
    )
    runs = load_runs(frame)
    assert "n_params" not in runs.columns and "n_tokens" not in runs.columns
    assert {"N", "params", "data"} <= set(runs.columns)


def test_mapping_errors_name_the_column():
    frame = pd.DataFrame({"N_params": [1e8, 2e8], "loss": [3.0, 2.9]})
    with pytest.raises(DataError, match=r"'N_param'.*did you mean 'N_params'.*N_params, loss"):
        load_runs(frame, columns={"n_params": "N_param"})
    with pytest.raises(DataError, match="did you mean 'n_params'"):
        load_runs(frame, columns={"n_param": "N_params"})


def test_mapped_name_already_taken_is_moved_aside(quiet):
    frame = pd.DataFrame({"loss": [9.0, 9.0], "C4 Eval Loss": [3.0, 2.9], "x": [10.0, 20.0]})
    runs = load_runs(frame, columns={"loss": "C4 Eval Loss"}, where="`C4 Eval Loss` < 2.95")
    assert runs.column("loss").tolist() == [2.9] and runs.column("loss_unmapped").tolist() == [9.0]


def test_unicode_column_names(tmp_path, quiet):
    frame = pd.DataFrame(
        {"taille_modèle": [1e8, 2e8], "jetons_données": [1e9, 2e9], "損失": [3.0, 2.5]}
    )
    path = tmp_path / "données.csv"
    frame.to_csv(path, index=False)
    mapping = {"n_params": "taille_modèle", "n_tokens": "jetons_données", "loss": "損失"}
    runs = load_runs(path, columns=mapping, where="損失 < 2.9 and taille_modèle > 1e8")
    assert len(runs) == 1 and runs.renamed["loss"] == "損失"
    bad = frame.assign(損失=["trois", 2.5])
    with pytest.raises(
        DataError, match="'loss' \\(from '損失'\\) is not numeric: row 0 has 'trois'"
    ):
        load_runs(bad, columns={"loss": "損失"})


# --- validation errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("N_params", "7B", r"column 'n_params' \(from 'N_params'\) is not numeric: row 2 has '7B'"),
        ("loss", np.nan, r"column 'loss' needs finite numbers: row 2 has nan"),
        ("loss", np.inf, r"column 'loss' needs finite numbers: row 2 has inf"),
    ],
)
def test_bad_values_name_column_row_and_value(table, column, value, message):
    bad = table.astype({column: object})
    bad.loc[2, column] = value
    with pytest.raises(DataError, match=message):
        load_runs(bad)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "D_tokens",
            0.0,
            (
                r"'n_tokens' \(from 'D_tokens'\) for fitting 'chinchilla'.* must be > 0 "
                r"\(in tokens, not millions or logs\): row 2 has 0.0"
            ),
        ),
        ("N_params", -5.0, r"'n_params' \(from 'N_params'\) for fitting 'chinchilla'.* must be > 0.*row 2 has -5.0"),
    ],
)
def test_sizes_must_be_positive_where_a_law_says_so(table, column, value, message, quiet):
    """The loader keeps a size <= 0 (no law asked yet); a law that declares it positive refuses it."""
    bad = table.astype({column: float})
    bad.loc[2, column] = value
    runs = load_runs(bad)
    assert runs.column({"D_tokens": "n_tokens", "N_params": "n_params"}[column])[2] == value
    variable = {"D_tokens": "n_tokens", "N_params": "n_params"}[column]
    with pytest.raises(DataError, match=message):
        sl.fit(runs, "chinchilla")
    # a formula whose variable is not declared positive takes the same column as it is
    law = sl.formula_law(f"E + A * {variable}", variables=[sl.Variable(variable)])
    assert sl.fit(runs, law, objective=sl.Objective(space="linear")).n_runs == len(runs)


def test_bad_value_in_a_file_names_the_path(table, tmp_path):
    bad = table.astype({"loss": object})
    bad.loc[[1, 3], "loss"] = "diverged"
    path = _write(bad, tmp_path / "runs.csv")
    with pytest.raises(
        DataError,
        match=r"runs\.csv: column 'loss' is not numeric: row 1 has 'diverged' \(and 1 more row\)",
    ):
        load_runs(path)


def test_bad_rows_filtered_out_by_where_are_fine(table):
    bad = table.astype({"loss": object})
    bad.loc[3, "loss"] = "diverged"
    runs = load_runs(bad, where="dataset == 'c4'")
    assert len(runs) == 2
    with pytest.raises(DataError, match="row 3 has 'diverged'"):
        load_runs(bad, where="dataset == 'rpj'")


def test_negative_loss_is_allowed_at_load(quiet):
    runs = load_runs(pd.DataFrame({"x": [1.0, 2.0], "loss": [-0.5, 0.0]}))
    assert runs.column("loss").tolist() == [-0.5, 0.0]
    with pytest.raises(DataError, match=r"column 'loss' for a log fit must be > 0: row 0 has -0.5"):
        runs.require(["x", "loss"], positive=["loss"], purpose="a log fit")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "is empty"),
        ("header.csv", b"n_params,loss\n", "no runs"),
        ("binary.csv", bytes(range(256)) * 4, "is a binary file, not CSV"),
        ("latin.csv", "loss,modèle\n3.0,é\n".encode("latin-1"), "is not UTF-8"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "is not valid CSV"),
        ("fake.parquet", b"n_params,loss\n1e8,3.0\n", "is not a readable Parquet file"),
        ("broken.jsonl", b'{"loss": 3.0}\n{"loss": \n', "line 2 is not valid JSON"),
        ("list.jsonl", b"[1, 2]\n", "line 1 is not a JSON object"),
        ("scalar.json", b"42", "must hold a list of records"),
        ("fake.db", b"not a database at all", "is not an SQLite sweep store"),
    ],
)
def test_unreadable_files_give_one_line_data_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_runs(path)
    text = str(info.value)
    assert "\n" not in text and name in text


def test_missing_file_and_wrong_source_type(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_runs(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not a file"):
        load_runs(tmp_path, format="csv")
    with pytest.raises(DataError, match="got list"):
        load_runs([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no runs"):
        load_runs(pd.DataFrame({"loss": []}))


def _sqlite(path: Path) -> Path:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("create table t (a)")
    return path


def test_sweep_store_reader(tmp_path, monkeypatch):
    path = _sqlite(tmp_path / "sweep.db")
    fake = types.ModuleType("scalinglaws.sweep.store")
    fake.read_runs = lambda p: pd.DataFrame(
        {"n_params": [1e8, 2e8], "n_tokens": [1e9, 2e9], "loss": [3.0, 2.8]}
    )  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "scalinglaws.sweep.store", fake)
    runs = load_runs(path)
    assert len(runs) == 2 and runs.derived == ("flops",)
    monkeypatch.setitem(sys.modules, "scalinglaws.sweep.store", None)  # import fails
    with pytest.raises(DataError, match="sweep store reader is unavailable"):
        load_runs(path)


# --- derivation ----------------------------------------------------------------------


def test_derive_tokens(quiet):
    frame = pd.DataFrame({"n_params": [1e8, 4e8], "flops": [1.2e18, 9.6e18], "loss": [3.0, 2.7]})
    assert "n_tokens" not in load_runs(frame).columns
    runs = load_runs(frame, derive_tokens=True)
    assert runs.derived == ("n_tokens",)
    np.testing.assert_allclose(runs.column("n_tokens"), [2e9, 4e9])
    with pytest.raises(DataError, match=r"derive_tokens=True.*flops is missing"):
        load_runs(frame.drop(columns="flops"), derive_tokens=True)


# --- warnings ------------------------------------------------------------------------


def test_duplicate_runs_warn(table):
    doubled = pd.concat([table, table.iloc[[1]]], ignore_index=True)
    with pytest.warns(ScalingLawsWarning, match=r"1 run\(s\) repeat.*rows 1 and 4"):
        load_runs(doubled)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            {"n_params": [7.0, 70.0], "n_tokens": [1e9, 2e9]},
            r"n_params looks like it is in millions or billions \(max 70\)",
        ),
        (
            {"n_params": [7e9, 7e10], "n_tokens": [20.0, 300.0]},
            "n_tokens looks like it is in millions",
        ),
        ({"flops": [1e3, 1e5], "loss": [3.0, 2.0]}, "flops looks like it is in millions"),
    ],
)
def test_sizes_in_millions_warn(frame, message):
    with pytest.warns(ScalingLawsWarning, match=message):
        load_runs(pd.DataFrame(frame))


def test_small_x_does_not_warn(quiet):
    assert len(load_runs(pd.DataFrame({"x": [1.0, 2.0, 3.0], "loss": [3.0, 2.0, 1.5]}))) == 3


# --- where ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("loss < 3 or dataset == 'c4'", [0, 1, 2, 3]),
        ("not (dataset == 'c4')", [2, 3]),
        ("dataset in ['rpj', 'x'] and loss > 2.8", [2]),
        ("dataset not in ('rpj',)", [0, 1]),
        ("2e8 <= n_params < 8e8", [1, 2]),
        ("N_params * D_tokens * 6 == flops and -loss < -3", [0, 1]),
        ("n_params ** 0.5 % 2 == 0 and loss / 2 > 1.6", [0]),
        ("n_params in [1e8, 4e8]", [0, 2]),
        ("loss > 3 and True", [0, 1]),
        ("10 ** 10 ** 10 > loss", [0, 1, 2, 3]),  # floats overflow to inf, no huge integers
    ],
)
def test_where_expressions(table, expr, expected):
    runs = load_runs(table, where=expr)
    assert runs.column("n_params").tolist() == table["N_params"].iloc[expected].tolist()


def test_hostile_where_expressions_are_refused(table, tmp_path):
    marker = tmp_path / "pwned"
    hostile = [
        "__import__('os').system('touch /tmp/pwned')",
        f"__import__('os').system('touch {marker}')",
        "loss.__class__",
        "(lambda: 1)()",
        "[x for x in loss]",
        "open('f')",
        "loss if 1 else 2",
        "__builtins__",
        "loss[0] > 1",
        "{'a': 1}",
        "(x := 1)",
        "f'{loss}' == 'x'",
        "dataset * 10**9 == 'x'",
        "loss < ",
    ]
    for expr in hostile:
        with pytest.raises(DataError, match="where expression"):
            load_runs(table, where=expr)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("los < 3", "'los' is not a column; did you mean 'loss'"),
        ("loss > 100", "selects none of the 4 runs"),
        ("loss", "does not give a condition"),
        ("1 < 2", "does not depend on any column"),
        ("loss and dataset == 'c4'", "'loss' is not a condition"),
        ("dataset < 3", "cannot compare"),
        ("loss in loss", "needs a list of values"),
        ("loss in [n_params]", "must be constants"),
        ("loss < None", "constant None is not allowed"),
        ("loss.real > 1", "not allowed: attribute access"),
        ("len(loss) > 1", "not allowed: function calls"),
    ],
)
def test_where_errors(table, expr, message):
    with pytest.raises(DataError, match=message):
        load_runs(table, where=expr)


# --- the Runs value ------------------------------------------------------------------


def test_fingerprint_is_deterministic_and_sensitive(table):
    runs = load_runs(table)
    assert runs.fingerprint() == load_runs(table).fingerprint()
    assert runs.fingerprint() == load_runs(table[table.columns[::-1]]).fingerprint()
    changed = table.copy()
    changed.loc[3, "loss"] = 2.7000001
    assert load_runs(changed).fingerprint() != runs.fingerprint()
    renamed = table.copy()
    renamed.loc[0, "dataset"] = "c5"
    assert load_runs(renamed).fingerprint() != runs.fingerprint()
    assert len(runs.fingerprint()) == 64


def test_fingerprint_is_stable_across_processes(table, tmp_path):
    path = _write(table, tmp_path / "runs.csv")
    code = f"from scalinglaws.data.runs import load_runs; print(load_runs({str(path)!r}).fingerprint())"
    src = Path(__file__).resolve().parents[1] / "src"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(src), "PYTHONHASHSEED": "123"})  # fmt: skip
    assert out.stdout.strip() == load_runs(path).fingerprint()


def test_subset(table):
    runs = load_runs(table)
    by_mask = runs.subset(runs.column("loss") < 3.0)
    by_position = runs.subset([2, 3])
    assert isinstance(by_mask, Runs) and len(by_mask) == 2
    assert by_mask.fingerprint() == by_position.fingerprint()
    assert list(by_position.data.index) == [0, 1] and by_position.derived == runs.derived
    assert runs.subset([-1]).column("n_params").tolist() == [8e8]
    with pytest.raises(DataError, match="shape"):
        runs.subset([True, False])
    with pytest.raises(DataError, match="outside"):
        runs.subset([7])
    with pytest.raises(DataError, match="no runs"):
        runs.subset(np.zeros(4, bool))


def test_column_require_and_repr(table):
    runs = load_runs(table)
    assert runs.column("loss").dtype == np.float64 and runs.column("loss").shape == (4,)
    assert set(CANONICAL) - {"x"} <= set(runs.columns)
    with pytest.raises(
        DataError,
        match=r"column 'x' is missing \(columns: n_params, n_tokens, flops, loss, dataset\)",
    ):
        runs.column("x")
    with pytest.raises(DataError, match="column 'dataset' is not numeric: row 0 has 'c4'"):
        runs.require(["loss", "dataset"])
    with pytest.raises(DataError, match="the chinchilla law needs at least 5 runs, got 4"):
        runs.require(
            ["n_params", "n_tokens", "loss"],
            positive=["n_params"],
            min_rows=5,
            purpose="the chinchilla law",
        )
    runs.require(["n_params", "loss"], positive=["n_params", "loss"], min_rows=4)
    assert (
        repr(runs) == "Runs(4 runs from <DataFrame>; columns n_params, n_tokens, flops, loss, ...; "
        "derived flops)"
    )
