"""Stacking laws in ``sl.fit(runs, "auto")``: the weights, the stacked Fit, its calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.errors import FitError, LawError
from scalinglaws.judge.auto import fit_auto
from scalinglaws.judge.stack import stack_fits, stack_weights, stacked_law

pytestmark = pytest.mark.filterwarnings("ignore::scalinglaws.errors.ScalingLawsWarning")


def _curve(n: int = 14, noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(10, 1e4, n)
    return pd.DataFrame({"x": x, "loss": (0.5 + 3 * x**-0.4) * np.exp(rng.normal(0, noise, n))})


def test_weights_minimise_the_nested_error_of_the_combination():
    # two laws erring in opposite directions by 2:1 are best combined 1/3 : 2/3 (zero error)
    a = {5: np.array([0.02, 0.04]), 6: np.array([0.03])}
    b = {5: np.array([-0.01, -0.02]), 6: np.array([-0.015])}
    w = stack_weights([a, b])
    np.testing.assert_allclose(w, [1 / 3, 2 / 3], atol=1e-4)
    # a law better at every cut and erring the same way takes all the weight
    c = {5: np.array([0.04, 0.08]), 6: np.array([0.06])}
    np.testing.assert_allclose(stack_weights([a, c]), [1.0, 0.0])
    # a weight under the floor is dropped
    d = {5: np.array([-0.5, -1.0]), 6: np.array([-0.8])}
    w = stack_weights([a, d])
    assert w[1] == 0.0 or w[1] >= 0.1
    with pytest.raises(LawError, match="same nested cuts"):
        stack_weights([a, {5: np.array([0.1, 0.1])}])
    with pytest.raises(LawError, match="finite"):
        stack_weights([a, {5: np.array([np.inf, 0.1]), 6: np.array([0.1])}])


def test_stacked_fit_predicts_the_weighted_geometric_mean():
    df = _curve()
    f1, f2 = sl.fit(df, "power", bootstrap=10, seed=3), sl.fit(df, "m1", bootstrap=10, seed=3)
    s = stack_fits([f1, f2], [0.75, 0.25])
    x = np.array([20.0, 3e4, 1e5])
    expected = np.exp(0.75 * np.log(f1.predict(x=x, check_range=False)) + 0.25 * np.log(f2.predict(x=x, check_range=False)))
    np.testing.assert_allclose(s.predict(x=x, check_range=False), expected, rtol=1e-12)
    assert s.law.name == "stack(power,m1)" and "power__alpha" in s.params and "m1__c" in s.params
    assert s.options["stack"]["weights"] == [0.75, 0.25]
    # the members' draws are refits on the same resamples: side by side they are draws of the stack
    assert s.draws.shape == (10, len(f1.free_params) + len(f2.free_params))
    lo, hi = s.predict_interval(0.9, x=3e4, kind="parameters", check_range=False)
    assert lo < s.predict(x=3e4, check_range=False) < hi
    back = sl.Fit.from_dict(s.to_dict(), law=s.law)
    np.testing.assert_allclose(back.predict(x=x, check_range=False), s.predict(x=x, check_range=False))
    with pytest.raises(LawError, match="distinct names"):
        stacked_law([f1.law, f1.law], [0.5, 0.5])
    with pytest.raises(LawError, match="non-negative"):
        stacked_law([f1.law, f2.law], [1.0, -0.5])


def test_auto_records_its_stack_and_calibrates_it_without_refits(monkeypatch):
    df = _curve(noise=0.02, seed=4)
    import scalinglaws.judge.calibrate as cal

    def refused(*a, **k):
        raise AssertionError("a stack must not be refitted as one law")

    f = sl.fit(df, "auto", candidates=["power", "m1", "m3"])
    rec = f.options["auto"]
    if "stack" not in rec:
        pytest.skip("one law took all the weight on this curve")  # pragma: no cover - deterministic data
    assert f.law.name == rec["law"] == "stack(" + ",".join(rec["stack"]["members"]) + ")"
    assert abs(sum(rec["stack"]["weights"]) - 1) < 1e-12 and min(rec["stack"]["weights"]) >= 0.1
    assert f.options["calibration"]["reused_cuts"] >= 2 and f.options["calibration"]["quantiles"]
    monkeypatch.setattr(cal, "_refit", refused)
    monkeypatch.setattr(cal, "_batched_refits", refused)
    g = sl.fit(df, "auto", candidates=["power", "m1", "m3"])  # deterministic: the same stack
    assert g.law.name == f.law.name
    lo, hi = g.predict_interval(0.9, x=3e4, check_range=False)
    assert lo < g.predict(x=3e4, check_range=False) < hi


def test_stack_false_keeps_the_single_winner():
    df = _curve(noise=0.02, seed=4)
    single = sl.fit(df, "auto", candidates=["power", "m1", "m3"], stack=False)
    assert "stack" not in single.options["auto"] and not single.law.name.startswith("stack")
    assert single.law.name == single.options["auto"]["law"]
    assert fit_auto(df, ["power", "m1", "m3"], stack=False).law.name == single.law.name
    with pytest.raises(FitError, match='stack apply to law="auto" only'):
        sl.fit(df, "power", stack=False)


def test_laws_of_two_variables_are_not_stacked():
    runs = sl.datasets.load("chinchilla_epoch")
    small = runs.data.sort_values("n_params").iloc[::6]
    f = sl.fit(small, "auto", calibrate_intervals=False)
    assert f.law.name in ("chinchilla", "kaplan") and "stack" not in f.options["auto"]


def test_a_law_that_turns_negative_beyond_the_data_leaves_the_stack():
    """The log-linear law fits this curve exactly (best at every nested cut, all the weight)
    but is negative at 10x the largest x: it is left out and the weights recomputed."""
    from scalinglaws.laws.law import Param, formula_law

    loglin = formula_law("c0 - c1 * log(x)", name="loglin",
                         params=[Param("c0", 0.0, 10.0, grid=(1.0, 2.0)), Param("c1", 0.0, 1.0, grid=(0.1, 0.3))])
    x = np.geomspace(10, 1e4, 12)
    df = pd.DataFrame({"x": x, "loss": 2.0 - 0.2 * np.log(x)})
    f = sl.fit(df, "auto", candidates=[loglin, "power", "m1"])
    rec = f.options["auto"]
    assert rec["table"][0]["candidate"] == "loglin" or min(r["score"] for r in rec["table"]) < 1e-6
    assert "loglin" not in f.law.name and "loglin" in rec["note"]
    assert np.all(f.predict(x=np.array([2e4, 1e5]), check_range=False) > 0)


def _selection(errors: dict[str, dict[int, list[float]]]):
    from scalinglaws.judge.auto import Nested, Selection

    names = tuple(errors)
    nest = Nested(candidates=names, names=names, n_params={n: 3 for n in names}, notes={n: "" for n in names},
                  racing=names, by="x", cuts=tuple(next(iter(errors.values()))), train_sizes={},
                  errors={n: {k: np.asarray(v, dtype=float) for k, v in e.items()} for n, e in errors.items()},
                  n_runs=10)
    return Selection(law=names[0], name=names[0], by="x", cuts=(), table=pd.DataFrame(), nested=nest)


def test_a_single_choice_is_calibrated_by_the_choice_cross_validated_over_cuts():
    """Law a wins on the mean over cuts (0.073 against 0.1) by two lucky cuts; left out,
    each of those cuts is won by b on the other two, so the errors of the *choice* there
    are b's 0.1, not a's 0.01 (the old rule calibrated by a's own errors: too narrow)."""
    from scalinglaws.judge.auto import _stack_errors

    sel = _selection({"a": {5: [0.2], 6: [0.01], 7: [-0.01]}, "b": {5: [0.1], 6: [-0.1], 7: [0.1]}})
    cv = _stack_errors(sel, ["a", "b"], stacked=False)["x"]
    np.testing.assert_allclose([cv[k][0] for k in (5, 6, 7)], [0.2, 0.1, 0.1])
    # stacked: weights from the other cuts, absolute errors (no cancellation at the scored cut)
    cv = _stack_errors(sel, ["a", "b"], stacked=True)["x"]
    for k in (5, 6, 7):
        others = {c: None for c in (5, 6, 7) if c != k}
        w = stack_weights([{c: sel.nested.errors[n][c] for c in others} for n in ("a", "b")])
        expected = w[0] * abs(sel.nested.errors["a"][k][0]) + w[1] * abs(sel.nested.errors["b"][k][0])
        assert cv[k][0] == pytest.approx(expected)
    # one cut: nothing to leave out, the cut's own choice
    one = _selection({"a": {5: [0.02]}, "b": {5: [0.3]}})
    assert _stack_errors(one, ["a", "b"], stacked=False)["x"][5][0] == pytest.approx(0.02)


def test_auto_records_the_pool_its_calibration_cross_validates():
    df = _curve(noise=0.02, seed=4)
    single = sl.fit(df, "auto", candidates=["power", "m1", "m3"], stack=False)
    pool = single.options["auto"]["pool"]
    assert pool["stacked"] is False and single.law.name in pool["candidates"]
    assert single.options["calibration"]["reused_cuts"] >= 2


def test_conformal_quantiles_never_stop_at_the_largest_score():
    """With n scores the conformal rank ceil((n + 1) level) exists only for n >= level / (1 -
    level); below it the largest score covers a new one with probability n / (n + 1) only.
    The Student-t prediction quantile of the scores is used there instead."""
    from scipy import stats

    from scalinglaws.judge.calibrate import conformal_quantiles

    scores = np.arange(1.0, 9.0) / 4  # 8 scores: no 90 % conformal rank (needs 9)
    q50, q90 = conformal_quantiles(scores, (0.5, 0.9))
    assert q50 == scores[4]  # ceil(9 * 0.5) = 5th smallest
    rms = np.sqrt(np.mean(scores**2))
    assert q90 == pytest.approx(stats.t.ppf(0.95, 8) * rms) and q90 > scores.max()
    many = np.linspace(0.05, 3, 40)  # 40 scores: the 37th smallest at 90 %
    assert conformal_quantiles(many, (0.9,))[0] == many[36]
