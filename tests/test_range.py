"""Range checks: predictions and plans beyond the fitted runs warn with the factor; a
non-positive size is a one-line error (exit 2 on the command line)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli.app import main
from scalinglaws.errors import DataError


@pytest.fixture(scope="module")
def grid_fit() -> sl.Fit:
    """Chinchilla on a small grid: n_params 1e8..1e9, n_tokens 1e9..1e10."""
    N, D = np.meshgrid(np.geomspace(1e8, 1e9, 4), np.geomspace(1e9, 1e10, 4))
    N, D = N.ravel(), D.ravel()
    loss = 1.8 + 480 * N**-0.35 + 2100 * D**-0.37
    return sl.fit(pd.DataFrame({"n_params": N, "n_tokens": D, "loss": loss}), "chinchilla")


def test_in_range_is_silent(grid_fit) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid_fit.predict(n_params=np.array([1e8, 5e8, 1e9]), n_tokens=np.array([1e9, 3e9, 1e10]))
        sl.compute_optimal(grid_fit, 6 * 5e8 * 5e9)


def test_beyond_warns_with_the_factor_per_variable_and_compute(grid_fit) -> None:
    with pytest.warns(sl.ScalingLawsWarning) as caught:
        grid_fit.predict(n_params=7e10, n_tokens=1e10)
    text = str(caught[0].message)
    assert "n_params 7e+10 is 70x the largest fitted (1e+09)" in text
    assert "compute 6ND 4.2e+21 is 70x the largest fitted (6e+19)" in text
    assert "n_tokens" not in text  # in range
    with pytest.warns(sl.ScalingLawsWarning, match=r"n_tokens 1e\+08 is 1/10 of the smallest fitted"):
        grid_fit.predict(n_params=5e8, n_tokens=1e8)


def test_non_positive_size_is_a_one_line_error(grid_fit) -> None:
    for bad in (-1e9, 0.0):
        with pytest.raises(DataError, match="n_params must be positive") as err:
            grid_fit.predict(n_params=bad, n_tokens=1e10)
        assert "\n" not in str(err.value)


def test_interval_checks_the_range_too() -> None:
    x = np.geomspace(1e6, 1e8, 10)
    f = sl.fit(pd.DataFrame({"x": x, "loss": 1.5 + 300 * x**-0.3}), "power", bootstrap=20, seed=0)
    with pytest.warns(sl.ScalingLawsWarning, match=r"x 1e\+10 is 100x the largest fitted"):
        f.predict_interval(0.9, x=1e10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f.predict_interval(0.9, x=1e7)
    with pytest.raises(DataError):
        f.predict_interval(0.9, x=-5.0)


def test_an_interval_warns_once_and_not_at_all_when_told(grid_fit) -> None:
    # predict_interval checked the range, then its own prediction checked it again
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid_fit.predict_interval(0.9, n_params=7e10, n_tokens=1e10)
    assert sum("beyond the fitted range" in str(w.message) for w in caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid_fit.predict_interval(0.9, n_params=7e10, n_tokens=1e10, check_range=False)
        sl.validate(sl.datasets.load("chinchilla_epoch"), "chinchilla")  # held-out runs lie beyond by design


def test_plan_beyond_the_fitted_compute_warns(grid_fit) -> None:
    with pytest.warns(sl.ScalingLawsWarning, match=r"compute 1e\+40 is .*x the largest fitted \(6e\+19\)"):
        sl.compute_optimal(grid_fit, 1e40)


def test_old_fit_files_without_ranges_still_refuse_negatives(grid_fit) -> None:
    d = json.loads(grid_fit.to_json())
    del d["options"]["ranges"]
    old = sl.Fit.from_dict(d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old.predict(n_params=7e10, n_tokens=1e12)
    with pytest.raises(DataError):
        old.predict(n_params=-1.0, n_tokens=1e12)


def test_cli_predict_and_plan(tmp_path, capsys, grid_fit) -> None:
    path = tmp_path / "fit.json"
    path.write_text(grid_fit.to_json(), encoding="utf-8")
    assert main(["predict", str(path), "--at", "n_params=-1e9", "--at", "n_tokens=1e10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: n_params must be positive, got -1e+09"]
    assert main(["predict", str(path), "--at", "n_params=5e8", "--at", "n_tokens=5e9"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(["plan", str(path), "--flops", "1e40"]) == 0
    err = capsys.readouterr().err
    assert "warning: beyond the fitted range: compute 1e+40" in err
    assert main(["plan", str(path), "--flops", "-1"]) == 2
