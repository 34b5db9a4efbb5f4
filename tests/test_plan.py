"""Compute-optimal planning, FLOP accounting and run suggestions (plan.py, flops.py, suggest.py)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
import scalinglaws.cli.app as cli
from scalinglaws import datasets
from scalinglaws.errors import DataError, FitError, LawError, ScalingLawsWarning
from scalinglaws.plan.flops import Architecture, FlopCounter, ShapeFamily, flops_per_token
from scalinglaws.plan.optimal import (
    _Model,
    compute_for_loss,
    compute_optimal,
    effective_params,
    effective_tokens,
    fit_from_params,
    frontier,
)
from scalinglaws.plan.suggest import suggest_runs

NAMES = ("E", "A", "B", "alpha", "beta")
# LAWS.md §3.1 and §3.6
UNROUNDED = dict(zip(NAMES, (1.6934, 406.4, 410.7, 0.3392, 0.2849)))
ROUNDED = dict(zip(NAMES, (1.69, 406.4, 410.7, 0.34, 0.28)))
EPOCH = dict(zip(NAMES, (1.8172, 482.01, 2085.43, 0.3478, 0.3658)))
EPOCH_NOTEBOOK_LOGS = dict(zip(NAMES, (math.exp(0.5267228), math.exp(6.0073404), math.exp(6.0179186), 0.33917084, 0.2849083)))
GOPHER = 5.76e23
# LAWS.md §13.9 (official datablations code)
MUENNIGHOFF = {"E": math.exp(0.6254804), "A": math.exp(6.255414), "B": math.exp(7.3049974), "alpha": 0.3526596}
R_D, R_N = 15.387756, 5.309743


def closed_form(p: dict, C: float) -> tuple[float, float]:
    """Hoffmann Eq. 4, written out independently of the library."""
    a, b = p["alpha"], p["beta"]
    G = (a * p["A"] / (b * p["B"])) ** (1 / (a + b))
    N = G * (C / 6) ** (b / (a + b))
    return N, C / 6 / N


def with_draws(p: dict, n: int = 400, scale: float = 0.02, seed: int = 0) -> sl.Fit:
    rng = np.random.default_rng(seed)
    base = np.array([p[k] for k in NAMES])
    return fit_from_params("chinchilla", p, draws=base * (1 + scale * rng.standard_normal((n, 5))))


@pytest.fixture(scope="module")
def epoch_fit() -> sl.Fit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLawsWarning)
        return sl.fit(datasets.load("chinchilla_epoch"), "chinchilla", bootstrap=100, seed=0)


# --------------------------------------------------------------------------- golden: Chinchilla at Gopher's budget


@pytest.mark.parametrize(
    "params, n_opt, ratio",
    [(UNROUNDED, 4.03e10, 59.1), (ROUNDED, 3.22e10, 92.7), (EPOCH, 7.23e10, 18.4)],
    ids=["unrounded", "rounded", "epoch"],
)
def test_gopher_budget_matches_laws_worked_check(params, n_opt, ratio):
    plan = compute_optimal(fit_from_params("chinchilla", params), GOPHER)
    assert plan.method == "closed form"
    assert plan.n_params == pytest.approx(n_opt, rel=2e-3)
    assert plan.tokens_per_param == pytest.approx(ratio, abs=0.06)
    assert plan.n_tokens * plan.n_params * 6 == pytest.approx(GOPHER, rel=1e-12)


def test_unrounded_constants_give_about_40b_not_32b():
    unrounded = compute_optimal(fit_from_params("chinchilla", EPOCH_NOTEBOOK_LOGS), GOPHER).n_params
    rounded = compute_optimal(fit_from_params("chinchilla", ROUNDED), GOPHER).n_params
    assert 3.9e10 < unrounded < 4.1e10
    assert 3.1e10 < rounded < 3.3e10


def test_epoch_constants_about_18_tokens_per_param_at_chinchilla_budget():
    plan = compute_optimal(fit_from_params("chinchilla", EPOCH), 5.88e23)
    assert plan.tokens_per_param == pytest.approx(18.4, abs=0.05)


def test_epoch_refit_from_data_about_18_tokens_per_param(epoch_fit):
    plan = compute_optimal(epoch_fit, 5.88e23)
    assert 17.0 < plan.tokens_per_param < 19.5
    lo, hi = plan.intervals["tokens_per_param"]
    assert lo < plan.tokens_per_param < hi
    lo, hi = plan.intervals["n_params"]
    assert lo < plan.n_params < hi
    lo, hi = plan.intervals["loss"]
    assert lo < plan.loss < hi


def test_fit_from_params_predicts_laws_values():
    # LAWS.md §3.6: L(70B, 1.4T) = 1.937 rounded, 1.921 unrounded
    assert float(fit_from_params("chinchilla", ROUNDED).predict(n_params=7e10, n_tokens=1.4e12)) == pytest.approx(1.937, abs=6e-4)
    assert float(fit_from_params("chinchilla", UNROUNDED).predict(n_params=7e10, n_tokens=1.4e12)) == pytest.approx(1.921, abs=6e-4)
    f = fit_from_params("chinchilla", UNROUNDED, source="Hoffmann et al. 2022")
    assert f.n_runs == 0 and f.provenance["source"] == "Hoffmann et al. 2022"
    assert sl.Fit.from_json(f.to_json()).params == f.params


# --------------------------------------------------------------------------- numeric solver


@pytest.mark.parametrize("C", [1e18, 3.3e21, 5.76e23, 1e27])
@pytest.mark.parametrize("params", [UNROUNDED, EPOCH], ids=["unrounded", "epoch"])
def test_numeric_solver_agrees_with_closed_form(params, C):
    fit = fit_from_params("chinchilla", params)
    numeric = compute_optimal(fit, C, method="numeric")
    N, D = closed_form(params, C)
    assert numeric.method == "numeric"
    assert numeric.n_params == pytest.approx(N, rel=1e-6)
    assert numeric.n_tokens == pytest.approx(D, rel=1e-6)


def test_numeric_solver_agrees_with_closed_form_under_every_draw():
    fit = with_draws(UNROUNDED)
    a = compute_optimal(fit, GOPHER)
    b = compute_optimal(fit, GOPHER, method="numeric")
    assert a.n_draws == b.n_draws == 400
    for key in ("n_params", "n_tokens", "tokens_per_param", "loss"):
        assert b.intervals[key] == pytest.approx(a.intervals[key], rel=1e-5)
    lo, hi = a.intervals["n_params"]
    assert lo < a.n_params < hi and hi / lo > 1.2


def test_formula_law_with_pinned_parameter_uses_numeric_solver():
    law = sl.get_law("chinchilla").with_fixed({"E": UNROUNDED["E"]})
    fit = fit_from_params(law, {k: v for k, v in UNROUNDED.items() if k != "E"})
    plan = compute_optimal(fit, GOPHER)
    assert plan.method == "numeric"
    assert plan.n_params == pytest.approx(closed_form(UNROUNDED, GOPHER)[0], rel=1e-6)
    with pytest.raises(FitError, match="closed form applies only"):
        compute_optimal(fit, GOPHER, method="closed_form")


def test_numeric_solver_on_kaplan_law_matches_its_own_first_order_condition():
    # L = ((N_c/N)^p + D_c/D)^alpha_D with D = C/(6N): minimum where N^(p+1) = p N_c^p C / (6 D_c)
    k = {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103}
    fit = fit_from_params("kaplan", k)
    p = k["alpha_N"] / k["alpha_D"]
    for C in (1e19, 1e23):
        expected = (p * k["N_c"] ** p * C / (6 * k["D_c"])) ** (1 / (p + 1))
        assert compute_optimal(fit, C).n_params == pytest.approx(expected, rel=1e-6)


def test_grouped_law_plans_for_the_group_given_in_at():
    law = sl.get_law("chinchilla").grouped("data", ["web", "code"], shared=["alpha", "beta"])
    params = {"alpha": EPOCH["alpha"], "beta": EPOCH["beta"], "E_web": EPOCH["E"], "E_code": 1.0,
              "A_web": EPOCH["A"], "A_code": 100.0, "B_web": EPOCH["B"], "B_code": 5000.0}
    fit = fit_from_params(law, params)
    web = compute_optimal(fit, GOPHER, at={"data": "web"})
    assert web.method == "numeric"
    assert web.n_params == pytest.approx(closed_form(EPOCH, GOPHER)[0], rel=1e-6)
    code = compute_optimal(fit, GOPHER, at={"data": "code"})
    assert code.n_params == pytest.approx(closed_form({**EPOCH, "A": 100.0, "B": 5000.0}, GOPHER)[0], rel=1e-6)
    with pytest.raises(FitError, match="also depends on"):
        compute_optimal(fit, GOPHER)


def test_law_without_interior_optimum_warns():
    law = sl.formula_law("E + A / n_params**alpha + B * n_tokens**beta", name="odd")
    fit = fit_from_params(law, {"E": 1.0, "A": 100.0, "alpha": 0.3, "B": 1e-3, "beta": 0.1})
    with pytest.warns(ScalingLawsWarning, match="end of the searched range"):
        plan = compute_optimal(fit, 1e21)
    assert plan.at_search_bound


def test_frontier_table_and_exponent():
    fit = with_draws(EPOCH, n=200)
    budgets = np.geomspace(1e19, 1e25, 7)
    table = frontier(fit, budgets)
    assert isinstance(table, pd.DataFrame) and len(table) == 7
    assert {"n_params", "n_params_lo", "n_params_hi", "tokens_per_param", "loss_lo"} <= set(table.columns)
    slope = np.polyfit(np.log(table["flops"]), np.log(table["n_params"]), 1)[0]
    assert slope == pytest.approx(EPOCH["beta"] / (EPOCH["alpha"] + EPOCH["beta"]), abs=1e-6)
    assert (np.diff(table["loss"]) < 0).all()


def test_compute_for_loss_matches_closed_form_inversion():
    p = UNROUNDED
    a, b = p["alpha"], p["beta"]
    G = (a * p["A"] / (b * p["B"])) ** (1 / (a + b))
    R = 1.95 - p["E"]
    expected = 6 * (R / (p["A"] * G**-a + p["B"] * G**b)) ** (-(a + b) / (a * b))  # LAWS.md §3.3
    plan = compute_for_loss(fit_from_params("chinchilla", p), 1.95)
    assert plan.flops == pytest.approx(expected, rel=1e-6)
    assert plan.loss == pytest.approx(1.95, abs=1e-9)
    with pytest.raises(FitError, match="not reached"):
        compute_for_loss(fit_from_params("chinchilla", p), 1.5)


# --------------------------------------------------------------------------- FLOP conventions


def test_flop_convention_sets_tokens_from_flops_per_token():
    fit = fit_from_params("chinchilla", UNROUNDED)
    counter = FlopCounter("chinchilla", ShapeFamily(aspect_ratio=128, vocab_size=32000, seq_len=2048))
    plan = compute_optimal(fit, 1e21, flops_per_token=counter)
    assert plan.flop_convention == "chinchilla" and plan.method == "numeric"
    assert plan.n_tokens * counter(plan.n_params) == pytest.approx(1e21, rel=1e-9)
    six = compute_optimal(fit, 1e21)
    assert counter(plan.n_params) > 6 * plan.n_params  # attention and head FLOPs on top of 6N
    assert plan.loss > six.loss


def test_architecture_counts_gpt2_small():
    gpt2 = Architecture(n_layer=12, d_model=768, n_head=12, vocab_size=50257, seq_len=1024, learned_positions=True)
    assert gpt2.n_params("total") == pytest.approx(124.3e6, rel=2e-3)  # GPT-2 small, weights without norms/biases
    assert gpt2.n_params("non_embedding") == 12 * 12 * 768**2


def test_conventions_agree_with_their_published_formulas():
    a = Architecture(n_layer=30, d_model=4096, n_head=32, seq_len=4096, vocab_size=102400)
    L, d, T = 30, 4096, 4096
    assert flops_per_token(a, "deepseek") == 72 * L * d**2 + 12 * L * d * T  # DeepSeek M
    assert flops_per_token(a, "kaplan") == 6 * 12 * L * d**2 + 6 * L * T * d
    assert flops_per_token(a, "porian") == 6 * (12 * L * d**2 + 102400 * d) + 6 * T * d * L
    assert flops_per_token(a, "6nd") == 6 * (12 * L * d**2 + 102400 * d)


def test_chinchilla_exact_matches_sweep_accounting():
    from scalinglaws.sweep.accounting import flops_per_token as sweep_flops

    for n_layer, d, h in [(2, 64, 4), (6, 256, 8), (12, 768, 12)]:
        a = Architecture(n_layer=n_layer, d_model=d, n_head=h, vocab_size=256, seq_len=128)
        assert flops_per_token(a, "chinchilla") == pytest.approx(
            sweep_flops(n_layer, d, n_head=h, vocab_size=256, seq_len=128, convention="exact"), rel=1e-12
        )


def test_chinchilla_exact_close_to_6n_for_large_models():
    big = Architecture(n_layer=80, d_model=8192, n_head=64, vocab_size=32000, seq_len=2048, d_ff=4 * 8192)
    small = Architecture(n_layer=4, d_model=256, n_head=4, vocab_size=32000, seq_len=2048)
    ratio_big = flops_per_token(big, "chinchilla") / flops_per_token(big, "6nd")
    ratio_small = flops_per_token(small, "chinchilla") / flops_per_token(small, "6nd")
    assert 1.0 < ratio_big < 1.1  # "very small" difference for big models
    assert ratio_small > ratio_big


def test_shape_family_round_trip_and_errors():
    fam = ShapeFamily(aspect_ratio=64, count="non_embedding", gated=True)
    n = np.geomspace(1e6, 1e12, 7)
    assert fam.architecture(n).n_params("non_embedding") == pytest.approx(n, rel=1e-10)
    with pytest.raises(LawError, match="depends on the model's shape"):
        FlopCounter("kaplan")
    with pytest.raises(LawError, match="unknown FLOP convention"):
        FlopCounter("8nd")
    with pytest.raises(LawError, match="positive"):
        fam.architecture(-1.0)


# --------------------------------------------------------------------------- inference-aware (Sardana)


SARDANA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.336, "beta": 0.283}  # LAWS.md §10


def chinchilla_budget_for(params: dict, n_params: float) -> float:
    a, b = params["alpha"], params["beta"]
    G = (a * params["A"] / (b * params["B"])) ** (1 / (a + b))
    return 6 * (n_params / G) ** ((a + b) / b)


@pytest.mark.parametrize(
    "quality, n_params, tokens, saving",
    [(30e9, 13.6e9, None, 0.28), (70e9, 41.6e9, 7.92e12, 0.12)],
    ids=["30B-quality", "70B-quality"],
)
def test_sardana_published_examples(quality, n_params, tokens, saving):
    fit = fit_from_params("chinchilla", SARDANA)
    C = chinchilla_budget_for(SARDANA, quality)
    plan = compute_optimal(fit, C, inference_tokens=1e13)
    ref = plan.reference
    assert ref.n_params == pytest.approx(quality, rel=1e-6)
    assert plan.n_params == pytest.approx(n_params, rel=4e-3)
    if tokens is not None:
        assert plan.n_tokens == pytest.approx(tokens, rel=2e-3)
    else:
        assert plan.n_tokens / ref.n_tokens == pytest.approx(2.84, abs=0.006)  # "2.84x the data"
    assert plan.flops_saving == pytest.approx(saving, abs=0.005)
    assert plan.loss == pytest.approx(ref.loss, rel=1e-9)
    assert float(fit.predict(n_params=plan.n_params, n_tokens=plan.n_tokens)) == pytest.approx(ref.loss, rel=1e-9)


def test_inference_plan_intervals_and_report():
    plan = compute_optimal(with_draws(UNROUNDED, n=100), GOPHER, inference_tokens=2e12)
    assert plan.n_params < plan.reference.n_params and plan.n_tokens > plan.reference.n_tokens
    assert plan.total_flops < plan.reference.total_flops
    lo, hi = plan.intervals["n_params"]
    assert lo < plan.n_params < hi
    text = plan.report()
    assert "inference-aware" in text and "fewer total FLOPs" in text
    json.dumps(plan.to_dict())


def test_no_inference_gives_compute_optimal_again():
    fit = fit_from_params("chinchilla", SARDANA)
    plan = compute_optimal(fit, 1e22, inference_tokens=1e-30 + 1.0)
    assert plan.n_params == pytest.approx(plan.reference.n_params, rel=1e-4)


# --------------------------------------------------------------------------- data-constrained (Muennighoff)


def test_effective_data_published_implications():
    assert effective_tokens(4.0, 1.0) == pytest.approx(3.73, abs=0.005)  # "4 epochs ~ 3.73"
    assert effective_tokens(16.0, 1.0) == pytest.approx(10.6, abs=0.05)  # "16 epochs ~ 10.6"
    assert effective_tokens(1e9, 1e6) == pytest.approx(1e6 * (1 + R_D), rel=1e-6)
    assert effective_tokens(0.5, 1.0) == 0.5
    assert effective_params(3.0, 1.0) == pytest.approx(1 + R_N * (1 - math.exp(-2 / R_N)))


@pytest.mark.parametrize("unique", [1e10, 3e10, 1e11])
def test_chinchilla_with_published_repeat_constants_equals_muennighoff_law(unique):
    m = fit_from_params("muennighoff", {**MUENNIGHOFF, "R_N": R_N, "R_D": R_D})
    c = fit_from_params("chinchilla", {**MUENNIGHOFF, "beta": MUENNIGHOFF["alpha"]})
    a = compute_optimal(m, 1e22, unique_tokens=unique)
    b = compute_optimal(c, 1e22, unique_tokens=unique)
    assert a.epochs > 1
    assert b.n_params == pytest.approx(a.n_params, rel=1e-5)
    assert b.loss == pytest.approx(a.loss, rel=1e-9)
    assert b.epochs == pytest.approx(b.n_tokens / unique)


def test_unique_params_is_one_epoch_compute_optimal_size():
    fit = fit_from_params("chinchilla", EPOCH)
    model = _Model(fit, at=None, unique_tokens=1e11, repeat_constants=(R_D, R_N), purpose="test")
    U = np.array([1e9, 1e11, 1e13])
    got = model.unique_params(model.point.repeat(3, axis=0), U)
    # N_opt(C) with D_opt(C) = U, from the closed form: (C/6)^b = G U
    a, b = EPOCH["alpha"], EPOCH["beta"]
    G = (a * EPOCH["A"] / (b * EPOCH["B"])) ** (1 / (a + b))
    expected = G * (G * U) ** (b / a)  # exponent (beta/(a+b)) / (alpha/(a+b))
    assert got == pytest.approx(expected, rel=1e-6)


def test_data_constraint_costs_loss_and_vanishes_with_enough_data():
    fit = fit_from_params("chinchilla", EPOCH)
    free = compute_optimal(fit, 1e23)
    tight = compute_optimal(fit, 1e23, unique_tokens=free.n_tokens / 20)
    loose = compute_optimal(fit, 1e23, unique_tokens=free.n_tokens * 10)
    assert tight.loss > free.loss and tight.epochs > 1
    # excess parameters decay faster than repeated data (R*_N < R*_D): compute goes to epochs first
    assert tight.n_params < free.n_params and tight.n_tokens > free.n_tokens
    assert loose.n_params == pytest.approx(free.n_params, rel=1e-6)
    assert loose.epochs < 1


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [-1e21, 0.0, float("nan"), float("inf"), "lots"])
def test_bad_budget_is_a_data_error(bad):
    with pytest.raises(DataError, match="flops must be a positive"):
        compute_optimal(fit_from_params("chinchilla", EPOCH), bad)


def test_plan_for_law_without_n_and_d_is_a_fit_error():
    fit = fit_from_params("power", {"E": 1.0, "A": 10.0, "alpha": 0.3})
    with pytest.raises(FitError, match="needs a law of model size and data"):
        compute_optimal(fit, 1e21)
    henighan = fit_from_params("henighan", {"L_inf": 1.7, "C_0": 1e8, "alpha": 0.05})
    with pytest.raises(FitError, match=r"variables \['flops'\]"):
        compute_optimal(henighan, 1e21)


def test_other_bad_inputs():
    fit = fit_from_params("chinchilla", EPOCH)
    with pytest.raises(DataError, match="inference_tokens"):
        compute_optimal(fit, 1e21, inference_tokens=-5)
    with pytest.raises(DataError, match="unique_tokens"):
        compute_optimal(fit, 1e21, unique_tokens=0)
    with pytest.raises(FitError, match="level"):
        compute_optimal(fit, 1e21, level=95)
    m = fit_from_params("muennighoff", {**MUENNIGHOFF, "R_N": R_N, "R_D": R_D})
    with pytest.raises(FitError, match="pass unique_tokens"):
        compute_optimal(m, 1e21)
    with pytest.raises(LawError, match="missing"):
        fit_from_params("chinchilla", {"E": 1.0})
    with pytest.raises(LawError, match="shape"):
        fit_from_params("chinchilla", EPOCH, draws=np.ones((3, 2)))


def test_repr_and_dict():
    plan = compute_optimal(with_draws(EPOCH, n=50), GOPHER)
    text = repr(plan)
    assert text.startswith("Plan(flops=5.76e+23") and "n_params=" in text and "[" in text
    d = plan.to_dict()
    assert d["intervals"]["n_params"][0] < d["n_params"] < d["intervals"]["n_params"][1]
    json.dumps(d)


# --------------------------------------------------------------------------- suggest


def test_suggest_runs_narrows_the_target_within_budget():
    fit = with_draws(EPOCH, n=300)
    s = suggest_runs(fit, budget=1e21, target_flops=1e24, n=3)
    assert 1 <= len(s.runs) <= 3
    assert s.spent <= 1e21 * (1 + 1e-9)
    assert s.sd_after < s.sd_before
    assert (np.diff(s.runs["sd_after"]) <= 0).all()
    assert "next runs" in s.report()
    json.dumps(s.to_dict())


def test_suggest_measuring_the_target_itself_removes_its_uncertainty():
    fit = with_draws(EPOCH, n=300)
    target = {"n_params": 1e9, "n_tokens": 2e10}
    cands = pd.DataFrame({"n_params": [1e7, 1e8, 1e9], "n_tokens": [1e9, 2e9, 2e10]})
    s = suggest_runs(fit, budget=1e30, target=target, candidates=cands, n=1, noise_sd=1e-4, per_flop=False)
    assert s.runs["n_params"].iloc[0] == 1e9
    assert s.sd_after < 2e-4 < s.sd_before


def test_suggest_warns_about_the_target_only_not_its_own_small_candidates():
    fit = sl.fit(sl.datasets.load("chinchilla_epoch"), "chinchilla", bootstrap=100, seed=0)  # knows its range
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        suggest_runs(fit, budget=1e20, target_flops=1e24, n=2)
    said = [str(w.message) for w in caught if "beyond the fitted range" in str(w.message)]
    assert len(said) == 1 and "1e+24" in said[0]


def test_suggest_with_data_constraint_runs():
    s = suggest_runs(with_draws(EPOCH, n=100), budget=1e20, target_flops=1e24, unique_tokens=1e11, n=2)
    assert len(s.runs) == 2 and s.sd_after < s.sd_before


def test_suggest_bad_input():
    with pytest.raises(FitError, match="bootstrap draws"):
        suggest_runs(fit_from_params("chinchilla", EPOCH), budget=1e20, target_flops=1e24)
    fit = with_draws(EPOCH, n=50)
    with pytest.raises(DataError, match="budget"):
        suggest_runs(fit, budget=-1, target_flops=1e24)
    with pytest.raises(FitError, match="give the target"):
        suggest_runs(fit, budget=1e20)
    with pytest.raises(FitError, match="no candidate run fits"):
        suggest_runs(fit, budget=1.0, target_flops=1e24, candidates=pd.DataFrame({"n_params": [1e8], "n_tokens": [1e9]}))


# --------------------------------------------------------------------------- CLI


@pytest.fixture()
def cli_main(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.plan"))
    return cli.main


@pytest.fixture()
def fit_file(tmp_path):
    path = tmp_path / "fit.json"
    path.write_text(with_draws(UNROUNDED, n=100).to_json())
    return str(path)


def test_cli_plan_json(cli_main, fit_file, capsys):
    assert cli_main(["plan", fit_file, "--flops", "5.76e23", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_params"] == pytest.approx(4.03e10, rel=2e-3)
    assert out["intervals"]["n_params"][0] < out["n_params"] < out["intervals"]["n_params"][1]


def test_cli_plan_text_inference_unique_and_frontier(cli_main, fit_file, capsys):
    assert cli_main(["plan", fit_file, "--flops", "5.88e23", "--inference-tokens", "2e12"]) == 0
    assert "fewer total FLOPs" in capsys.readouterr().out
    assert cli_main(["plan", fit_file, "--flops", "1e24", "--unique-tokens", "5e11", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] > 1
    assert cli_main(["plan", fit_file, "--flops", "1e21,1e22,1e23"]) == 0
    out = capsys.readouterr().out
    assert "tokens_per_param" in out and len(out.strip().splitlines()) == 4
    assert cli_main(["plan", fit_file, "--flops", "1e23", "--suggest", "1e20", "--suggest-n", "2"]) == 0
    assert "next runs" in capsys.readouterr().out


def test_cli_plan_convention(cli_main, fit_file, capsys):
    args = ["plan", fit_file, "--flops", "1e21", "--convention", "kaplan", "--aspect-ratio", "128", "--json"]
    assert cli_main(args) == 0
    assert json.loads(capsys.readouterr().out)["flop_convention"] == "kaplan"


def test_cli_plan_errors(cli_main, fit_file, capsys):
    assert cli_main(["plan", fit_file, "--flops=-5e23"]) == 2
    assert "error: flops must be a positive" in capsys.readouterr().err
    assert cli_main(["plan", "/nonexistent/fit.json", "--flops", "1e21"]) == 2
    assert "does not exist" in capsys.readouterr().err
