"""Precision laws (Kumar et al. 2024; Sun et al. 2025) and the precision planner.

Sun et al.'s fitted constants (Table 2 of arXiv 2501.02423v1) were found: two ``golden``
tests reproduce the optimal layouts and precision range the paper prints from them. Kumar
et al.'s (App. K) were read only through secondary excerpts, without gamma_post and without
the bias offsets App. K says its fits carry; in the main-text forms they give a
compute-optimal precision of 3.5 bits, not the paper's 7-8 (docs/precision.md), so they
cannot be used. Kumar's golden test therefore reproduces the finding the paper states *in
words* from a fit on data generated from the law (the bundled, SIMULATED
``precision_sim``), as the team's rules allow; its docstring says what was chosen.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

import scalinglaws as sl
from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError, LawError
from scalinglaws.laws.precision import SUN_2025, fp_quant_critical_data
from scalinglaws.plan.precision import (
    FLOPS_PER_PARAM_TOKEN_BIT,
    critical_data_size,
    plan_precision,
)

CH = {"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}  # Hoffmann et al. 2022
SUN = {"epsilon": 1.69, "n": 406.4, "alpha": 0.34, "d": 410.7, "beta": 0.28, "gamma": 1.0, "delta": 3.0, "nu": 2.5}
PTQ = {**CH, "C_T": 0.05, "gamma_post": 1.0, "gamma_D": 0.5, "gamma_N": 0.35}


def _fit(law: str, params: dict[str, float], draws: np.ndarray | None = None, **options: object) -> Fit:
    return Fit.from_params(sl.get_law(law, **options), params, draws=draws)


def _sim(law: str) -> sl.Runs:
    return sl.load_runs(sl.datasets.path("precision_sim"), where=f"law == '{law}'")


# --------------------------------------------------------------------------- the laws


def test_laws_are_the_papers_forms() -> None:
    n, d = np.array([3e7, 1e9]), np.array([1e9, 1e11])
    g = {"gamma_w": 2.5, "gamma_a": 2.0, "gamma_kv": 1.0}
    neff = n * (1 - np.exp(-4 / 2.5)) * (1 - np.exp(-8 / 2.0)) * (1 - np.exp(-3 / 1.0))
    want = CH["E"] + CH["A"] * neff ** -CH["alpha"] + CH["B"] * d ** -CH["beta"]
    got = sl.get_law("kumar_precision")({**CH, **g}, n_params=n, n_tokens=d, precision_w=4, precision_a=8, precision_kv=3)
    assert np.allclose(got, want, rtol=1e-12)
    tied = sl.get_law("kumar_precision", tied=True)({**CH, "gamma": 2.0}, n_params=n, n_tokens=d, precision=5)
    assert np.allclose(tied, CH["E"] + CH["A"] * (n * (1 - np.exp(-2.5)) ** 3) ** -CH["alpha"] + CH["B"] * d ** -CH["beta"])
    # PTQ: the degradation grows with data and falls with post-training bits
    ptq = sl.get_law("kumar_ptq")
    at4 = ptq(PTQ, n_params=1e8, n_tokens=np.array([1e9, 1e11]), post_precision=4)
    at16 = ptq(PTQ, n_params=1e8, n_tokens=np.array([1e9, 1e11]), post_precision=16)
    assert (at4 - at16)[1] > (at4 - at16)[0] > 0
    fp = sl.get_law("fp_quant")(SUN, n_params=1e9, n_tokens=1e11, exponent_bits=4, mantissa_bits=3, block_size=128)
    extra = 1e11**0.28 / 1e9**0.34 * 7.0 / (4.5**3.0 * 3.5**2.5)
    assert float(fp) == pytest.approx(1.69 + 406.4 / 1e9**0.34 + 410.7 / 1e11**0.28 + extra, rel=1e-12)


def test_tied_option_is_checked_and_survives_json() -> None:
    with pytest.raises(LawError, match="tied must be True or False"):
        sl.get_law("kumar_precision", tied="yes")
    f = _fit("kumar_precision", {**CH, "gamma": 4.0}, tied=True)
    back = Fit.from_json(f.to_json())
    assert back.law.variables == ("n_params", "precision", "n_tokens")


# --------------------------------------------------------------------------- planner: closed forms


def test_tied_optimal_precision_is_the_root_and_does_not_move_with_compute() -> None:
    """N_eff = N (1 - e^{-P/g})^3 under C = (6/16) N D P: P* maximises f(P)/P, so P*/g solves e^x = 1 + 3x."""
    g = 3.0
    x = brentq(lambda v: math.exp(v) - 1 - 3 * v, 0.5, 5.0)
    f = _fit("kumar_precision", {**CH, "gamma": g}, tied=True)
    grid = np.arange(3.0, 12.0, 0.05)
    for flops in (1e19, 1e22, 1e25):
        plan = plan_precision(f, flops, precisions=grid)
        assert plan.precision == pytest.approx(x * g, abs=0.05)


def test_size_at_each_precision_is_chinchillas_closed_form_in_effective_parameters() -> None:
    g = {"gamma_w": 2.5, "gamma_a": 2.0, "gamma_kv": 1.5}
    f = _fit("kumar_precision", {**CH, **g})
    flops = 1e21
    plan = plan_precision(f, flops, precisions=[4, 8, 16])
    a, b = CH["alpha"], CH["beta"]
    for _, row in plan.options.iterrows():
        p = row.precision
        fp = np.prod([1 - math.exp(-p / v) for v in g.values()])
        budget = flops / (FLOPS_PER_PARAM_TOKEN_BIT * p)  # N * D
        n_star = (a * CH["A"] * fp**-a / (b * CH["B"])) ** (1 / (a + b)) * budget ** (b / (a + b))
        assert row.n_params == pytest.approx(n_star, rel=2e-3)
        assert row.n_params * row.n_tokens == pytest.approx(budget, rel=1e-9)


@pytest.mark.parametrize("fmt", [(2, 1, 32), (4, 3, 128), (5, 2, 1024)])
def test_fp_quant_critical_data_closed_form_matches_the_argmin(fmt: tuple[int, int, int]) -> None:
    e, m, b = fmt
    f = _fit("fp_quant", SUN)
    cd = critical_data_size(f, 1e9, at={"exponent_bits": e, "mantissa_bits": m, "block_size": b})
    closed = float(fp_quant_critical_data(SUN, 1e9, e, m, b))
    assert cd.closed_form == pytest.approx(closed, rel=1e-12)
    assert cd.n_tokens == pytest.approx(closed, rel=1e-5)
    # independent check: a bounded scalar search of the law itself
    law = sl.get_law("fp_quant")
    res = minimize_scalar(lambda t: float(law(SUN, n_params=1e9, n_tokens=math.exp(t), exponent_bits=e,
                                               mantissa_bits=m, block_size=b)),
                          bounds=(math.log(closed) - 2, math.log(closed) + 2), method="bounded", options={"xatol": 1e-9})
    assert math.exp(res.x) == pytest.approx(closed, rel=1e-4)


def test_ptq_critical_data_matches_its_closed_form_and_kumar_training_has_none() -> None:
    f = _fit("kumar_ptq", PTQ)
    n, post = 1e8, 4.0
    cd = critical_data_size(f, n, at={"post_precision": post})
    p = PTQ  # dL/dD = 0: D^(beta + gamma_D) = beta B N^gamma_N e^(P/gamma_post) / (gamma_D C_T)
    closed = (p["beta"] * p["B"] * n ** p["gamma_N"] * math.exp(post / p["gamma_post"]) / (p["gamma_D"] * p["C_T"])) ** (
        1 / (p["beta"] + p["gamma_D"]))
    assert cd.n_tokens == pytest.approx(closed, rel=1e-5)
    assert cd.closed_form is None
    none = critical_data_size(_fit("kumar_precision", {**CH, "gamma": 3.0}, tied=True), n, at={"precision": 4})
    assert math.isinf(none.n_tokens) and "none" in none.report()


# --------------------------------------------------------------------------- intervals, results, errors


def test_intervals_come_from_the_draws_and_results_serialise() -> None:
    rng = np.random.default_rng(0)
    names = sl.get_law("fp_quant").param_names
    point = np.array([SUN[k] for k in names])
    draws = point * np.exp(rng.normal(0, 0.02, (40, len(names))))
    f = _fit("fp_quant", SUN, draws=draws)
    plan = plan_precision(f, 1e22, at={"block_size": 128}, level=0.9)
    lo, hi = plan.intervals["n_params"]
    assert lo <= plan.n_params <= hi and lo < hi
    assert plan.intervals["precision"][0] <= plan.precision <= plan.intervals["precision"][1]
    assert plan.options.chosen.sum() == pytest.approx(1.0)
    assert plan.exponent_bits is not None and plan.exponent_bits + plan.mantissa_bits + 1 == plan.precision
    cd = critical_data_size(f, 1e9, at={"exponent_bits": 4, "mantissa_bits": 3, "block_size": 128}, level=0.9)
    assert cd.interval is not None and cd.interval[0] < cd.n_tokens < cd.interval[1]
    for result in (plan, cd):
        json.dumps(result.to_dict(), allow_nan=False)
        assert type(result).__name__ in repr(result) and "<p>" in result._repr_html_()
    assert "precision-optimal plan" in plan.report()


def test_bad_input_is_a_one_line_error() -> None:
    chin = Fit.from_params(sl.get_law("chinchilla"), CH)
    with pytest.raises(DataError, match="no training-precision variable"):
        plan_precision(chin, 1e21)
    fp = _fit("fp_quant", SUN)
    with pytest.raises(DataError, match="also needs 'block_size'"):
        plan_precision(fp, 1e21)
    with pytest.raises(DataError, match="flops must be a positive number"):
        plan_precision(fp, -1.0, at={"block_size": 128})
    with pytest.raises(DataError, match="precisions must be bits"):
        plan_precision(fp, 1e21, at={"block_size": 128}, precisions=[2])
    with pytest.raises(DataError, match="has no variable 'blocksize'"):
        critical_data_size(fp, 1e9, at={"exponent_bits": 4, "mantissa_bits": 3, "block_size": 8, "blocksize": 8})
    with pytest.raises(DataError, match="n_params must be a positive number"):
        critical_data_size(fp, 0.0)


# --------------------------------------------------------------------------- stated findings (golden)


@pytest.mark.golden
def test_kumar_optimal_precision_is_7_to_8_bits_and_independent_of_compute() -> None:
    """Kumar et al. (2024) state in words (compute-optimal training precision): with N, D and P free under C = (6/16) N D P, the
    compute-optimal training precision does not depend on compute and is about 7-8 bits.

    Reproduced from a fit of ``kumar_precision`` to the SIMULATED ``precision_sim`` runs. The
    independence of compute is the law's own structure and is recovered at budgets six
    decades apart; the 7-8 bits is *not* independent evidence: the generating gammas were
    chosen so that the generating law's P* is 7.50 bits (see precision_sim.md). The test
    checks that a fit on noisy runs at the paper's sizes (30-220M, 1.5-26B tokens) recovers it.
    """
    f = sl.fit(_sim("kumar_precision"), "kumar_precision")
    grid = np.arange(3.0, 16.01, 0.1)
    found = [plan_precision(f, c, precisions=grid).precision for c in (1e19, 1e22, 1e25)]
    assert max(found) - min(found) <= 0.1 + 1e-9
    assert 7.0 <= found[0] <= 8.0


@pytest.mark.golden
def test_sun_optimal_precision_rises_with_compute_within_4_to_8_bits_and_data_has_a_limit() -> None:
    """Sun et al. (2025) state in their abstract: the optimal FP precision grows with compute,
    the best cost-performance precision lies in 4-8 bits, and past a critical data size more
    data degrades a low-precision model.

    Reproduced from a fit of ``fp_quant`` to the SIMULATED ``precision_sim`` runs, whose
    gamma, delta, nu were chosen (not published; see precision_sim.md), so this shows the
    planner recovers these behaviours of Sun's form, not Sun's numbers.
    """
    f = sl.fit(_sim("fp_quant"), "fp_quant")
    bits = [plan_precision(f, c, at={"block_size": 128}).precision for c in (1e19, 1e21, 1e23)]
    assert bits == sorted(bits) and bits[0] < bits[-1]
    assert all(4 <= b <= 8 for b in bits)
    fp4 = critical_data_size(f, 1e9, at={"exponent_bits": 2, "mantissa_bits": 1, "block_size": 32})
    fp8 = critical_data_size(f, 1e9, at={"exponent_bits": 4, "mantissa_bits": 3, "block_size": 128})
    assert fp4.n_tokens < fp8.n_tokens < math.inf


@pytest.mark.golden
def test_sun_table2_constants_give_the_printed_optimal_layouts_e2m1_e4m3_e8m7() -> None:
    """Sun et al. (2025), arXiv 2501.02423v1: with the fitted constants of their Table 2
    (``SUN_2025``: delta = 3.1926, nu = 2.9543, ...) the paper prints the optimal float
    layouts of Figure 15 and the text: E2M1 for 4 bits, E4M3 for 8 bits, E8M7 for 16 bits.

    Our planner, given a fit made of the printed constants, chooses exactly these splits of
    ``P = 1 + E + M``, at any budget and block size (the split depends only on delta and
    nu). Swapping delta and nu would give E1M2, E3M4, E7M8, so the test can fail.
    """
    f = _fit("fp_quant", SUN_2025)
    for flops, block in ((1e19, 32), (1e21, 128), (1e25, 1024)):
        plan = plan_precision(f, flops, precisions=[4, 8, 16], at={"block_size": block})
        got = {int(r.precision): (int(r.exponent_bits), int(r.mantissa_bits)) for r in plan.options.itertuples()}
        assert got == {4: (2, 1), 8: (4, 3), 16: (8, 7)}
    swapped = _fit("fp_quant", {**SUN_2025, "delta": SUN_2025["nu"], "nu": SUN_2025["delta"]})
    opts = plan_precision(swapped, 1e21, precisions=[8], at={"block_size": 128}).options
    assert (opts.exponent_bits[0], opts.mantissa_bits[0]) == (3, 4)


@pytest.mark.golden
def test_sun_table2_constants_put_the_best_precision_in_4_to_8_bits_rising_with_compute() -> None:
    """Sun et al. (2025), arXiv 2501.02423v1, abstract and Figure 18 (block size B = 128,
    cost C = (6/16) N D P): from their fitted constants (Table 2, ``SUN_2025``) the optimal
    precision grows with compute and the best cost-performance precision lies in 4-8 bits.

    Our planner with the printed constants, at budgets from 1e21 to 1e27 FLOPs, gives a
    precision that never falls as compute grows, rises over the range, and stays in 4-8
    bits. (Figure 18's exact curve is not printed as numbers; the range is.)
    """
    f = _fit("fp_quant", SUN_2025)
    bits = [plan_precision(f, c, at={"block_size": 128}).precision for c in (1e21, 1e23, 1e25, 1e27)]
    assert bits == sorted(bits) and bits[0] < bits[-1]
    assert all(4 <= b <= 8 for b in bits)
