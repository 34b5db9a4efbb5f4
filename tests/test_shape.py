"""The width-depth law of Gemstones (catalog ``shape``), its shape planner, and shape sweeps."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws.data import datasets
from scalinglaws.engine.result import Fit
from scalinglaws.errors import DataError
from scalinglaws.laws.shape import GEMSTONES_CONSTANTS
from scalinglaws.plan.shape import ShapePlan, plan_shape

GEMMA = {"head_dim": 128, "vocab_size": 50304, "gated": True, "tied_embeddings": False}


def _frame():
    runs = datasets.load("gemstones_shapes")
    return runs.frame if hasattr(runs, "frame") else runs.to_frame()


def _published(draws: int = 0, seed: int = 0) -> Fit:
    """The authors' constants; with ``draws``, jittered copies (5 % on every parameter) as bootstrap draws."""
    params = dict(GEMSTONES_CONSTANTS)
    if not draws:
        return Fit.from_params("shape", params)
    names = sl.get_law("shape").param_names
    rng = np.random.default_rng(seed)
    base = np.array([params[n] for n in names])
    return Fit.from_params("shape", params, draws=base * np.exp(rng.normal(0, 0.05, (draws, len(names)))))


@pytest.mark.golden
def test_bundled_slice_is_the_gemstones_suite() -> None:
    """The suite as the paper and its project page print it: 22 models, 11 widths from 256 to
    3,072, 18 depths from 3 to 80, about 50M to 2B parameters."""
    f = _frame()
    models = f.drop_duplicates("model")
    assert len(models) == 22 and len(f) == 88
    assert models.d_model.min() == 256 and models.d_model.max() == 3072
    assert models.d_model.nunique() == 11 and models.n_layer.nunique() == 18
    assert (models.n_layer.min(), models.n_layer.max()) == (3, 80)
    assert 4e7 < models.n_params.min() < 6e7 and 1.9e9 < models.n_params.max() < 2.1e9


@pytest.mark.golden
def test_published_constants_describe_the_slice() -> None:
    """The authors' fitted law (their repository's parameters_delta-4 ... hot_100b+ JSON) predicts
    the shipped checkpoints within 1.5 % rms in log loss: the constants are transcribed right."""
    f = _frame()
    pred = _published().predict(d_model=f.d_model.values, n_layer=f.n_layer.values,
                                n_params=f.n_params.values, n_tokens=f.n_tokens.values)
    rms = float(np.sqrt(np.mean(np.log(pred / f.loss.values) ** 2)))
    assert rms < 0.015


@pytest.mark.golden
def test_refit_on_the_slice_recovers_the_published_exponents() -> None:
    """Refitting the law on 88 of the authors' 770 rows gives their parameter and token
    exponents (alpha 0.3636, beta 0.4935 in the published JSON) within 5 %, and width and depth
    exponents of the published sign and size (0.2196, 0.4759) within 35 %."""
    fit = sl.fit(datasets.load("gemstones_shapes"), "shape")
    pub = GEMSTONES_CONSTANTS
    assert fit.params["alpha"] == pytest.approx(pub["alpha"], rel=0.05)
    assert fit.params["beta"] == pytest.approx(pub["beta"], rel=0.05)
    assert fit.params["alpha_w"] == pytest.approx(pub["alpha_w"], rel=0.35)
    assert fit.params["alpha_l"] == pytest.approx(pub["alpha_l"], rel=0.35)


@pytest.mark.golden
def test_optimal_aspect_ratio_rises_and_tokens_per_param_fall_with_compute() -> None:
    """Gemstones, Figure 3 (stated in words, no number printed): under the published constants the
    prescribed width-depth ratio increases with the FLOP budget and the optimal tokens per
    parameter decreases. This is a qualitative reproduction from the published constants."""
    plans = [plan_shape(_published(), c, **GEMMA) for c in (1e19, 1e20, 1e21, 1e22, 1e23)]
    ratios = [p.aspect_ratio for p in plans]
    tpp = [p.tokens_per_param for p in plans]
    assert all(b > a for a, b in itertools.pairwise(ratios)), ratios
    assert all(b < a for a, b in itertools.pairwise(tpp)), tpp
    assert not any(p.edge for p in plans)


def test_plan_is_a_buildable_shape_that_spends_the_budget() -> None:
    from scalinglaws.plan.flops import Architecture, flops_per_token

    plan = plan_shape(_published(), 1e21, **GEMMA)
    assert plan.d_model % 128 == 0 and plan.n_head == plan.d_model // 128
    assert plan.aspect_ratio == pytest.approx(plan.d_model / plan.n_layer)
    arch = Architecture(n_layer=plan.n_layer, d_model=plan.d_model, n_head=plan.n_head, d_head=128.0, gated=True,
                        vocab_size=50304, tied_embeddings=False)
    assert plan.n_params == pytest.approx(arch.n_params("total"))
    assert plan.n_tokens * flops_per_token(arch, "6nd") == pytest.approx(1e21)
    # no shape of the grid does better
    assert plan.loss == pytest.approx(float(plan.top.loss.iloc[0]))
    assert plan.top.loss.is_monotonic_increasing
    assert not plan.intervals and "bootstrap" in plan.report()


def test_intervals_come_from_the_draws_and_hold_the_point() -> None:
    plan = plan_shape(_published(draws=40), 1e21, level=0.9, **GEMMA)
    assert plan.n_draws == 40
    for key, value in (("n_layer", plan.n_layer), ("d_model", plan.d_model), ("n_params", plan.n_params)):
        lo, hi = plan.intervals[key]
        assert lo <= hi and lo <= value * 1.5 and hi >= value / 1.5, key
    assert plan.intervals["aspect_ratio"][0] < plan.intervals["aspect_ratio"][1]
    again = plan_shape(_published(draws=40), 1e21, level=0.9, **GEMMA)
    assert again.intervals == plan.intervals  # reproducible
    d = plan.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["n_head"] == plan.n_head and "aspect_ratio" in repr(plan)
    assert "<table" in plan._repr_html_()
    assert isinstance(plan, ShapePlan)


def test_edge_of_the_grid_is_reported() -> None:
    plan = plan_shape(_published(), 1e23, widths=[128, 256], **GEMMA)
    assert "widest" in plan.edge and "edge" in plan.report()


@pytest.mark.parametrize("bad", [0, -1.0, math.inf, "1e21", True])
def test_bad_budget_is_one_clear_error(bad: object) -> None:
    with pytest.raises(DataError, match="flops"):
        plan_shape(_published(), bad)  # type: ignore[arg-type]


def test_a_law_without_width_and_depth_is_refused() -> None:
    chin = Fit.from_params("chinchilla", {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28})
    with pytest.raises(DataError, match="d_model, n_layer"):
        plan_shape(chin, 1e21)
    with pytest.raises(DataError, match="widths"):
        plan_shape(_published(), 1e21, widths=[100], head_dim=64)
    with pytest.raises(DataError, match="convention"):
        plan_shape(_published(), 1e21, convention="nope")


def test_sweep_design_covers_several_aspect_ratios() -> None:
    from scalinglaws.sweep.design import design_sweep

    base = design_sweep([1e12], 3)
    assert [r.run_id for r in design_sweep([1e12], 3, aspect_ratios=[32.0]).runs] == [r.run_id for r in base.runs]
    assert "aspect_ratios" not in base.rule
    wide = design_sweep([1e13], 2, aspect_ratios=[8, 64], head_dim=8)
    ratios = {round(r.d_model / r.n_layer) for r in wide.runs}
    assert len(wide.runs) == 4 and min(ratios) < 16 and max(ratios) > 32
    assert wide.rule["aspect_ratios"] == [8.0, 64.0]
    with pytest.raises(Exception, match="aspect_ratio"):
        design_sweep([1e12], 2, aspect_ratios=[-1.0])
