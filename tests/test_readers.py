"""One door for files: load_runs and load_curves read through data.readers, with the same checks."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.data.readers import check_table, read_table
from scalinglaws.errors import DataError

CURVES = "run,step,loss,lr\na,1,3.0,0.001\na,2,2.9,0.001\nb,1,3.1,0.001\n"


def test_curves_read_compressed_files_like_runs(tmp_path: Path) -> None:
    path = tmp_path / "curves.csv.gz"
    path.write_bytes(gzip.compress(CURVES.encode(), mtime=0))
    table = sl.load_curves(path)
    assert table["run"].tolist() == ["a", "a", "b"] and table["loss"].tolist() == [
        3.0,
        2.9,
        3.1,
    ]
    assert read_table(path).equals(pd.read_csv(tmp_path / "curves.csv.gz"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("binary.csv", b"\x00\x01\x02PK\x03\x04" * 50, "binary file"),
        ("dup.csv", b"run,step,loss,loss\na,1,3,3\n", "appears more than once"),
        (
            "latin1.csv",
            "run,step,loss,caf\xe9\na,1,3,1\n".encode("latin-1"),
            "not UTF-8",
        ),
        (
            "bad.jsonl",
            b'{"run": "a", "step": 1, "loss": 3}\n{oops}\n',
            "line 2 is not valid JSON",
        ),
        ("header.csv", b"run,step,loss,lr\n", "no "),
        ("empty.csv", b"", "is empty"),
    ],
)
def test_broken_files_fail_the_same_way_through_both_loaders(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as from_runs:
        sl.load_runs(path)
    with pytest.raises(DataError, match=message) as from_curves:
        sl.load_curves(path)
    assert (
        str(from_runs.value).split(":")[0]
        == str(from_curves.value).split(":")[0]
        == str(path)
    )


def test_check_table_refuses_empty_tables_and_repeated_names() -> None:
    with pytest.raises(DataError, match="the table has no evaluations"):
        check_table(pd.DataFrame({"run": []}), rows="evaluations")
    with pytest.raises(DataError, match="'a' appears more than once"):
        check_table(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    assert check_table(pd.DataFrame({1: [1.0]}, index=[7])).columns.tolist() == ["1"]
