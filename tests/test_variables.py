"""Laws declare their variables; the engine, the loader and the planner read the declarations."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.errors import DataError, FitError, LawError
from scalinglaws.laws import get_law
from scalinglaws.laws.variables import VOCABULARY, Variable, standard


def test_catalog_laws_carry_a_declaration_for_every_variable() -> None:
    for name in sl.laws.names():
        law = get_law(name)
        assert tuple(v.name for v in law.variable_info) == law.variables, name
    chin = get_law("chinchilla")
    assert chin.variable("n_tokens").unit == "tokens" and chin.positive_variables == (
        "n_params",
        "n_tokens",
    )
    assert (
        get_law("loss_to_loss").positive_variables == ()
    )  # losses minus a floor: any sign
    assert get_law("rectified").variable("finetune_examples").unit == "examples"


def test_formula_variables_come_from_the_vocabulary_the_columns_or_the_caller() -> None:
    assert get_law("E + A * n_params**-alpha").variables == ("n_params",)
    assert (
        get_law("E + A * n_params**-alpha").variable("n_params")
        == VOCABULARY["n_params"]
    )
    # a name that is a column of the runs is data; without the columns it would be a parameter
    with pytest.raises(LawError, match="has no variable"):
        sl.formula_law("E + A * width**-alpha")
    law = sl.formula_law("E + A * width**-alpha", columns=["width", "loss"])
    assert law.variables == ("width",) and law.variable("width") == Variable("width")
    own = sl.formula_law(
        "E + A * width**-alpha",
        variables=[Variable("width", "units", True, "layer width")],
    )
    assert own.positive_variables == ("width",)
    with pytest.raises(LawError, match="declares"):
        dataclasses.replace(own, variable_info=(Variable("depth"),))


def test_fit_reads_a_formula_variable_from_the_runs_columns() -> None:
    width = np.geomspace(64, 8192, 12)
    frame = pd.DataFrame({"width": width, "loss": 2.0 + 40.0 * width**-0.5})
    f = sl.fit(
        frame, "E + A * width**-alpha", starts={"E": [1.0], "A": [10.0], "alpha": [0.3]}
    )
    assert f.law.variables == ("width",)
    assert f.params["alpha"] == pytest.approx(0.5, rel=1e-4)
    # and the fit rebuilds from its JSON with the same variables
    again = sl.Fit.from_json(f.to_json())
    assert again.law.variables == ("width",)


def test_overtraining_derives_tokens_per_param_from_the_runs() -> None:
    runs = sl.datasets.load("chinchilla_epoch")
    assert "tokens_per_param" not in runs.columns
    f = sl.fit(runs, "overtraining")
    assert f.provenance["derived"] == ["tokens_per_param"]
    assert (
        f.provenance["data_fingerprint"] == runs.fingerprint()
    )  # the runs as given, not as derived
    ratio = runs.column("n_tokens") / runs.column("n_params")
    predicted = f.predict(n_params=runs.column("n_params"), tokens_per_param=ratio)
    assert (
        np.sqrt(np.mean(np.log(predicted / runs.column("loss")) ** 2)) < 0.05
    )  # it fits the runs
    assert 0.1 < f.params["alpha"] < 0.6


def test_derivation_needs_its_parts_and_checks_them() -> None:
    frame = pd.DataFrame(
        {"n_params": [1e8, 2e8, 4e8, 8e8, 1.6e9], "loss": [3.2, 3.0, 2.8, 2.7, 2.6]}
    )
    with pytest.raises(DataError, match="'tokens_per_param' is missing"):
        sl.fit(frame, "overtraining")
    bad = frame.assign(n_tokens=[2e9, 4e9, 0.0, 1.6e10, 3.2e10])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = sl.load_runs(bad)
    with pytest.raises(
        DataError,
        match=r"'n_tokens' for deriving tokens_per_param = n_tokens / n_params must be > 0",
    ):
        sl.fit(runs, "overtraining")


def test_runs_derive_records_the_column() -> None:
    runs = sl.load_runs(
        pd.DataFrame(
            {"n_params": [1e8, 1e9], "n_tokens": [2e9, 4e10], "loss": [3.0, 2.5]}
        )
    )
    spec = VOCABULARY["tokens_per_param"].derive
    assert spec is not None
    out = runs.derive("tokens_per_param", spec.parts, spec, text=spec.text)
    assert out.column("tokens_per_param").tolist() == [20.0, 40.0]
    assert (
        out.derived == ("flops", "tokens_per_param")
        and "tokens_per_param" not in runs.columns
    )
    with pytest.raises(DataError, match="exists already"):
        out.derive("tokens_per_param", spec.parts, spec)


def test_planner_asks_the_law_for_its_closed_form() -> None:
    chin = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    assert (
        sl.compute_optimal(sl.fit_from_params("chinchilla", chin), 1e23).method
        == "closed form"
    )
    # the same formula without the catalog's closed form is solved numerically, to the same answer
    bare = dataclasses.replace(get_law("chinchilla"), optimum=None)
    numeric = sl.compute_optimal(sl.fit_from_params(bare, chin), 1e23)
    assert numeric.method == "numeric"
    assert numeric.n_params == pytest.approx(
        sl.compute_optimal(sl.fit_from_params("chinchilla", chin), 1e23).n_params,
        rel=1e-5,
    )
    # and any law may carry one: the planner never asks for the law's name
    halved = dataclasses.replace(
        bare, name="mine", optimum=lambda p, c: np.sqrt(np.asarray(c) / 6.0) / 2
    )
    plan = sl.compute_optimal(sl.fit_from_params(halved, chin), 6e20)
    assert plan.method == "closed form" and plan.n_params == pytest.approx(0.5e10)
    with pytest.raises(FitError, match="closed form applies only"):
        sl.compute_optimal(sl.fit_from_params(bare, chin), 1e23, method="closed_form")


def test_vocabulary_names_its_units_and_derivations() -> None:
    assert (
        standard("flops").derive is not None
        and standard("flops").derive(np.array([2.0]), np.array([3.0]))[0] == 36.0
    )
    assert standard("unheard_of") == Variable("unheard_of")
    assert Variable("n").to_dict() == {
        "name": "n",
        "unit": "",
        "positive": False,
        "meaning": "",
        "derive": None,
        "per": None,
    }


def test_a_ratio_variable_counts_times_its_denominator_in_the_distance_beyond_the_data() -> None:
    """A law in N and M = D/N: a run whose N and M are each inside the training range but
    whose compute (N * D = N^2 M) is beyond it lies beyond the data, as it does for a law in
    N and D (the overtraining law's intervals were noise-only there before)."""
    from scalinglaws.engine.extrapolation import extrapolation_distance, ratios
    from scalinglaws.laws import get_law

    law = get_law("overtraining")
    per = ratios(law)
    assert per == {"tokens_per_param": "n_params"}
    # training: (N, M) = (1e8, 100) and (1e9, 10): largest N*D = N^2 M = 1e19 (log 19)
    top = {"n_params": 1e9, "tokens_per_param": 100.0, "*": 19.0}
    inside = {"n_params": np.array([5e8]), "tokens_per_param": np.array([20.0])}     # N^2 M = 5e18
    beyond = {"n_params": np.array([1e9]), "tokens_per_param": np.array([100.0])}    # N^2 M = 1e20
    assert extrapolation_distance(top, inside, per)[0] == 0.0
    assert extrapolation_distance(top, beyond, per)[0] == pytest.approx(1.0)
    assert extrapolation_distance(top, beyond)[0] == 0.0  # without the declaration: N, M and N*M all in range
