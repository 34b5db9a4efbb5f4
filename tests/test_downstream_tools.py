"""Emergence flag, PassUntil pass rates and the samples-versus-size planner."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.errors import DataError

X = np.geomspace(1e7, 1e11, 16)


# --------------------------------------------------------------------------- emergence


def test_emergence_flags_a_sharp_break_and_not_a_smooth_curve() -> None:
    rng = np.random.default_rng(0)
    # accuracy at chance (0.25) until 3e9 parameters, then the error falls as a power law
    emergent = 1 - 0.75 * np.where(X < 3e9, 1.0, (X / 3e9) ** -0.6) + rng.normal(0, 0.005, X.size)
    smooth = 1 - (0.1 + 0.8 * (X / 1e7) ** -0.12) + rng.normal(0, 0.005, X.size)
    e = sl.emergence(pd.DataFrame({"n_params": X, "accuracy": emergent}))
    s = sl.emergence(pd.DataFrame({"n_params": X, "accuracy": smooth}))
    assert e.emergent and e.delta_aic > 10 and e.sharpness <= 1
    assert e.break_at == pytest.approx(3e9, rel=0.3)
    assert not s.emergent and s.delta_aic < 10
    assert "emergent" in repr(e) and e.to_dict()["emergent"] is True
    assert "smooth" in repr(s)


def test_emergence_on_pythia_final_accuracies_flags_no_task(golden_data: Path) -> None:
    d = pd.read_csv(golden_data / "pythia_evals" / "pythia_evals_0shot.csv")
    final = d[(d.metric == "acc") & (d.step == 143000)]
    flagged = [t for t, rows in final.groupby("task") if sl.emergence(rows, y="value").emergent]
    assert flagged == []  # 70M-12B: every task rises smoothly (largest dAICc 3.4, arc_challenge)


def test_emergence_refuses_bad_input() -> None:
    with pytest.raises(DataError, match="no column"):
        sl.emergence(pd.DataFrame({"n_params": X, "accuracy": 0.5}), y="acc")
    with pytest.raises(DataError, match="at least 8 points"):
        sl.emergence(pd.DataFrame({"n_params": X[:4], "accuracy": 0.5}))
    with pytest.raises(DataError, match="below the ceiling"):
        sl.emergence(pd.DataFrame({"n_params": X, "accuracy": 1.0}))


# --------------------------------------------------------------------------- PassUntil


def test_pass_until_is_the_geometric_mle_and_its_interval_covers() -> None:
    rng = np.random.default_rng(1)
    p = 2e-4
    hits = 0
    trials = 300
    for _ in range(trials):
        draws = rng.geometric(p, size=50)  # samples until the first pass, per problem
        r = sl.pass_until(draws, level=0.9)
        assert r.rate == pytest.approx(50 / draws.sum())
        hits += r.interval[0] <= p <= r.interval[1]
    # an exact interval covers at least its level (up to simulation noise: sd ~ 1.7 %)
    assert 0.86 <= hits / trials <= 0.97


def test_pass_until_r_passes_and_budget() -> None:
    r = sl.pass_until([100, 300, 1000], passes=[2, 3, 0])  # the last problem stopped at a budget
    assert r.rate == pytest.approx(5 / 1400) and r.n_passes == 5 and r.n_samples == 1400
    assert r.interval[0] < r.rate < r.interval[1]
    none = sl.pass_until([1000, 1000], passes=0, level=0.95)
    assert none.rate == 0 and none.interval[1] == pytest.approx(1 - 0.025 ** (1 / 2000))
    assert r.to_dict()["per_problem"] == pytest.approx([0.02, 0.01, 0.0])
    with pytest.raises(DataError, match="passes > samples"):
        sl.pass_until([1, 2], passes=[2, 1])
    with pytest.raises(DataError, match="whole numbers"):
        sl.pass_until([1.5, 2])


def test_pass_until_rates_extrapolate_with_a_law() -> None:
    """Tiny pass rates at small sizes, fitted as PU = exp(a * N^b), predict a larger model's."""
    rng = np.random.default_rng(2)
    sizes = np.geomspace(1e8, 3e9, 6)
    truth = lambda n: np.exp(-20.0 * (n / 1e8) ** -0.5)  # 2e-9 at 1e8 .. 0.03 at 3e9
    sizes = sizes[truth(sizes) > 1e-5]
    rates = [sl.pass_until(rng.geometric(truth(n), size=200)).rate for n in sizes]
    law = sl.formula_law("exp(a * n_params**b)", name="pass_until", target="pass_rate",
                         params={"a": {"upper": 0.0, "grid": (-1e2, -1e4, -1e6)}, "b": {"lower": -5.0, "upper": 0.0, "grid": (-0.3, -0.6)}})
    fit = sl.fit(pd.DataFrame({"n_params": sizes, "pass_rate": rates}), law, calibrate_intervals=False)
    big = 1e10
    assert float(fit.predict(n_params=big)) == pytest.approx(truth(big), rel=0.25)
    assert fit.params["b"] == pytest.approx(-0.5, abs=0.1)


# --------------------------------------------------------------------------- samples versus size


def _coverage_table(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for n, a, b in ((1e9, -3.0, -0.35), (8e9, -1.5, -0.4), (7e10, -0.7, -0.45)):
        ks = np.geomspace(1, 1000, 25)
        cov = np.exp(a * ks**b) * np.exp(rng.normal(0, 0.003, ks.size))
        rows.append(pd.DataFrame({"n_params": n, "n_samples": ks, "coverage": cov}))
    return pd.concat(rows, ignore_index=True)


def test_plan_samples_finds_the_cheapest_size_by_brute_force() -> None:
    table = _coverage_table(np.random.default_rng(3))
    plan = sl.plan_samples(table, 0.6, tokens_per_sample=1000, n_problems=1000, bootstrap=60)
    opts = plan.options
    # at a measured size the samples are the coverage law inverted: exp(a k^b) = 0.6
    row = opts[opts.n_params == 8e9].iloc[0]
    assert row.n_samples == pytest.approx((math.log(0.6) / -1.5) ** (1 / -0.4), rel=0.05)
    assert row.total_flops == pytest.approx(2 * 8e9 * 1000 * row.n_samples * 1000)
    assert plan.total_flops == opts.total_flops.min() and plan.n_params == opts.n_params[opts.total_flops.idxmin()]
    assert plan.total_flops_interval[0] <= plan.total_flops <= plan.total_flops_interval[1]
    assert np.all(opts.n_samples_lower <= opts.n_samples) and np.all(opts.n_samples <= opts.n_samples_upper)
    assert plan.to_dict()["options"][0]["n_params"] == 1e9 and "SamplePlan(" in repr(plan)


def test_plan_samples_training_cost_favours_small_models() -> None:
    table = _coverage_table(np.random.default_rng(4))
    infer = sl.plan_samples(table, 0.6, tokens_per_sample=1000, n_problems=1000, bootstrap=0)
    both = sl.plan_samples(table, 0.6, tokens_per_sample=1000, n_problems=1000, train_tokens_per_param=20, bootstrap=0)
    assert both.n_params < infer.n_params
    assert np.allclose(both.options.train_flops, 6 * 20 * both.options.n_params**2)
    assert both.n_params_interval is None


def test_plan_samples_refuses_bad_input() -> None:
    table = _coverage_table(np.random.default_rng(5))
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        sl.plan_samples(table, 1.0, tokens_per_sample=100)
    with pytest.raises(DataError, match="two model sizes"):
        sl.plan_samples(table[table.n_params == 1e9], 0.5, tokens_per_sample=100)
    with pytest.raises(DataError, match="missing the column"):
        sl.plan_samples(table.drop(columns="coverage"), 0.5, tokens_per_sample=100)
    with pytest.raises(DataError, match="tokens_per_sample"):
        sl.plan_samples(table, 0.5, tokens_per_sample=0)


# --------------------------------------------------------------------------- published numbers (golden)
# Brown et al. 2024, "Large Language Monkeys" (arXiv 2407.21787), abstract: on SWE-bench Lite
# the issues solved with DeepSeek-Coder-V2-Instruct rise "from 15.9% with one sample to 56%
# with 250 samples". Table 1 (read through a secondary summary that quotes it, not the paper
# itself): 29.62% resolved with 5 samples; one sample of GPT-4o 24.00%, of Claude 3.5 Sonnet 26.70%.
MONKEYS_SWE_LITE = {1.0: 0.159, 250.0: 0.56}
MONKEYS_AT_5 = 0.2962
ONE_SAMPLE_GPT4O, ONE_SAMPLE_SONNET = 0.2400, 0.2670


@pytest.fixture(scope="module")
def monkeys_fit() -> sl.Fit:
    k, c = zip(*MONKEYS_SWE_LITE.items())
    return sl.fit(pd.DataFrame({"n_samples": k, "coverage": c}), "coverage", target="coverage")


@pytest.mark.golden
def test_monkeys_coverage_law_through_the_abstract_points_predicts_table_1_at_five_samples(monkeys_fit: sl.Fit) -> None:
    """Brown et al. (2024): the coverage law c(k) = exp(a k^b) through the abstract's two
    SWE-bench Lite points (15.9 % at k = 1, 56 % at k = 250, DeepSeek-Coder-V2-Instruct)
    predicts the 29.62 % that Table 1 prints at k = 5 to within 10 % (it gives 26.9 %, 9 % low).

    Two points fix the two parameters, so the fit is exact there; the check is the law's
    shape between them, which the paper says is log-linear for most task/model pairs.
    """
    a, b = monkeys_fit.params["a"], monkeys_fit.params["b"]
    assert a == pytest.approx(math.log(0.159), rel=1e-3) and b < 0
    for k, c in MONKEYS_SWE_LITE.items():
        assert float(monkeys_fit.predict(n_samples=k)) == pytest.approx(c, rel=1e-3)
    assert float(monkeys_fit.predict(n_samples=5.0)) == pytest.approx(MONKEYS_AT_5, rel=0.10)


@pytest.mark.golden
def test_monkeys_five_cheap_samples_beat_one_frontier_sample(monkeys_fit: sl.Fit) -> None:
    """Brown et al. (2024) state (abstract of the first version, on the authors' project page; Table 1) that five samples of DeepSeek-Coder-V2-Instruct
    solve more SWE-bench Lite issues than one sample of GPT-4o (24.00 %) or Claude 3.5 Sonnet
    (26.70 %). Inverted with ``samples_for_coverage``, the law fitted on the abstract's two
    points needs 3.4 and 4.9 samples to match them: both at most five, as printed.
    """
    gpt4o = sl.samples_for_coverage(monkeys_fit, ONE_SAMPLE_GPT4O).n_samples
    sonnet = sl.samples_for_coverage(monkeys_fit, ONE_SAMPLE_SONNET).n_samples
    assert 1 < gpt4o < sonnet <= 5


@pytest.mark.filterwarnings("ignore:beyond the fitted range")
def test_pass_until_predicts_a_2_4b_pass_rate_from_models_under_1b() -> None:
    """Hu et al. (2024, arXiv 2310.03262), abstract: with PassUntil the code-generation
    performance of their 2.4B model was predicted "before training starts", from smaller
    models, with a task scaling law linear in log(-log PU) against log N.

    What this reproduces is that statement, NOT a printed number: the per-size PassUntil
    table and the fitted constants could not be read (only the abstract and summaries were
    reachable), so the "0.05 % deviation" is not checked. The pass rates here are SIMULATED
    from PU(N) = exp(-2.5 (N / 1e9)^-0.6), a law whose constants we chose (4.8e-5 at 100M,
    0.082 at 1B, 0.228 at 2.4B): each of 200 problems is sampled until its 20th pass, at
    five sizes from 100M to 1B, the pooled rates are fitted and extrapolated 2.4x.
    Over 20 seeds the 2.4B prediction was off by at most 0.0032 (1.4 % relative).
    """
    truth = lambda n: np.exp(-2.5 * (n / 1e9) ** -0.6)
    rng = np.random.default_rng(0)
    sizes = np.array([1e8, 2e8, 4e8, 6e8, 1e9])
    r = 20
    rates = [sl.pass_until(rng.negative_binomial(r, truth(n), size=200) + r, passes=r).rate for n in sizes]
    assert rates[0] < 1e-4  # one sample per problem would almost surely read 0 here; PassUntil resolves it
    law = sl.formula_law("exp(a * n_params**b)", name="pass_until", target="pass_rate",
                         params={"a": {"upper": 0.0, "grid": (-1e2, -1e4, -1e6)},
                                 "b": {"lower": -5.0, "upper": 0.0, "grid": (-0.3, -0.6)}})
    fit = sl.fit(pd.DataFrame({"n_params": sizes, "pass_rate": rates}), law, calibrate_intervals=False)
    assert float(fit.predict(n_params=2.4e9)) == pytest.approx(truth(2.4e9), rel=0.03)
    assert fit.params["b"] == pytest.approx(-0.6, abs=0.05)
