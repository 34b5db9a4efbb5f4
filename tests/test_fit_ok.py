"""Fit.ok: a fit that did not converge, rests on a search limit or has a singular
curvature matrix cannot be missed (report, HTML headline, CLI exit status)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli.app import EXIT_NOT_OK, main
from scalinglaws.render.report import render_report
from scalinglaws.reporting import Review

SIGMOID = "L0 + A / (1 + exp(-k * (log(x) - x0)))"


def _quiet_fit(*args, **kwargs) -> sl.Fit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.ScalingLawsWarning)
        return sl.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def sigmoid_runs() -> pd.DataFrame:
    x = np.geomspace(1e6, 1e9, 12)
    return pd.DataFrame({"x": x, "loss": 2 + 1.5 / (1 + np.exp(-1.2 * (np.log(x) - np.log(3e7))))})


@pytest.fixture(scope="module")
def steep_runs() -> pd.DataFrame:
    """A decreasing term with exponent 3: beyond the default search limit of 2."""
    x = np.geomspace(1.0, 30.0, 12)
    return pd.DataFrame({"x": x, "loss": 1.0 + 5.0 * x**-3.0})


def test_singular_curvature_is_a_diagnostic_not_a_traceback(sigmoid_runs) -> None:
    # every parameter at 1.0: the old defaults, which ran the sigmoid into overflow
    f = _quiet_fit(sigmoid_runs, SIGMOID, starts={"L0": [1.0], "A": [1.0], "k": [1.0], "x0": [1.0]})
    assert not f.ok
    assert any("singular" in p for p in f.problems)
    assert f.report().startswith("NOT OK: ")
    assert any("curvature" in w for w in f.diagnostics.warnings)


def test_parameter_on_a_search_limit_is_not_ok(steep_runs) -> None:
    f = _quiet_fit(steep_runs, "E + A * x**-alpha")
    assert f.params["alpha"] == pytest.approx(2.0)
    assert not f.ok
    assert any("alpha" in p and "search limit 2" in p for p in f.problems)


def test_a_physical_bound_is_fine() -> None:
    x = np.geomspace(1e6, 1e9, 12)
    f = _quiet_fit(pd.DataFrame({"x": x, "loss": 300 * x**-0.3}), "E + A * x**-alpha")
    assert f.params["E"] == pytest.approx(0.0, abs=1e-9)  # the floor rests on zero: a real answer
    assert not any(p.startswith("E ") for p in f.problems)


def test_not_converged_is_not_ok_and_survives_json(sigmoid_runs) -> None:
    f = _quiet_fit(sigmoid_runs, SIGMOID)
    assert f.ok and f.problems == () and not f.report().startswith("NOT OK")
    stuck = dataclasses.replace(f, diagnostics=dataclasses.replace(f.diagnostics, converged=False))
    assert not stuck.ok and "did not converge" in stuck.problems[0]
    again = sl.Fit.from_json(stuck.to_json())
    assert again.problems == stuck.problems


def test_published_constants_are_ok() -> None:
    f = sl.Fit.from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28})
    assert f.ok


def test_html_headline_says_not_ok(steep_runs) -> None:
    runs = sl.load_runs(steep_runs)
    bad = _quiet_fit(runs, "E + A * x**-alpha")
    def headline(fit: sl.Fit) -> str:  # the page down to its first section: title and summary
        page = render_report(Review(runs=runs, fit=fit), figures=False)
        return page[:page.index("<h2>")]

    assert "NOT OK" in headline(bad)
    good = _quiet_fit(runs, "E + A * x**-alpha", law_options={"params": {"alpha": {"lower": 0.0, "upper": 5.0, "grid": (1.0, 3.0)}}})
    assert good.ok and "NOT OK" not in headline(good)


def test_cli_fit_exits_3_unless_accept(tmp_path, capsys, steep_runs) -> None:
    path = tmp_path / "steep.csv"
    steep_runs.to_csv(path, index=False)
    code = main(["fit", str(path), "--law", "E + A * x**-alpha"])
    out, err = capsys.readouterr()
    assert code == EXIT_NOT_OK == 3
    assert out.startswith("NOT OK: ")
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "--accept" in errors[0]
    assert main(["fit", str(path), "--law", "E + A * x**-alpha", "--accept"]) == 0


def test_cli_fit_help_documents_the_status(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--accept" in text and "3 when the fit is NOT OK" in text
