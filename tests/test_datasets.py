"""Bundled data sets: each lists, loads, names its source, ships, and works from the CLI."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli.app import main
from scalinglaws.errors import DataError

ROOT = Path(__file__).resolve().parents[1]

# name -> (type, rows, columns that must be present)
EXPECTED = {
    "chinchilla_epoch": (sl.Runs, 240, {"n_params", "n_tokens", "flops", "loss"}),
    "gadre_overtraining": (sl.Runs, 104, {"n_params", "n_tokens", "tokens_per_param", "loss", "err_avg_subset_17"}),
    "gemstones_shapes": (sl.Runs, 88, {"model", "d_model", "n_layer", "n_params", "n_tokens", "loss"}),
    "goyal_filtering_sim": (sl.Runs, 24, {"pool", "n_tokens", "unique_tokens", "loss"}),
    "misfitting_curves": (pd.DataFrame, 264, {"run", "step", "loss", "lr", "peak_lr", "total_steps", "warmup_steps"}),
    "misfitting_lr_sweep": (sl.Runs, 236, {"n_params", "n_tokens", "lr", "loss"}),
    "precision_sim": (sl.Runs, 480, {"law", "n_params", "n_tokens", "precision_w", "exponent_bits", "block_size", "loss"}),
    "densing_simulated": (pd.DataFrame, 29, {"model", "release_date", "n_params", "density"}),
    "published_base_models": (pd.DataFrame, 19, {"model", "family", "release_date", "n_params", "mmlu_5shot", "source"}),
    "ye_continual_pretraining": (pd.DataFrame, 138, {"run", "pile_share", "python_share", "valid_domain", "valid_weight", "loss"}),
    "lin_finetune_flan": (pd.DataFrame, 450, {"model", "n_params", "finetune_examples", "loss"}),
    "porian_isoflop": (sl.Runs, 88, {"n_params", "n_tokens", "flops", "loss"}),
    "sparsing_activation": (pd.DataFrame, 365, {"model", "n_tokens", "activation", "activation_ratio"}),
    "pythia_evals": (pd.DataFrame, 1584, {"model", "n_params", "step", "n_tokens", "task", "metric", "value"}),
    "tiny_sweep": (sl.Runs, 10, {"n_params", "n_tokens", "flops", "loss", "run_id", "budget"}),
}


def test_names_are_exactly_the_expected_sets() -> None:
    assert sl.datasets.names() == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_data_set_loads_with_its_columns(name: str) -> None:
    kind, rows, columns = EXPECTED[name]
    data = sl.datasets.load(name)
    assert isinstance(data, kind)
    assert len(data) == rows
    assert columns <= set(data.columns)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_data_set_ships_small_with_a_source_note(name: str) -> None:
    p = sl.datasets.path(name)
    assert p.is_file() and p.stat().st_size < 300_000
    note = sl.datasets.source(name)
    assert note.startswith(f"# {name}:")
    assert "licen" in note.lower()
    # the wheel carries the file and its note
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["scalinglaws"]
    for f in (p, p.with_suffix(".md")):
        rel = f.relative_to(ROOT / "src" / "scalinglaws").as_posix()
        assert any(fnmatch.fnmatch(rel, g) for g in globs), rel


def test_unknown_name_is_a_one_line_error() -> None:
    for call in (sl.datasets.load, sl.datasets.path, sl.datasets.source):
        with pytest.raises(DataError, match="no bundled data set 'chinchila'; bundled: chinchilla_epoch"):
            call("chinchila")


def test_the_curve_table_fits_as_shipped() -> None:
    curves = sl.datasets.load("misfitting_curves")
    one = curves[curves.run == "lr0.002_T5000"]
    lrs = sl.schedules.cosine(0.002, 5000, warmup=100)
    assert one.lr.to_numpy() == pytest.approx(lrs[one.step.to_numpy() - 1])
    cf = sl.fit_curves(one, schedules={"lr0.002_T5000": lrs}, min_step=500)
    kept = one[one.step >= 500]
    pred = cf.predict_curve(lrs, steps=kept.step.to_numpy())
    assert abs(pred / kept.loss.to_numpy() - 1).mean() < 0.005


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fit", "gadre_overtraining", "--law", "overtraining", "--where", "N_params < 5e8"], "overtraining"),
        (["isoflop", "porian_isoflop", "--method", "akima", "--json"], "exponent"),
        (["fit", "tiny_sweep", "--law", "chinchilla", "--accept"], "chinchilla"),  # 10 toy runs: NOT OK, exit 3 without --accept
        (["fit", "chinchilla_epoch", "--law", "power", "--var", "x=flops"], "power"),
    ],
)
def test_cli_commands_accept_bundled_names(args: list[str], needle: str, capsys) -> None:
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert needle in out
