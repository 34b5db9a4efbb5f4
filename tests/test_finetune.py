"""The rectified fine-tuning law (Lin et al. 2024): added as its file, its catalog line and its case."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl

TRUTH = {"B": 2000.0, "D_l": 300.0, "beta": 0.6, "E": 1.5}


def _curve(d: np.ndarray, p: dict[str, float]) -> np.ndarray:
    return p["B"] / (p["D_l"] + d ** p["beta"]) + p["E"]


def test_the_law_is_the_papers_formula() -> None:
    law = sl.get_law("rectified")
    d = np.geomspace(10, 1e6, 7)
    assert np.allclose(law(TRUTH, finetune_examples=d), _curve(d, TRUTH), rtol=1e-12)
    # the pre-power phase: while D^beta << D_l the loss hardly moves
    early = law(TRUTH, finetune_examples=np.array([1.0, 10.0]))
    assert abs(early[0] - early[1]) / early[0] < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_known_parameters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = np.geomspace(30, 3e5, 24)
    loss = _curve(d, TRUTH) * np.exp(rng.normal(0, 0.002, d.size))
    f = sl.fit(pd.DataFrame({"finetune_examples": d, "loss": loss}), "rectified")
    for name, value in TRUTH.items():
        assert f.params[name] == pytest.approx(value, rel=0.1), name
    assert f.diagnostics.converged


def test_exact_data_are_fitted_exactly() -> None:
    d = np.geomspace(30, 3e5, 24)
    f = sl.fit(pd.DataFrame({"examples": d, "ft_loss": _curve(d, TRUTH)}), "rectified",
               variables={"finetune_examples": "examples"}, target="ft_loss")  # fmt: skip
    for name, value in TRUTH.items():
        assert f.params[name] == pytest.approx(value, rel=1e-4), name


def test_fine_tuning_data_must_be_positive() -> None:
    frame = pd.DataFrame(
        {
            "finetune_examples": [0.0, 10.0, 100.0, 1000.0, 1e4],
            "loss": [3.0, 2.9, 2.5, 2.0, 1.8],
        }
    )
    with pytest.raises(
        sl.DataError,
        match=r"'finetune_examples' for fitting 'rectified'.*must be > 0 \(in examples",
    ):
        sl.fit(frame, "rectified")


# --------------------------------------------------------------------------- model selection (Lin et al. 2024)

FULL = 1_638_400


def _flan() -> pd.DataFrame:
    return sl.datasets.load("lin_finetune_flan")


def _scores(sel: sl.FinetuneSelection, table: pd.DataFrame) -> tuple[float, float]:
    """Pearson correlation of predicted and true full-set losses, and the relative accuracy
    of the pick: (worst - picked) / (worst - best) true loss (Lin et al.'s two metrics)."""
    truth = table[table.finetune_examples == FULL].set_index("model").loss
    pred = sel.ranking.set_index("model").predicted_loss
    tr = truth[pred.index]
    return float(np.corrcoef(pred, tr)[0, 1]), float((tr.max() - truth[sel.best]) / (tr.max() - tr.min()))


def test_bundled_flan_curves() -> None:
    t = _flan()
    assert len(t) == 450 and t.model.nunique() == 30
    assert sorted(t.finetune_examples.unique())[:3] == [0, 200, 400] and t.finetune_examples.max() == FULL
    assert "Lin" in sl.datasets.source("lin_finetune_flan")


@pytest.mark.golden
def test_golden_ats_picks_a_near_optimal_model_at_a_small_share_of_the_cost() -> None:
    """Lin et al.'s claim, in words (abstract): AtS "selects the near-optimal model with hundreds
    of times less resource consumption". On their own FLAN curves, with subsets up to 3,200
    examples (1/512 of the full set; the cost is 0.4 % of fine-tuning all 30 fully), the pick is
    within 7 % of the best on the relative-accuracy scale, and the ranking correlates positively
    with the truth. Their printed numbers are reproduced in the Table 1 test below.
    """
    t = _flan()
    sel = sl.select_finetune(t, FULL, budget_examples=3200)
    corr, relacc = _scores(sel, t)
    assert sel.cost_ratio < 1 / 200
    assert relacc > 0.9
    assert corr > 0.3
    # with a larger budget (1/8 of the full set) the ranking itself becomes reliable
    corr8, relacc8 = _scores(sl.select_finetune(t, FULL, budget_examples=FULL // 8), t)
    assert corr8 > 0.85 and relacc8 > 0.9


# Lin et al. (2024), Table 1, column FLAN-AtS (also in the authors' repository, results/tab1.txt):
# PearCorr and RelAcc (x 100) of Accept-then-Stop at the budget ratios 1/8 ... 1/512 of the full set.
TABLE1_FLAN_ATS = {8: (90.9, 93.6), 16: (73.1, 93.2), 32: (65.5, 93.2), 64: (61.1, 93.2),
                   128: (52.2, 85.3), 256: (50.5, 93.2), 512: (45.6, 93.2)}


@pytest.mark.golden
@pytest.mark.parametrize("ratio", sorted(TABLE1_FLAN_ATS))
def test_golden_table1_flan_ats(ratio: int) -> None:
    """Lin et al., Table 1 (FLAN, AtS with k = 3, delta = 5): on the bundled FLAN curves (their
    benchmark file), select_finetune with drop_smallest=True (their code leaves the smallest subset
    out of the line) gives the printed PearCorr and RelAcc to the printed digit at every budget.
    The default (the smallest subset used when accepted) picks the same model; its PearCorr differs
    by at most 2 points."""
    t = _flan()
    corr, relacc = _scores(sl.select_finetune(t, FULL, budget_examples=FULL // ratio, drop_smallest=True), t)
    assert (round(100 * corr, 1), round(100 * relacc, 1)) == TABLE1_FLAN_ATS[ratio]
    corr_d, relacc_d = _scores(sl.select_finetune(t, FULL, budget_examples=FULL // ratio), t)
    assert round(100 * relacc_d, 1) == TABLE1_FLAN_ATS[ratio][1]
    assert abs(100 * corr_d - TABLE1_FLAN_ATS[ratio][0]) < 2.0


# Lin et al. (2024), Table 3, column our-FLAN (the authors' repository, results/tab3.txt): RMSD in log
# space of the rectified law fitted to each model's FLAN curve, for ten of the 30 models.
TABLE3_FLAN_RMSD = {"MBZUAI/LaMini-GPT-124M": 0.0027, "cerebras/Cerebras-GPT-2.7B": 0.0030, "facebook/bart-large": 0.0129,
                    "facebook/opt-6.7b": 0.0025, "gpt2": 0.0075, "gpt2-xl": 0.0064, "t5-base": 0.0078,
                    "microsoft/phi-1_5": 0.0112, "google/switch-base-8": 0.0073, "google/mt5-large": 0.0027}


@pytest.mark.golden
def test_golden_table3_rectified_fit_rmsd_on_flan() -> None:
    """Lin et al., Table 3 (FLAN, "our" law): the catalog ``rectified`` law fitted by least squares on
    log loss to each model's 14 fine-tuned points (200 to 1,638,400 examples) has the printed RMSD to
    the printed 4 digits for 8 of these 10 models and a lower one for the other 2 (phi-1_5 0.0110,
    mt5-large 0.0020: a better optimum than theirs); never a higher one. Over all 30 models: 20 equal,
    10 lower."""
    t = _flan()
    t = t[t.finetune_examples > 0]
    same = 0
    for model, printed in TABLE3_FLAN_RMSD.items():
        g = t[t.model == model]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sl.ScalingLawsWarning)  # E or D_l at 0 for some models
            f = sl.fit(g, "rectified", objective=sl.Objective(loss="squared"))
        resid = np.log(g.loss.to_numpy()) - np.log(f.predict(finetune_examples=g.finetune_examples.to_numpy()))
        rmsd = float(np.sqrt(np.mean(resid**2)))
        assert rmsd <= printed + 5e-5, model
        same += round(rmsd, 4) == printed
    assert same >= 8


def test_ats_accepts_the_power_phase_and_stops_at_the_pre_power_phase() -> None:
    rng = np.random.default_rng(0)
    d = 200.0 * 2.0 ** np.arange(12)
    noise = np.exp(rng.normal(0, 0.003, d.size))
    curves = {
        "power": {**TRUTH, "D_l": 1e-6, "E": 0.0},  # a pure power law: every subset is in the power phase
        "bent": {**TRUTH, "D_l": 100.0, "E": 0.0},  # a long pre-power phase at the small subsets
        "worse": {**TRUTH, "B": 4000.0, "D_l": 1e-6, "E": 0.0},
    }
    rows = [{"model": n, "finetune_examples": x, "loss": _curve(x, p) * e} for n, p in curves.items() for x, e in zip(d, noise)]
    sel = sl.select_finetune(pd.DataFrame(rows), 1e7, k=5)
    used = sel.ranking.set_index("model").points_used
    assert used["power"] == used["worse"] == d.size
    assert used["bent"] < d.size
    assert list(sel.ranking.model)[-1] == "worse"
    power = sel.ranking.set_index("model").loc["power"]
    assert power.predicted_loss == pytest.approx(_curve(1e7, curves["power"]), rel=0.02)
    assert power.lower < power.predicted_loss < power.upper


def test_rectified_method_gives_bootstrap_intervals() -> None:
    rng = np.random.default_rng(0)
    d = np.geomspace(30, 3e5, 12)
    rows = []
    for name, scale in (("small", 1.0), ("large", 0.8)):
        y = _curve(d, TRUTH) * scale * np.exp(rng.normal(0, 0.002, d.size))
        rows += [{"model": name, "finetune_examples": x, "loss": v, "n_params": 1e8 / scale} for x, v in zip(d, y)]
    sel = sl.select_finetune(pd.DataFrame(rows), 1e6, method="rectified", bootstrap=20)
    assert sel.best == "large"
    top = sel.ranking.iloc[0]
    assert top.lower <= top.predicted_loss <= top.upper
    assert top.predicted_loss == pytest.approx(0.8 * _curve(1e6, TRUTH), rel=0.05)
    d_ = sel.to_dict()
    assert d_["best"] == "large" and len(d_["ranking"]) == 2
    assert "FinetuneSelection(rectified" in repr(sel) and "<table" in sel._repr_html_()
    # cost: 6 N D summed over the fitted subsets, against 6 N * target for every candidate
    assert sel.spent_flops == pytest.approx(6 * d.sum() * (1e8 + 1e8 / 0.8))
    assert sel.full_flops == pytest.approx(6 * 1e6 * (1e8 + 1e8 / 0.8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_examples": -1}, "target_examples must be a positive"),
        ({"method": "vanilla"}, "method must be one of"),
        ({"budget_examples": 400}, "needs 4 or more"),
    ],
)
def test_bad_input_is_one_line(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"target_examples": FULL, **kwargs}
    with pytest.raises(sl.DataError, match=message):
        sl.select_finetune(_flan(), **args)  # type: ignore[arg-type]


def test_missing_columns_are_named() -> None:
    with pytest.raises(sl.DataError, match="lack the column"):
        sl.select_finetune(pd.DataFrame({"model": ["a"], "loss": [1.0]}), 10)
