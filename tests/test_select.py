"""Automatic law choice by nested extrapolation tests inside the training runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.errors import DataError, LawError
from scalinglaws.judge.auto import (
    CURVE_CANDIDATES,
    SIZE_DATA_CANDIDATES,
    Selection,
    choose_law,
    default_candidates,
    fit_auto,
    nested_errors,
    options_for,
)

pytestmark = pytest.mark.filterwarnings("ignore::scalinglaws.errors.ScalingLawsWarning")


def _curve(kind: str, n: int = 16, noise: float = 0.005, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(10, 1e5, n)
    clean = {"floor": 0.8 + 5 * x**-0.4, "pure": 5 * x**-0.15}[kind]
    return pd.DataFrame({"x": x, "loss": clean * np.exp(rng.normal(0, noise, n))})


def test_chooses_the_law_that_extrapolates():
    s = choose_law(_curve("floor"), ["m1", "power"])
    assert isinstance(s, Selection)
    assert s.name == "power" and s.law == "power"
    assert s.scores["power"] < s.scores["m1"] / 5
    assert s.table.set_index("candidate").loc["power", "rank"] == 1
    assert s.by == "x" and s.n_runs == 16
    # cuts after 8, 10, 11, 13 of the 16 runs (shares 0.5 ... 0.8 of the distinct scales)
    assert s.cuts == (8, 10, 11, 13)
    assert [c for c in s.table.columns if c.startswith("cut_")] == ["cut_8", "cut_10", "cut_11", "cut_13"]
    assert json.loads(json.dumps(s.to_dict()))["law"] == "power"
    assert repr(s).startswith("Selection(name='power'")
    assert "nested extrapolation" in s.summary()


def test_a_pure_power_law_is_not_bent_by_a_floor():
    s = choose_law(_curve("pure", noise=0.002), ["m1", "m3"])
    assert s.name == "m1"


def test_score_is_the_mean_of_the_cut_errors():
    s = choose_law(_curve("floor"), ["m1", "power"])
    row = s.table.set_index("candidate").loc["m1"]
    cuts = [row[f"cut_{k}"] for k in s.cuts]
    assert row["score"] == pytest.approx(np.mean(cuts))
    nest = nested_errors(_curve("floor"), ["m1", "power"])
    e = nest.errors["m1"][nest.cuts[0]]
    assert cuts[0] == pytest.approx(np.sqrt(np.mean(e**2)))
    # the runs above the first cut: 16 - 8
    assert e.shape == (8,)


def test_only_the_given_runs_are_read():
    d = _curve("floor")
    a = choose_law(d.iloc[:12], ["m1", "power"])
    poisoned = d.copy()
    poisoned.loc[12:, "loss"] = 1e9
    b = choose_law(poisoned.iloc[:12], ["m1", "power"])
    pd.testing.assert_frame_equal(a.table, b.table)


def test_flexible_candidates_drop_out_when_runs_are_few():
    d = _curve("floor", n=7)
    s = choose_law(d, ["m1", "power", "bnsl"])
    note = s.table.set_index("candidate").loc["bnsl", "note"]
    assert "too few runs" in note
    assert np.isnan(s.table.set_index("candidate").loc["bnsl", "score"])
    assert s.name in ("m1", "power")


def test_untested_choice_with_very_few_runs_is_the_simplest():
    s = choose_law(_curve("floor", n=3), ["power", "m1"])
    assert s.name == "m1" and s.cuts == ()
    assert "chosen untested" in s.table.set_index("candidate").loc["m1", "note"]


def test_fixed_parameters_leave_out_laws_without_them():
    s = choose_law(_curve("floor"), ["m1", "power"], fixed={"E": 0.8})
    assert s.name == "power"
    assert "has no parameter E" in s.table.set_index("candidate").loc["m1", "note"]
    with pytest.raises(LawError, match="no candidate can be fitted"):
        choose_law(_curve("floor"), ["m1"], fixed={"E": 0.8})


def test_fit_auto_fits_the_winner_and_records_the_choice():
    f = fit_auto(_curve("floor"), ["m1", "power"])
    assert f.law.name == "power"
    assert f.options["auto"]["law"] == "power"
    assert f.params["E"] == pytest.approx(0.8, rel=0.05)


def test_options_for_keeps_what_applies():
    kw = {"variables": {"x": "n_params"}, "starts": {"E": [1.0], "B": [2.0]}, "law_options": {"breaks": 2},
          "bootstrap": 10, "seed": 1}
    p = options_for("power", kw)
    assert p["variables"] == {"x": "n_params"} and p["starts"] == {"E": [1.0]}
    assert "law_options" not in p and "bootstrap" not in p
    b = options_for("bnsl", kw, inner=False)
    assert b["law_options"] == {"breaks": 2} and b["bootstrap"] == 10
    assert options_for("chinchilla", kw)["variables"] is None


def test_default_candidates():
    assert default_candidates(sl.load_runs(_curve("floor"))) == CURVE_CANDIDATES
    nd = sl.load_runs(pd.DataFrame({"n_params": [1e8, 2e8], "n_tokens": [1e9, 2e9], "loss": [3.0, 2.9]}))
    assert default_candidates(nd) == SIZE_DATA_CANDIDATES
    assert default_candidates(nd, {"x": "n_params"}) == CURVE_CANDIDATES
    other = sl.load_runs(pd.DataFrame({"steps": [1.0, 2.0], "loss": [3.0, 2.9]}))
    with pytest.raises(DataError, match="cannot tell which laws to try"):
        default_candidates(other)


@pytest.mark.parametrize(
    ("candidates", "kwargs", "message"),
    [
        (["auto"], {}, "'auto' cannot be one of its own candidates"),
        ([], {}, "at least one candidate"),
        (["power"], {"cuts": [0.5, 1.5]}, "cuts must be shares strictly between 0 and 1"),
        (["nosuchlaw"], {}, "unknown law 'nosuchlaw'"),
    ],
)
def test_bad_candidates_raise(candidates, kwargs, message):
    with pytest.raises((LawError, DataError), match=message):
        choose_law(_curve("floor"), candidates, **kwargs)


def test_mapped_variable_orders_by_its_column():
    d = _curve("floor").rename(columns={"x": "n_params"})
    s = choose_law(d, ["m1", "power"], variables={"x": "n_params"})
    assert s.by == "n_params" and s.name == "power"


def test_fit_auto_falls_back_when_the_winner_explodes_beyond_the_data():
    x = np.geomspace(1, 200, 16)
    d = pd.DataFrame({"x": x, "loss": 3 - 0.5 * np.log(x)})  # log-linear: crosses zero just past the data
    loglinear = sl.formula_law("a - b * log(x)", name="loglinear",
                               params=[sl.Param("a", grid=(2.0, 4.0)), sl.Param("b", grid=(0.2, 0.6))])
    s = choose_law(d, [loglinear, "power"])
    assert s.name == "loglinear"  # it extrapolates perfectly inside the data...
    f = fit_auto(d, [loglinear, "power"])
    assert f.law.name == "power"  # ... but predicts negative losses at 10x: the next law is fitted
    assert "loglinear" in f.options["auto"]["note"] and f.options["auto"]["law"] == "power"
