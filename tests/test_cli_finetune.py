"""``scalinglaws select-finetune`` end to end, on the bundled Lin et al. (2024) FLAN curves written to a CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import scalinglaws as sl
from scalinglaws.cli.app import main


@pytest.fixture(scope="module")
def flan_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flan") / "flan.csv"
    sl.datasets.load("lin_finetune_flan").to_csv(path, index=False)
    return path


def test_cli_ranking_is_the_library_ranking(flan_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["select-finetune", str(flan_csv), "--target-examples", "1638400", "--budget-examples", "3200"]
    assert main([*argv, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = sl.select_finetune(sl.datasets.load("lin_finetune_flan"), 1_638_400, budget_examples=3200)
    assert got["best"] == want.best
    assert [r["model"] for r in got["ranking"]] == list(want.ranking.model)
    assert got["cost_ratio"] == pytest.approx(want.cost_ratio)
    assert len(got["ranking"]) == 30
    assert main([*argv, "--top", "3"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"FinetuneSelection(ats: best {want.best!r}") and "(27 more; --top 0 lists all)" in text


def test_where_and_method_reach_the_library(flan_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flan = sl.datasets.load("lin_finetune_flan")
    family = flan.family.value_counts().index[0]
    argv = ["select-finetune", str(flan_csv), "--target-examples", "1638400", "--budget-examples", "204800",
            "--method", "rectified", "--bootstrap", "5", "--where", f"family == '{family}'", "--json"]
    assert main(argv) == 0
    got = json.loads(capsys.readouterr().out)
    want = sl.select_finetune(flan[flan.family == family], 1_638_400, budget_examples=204_800, method="rectified",
                              bootstrap=5)
    assert got["method"] == "rectified" and got["best"] == want.best
    assert {r["model"] for r in got["ranking"]} == set(flan[flan.family == family].model)


def test_drop_smallest_reaches_the_library(flan_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["select-finetune", str(flan_csv), "--target-examples", "1638400", "--budget-examples", "204800", "--json"]
    assert main([*argv, "--drop-smallest"]) == 0
    got = {r["model"]: r["predicted_loss"] for r in json.loads(capsys.readouterr().out)["ranking"]}
    flan = sl.datasets.load("lin_finetune_flan")
    want = sl.select_finetune(flan, 1_638_400, budget_examples=204_800, drop_smallest=True).ranking
    plain = sl.select_finetune(flan, 1_638_400, budget_examples=204_800).ranking.set_index("model").predicted_loss
    assert got == pytest.approx(dict(zip(want.model, want.predicted_loss)))
    assert any(abs(got[m] - plain[m]) > 1e-6 for m in got)  # the flag changes some lines


@pytest.mark.parametrize(("extra", "words"), [
    (["--target-examples", "many"], "--target-examples: 'many' is not a number"),
    (["--target-examples", "1e6", "--by", "maker"], "'maker'"),
    (["--target-examples", "1e6", "--where", "model == 'none'"], "selects none"),
    (["--target-examples", "1e6", "--budget-examples", "10"], "budget"),
])
def test_bad_input_is_one_line_exit_2(flan_csv: Path, extra: list[str], words: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["select-finetune", str(flan_csv), *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: ") and words in err, err


def test_a_missing_file_and_a_bundled_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["select-finetune", "no/such.csv", "--target-examples", "1e6"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["select-finetune", "lin_finetune_flan", "--target-examples", "1638400", "--top", "1"]) == 0
    best = sl.select_finetune(sl.datasets.load("lin_finetune_flan"), 1_638_400).best
    assert f"best {best!r}" in capsys.readouterr().out
